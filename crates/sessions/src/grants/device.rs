//! Device codes (RFC 8628 §3): started by a device, approved or denied by a person in a browser
//! (who finds it by its user code), polled for and redeemed once by the device.

use std::time::Duration;

use super::{
    DEVICE_NS, DeviceRecord, DeviceStatus, GrantStore, Result, USER_CODE_NS, Write, key_of, until,
};

/// The store key of a device code: what the browser side, which never sees the device code,
/// uses to record the person's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey(String);

impl DeviceKey {
    /// The key of a device code.
    pub fn of(device_code: &str) -> Self {
        Self(key_of(device_code))
    }
}

impl GrantStore<'_> {
    /// Stores a new device authorization for `ttl`, findable by its device code and by its user
    /// code.
    pub async fn start_device(
        &self,
        device_code: &str,
        record: &DeviceRecord,
        ttl: Duration,
    ) -> Result<()> {
        let key = DeviceKey::of(device_code);
        self.put_json(DEVICE_NS, &key.0, record, ttl).await?;
        Ok(self
            .flow
            .put(USER_CODE_NS, &record.user_code, key.0.as_bytes(), ttl)
            .await?)
    }

    /// The device authorization, whatever its status, until it expires or is redeemed.
    pub async fn device(&self, key: &DeviceKey) -> Result<Option<DeviceRecord>> {
        self.get_json(DEVICE_NS, &key.0).await
    }

    /// The authorization a user code names, while it waits for the person's decision.
    pub async fn pending_device(
        &self,
        user_code: &str,
    ) -> Result<Option<(DeviceKey, DeviceRecord)>> {
        let Some(key) = self.flow.get(USER_CODE_NS, user_code).await? else {
            return Ok(None);
        };
        let key = DeviceKey(String::from_utf8_lossy(&key).into_owned());
        let record = self.device(&key).await?;
        let now = self.now();
        Ok(record
            .filter(|r| r.status == DeviceStatus::Pending && r.expires_at > now)
            .map(|r| (key, r)))
    }

    /// Replaces the authorization's record (a poll noted, the person's decision), keeping its
    /// expiry.
    pub async fn update_device(&self, key: &DeviceKey, record: &DeviceRecord) -> Result<()> {
        let ttl = until(self.now(), record.expires_at, Duration::from_secs(1));
        self.put_json(DEVICE_NS, &key.0, record, ttl).await
    }

    /// Forgets the authorization (denied: the device has been told).
    pub async fn forget_device(&self, key: &DeviceKey) -> Result<()> {
        Ok(self.flow.delete(DEVICE_NS, &key.0).await?)
    }

    /// Redeems an approved authorization: spends the device code and stores `writes` (the
    /// family, its tokens) in one atomic step. Of two redemptions at once exactly one is `true`;
    /// `false`, and nothing written, when it was redeemed already or expired.
    pub async fn redeem_device(
        &self,
        key: &DeviceKey,
        record: &DeviceRecord,
        writes: &[Write],
    ) -> Result<bool> {
        if !self.commit(DEVICE_NS, &key.0, writes).await? {
            return Ok(false);
        }
        if let Err(e) = self.flow.delete(USER_CODE_NS, &record.user_code).await {
            // It points at nothing now; it expires with the device code.
            tracing::warn!(error = %e, "could not forget a redeemed user code");
        }
        Ok(true)
    }
}
