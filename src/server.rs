//! Start-up and shut-down: wires the modules together (configuration, demo upstreams, policy, audit
//! log, key store), runs the axum server until SIGTERM or Ctrl-C, then drains in-flight requests
//! and closes the audit log with a final checkpoint. Fails closed: no policy or no log, no gateway.

use arc_swap::ArcSwap;
use axum::serve::ListenerExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::accounting::{AccountStore, GenerationRecorder, Limits, SqliteAccountStore};
use crate::api::{router, AppState, Inner, KeyCache};
use crate::audit::{AuditLog, AuditOptions, Record, SystemRecord, TimestampAuthority, WitnessTarget};
use crate::config::{Config, ProviderKind};
use crate::policy::reload::{spawn_watcher, PolicyHandle, ReloadEvent};
use crate::policy::Policy;
use crate::providers::{demo, Catalog, Upstream};
use crate::routing::Health;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("policy in {dir} cannot be loaded:\n{errors}")]
    Policy { dir: PathBuf, errors: String },
    #[error("audit log cannot be opened: {0}")]
    Audit(String),
    #[error("key store cannot be opened: {0}")]
    Accounts(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// Build upstream adapters, starting the built-in demo servers for `demo` providers.
async fn build_upstreams(config: &Config) -> Result<HashMap<String, Arc<Upstream>>, StartError> {
    let connect = Duration::from_millis(config.connect_timeout_ms);
    let mut upstreams = HashMap::new();
    for p in config.enabled_providers() {
        let base_url = match p.kind {
            ProviderKind::Demo => {
                demo::spawn(&p.name).await.map_err(|e| StartError::Config(format!("demo upstream {}: {e}", p.name)))?
            }
            ProviderKind::Openai | ProviderKind::Anthropic => p.base_url.clone().unwrap_or_default(),
        };
        let upstream = Upstream::new(p, base_url, connect, config.team_keys(&p.name))
            .map_err(|e| StartError::Config(e.to_string()))?;
        upstreams.insert(p.name.clone(), Arc::new(upstream));
    }
    Ok(upstreams)
}

fn load_policy(config: &Config) -> Result<Policy, StartError> {
    Policy::load_dir(&config.policy_dir).map_err(|errors| StartError::Policy {
        dir: config.policy_dir.clone(),
        errors: errors.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
    })
}

fn audit_options(config: &Config) -> AuditOptions {
    AuditOptions {
        origin: config.audit.origin.clone(),
        checkpoint_interval_ms: config.audit.checkpoint_interval_ms,
        checkpoint_every_entries: config.audit.checkpoint_every_entries,
        store_bodies: config.audit.store_bodies,
        witnesses: config
            .audit
            .witnesses
            .iter()
            .map(|w| WitnessTarget { url: w.url.clone(), public_key: w.public_key.clone() })
            .collect(),
        witness_quorum: config.audit.witness_quorum.unwrap_or(config.audit.witnesses.len()),
        timestamp_authorities: config
            .audit
            .timestamp_authorities
            .iter()
            .map(|t| TimestampAuthority { url: t.url.clone(), certificate: t.certificate.clone() })
            .collect(),
        timestamp_interval_ms: config.audit.timestamp_interval_ms,
        body_key_file: config.audit.body_key_file.clone(),
        body_hold_years: config.audit.body_hold_years,
        // Checked by Config::validate. Explicit for SQLite too: a data directory that keeps a
        // PostgreSQL node's key is then refused, not followed (see audit::writer::claim_dir).
        location: Some(config.state.log_location().ok().flatten().unwrap_or_else(|| {
            crate::audit::location::LogLocation::Sqlite(config.data_dir.join(crate::audit::FILE_DB))
        })),
    }
}

/// The secret salt of the PII `hash` operator, made once per deployment (`pii-hash.salt`, mode 0600)
/// so hashed values cannot be recomputed from a public default.
fn load_hash_salt(data_dir: &std::path::Path) -> Result<(), StartError> {
    use rand::RngCore;
    let path = data_dir.join("pii-hash.salt");
    let salt = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 16 => bytes,
        _ => {
            let mut bytes = vec![0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            crate::audit::files::create_private_dir(data_dir).map_err(|e| StartError::Config(e.to_string()))?;
            write_private(&path, &bytes).map_err(|e| StartError::Config(format!("{}: {e}", path.display())))?;
            bytes
        }
    };
    crate::pii::redact::set_hash_salt(&salt);
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// Rebuild spend and generation records the store lost (a crash) from the audit log, before the
/// first request is admitted. A failure leaves the store as it is; the next start tries again.
fn reconcile_accounts(log: &AuditLog, accounts: &dyn AccountStore) {
    // On a thread of its own: a PostgreSQL log is read with a blocking client, which must not run
    // on this async one.
    let done =
        std::thread::scope(|s| s.spawn(|| crate::accounting::reconcile::reconcile(log.location(), accounts)).join());
    match done.unwrap_or_else(|_| Err(crate::accounting::reconcile::ReconcileError::Panicked)) {
        Ok(done) if done.generations_added > 0 => tracing::warn!(
            generations = done.generations_added,
            spend_usd = done.spend_added_usd,
            "generation records and spend rebuilt from the audit log"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "accounting not reconciled with the audit log"),
    }
}

/// Open every dependency of the request path. Fails closed: no policy or no log, no gateway.
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    // Compile every PII pattern now, not on the first request.
    crate::pii::warm_up();
    load_hash_salt(&config.data_dir)?;
    let policy = load_policy(&config)?;
    let audit =
        AuditLog::open(&config.data_dir, audit_options(&config)).map_err(|e| StartError::Audit(e.to_string()))?;
    let accounts: Arc<dyn AccountStore> =
        Arc::new(SqliteAccountStore::open(&config.data_dir).map_err(|e| StartError::Accounts(e.to_string()))?);
    reconcile_accounts(&audit, accounts.as_ref());
    let upstreams = build_upstreams(&config).await?;
    let catalog = Catalog::from_config(&config);
    if let Some(why) = audit.halted() {
        // Serve, so /health says why every call is refused; record nothing (the log takes nothing).
        tracing::error!(reason = %why, "the audit log is halted: every call gets 503 until an operator acts");
    } else {
        let start = SystemRecord::GatewayStart {
            version: env!("CARGO_PKG_VERSION").to_string(),
            config_sha256: config.source_sha256.clone(),
        };
        audit.append(Record::System(start)).await.map_err(|e| StartError::Audit(e.to_string()))?;
        let loaded = SystemRecord::PolicyLoaded { version: policy.version.clone(), files: policy.file_hashes() };
        audit.append(Record::System(loaded)).await.map_err(|e| StartError::Audit(e.to_string()))?;
    }
    let retry = config.retry_policy();
    Ok(AppState {
        inner: Arc::new(Inner {
            config,
            catalog,
            upstreams,
            policy: Arc::new(ArcSwap::from_pointee(policy)),
            audit,
            keys: KeyCache::new(accounts.clone()),
            health: Arc::new(Health::default()),
            retry,
            limits: Arc::new(Limits::default()),
            recorder: GenerationRecorder::new(accounts.clone()),
            accounts,
        }),
    })
}

/// Registers for SIGTERM and Ctrl-C (SIGINT) at once and resolves on either. Registered before
/// the gateway says it is listening: a signal that comes after that line must drain the gateway,
/// not kill it with the default action (seen in tests that stop a gateway right after start).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        [signal(SignalKind::terminate()), signal(SignalKind::interrupt())]
    };
    async move {
        #[cfg(unix)]
        {
            let [term, int] = signals;
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => drop(s.recv().await),
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! { _ = wait(term) => {}, _ = wait(int) => {} }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested: draining in-flight requests");
    }
}

/// Reload the policy when its files change or on SIGHUP; every load or rejection is recorded in
/// the audit log. An invalid file never replaces the policy in force.
fn watch_policy(state: &AppState) -> tokio::task::JoinHandle<()> {
    let handle = Arc::new(PolicyHandle::from_shared(state.policy.clone(), vec![state.config.policy_dir.clone()]));
    // 0 = only on SIGHUP; a few milliseconds would be a busy loop over the policy files.
    let poll = match state.config.policy_poll_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms.max(50))),
    };
    let audit = state.audit.clone();
    let runtime = tokio::runtime::Handle::current();
    spawn_watcher(handle, poll, move |event| {
        let record = match event {
            ReloadEvent::Loaded { version, files } => {
                tracing::info!(%version, "policy reloaded");
                SystemRecord::PolicyLoaded { version, files }
            }
            ReloadEvent::Rejected { errors, files } => {
                tracing::warn!(errors = errors.len(), "policy change rejected; the previous policy stays in force");
                SystemRecord::PolicyRejected { errors, files }
            }
        };
        let audit = audit.clone();
        runtime.spawn(async move {
            if let Err(e) = audit.append(Record::System(record)).await {
                tracing::error!(error = %e, "policy event not recorded");
            }
        });
    })
}

/// Run the gateway until a shutdown signal; returns once drained and the log is closed.
/// Longest a stopping gateway waits for its witnesses to cosign the final checkpoint (and its
/// time-stamping authorities to stamp it).
const WITNESS_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn serve(config: Config) -> Result<(), StartError> {
    let addr = config.listen.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Listen { addr: addr.clone(), source })?;
    let state = build_state(config).await?;
    let local = listener.local_addr().map_err(|source| StartError::Listen { addr: addr.clone(), source })?;
    let shutdown = shutdown_signal();
    tracing::info!(listen = %local, models = state.catalog.models().count(), "auditgate listening");
    // What a firm hands its auditor out of band, so verify-log can pin the key.
    tracing::info!(fingerprint = %state.audit.key_fingerprint(), "audit log signing key");
    // The line scripts and tests wait for (stdout, flushed).
    println!("auditgate listening on http://{local}");
    let watcher = watch_policy(&state);
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    // The response head and each SSE frame are separate small writes: with Nagle on, the second
    // waits for the client's (delayed, up to 40 ms) ACK of the first.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    watcher.abort();
    let stop = SystemRecord::GatewayStop { reason: "shutdown signal".into() };
    if let Err(e) = state.audit.append(Record::System(stop)).await {
        tracing::error!(error = %e, "could not record gateway stop");
    }
    // Sign the final checkpoint now, while the writer can still store its cosignatures and
    // time stamps; it is stamped at once, whatever the interval. (If the writer signed it on its
    // own interval a moment before, `checkpoint` returns that one's size.)
    state.audit.stamp_at_once();
    if let Some(size) = state.audit.checkpoint().await.ok().flatten() {
        tokio::join!(
            state.audit.settle_witnesses(size, WITNESS_SETTLE),
            state.audit.settle_timestamps(size, WITNESS_SETTLE)
        );
    }
    if let Err(e) = state.audit.shutdown().await {
        tracing::error!(error = %e, "audit log did not close cleanly");
    }
    served.map_err(|source| StartError::Listen { addr, source })
}
