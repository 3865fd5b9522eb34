//! The audit queue over a counting (and optionally failing) audit log: concurrent records share
//! commits, a failed commit reaches every caller of its batch (and issues no credentials), and
//! dropping the queue ends its task.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::{Actor, AuditEvent, AuditFilter, NewAuditEvent, Page, PageRequest, UserId};
use portcullis_store::{AuditLog, StoreError};

use crate::audit::AuditQueue;
use crate::tests::{Fixture, TOKEN, role_name};
use crate::{Broker, BrokerConfig, BrokerError};

/// An audit log that remembers each batch it was given, taking `delay` per batch; or fails every
/// batch.
#[derive(Default)]
struct CountingLog {
    batches: Mutex<Vec<Vec<NewAuditEvent>>>,
    delay: Duration,
    fail: bool,
}

impl CountingLog {
    fn batch_sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().iter().map(Vec::len).collect()
    }
}

#[async_trait]
impl AuditLog for CountingLog {
    async fn record_event(&self, event: NewAuditEvent) -> portcullis_store::Result<()> {
        self.record_events(vec![event]).await
    }

    async fn record_events(&self, events: Vec<NewAuditEvent>) -> portcullis_store::Result<()> {
        tokio::time::sleep(self.delay).await;
        if self.fail {
            return Err(StoreError::Unavailable("the disk is full".into()));
        }
        self.batches.lock().unwrap().push(events);
        Ok(())
    }

    async fn list_audit_events(
        &self,
        _filter: &AuditFilter,
        _page: PageRequest,
    ) -> portcullis_store::Result<Page<AuditEvent>> {
        Ok(Page {
            items: Vec::new(),
            next: None,
        })
    }
}

fn event(n: usize) -> NewAuditEvent {
    NewAuditEvent::new(
        Actor::User(UserId::new()),
        "broker.credentials.issue",
        format!("account:{n}"),
    )
}

/// `count` concurrent `record` calls; their results, in task order.
async fn record_concurrently(
    queue: &Arc<AuditQueue>,
    count: usize,
) -> Vec<Result<(), BrokerError>> {
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let queue = Arc::clone(queue);
            tokio::spawn(async move { queue.record(event(n)).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

#[tokio::test]
async fn concurrent_records_all_land_in_fewer_commits() {
    let log = Arc::new(CountingLog {
        delay: Duration::from_millis(20),
        ..CountingLog::default()
    });
    let queue = Arc::new(AuditQueue::spawn_log(log.clone(), 256));
    let results = record_concurrently(&queue, 50).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let sizes = log.batch_sizes();
    assert_eq!(sizes.iter().sum::<usize>(), 50, "{sizes:?}");
    assert!(
        sizes.len() <= 5,
        "50 callers together took {sizes:?} commits"
    );
    // Every caller's own record is among them, once.
    let mut targets: Vec<String> = log
        .batches
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .map(|e| e.target.clone())
        .collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_never_exceed_the_maximum() {
    let log = Arc::new(CountingLog {
        delay: Duration::from_millis(5),
        ..CountingLog::default()
    });
    let queue = Arc::new(AuditQueue::spawn_log(log.clone(), 8));
    let results = record_concurrently(&queue, 50).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let sizes = log.batch_sizes();
    assert_eq!(sizes.iter().sum::<usize>(), 50, "{sizes:?}");
    assert!(sizes.iter().all(|&n| (1..=8).contains(&n)), "{sizes:?}");
    assert!(sizes.len() < 50, "{sizes:?}");
}

#[tokio::test]
async fn a_failed_commit_reaches_every_caller_of_its_batch() {
    let log = Arc::new(CountingLog {
        fail: true,
        ..CountingLog::default()
    });
    let queue = Arc::new(AuditQueue::spawn_log(log.clone(), 256));
    let results = record_concurrently(&queue, 20).await;
    for r in &results {
        assert!(
            matches!(r, Err(BrokerError::Store(StoreError::Unavailable(_)))),
            "{r:?}"
        );
    }
    assert_eq!(log.batch_sizes(), Vec::<usize>::new());
}

#[tokio::test]
async fn dropping_the_queue_ends_its_task() {
    let log = Arc::new(CountingLog::default());
    let queue = AuditQueue::spawn_log(log.clone(), 16);
    queue.record(event(1)).await.unwrap();
    assert_eq!(Arc::strong_count(&log), 2, "the task holds the log");
    drop(queue);
    // The task ends and lets go of the log.
    for _ in 0..200 {
        if Arc::strong_count(&log) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the audit task still runs after its queue was dropped");
}

#[tokio::test]
async fn no_credentials_when_the_audit_record_cannot_be_written() {
    let f = Fixture::new(BrokerConfig::default()).await;
    let acct = f.account("222222222222").await;
    f.grant(&acct, "Admin", 1).await;
    let mut broker = Broker::new(
        f.directory.clone(),
        f.sessions.clone(),
        f.clock.clone(),
        [9; 32],
    );
    broker.audit = AuditQueue::spawn_log(
        Arc::new(CountingLog {
            fail: true,
            ..CountingLog::default()
        }),
        16,
    );
    let caller = broker.authenticate(Some(TOKEN)).await.unwrap();
    let issued = broker
        .get_role_credentials(&caller, &acct, &role_name("Admin"))
        .await;
    assert!(
        matches!(issued, Err(BrokerError::Store(StoreError::Unavailable(_)))),
        "{issued:?}"
    );
}
