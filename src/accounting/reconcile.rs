//! Spend and generation records rebuilt from the audit log: the log is the source of truth, the
//! account store its cache.
//!
//! Generation records and spend are stored off the request path, in batches
//! ([`super::GenerationRecorder`]), so a crash loses the ones still queued, while every answered
//! call's response entry (with its cost) is durable before the client sees the answer. At start,
//! [`reconcile`] reads the response entries after the last reconciled point, stores the
//! generation record of each answered call the store does not have, with its cost added to its
//! key's spend in the same transaction (so a record and its charge are never apart), and moves
//! the point to the end of the log. Records already there are skipped, so running it twice
//! charges nothing twice.

use super::{AccountStore, Generation, StoreError};
use crate::audit::entry::decode;
use crate::audit::location::LogLocation;
use crate::audit::store::{LogStore, StoreError as LogStoreError};
use crate::audit::{Record, ResponseRecord};
use std::collections::HashMap;

/// Entries read per query.
const CHUNK: u64 = 4096;

/// Why the log could not be reconciled.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("audit log: {0}")]
    Log(#[from] LogStoreError),
    #[error("account store: {0}")]
    Accounts(#[from] StoreError),
    #[error("audit log entry {seq} cannot be read: {reason}")]
    Entry { seq: u64, reason: String },
    #[error("the reconciliation stopped with a panic")]
    Panicked,
}

/// What one reconciliation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    /// Entries read (from the previous point to the end of the log).
    pub entries_read: u64,
    /// Generation records the store lacked and now has.
    pub generations_added: u64,
    /// Their cost, added to their keys' spend.
    pub spend_added_usd: f64,
}

/// Bring `accounts` up to date with the log at `log`.
pub fn reconcile(log: &LogLocation, accounts: &dyn AccountStore) -> Result<Reconciled, ReconcileError> {
    let log = log.open_reader()?;
    let log = log.as_ref();
    let end = log.size()?;
    // A point beyond the end belongs to another log: start over (records present are skipped).
    let from = Some(accounts.settled_through()?).filter(|p| *p <= end).unwrap_or(0);
    let mut done = Reconciled { entries_read: end - from, ..Default::default() };
    // Key of each request whose response is not read yet; requests before `from` are looked up.
    let mut keys: HashMap<u64, String> = HashMap::new();
    let mut start = from;
    while start < end {
        let stop = (start + CHUNK).min(end);
        let mut missing = Vec::new();
        for entry in log.read_range(start, stop)? {
            if let Some(g) = settle_entry(log, accounts, &mut keys, entry.seq, &entry.bytes)? {
                missing.push(g);
            }
        }
        accounts.record_batch(&missing)?;
        done.generations_added += missing.len() as u64;
        done.spend_added_usd += missing.iter().map(|g| g.total_cost).sum::<f64>();
        start = stop;
    }
    accounts.set_settled_through(end)?;
    Ok(done)
}

/// The generation record an entry calls for that the store does not have yet.
fn settle_entry(
    log: &dyn LogStore,
    accounts: &dyn AccountStore,
    keys: &mut HashMap<u64, String>,
    seq: u64,
    bytes: &[u8],
) -> Result<Option<Generation>, ReconcileError> {
    let bad = |reason: String| ReconcileError::Entry { seq, reason };
    let view = decode(bytes).map_err(|e| bad(e.to_string()))?;
    match view.kind {
        "request" => {
            #[derive(serde::Deserialize)]
            struct KeyPart {
                key_id: String,
            }
            let part: KeyPart = serde_json::from_str(view.payload.get()).map_err(|e| bad(e.to_string()))?;
            keys.insert(seq, part.key_id);
            Ok(None)
        }
        "response" => {
            let Record::Response(r) = view.record().map_err(|e| bad(e.to_string()))? else {
                return Err(bad("a response entry without a response record".into()));
            };
            let key_id = match keys.remove(&r.request_seq) {
                Some(k) => k,
                None => request_key(log, r.request_seq)?,
            };
            // No provider: no upstream answered, nothing was charged.
            if r.provider.is_none() || accounts.generation(&r.generation_id)?.is_some() {
                return Ok(None);
            }
            Ok(Some(generation_of(&r, key_id, seq, view.time)))
        }
        _ => Ok(None),
    }
}

/// The key of request entry `seq` (one read behind the reconciled point).
fn request_key(log: &dyn LogStore, seq: u64) -> Result<String, ReconcileError> {
    let bad = |reason: String| ReconcileError::Entry { seq, reason };
    let entry = log.read_range(seq, seq + 1)?.pop().ok_or_else(|| bad("the request entry is missing".into()))?;
    match decode(&entry.bytes).and_then(|v| v.record().map_err(Into::into)) {
        Ok(Record::Request(r)) => Ok(r.key_id),
        Ok(_) => Err(bad("a response names it as its request, but it is not one".into())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The generation record of an answered call, from its response entry.
fn generation_of(r: &ResponseRecord, key_id: String, response_seq: u64, time: &str) -> Generation {
    let usage = r.usage.clone().unwrap_or_default();
    // The entry's time in the store's own format (milliseconds), so time ranges compare alike.
    let created_at = chrono::DateTime::parse_from_rfc3339(time).map_or_else(
        |_| time.to_string(),
        |t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    Generation {
        id: r.generation_id.clone(),
        key_id,
        model: r.model.clone().unwrap_or_default(),
        provider_name: r.provider.clone(),
        created_at,
        tokens_prompt: usage.prompt_tokens,
        tokens_completion: usage.completion_tokens,
        total_cost: r.cost_usd.unwrap_or(0.0),
        latency: r.latency_ms,
        // The upstream's own time is not in the entry; the call's is the closest known.
        generation_time: r.latency_ms,
        finish_reason: r.finish_reason.clone(),
        streamed: r.streamed,
        cancelled: r.cancelled,
        request_entry: r.request_seq,
        response_entry: Some(response_seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{NewKey, SqliteAccountStore};
    use crate::audit::{AuditLog, AuditOptions, RequestRecord, Usage};

    async fn exchange(log: &AuditLog, key_id: &str, i: u64, cost: f64) {
        let request = RequestRecord { key_id: key_id.into(), decision: "allow".into(), ..Default::default() };
        let request_seq = log.append(Record::Request(request)).await.unwrap();
        let response = ResponseRecord {
            request_seq,
            generation_id: format!("gen-{i}"),
            provider: Some("p".into()),
            model: Some("m".into()),
            usage: Some(Usage { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, cached_tokens: 0 }),
            cost_usd: Some(cost),
            ..Default::default()
        };
        log.append(Record::Response(response)).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lost_records_are_rebuilt_once_from_the_response_entries() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = SqliteAccountStore::open(dir.path()).unwrap();
        let (a, _) = accounts.create_key(&NewKey { name: "a".into(), ..Default::default() }).unwrap();
        let (b, _) = accounts.create_key(&NewKey { name: "b".into(), ..Default::default() }).unwrap();
        let opts = AuditOptions { checkpoint_interval_ms: 3_600_000, ..Default::default() };
        let log = AuditLog::open(dir.path(), opts).unwrap();
        for i in 0..10 {
            exchange(&log, if i % 2 == 0 { &a.id } else { &b.id }, i, 0.5).await;
        }
        // A failed call: no provider answered, nothing to charge.
        let request_seq =
            log.append(Record::Request(RequestRecord { key_id: a.id.clone(), ..Default::default() })).await.unwrap();
        let failed =
            ResponseRecord { request_seq, generation_id: "gen-failed".into(), status: 502, ..Default::default() };
        log.append(Record::Response(failed)).await.unwrap();
        log.shutdown().await.unwrap();
        // The recorder had stored gen-0 (and charged it) before the "crash".
        let stored = generation_of(
            &ResponseRecord { generation_id: "gen-0".into(), cost_usd: Some(0.5), ..Default::default() },
            a.id.clone(),
            2,
            "2026-01-01T00:00:00.000000Z",
        );
        accounts.record_batch(&[stored]).unwrap();
        let log_db = LogLocation::in_dir(dir.path());
        let done = reconcile(&log_db, &accounts).unwrap();
        assert_eq!(done.generations_added, 9);
        assert!((done.spend_added_usd - 4.5).abs() < 1e-9);
        let spend = |id: &str| accounts.list_keys().unwrap().into_iter().find(|k| k.id == id).unwrap().usage_usd;
        assert!((spend(&a.id) - 2.5).abs() < 1e-9 && (spend(&b.id) - 2.5).abs() < 1e-9);
        let g = accounts.generation("gen-3").unwrap().unwrap();
        assert_eq!((g.key_id.as_str(), g.tokens_completion, g.response_entry), (b.id.as_str(), 4, Some(8)));
        assert!(accounts.generation("gen-failed").unwrap().is_none());
        // Again: nothing new, nothing charged twice.
        let again = reconcile(&log_db, &accounts).unwrap();
        assert_eq!((again.entries_read, again.generations_added), (0, 0));
        accounts.set_settled_through(0).unwrap();
        assert_eq!(reconcile(&log_db, &accounts).unwrap().generations_added, 0);
        assert!((spend(&a.id) - 2.5).abs() < 1e-9);
    }
}
