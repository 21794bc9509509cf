//! Batched storage of generation records and spend, off the request path.
//!
//! Every finished call leaves a [`Generation`] and, when it cost something, a spend update. Storing
//! them one by one cost two SQLite commits and one blocking-pool task per request, which under load
//! was the largest single cost of the gateway. Calls now queue their record here; at most one
//! blocking task drains the queue and stores whatever has accumulated (within a short window) in
//! one transaction. Records still land after the answer (as before); the audit log, not this store,
//! is the record of truth.
//! Because the drain runs on tokio's blocking pool, a runtime shutting down waits for it, so queued
//! records are not lost on a clean stop.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{AccountStore, Generation};

/// How long a drain waits for records to accumulate before each transaction. Off the request
/// path, so it costs no latency; at a few thousand calls per second it turns one commit per call
/// into one per few dozen.
const BATCH_WINDOW: Duration = Duration::from_millis(10);

/// Queues generation records and stores them in batches.
pub struct GenerationRecorder {
    store: Arc<dyn AccountStore>,
    pending: Mutex<Vec<Generation>>,
    /// A drain task is running (or about to).
    draining: AtomicBool,
}

impl GenerationRecorder {
    pub fn new(store: Arc<dyn AccountStore>) -> Arc<Self> {
        Arc::new(GenerationRecorder { store, pending: Mutex::new(Vec::new()), draining: AtomicBool::new(false) })
    }

    /// Queue one record; starts a drain task unless one is already running. Must be called from
    /// within a tokio runtime.
    pub fn record(self: &Arc<Self>, generation: Generation) {
        self.pending.lock().push(generation);
        if self.draining.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.drain());
    }

    /// Store batches until the queue is empty.
    fn drain(&self) {
        loop {
            std::thread::sleep(BATCH_WINDOW);
            let batch = std::mem::take(&mut *self.pending.lock());
            if batch.is_empty() {
                self.draining.store(false, Ordering::Release);
                // A record queued between the take and the store saw `draining` set and left it to
                // us: take it, unless a new drain task already claimed it.
                if self.pending.lock().is_empty() || self.draining.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            if let Err(e) = self.store.record_batch(&batch) {
                tracing::warn!(error = %e, records = batch.len(), "generation records not stored");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::SqliteAccountStore;

    fn generation(i: usize, key_id: &str) -> Generation {
        Generation {
            id: format!("gen-{i}"),
            key_id: key_id.to_string(),
            model: "demo/echo".into(),
            provider_name: Some("demo-ch".into()),
            created_at: "2026-11-23T12:00:00.000Z".into(),
            tokens_prompt: 10,
            tokens_completion: 5,
            total_cost: 0.25,
            latency: 1.0,
            generation_time: 0.5,
            finish_reason: Some("stop".into()),
            streamed: false,
            cancelled: false,
            request_entry: i as u64,
            response_entry: Some(i as u64 + 1),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_queued_record_and_its_spend_is_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteAccountStore::open(dir.path()).expect("store"));
        let new = crate::accounting::NewKey { name: "k".into(), team: "t".into(), ..Default::default() };
        let (key, _) = store.create_key(&new).expect("key");
        let recorder = GenerationRecorder::new(store.clone());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (recorder, key_id) = (recorder.clone(), key.id.clone());
                tokio::spawn(async move { recorder.record(generation(i, &key_id)) })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        // Wait for the drain without a timed assertion: poll until nothing is queued or draining.
        while recorder.draining.load(Ordering::Acquire) || !recorder.pending.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        for i in 0..200 {
            assert!(store.generation(&format!("gen-{i}")).expect("read").is_some(), "gen-{i} missing");
        }
        let usage = store.list_keys().expect("keys")[0].usage_usd;
        assert!((usage - 50.0).abs() < 1e-9, "spend {usage}");
    }
}
