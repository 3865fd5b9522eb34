//! What provisioning should do, read from the directory: for every `aws` account, the
//! permission sets assigned in it (to anyone, directly or through a group) and what each should
//! look like there; beside it, the record of what was last done for every pair.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use portcullis_domain::{
    AccountId, AccountKind, Federation, PageRequest, PageSize, PermissionSet, PermissionSetId,
    ProvisioningRecord, ProvisioningState, RoleName,
};
use portcullis_store::{AssignmentFilter, Directory, StoreError};

use super::desired::{Desired, Federator};
use super::{PairStatus, Provisioning, ProvisioningError};

pub(crate) type Pair = (AccountId, PermissionSetId);

/// The desired state of every assigned pair (or why it cannot be made), and every record.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) desired: BTreeMap<Pair, Result<Desired, String>>,
    pub(crate) records: BTreeMap<Pair, ProvisioningRecord>,
}

fn first_page() -> PageRequest {
    PageRequest {
        size: PageSize::new(PageSize::MAX).unwrap_or_default(),
        after: None,
    }
}

impl Plan {
    pub(crate) async fn read(p: &Provisioning) -> Result<Self, ProvisioningError> {
        let d = &p.directory;
        let mut accounts = Vec::new();
        let mut page = first_page();
        loop {
            let got = d.list_accounts(page.clone()).await?;
            accounts.extend(got.items.into_iter().filter_map(|a| match a.kind {
                AccountKind::Aws(aws) => Some((a.id, aws)),
                AccountKind::Native => None,
            }));
            match got.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        let mut assigned: Vec<(usize, BTreeSet<PermissionSetId>)> = Vec::new();
        for (i, (account, _)) in accounts.iter().enumerate() {
            let filter = AssignmentFilter {
                account_id: Some(account.clone()),
                ..AssignmentFilter::default()
            };
            let mut sets = BTreeSet::new();
            let mut page = first_page();
            loop {
                let got = d.list_assignments(&filter, page.clone()).await?;
                sets.extend(got.items.iter().map(|a| a.permission_set_id));
                match got.next {
                    Some(next) => page.after = Some(next),
                    None => break,
                }
            }
            if !sets.is_empty() {
                assigned.push((i, sets));
            }
        }
        let mut sets: HashMap<PermissionSetId, PermissionSet> = HashMap::new();
        for id in assigned.iter().flat_map(|(_, s)| s.iter()) {
            if !sets.contains_key(id) {
                match d.get_permission_set(*id).await {
                    Ok(ps) => {
                        sets.insert(*id, ps);
                    }
                    // Deleted since the assignments were read: nothing to provision.
                    Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let needs_saml = assigned
            .iter()
            .any(|(i, _)| accounts[*i].1.federation == Federation::Saml);
        let saml_metadata = if needs_saml {
            Some(
                p.assertions
                    .idp_metadata()
                    .await
                    .map_err(|e| ProvisioningError::Federation(e.to_string()))?,
            )
        } else {
            None
        };
        let federator = Federator {
            saml_metadata,
            issuer: p.tokens.issuer(),
        };
        let mut plan = Self::default();
        for (i, ids) in &assigned {
            let (account, aws) = &accounts[*i];
            for id in ids {
                if let Some(set) = sets.get(id) {
                    plan.desired.insert(
                        (account.clone(), *id),
                        Desired::new(account, aws, set, &federator),
                    );
                }
            }
        }
        plan.records = records(d.as_ref()).await?;
        Ok(plan)
    }

    /// Every pair there is or was, in (account, permission set) order.
    pub(crate) fn statuses(&self) -> Vec<PairStatus> {
        let keys: BTreeSet<&Pair> = self.desired.keys().chain(self.records.keys()).collect();
        keys.into_iter()
            .map(|pair| {
                let record = self.records.get(pair);
                let desired = self.desired.get(pair);
                let wanted = desired.map(|d| match d {
                    Ok(d) => d.fingerprint(),
                    Err(why) => format!("invalid:{why}"),
                });
                let (name, role_arn) = match (desired, record) {
                    (Some(Ok(d)), _) => (d.permission_set_name.clone(), d.role_arn.clone()),
                    (_, Some(r)) => (r.permission_set_name.clone(), r.role_arn.clone()),
                    // An invalid pair never attempted: no name known here but the id's.
                    (Some(Err(_)), None) | (None, None) => (unknown_name(), String::new()),
                };
                PairStatus {
                    account_id: pair.0.clone(),
                    permission_set_id: pair.1,
                    permission_set_name: name,
                    role_arn,
                    state: ProvisioningState::of(record, wanted.as_deref()),
                    attempted_at: record.map(|r| r.attempted_at),
                    provisioned_at: record.and_then(|r| r.provisioned_at),
                }
            })
            .collect()
    }
}

fn unknown_name() -> RoleName {
    RoleName::parse("unknown").unwrap_or_else(|_| unreachable!("a valid role name"))
}

/// Every record, by pair.
pub(crate) async fn records(
    d: &dyn Directory,
) -> Result<BTreeMap<Pair, ProvisioningRecord>, ProvisioningError> {
    Ok(d.list_provisioning_records()
        .await?
        .into_iter()
        .map(|r| ((r.account_id.clone(), r.permission_set_id), r))
        .collect())
}

/// The permission set's name: from the directory, else from the record.
pub(crate) async fn set_name(
    p: &Provisioning,
    id: PermissionSetId,
    record: Option<&ProvisioningRecord>,
) -> Result<RoleName, ProvisioningError> {
    match p.directory.get_permission_set(id).await {
        Ok(ps) => Ok(ps.name),
        Err(StoreError::NotFound(_)) => Ok(record
            .map(|r| r.permission_set_name.clone())
            .unwrap_or_else(unknown_name)),
        Err(e) => Err(e.into()),
    }
}
