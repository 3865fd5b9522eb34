//! Hears changes other nodes make: a connection of its own that `LISTEN`s on the channel the
//! triggers of migration V6 notify (`portcullis_directory`), and invalidates a
//! [`CachedDirectory`](crate::CachedDirectory) on every notification.
//!
//! While the connection is down the cache is marked not live (reads bypass it); once `LISTEN`
//! succeeds again it is invalidated — changes made meanwhile went unheard — and marked live.
//! The URL is never logged: it may hold a password.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::cached::{Invalidation, ListenerGuard};
use crate::{Result, StoreError};

/// The channel the triggers notify.
pub const CHANNEL: &str = "portcullis_directory";

/// The first wait before reconnecting, doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often an idle connection is checked, and how long the check may take: a connection
/// that died silently (a dropped route) is noticed within their sum.
const PING_EVERY: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a listening connection ended.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("the connection closed")]
    Closed,
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
}

/// Starts listening for directory changes on `url`, invalidating through `invalidation`.
/// Marks the cache not live at once; it turns live when `LISTEN` succeeds. The task ends when
/// the returned guard is dropped (keep it in the cache: [`crate::CachedDirectory::with_listener`]).
///
/// Fails when `url` cannot be parsed or when called outside a tokio runtime.
pub fn spawn_change_listener(url: &str, invalidation: Arc<Invalidation>) -> Result<ListenerGuard> {
    let mut config: tokio_postgres::Config = url.parse().map_err(StoreError::unavailable)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("portcullis-listener");
    let runtime = tokio::runtime::Handle::try_current().map_err(StoreError::unavailable)?;
    invalidation.set_live(false);
    let task = runtime.spawn(listen_forever(config, invalidation));
    Ok(ListenerGuard::new(task.abort_handle()))
}

async fn listen_forever(config: tokio_postgres::Config, invalidation: Arc<Invalidation>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let Err(e) = listen_once(&config, &invalidation, &mut backoff).await;
        invalidation.set_live(false);
        tracing::warn!(
            error = %e,
            retry_in = ?backoff,
            "directory change listener disconnected; the directory cache is bypassed until it is \
             back"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection: connect, `LISTEN`, then invalidate on every notification until the
/// connection fails. Resets `backoff` once listening.
async fn listen_once(
    config: &tokio_postgres::Config,
    invalidation: &Invalidation,
    backoff: &mut Duration,
) -> std::result::Result<Infallible, ListenError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let on_message = |message: Option<std::result::Result<AsyncMessage, _>>| match message {
        Some(Ok(AsyncMessage::Notification(_))) => {
            invalidation.invalidate();
            Ok(())
        }
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(ListenError::Postgres(e)),
        None => Err(ListenError::Closed),
    };

    // The connection is driven here, so every request to the server is polled together with it.
    let sql = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    loop {
        tokio::select! {
            done = &mut listen => { done?; break; }
            message = messages.next() => on_message(message)?,
        }
    }
    // Whatever changed while nobody listened is unknown: forget everything, then serve again.
    invalidation.invalidate();
    invalidation.set_live(true);
    *backoff = MIN_BACKOFF;
    tracing::debug!("listening for directory changes");

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => on_message(message)?,
            _ = ping.tick() => {
                let check = client.simple_query("SELECT 1");
                let deadline = tokio::time::sleep(PING_TIMEOUT);
                tokio::pin!(check, deadline);
                loop {
                    tokio::select! {
                        done = &mut check => { done?; break; }
                        message = messages.next() => on_message(message)?,
                        () = &mut deadline => return Err(ListenError::Timeout(PING_TIMEOUT)),
                    }
                }
            }
        }
    }
}
