//! The gateway's side of RFC 3161: the newest checkpoint goes to each configured time-stamping
//! authority, at most once per `timestamp_interval_ms`; a reply is checked (granted, the nonce
//! echoed, the imprint the checkpoint's, the token's signature chaining to the configured
//! certificate: `auditlog::timestamp`) before its token is stored (`timestamps` in log.db).
//! Nothing that did not check out is stored.
//!
//! An authority that is down only delays its stamp: the client retries with backoff (the loop
//! shared with the witnesses, `follow`) and never holds up a request. A refusal, or a reply whose
//! token does not check out, is recorded as one `timestamp_refused` entry per new kind of refusal
//! and shown by `/health`; the next checkpoint is offered after the interval.

use super::follow::{follow, Follower, Next};
use super::location::LogLocation;
use super::store::StoredTimestamp;
use super::timestamp::{check_reply, format_gen_time, imprint_of, Request, TrustedCert, QUERY_CONTENT_TYPE};
use super::writer::Command;
use super::{AuditError, AuditLog, AuditOptions, SignedCheckpoint};
use parking_lot::Mutex;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest one request may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest reply read (a token with its certificates is a few kilobytes).
const REPLY_MAX: usize = 1 << 20;
/// How much of a refusal's body is kept in the entry.
const DETAIL_MAX: usize = 300;

/// A configured authority, its certificates loaded.
#[derive(Debug, Clone)]
pub(crate) struct Authority {
    url: String,
    certs: Vec<TrustedCert>,
}

/// Load `[[audit.timestamp_authorities]]`; a certificate that does not load stops the start.
pub(crate) fn parse_authorities(opts: &AuditOptions) -> Result<Vec<Authority>, AuditError> {
    opts.timestamp_authorities
        .iter()
        .map(|t| {
            reqwest::Url::parse(&t.url)
                .map_err(|e| AuditError::Invalid(format!("audit.timestamp_authorities url {:?}: {e}", t.url)))?;
            let pem = std::fs::read(&t.certificate).map_err(|e| {
                AuditError::Invalid(format!(
                    "audit.timestamp_authorities ({}): {}: {e}",
                    t.url,
                    t.certificate.display()
                ))
            })?;
            let certs = TrustedCert::load_pem(&pem).map_err(|e| {
                AuditError::Invalid(format!(
                    "audit.timestamp_authorities ({}): {}: {e}",
                    t.url,
                    t.certificate.display()
                ))
            })?;
            Ok(Authority { url: t.url.clone(), certs })
        })
        .collect()
}

/// What one authority last did with our checkpoints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimestampStatus {
    pub url: String,
    /// `pending` (nothing stamped yet), `ok`, `unreachable` (retrying) or `refused`.
    pub state: &'static str,
    /// Largest tree size it stamped for us.
    pub stamped_size: Option<u64>,
    /// The genTime of that stamp.
    pub gen_time: Option<String>,
    /// Why it is unreachable or refused.
    pub detail: Option<String>,
}

/// The authorities' states, shared with `/health`, and the shutdown's "stamp the newest now".
#[derive(Clone)]
pub(crate) struct Statuses {
    list: Arc<Mutex<Vec<TimestampStatus>>>,
    at_once: Arc<AtomicBool>,
    /// Wakes every client when `at_once` is set.
    hurried: watch::Sender<()>,
    interval_ms: u64,
}

impl Statuses {
    pub(crate) fn new(authorities: &[Authority], interval_ms: u64) -> Statuses {
        let list = authorities
            .iter()
            .map(|a| TimestampStatus {
                url: a.url.clone(),
                state: "pending",
                stamped_size: None,
                gen_time: None,
                detail: None,
            })
            .collect();
        Statuses {
            list: Arc::new(Mutex::new(list)),
            at_once: Arc::default(),
            hurried: watch::Sender::new(()),
            interval_ms,
        }
    }

    fn set(&self, i: usize, update: impl FnOnce(&mut TimestampStatus)) {
        if let Some(s) = self.list.lock().get_mut(i) {
            update(s);
        }
    }

    pub(crate) fn any(&self) -> bool {
        !self.list.lock().is_empty()
    }

    /// From now on, stamp the newest checkpoint without waiting for the interval (shutdown).
    pub(crate) fn hurry(&self) {
        self.at_once.store(true, Ordering::Relaxed);
        self.hurried.send_replace(());
    }

    /// Whether every authority has stamped `size`, refused it, or is not answering.
    pub(crate) fn settled(&self, size: u64) -> bool {
        self.list.lock().iter().all(|s| s.stamped_size >= Some(size) || matches!(s.state, "refused" | "unreachable"))
    }

    /// `{"interval_ms", "stamped_size", "authorities": [...]}`, or None without authorities.
    pub(crate) fn to_json(&self) -> Option<serde_json::Value> {
        let list = self.list.lock().clone();
        if list.is_empty() {
            return None;
        }
        let stamped = list.iter().filter_map(|s| s.stamped_size).max();
        Some(serde_json::json!({ "interval_ms": self.interval_ms, "stamped_size": stamped, "authorities": list }))
    }
}

/// Start one client per authority on the current tokio runtime.
pub(crate) fn start(
    log: AuditLog,
    authorities: Vec<Authority>,
    latest: watch::Receiver<Option<SignedCheckpoint>>,
) -> Result<(), AuditError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| AuditError::Invalid("time-stamping authorities need the gateway's runtime".into()))?;
    let http = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuditError::Invalid(format!("time-stamp client: {e}")))?;
    let interval = Duration::from_millis(log.inner.opts.timestamp_interval_ms);
    for (i, authority) in authorities.into_iter().enumerate() {
        let client = Client {
            log: log.clone(),
            http: http.clone(),
            i,
            authority,
            interval,
            stamped: 0,
            next_at: Instant::now(),
            refused: None,
            hurried: log.inner.stamps.hurried.subscribe(),
        };
        runtime.spawn(run(client, latest.clone()));
    }
    Ok(())
}

async fn run(mut client: Client, latest: watch::Receiver<Option<SignedCheckpoint>>) {
    let db = client.log.location().clone();
    if let Some((size, gen_time)) = last_stamped(&db, &client.authority.url).await {
        client.stamped = size;
        client.statuses().set(client.i, |s| {
            s.stamped_size = Some(size);
            s.gen_time = Some(gen_time);
        });
    }
    follow(latest, client).await;
}

/// The largest size this authority stamped, and when, from the stored tokens.
async fn last_stamped(db: &LogLocation, url: &str) -> Option<(u64, String)> {
    let db = db.clone();
    let rows = tokio::task::spawn_blocking(move || db.open_reader().and_then(|s| s.timestamps())).await.ok()?.ok()?;
    rows.into_iter().filter(|r| r.tsa == url).max_by_key(|r| r.size).map(|r| (r.size, r.gen_time))
}

/// One authority's client.
struct Client {
    log: AuditLog,
    http: reqwest::Client,
    i: usize,
    authority: Authority,
    interval: Duration,
    /// Largest size stamped.
    stamped: u64,
    /// No request before this (the interval since the last stamp or refusal).
    next_at: Instant,
    /// The refusal last recorded (not repeated until it stamps again).
    refused: Option<(u16, String)>,
    /// Changes when the shutdown asks for the newest checkpoint to be stamped at once.
    hurried: watch::Receiver<()>,
}

impl Follower for Client {
    async fn on_checkpoint(&mut self, cp: &SignedCheckpoint) -> Next {
        if cp.size <= self.stamped {
            return Next::Idle;
        }
        let at_once = self.statuses().at_once.load(Ordering::Relaxed);
        if !at_once && Instant::now() < self.next_at {
            return Next::At(self.next_at);
        }
        self.stamp(cp).await
    }

    async fn woken(&mut self) {
        if self.hurried.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Client {
    fn statuses(&self) -> &Statuses {
        &self.log.inner.stamps
    }

    /// Ask for a stamp on `cp`, check the reply, and hand a good token to the writer.
    async fn stamp(&mut self, cp: &SignedCheckpoint) -> Next {
        let Some(imprint) = imprint_of(&cp.note) else { return Next::Idle };
        let req = match Request::new(&imprint) {
            Ok(req) => req,
            Err(e) => {
                tracing::error!(error = %e, "time-stamp request not built");
                return Next::Idle;
            }
        };
        let sent = self
            .http
            .post(&self.authority.url)
            .header(reqwest::header::CONTENT_TYPE, QUERY_CONTENT_TYPE)
            .body(req.der.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => return self.unreachable(e.to_string()),
        };
        let status = resp.status().as_u16();
        let body = match resp.bytes().await {
            Ok(body) => body,
            Err(e) => return self.unreachable(e.to_string()),
        };
        match status {
            200 if body.len() > REPLY_MAX => self.refuse(cp, status, format!("a reply of {} bytes", body.len())),
            200 => match check_reply(&body, &req, &self.authority.certs) {
                Ok(stamp) => self.stamped_now(cp, stamp),
                Err(e) => self.refuse(cp, status, e.to_string()),
            },
            408 | 429 | 500..=599 => self.unreachable(format!("HTTP {status}: {}", short(&body))),
            _ => self.refuse(cp, status, short(&body)),
        }
    }

    fn stamped_now(&mut self, cp: &SignedCheckpoint, stamp: super::timestamp::Stamp) -> Next {
        let gen_time = format_gen_time(stamp.gen_time);
        let stored = StoredTimestamp { size: cp.size, tsa: self.authority.url.clone(), token: stamp.token, gen_time };
        // Queued for the writer before the status says so: a shutdown that waits for the status
        // then reaches the writer after the token.
        self.log.tell(Command::Stamped { stamp: stored.clone() });
        self.statuses().set(self.i, |s| {
            s.state = "ok";
            s.stamped_size = Some(cp.size);
            s.gen_time = Some(stored.gen_time);
            s.detail = None;
        });
        self.stamped = cp.size;
        self.refused = None;
        self.next_at = Instant::now() + self.interval;
        Next::Idle
    }

    fn unreachable(&mut self, why: String) -> Next {
        tracing::warn!(tsa = %self.authority.url, error = %why, "time-stamping authority did not answer; the stamp is delayed");
        self.statuses().set(self.i, |s| {
            s.state = "unreachable";
            s.detail = Some(why);
        });
        Next::Retry
    }

    /// Record a refusal (once per kind), show it, and offer the next checkpoint after the interval.
    fn refuse(&mut self, cp: &SignedCheckpoint, status: u16, detail: String) -> Next {
        tracing::error!(tsa = %self.authority.url, status, tree_size = cp.size, detail = %detail, "time-stamping authority refused the checkpoint, or its token did not check out");
        self.statuses().set(self.i, |s| {
            s.state = "refused";
            s.detail = Some(format!("HTTP {status} for tree size {}: {detail}", cp.size));
        });
        let kind = (status, detail.clone());
        if self.refused.as_ref() != Some(&kind) {
            let record = super::SystemRecord::TimestampRefused {
                url: self.authority.url.clone(),
                tree_size: cp.size,
                status,
                detail,
            };
            self.log.tell(Command::TimestampRefused { record: Box::new(record) });
            self.refused = Some(kind);
        }
        self.next_at = Instant::now() + self.interval;
        Next::At(self.next_at)
    }
}

fn short(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim().chars().take(DETAIL_MAX).collect()
}
