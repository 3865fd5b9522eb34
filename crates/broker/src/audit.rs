//! Group commit of issuance audit records. Credentials are never handed out before their audit
//! record is durable, and one commit per request caps issuance at the rate the database can
//! flush. So callers hand their record to one writer task and wait: the writer takes every record
//! already queued (up to a batch), writes them with one [`AuditLog::record_events`] transaction
//! and answers each caller with its outcome. While a batch is being written the next one queues
//! up, so N concurrent callers cost about N / batch commits instead of N.

use std::sync::Arc;

use portcullis_domain::NewAuditEvent;
use portcullis_store::{AuditLog, Directory, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::BrokerError;

/// What the writer tells each caller of a batch: one error is shared by all of them.
type Outcome = Result<(), Arc<StoreError>>;
type Job = (NewAuditEvent, oneshot::Sender<Outcome>);

/// How many batches may wait in the queue before callers wait to join it (back-pressure).
const QUEUED_BATCHES: usize = 4;

/// The sending side of the writer task. The task ends once this (every sender) is dropped and
/// what was queued is written.
#[derive(Debug)]
pub(crate) struct AuditQueue {
    jobs: mpsc::Sender<Job>,
}

impl AuditQueue {
    /// Starts the writer task on the current tokio runtime; a batch holds at most `max_batch`
    /// records (at least one).
    pub(crate) fn spawn(directory: Arc<dyn Directory>, max_batch: usize) -> Self {
        Self::spawn_log(directory, max_batch)
    }

    /// As [`AuditQueue::spawn`], over the audit log alone.
    pub(crate) fn spawn_log(log: Arc<dyn AuditLog>, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (jobs, queued) = mpsc::channel(max_batch.saturating_mul(QUEUED_BATCHES));
        tokio::spawn(write_batches(log, queued, max_batch));
        Self { jobs }
    }

    /// Records `event` and returns once it is committed, together with whatever else was queued
    /// meanwhile. The batch's error when its transaction fails; `Unavailable` when the writer
    /// is gone.
    pub(crate) async fn record(&self, event: NewAuditEvent) -> Result<(), BrokerError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send((event, answer))
            .await
            .map_err(|_| writer_gone())?;
        match answered.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BrokerError::Store(shared(&e))),
            Err(_) => Err(writer_gone()),
        }
    }
}

/// The writer: waits for one record, takes whatever else is already queued, commits them in one
/// transaction and answers every caller; until every sender is dropped.
async fn write_batches(log: Arc<dyn AuditLog>, mut queued: mpsc::Receiver<Job>, max_batch: usize) {
    let mut jobs = Vec::with_capacity(max_batch);
    while queued.recv_many(&mut jobs, max_batch).await > 0 {
        let (events, waiters): (Vec<_>, Vec<_>) = jobs.drain(..).unzip();
        let count = events.len();
        // On a task of its own, so that a panic in the store fails this batch, not the queue.
        let log = Arc::clone(&log);
        let outcome = match tokio::spawn(async move { log.record_events(events).await }).await {
            Ok(written) => written.map_err(Arc::new),
            Err(e) => Err(Arc::new(StoreError::unavailable(e))),
        };
        if let Err(e) = &outcome {
            tracing::error!(error = ?e, count, "writing a batch of audit records failed");
        }
        for waiter in waiters {
            // A caller that gave up (its request was cancelled) no longer listens.
            let _ = waiter.send(outcome.clone());
        }
    }
}

fn writer_gone() -> BrokerError {
    BrokerError::Store(StoreError::Unavailable(
        "the audit writer has stopped".into(),
    ))
}

/// One caller's copy of a batch's error, of the same kind (so it maps to the same response).
fn shared(e: &Arc<StoreError>) -> StoreError {
    match e.as_ref() {
        StoreError::NotFound(what) => StoreError::NotFound(what),
        StoreError::Conflict { field, message } => StoreError::Conflict {
            field,
            message: message.clone(),
        },
        StoreError::InvalidReference { field, entity } => {
            StoreError::InvalidReference { field, entity }
        }
        StoreError::Corrupt(message) => StoreError::Corrupt(message.clone()),
        StoreError::Unavailable(_) => StoreError::Unavailable(Box::new(Arc::clone(e))),
    }
}
