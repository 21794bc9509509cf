//! Hot reload: a broken file never replaces a valid policy; a valid change takes effect for the
//! next decision; the watcher reports loads and rejections (by polling and on SIGHUP).

use auditgate::policy::{spawn_watcher, PolicyHandle, ReloadEvent, ReloadOutcome, RequestFacts};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const ALLOW: &str = "[[rule]]\nid = \"open\"\naction = \"allow\"\n";
const DENY: &str = "[[rule]]\nid = \"closed\"\naction = \"deny\"\nreason = \"maintenance\"\n";
const BROKEN_ALLOW: &str = "[[rule]]\nid = \"open\"\naction = \"allow\"\nroute = { regions = [\"mars\"] }\n";

/// Write atomically (temp file + rename), as careful deployment tools do.
fn write(dir: &Path, text: &str) {
    let tmp = dir.join("policy.toml.tmp");
    std::fs::write(&tmp, text).expect("write policy");
    std::fs::rename(&tmp, dir.join("policy.toml")).expect("rename policy");
}

fn handle(dir: &Path, text: &str) -> PolicyHandle {
    write(dir, text);
    PolicyHandle::load(vec![dir.to_path_buf()]).expect("initial policy valid")
}

fn rule(h: &PolicyHandle) -> String {
    h.decide(&RequestFacts::default()).rule_id
}

#[test]
fn broken_file_keeps_the_old_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = handle(dir.path(), DENY);
    let before = h.current();
    write(dir.path(), BROKEN_ALLOW);
    match h.reload() {
        ReloadOutcome::Rejected { errors, files } => {
            assert_eq!(errors.len(), 1);
            assert!(errors[0].contains("policy.toml:4:22: unknown region `mars`"), "{errors:?}");
            assert_eq!(files.len(), 1);
            assert_eq!(files["policy.toml"].len(), 64);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(rule(&h), "closed");
    assert_eq!(h.current().version, before.version);
    write(dir.path(), "[[rule]\n");
    assert!(matches!(h.reload(), ReloadOutcome::Rejected { .. }));
    std::fs::remove_file(dir.path().join("policy.toml")).expect("remove");
    assert!(matches!(h.reload(), ReloadOutcome::Rejected { .. }), "an empty dir is no policy");
    assert_eq!(rule(&h), "closed");
}

#[test]
fn valid_change_takes_effect_for_the_next_decision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = handle(dir.path(), DENY);
    let held = h.current();
    write(dir.path(), ALLOW);
    let ReloadOutcome::Loaded { version, files } = h.reload() else {
        panic!("expected a load");
    };
    assert_eq!(rule(&h), "open");
    assert_eq!(h.current().version, version);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["policy.toml"]);
    assert_eq!(held.decide(&RequestFacts::default()).rule_id, "closed", "a held policy is immutable");
    assert_eq!(h.reload(), ReloadOutcome::Unchanged { version });
}

async fn next(rx: &mut mpsc::UnboundedReceiver<ReloadEvent>) -> ReloadEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a reload event within 20 s")
        .expect("watcher alive")
}

#[tokio::test]
async fn watcher_reports_loads_and_rejections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Arc::new(handle(dir.path(), DENY));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = spawn_watcher(Arc::clone(&h), Some(Duration::from_millis(20)), move |e| {
        let _ = tx.send(e);
    });
    write(dir.path(), BROKEN_ALLOW);
    let ReloadEvent::Rejected { errors, .. } = next(&mut rx).await else {
        panic!("expected a rejection");
    };
    assert!(errors[0].contains("unknown region `mars`"));
    assert_eq!(rule(&h), "closed");

    write(dir.path(), ALLOW);
    let ReloadEvent::Loaded { version, files } = next(&mut rx).await else {
        panic!("expected a load");
    };
    assert_eq!(h.current().version, version);
    assert!(files.contains_key("policy.toml"));
    assert_eq!(rule(&h), "open");
    task.abort();
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_forces_a_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Arc::new(handle(dir.path(), DENY));
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Polling so slow it cannot be what triggers the reload.
    let task = spawn_watcher(Arc::clone(&h), None, move |e| {
        let _ = tx.send(e);
    });
    write(dir.path(), ALLOW);
    let status =
        std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().expect("run kill");
    assert!(status.success());
    assert!(matches!(next(&mut rx).await, ReloadEvent::Loaded { .. }));
    assert_eq!(rule(&h), "open");
    task.abort();
}

#[test]
fn handle_can_share_the_gateway_cell_and_version_is_recomputable() {
    use arc_swap::ArcSwap;
    use auditgate::policy::{load::version_of, Policy};
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), DENY);
    let policy = Policy::load_dir(dir.path()).expect("valid");
    let shared = Arc::new(ArcSwap::from_pointee(policy));
    let h = PolicyHandle::from_shared(Arc::clone(&shared), vec![dir.path().to_path_buf()]);
    write(dir.path(), ALLOW);
    let ReloadOutcome::Loaded { version, files } = h.reload() else {
        panic!("expected a load");
    };
    assert_eq!(shared.load().version, version, "the gateway's own cell sees the reload");
    assert_eq!(shared.load().file_hashes(), files);
    let listed: Vec<(std::path::PathBuf, String)> = files.iter().map(|(n, s)| (n.into(), s.clone())).collect();
    assert_eq!(version_of(&listed), version);
}
