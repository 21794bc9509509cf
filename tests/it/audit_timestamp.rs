//! Trusted time stamps (RFC 3161) on loopback: a throwaway CA and TSA certificate made with
//! `openssl req`/`x509`, and `openssl ts -reply` behind a small HTTP handler, stamp the
//! checkpoints of a real gateway. `verify-log --tsa-cert` passes the log and prints the time
//! bounds; it fails with a wrong certificate, with a history rewritten and signed again with the
//! stolen key that keeps the old tokens, and with a token moved to another checkpoint. A TSA
//! that is down delays nothing; one whose tokens do not chain to the configured certificate is
//! refused and nothing of it is stored.

use crate::audit_support::{manual_options, request, verify_dir};
use crate::common::{Gateway, GatewayBuilder};
use auditgate::audit::timestamp::{check_reply, imprint_of, verify_token, Request, TimestampError, TrustedCert};
use auditgate::audit::AuditLog;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (tests/run_all.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const EXTENSIONS: &str = "[tsa_cert]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A throwaway CA (RSA) and a TSA certificate it issued (P-256, extendedKeyUsage critical
/// timeStamping), and the `openssl ts` configuration that signs with it.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path, ca_name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let ca_subject = format!("/CN={ca_name}");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &ca_subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        );
        openssl(dir, &["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "tsa.key"]);
        openssl(dir, &["req", "-new", "-key", "tsa.key", "-subj", "/CN=auditgate test TSA", "-out", "tsa.csr"]);
        std::fs::write(dir.join("ext.cnf"), EXTENSIONS).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "2",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-extensions",
                "tsa_cert",
                "-out",
                "tsa.pem",
            ],
        );
        std::fs::write(dir.join("serial"), "01\n").unwrap();
        let d = dir.display();
        let config = format!(
            "[tsa]\ndefault_tsa = tsa1\n[tsa1]\nserial = {d}/serial\nsigner_cert = {d}/tsa.pem\n\
             signer_key = {d}/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.3.6.1.4.1.4146.2.3\n\
             digests = sha256\naccuracy = secs:1\nordering = no\ntsa_name = no\ness_cert_id_chain = no\n\
             ess_cert_id_alg = sha256\n"
        );
        std::fs::write(dir.join("tsa.cnf"), config).unwrap();
        Pki { dir: dir.to_path_buf() }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn tsa_cert(&self) -> PathBuf {
        self.dir.join("tsa.pem")
    }

    /// `openssl ts -reply` for one query.
    fn reply(&self, query: &[u8]) -> Vec<u8> {
        self.reply_with("tsa.cnf", query)
    }

    /// The same with another configuration file beside `tsa.cnf`.
    fn reply_with(&self, config: &str, query: &[u8]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(["ts", "-reply", "-config"])
            .arg(self.dir.join(config))
            .args(["-queryfile", "/dev/stdin", "-out", "/dev/stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl ts -reply");
        child.stdin.take().unwrap().write_all(query).unwrap();
        child.wait_with_output().expect("openssl ts -reply").stdout
    }
}

/// `openssl ts -reply` behind HTTP on an ephemeral loopback port, one query at a time (the
/// serial file is shared). Stops when dropped.
struct TsaServer {
    url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TsaServer {
    fn start(pki: &Pki) -> TsaServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (pki, count) = (std::sync::Arc::new(Pki { dir: pki.dir.clone() }), requests.clone());
        let lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let handler = move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (pki, lock, count) = (pki.clone(), lock.clone(), count.clone());
                    async move {
                        let query_type = headers.get("content-type").and_then(|v| v.to_str().ok());
                        if query_type != Some("application/timestamp-query") {
                            return (axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new()).into_response();
                        }
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let _one = lock.lock().await;
                        let reply = tokio::task::spawn_blocking(move || pki.reply(&body)).await.unwrap();
                        ([("content-type", "application/timestamp-reply")], reply).into_response()
                    }
                };
                use axum::response::IntoResponse;
                let app = axum::Router::new().route("/tsa", axum::routing::post(handler));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        TsaServer { url, requests, stop: Some(stop) }
    }

    fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for TsaServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn gateway(tsa_url: &str, certificate: &Path) -> Gateway {
    GatewayBuilder::default()
        .demo()
        .extra(&format!(
            "[audit]\ncheckpoint_interval_ms = 100\ntimestamp_interval_ms = 300\n\
             [[audit.timestamp_authorities]]\nurl = {tsa_url:?}\ncertificate = {:?}\n",
            certificate.display().to_string()
        ))
        .start()
}

async fn call(gw: &Gateway) -> u16 {
    let body = serde_json::json!({"model": "demo/echo", "messages": [{"role": "user", "content": "Grüezi"}]});
    gw.post("/v1/chat/completions", &body).send().await.expect("request").status().as_u16()
}

/// Poll `/health` until `done` holds (at most 20 s).
async fn health_until(gw: &Gateway, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let resp = gw.client().get(format!("{}/health", gw.url)).send().await.expect("health");
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if done(&body) {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "health never got there: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("log.db")).unwrap()
}

fn log_size(data: &Path) -> u64 {
    db(data).query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

fn count(data: &Path, sql: &str) -> i64 {
    db(data).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn stop(gw: &mut Gateway) {
    assert!(gw.terminate().success(), "{}", gw.stderr());
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().map(Result::unwrap) {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn a_gateway_stamps_its_checkpoints_and_verify_log_proves_when_entries_existed() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::new(&root.path().join("pki"), "auditgate test CA");
    let tsa = TsaServer::start(&pki);
    let mut gw = gateway(&tsa.url, &pki.ca());
    let data = gw.data_dir();
    for _ in 0..3 {
        assert_eq!(call(&gw).await, 200);
        let size = log_size(&data);
        let body = health_until(&gw, |b| b["timestamps"]["stamped_size"].as_u64() >= Some(size)).await;
        assert_eq!(body["timestamps"]["authorities"][0]["state"], "ok", "{body}");
    }
    stop(&mut gw);
    let stamped = count(&data, "SELECT count(DISTINCT tree_size) FROM timestamps");
    assert!(stamped >= 3, "a token per stamped checkpoint: {stamped}");
    let entries = log_size(&data);
    assert_eq!(
        count(&data, "SELECT max(tree_size) FROM timestamps") as u64,
        entries,
        "the final checkpoint is stamped at shutdown: {}",
        gw.stderr()
    );

    // The CA's certificate, or the TSA's own: every entry has a proven time.
    for cert in [pki.ca(), pki.tsa_cert()] {
        let (code, report) = verify_dir(&data, &["--tsa-cert", path(&cert)]);
        assert_eq!(code, 0, "{report}");
        let t = &report["timestamps"];
        assert_eq!(t["stamped_size"].as_u64(), Some(entries), "{report}");
        assert_eq!(t["tokens_verified"].as_i64(), Some(stamped), "{report}");
        let bounds = t["bounds"].as_array().unwrap();
        assert_eq!(bounds[0]["from"], 0);
        assert_eq!(bounds.last().unwrap()["to"].as_u64(), Some(entries - 1));
        assert!(bounds.windows(2).all(|w| w[0]["to"].as_u64().unwrap() + 1 == w[1]["from"].as_u64().unwrap()));
        let now = chrono::Utc::now();
        for b in bounds {
            let at = chrono::DateTime::parse_from_rfc3339(b["existed_by"].as_str().unwrap()).unwrap();
            assert!((now - at.with_timezone(&chrono::Utc)).num_seconds().abs() < 120, "{b}");
        }
    }
    // The text report prints the ranges.
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--data-dir", path(&data), "--public-key", path(&data.join("signing.pub")), "--tsa-cert"])
        .arg(pki.ca())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("    entries 0..") && text.contains(" existed by "), "{text}");

    // A certificate of another CA: no token is by a TSA the auditor trusts, so nothing is proven.
    let other = Pki::new(&root.path().join("other"), "another test CA");
    let (code, report) = verify_dir(&data, &["--tsa-cert", path(&other.ca())]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["timestamps"]["tokens_verified"], 0, "{report}");
    assert!(report["not_attested"].to_string().contains("no time stamp verifies"), "{report}");
    // Without --tsa-cert the verdict does not depend on time stamps.
    assert_eq!(verify_dir(&data, &[]).0, 0);

    // Whoever holds signing.key rewrites the history, signs it again and keeps the old tokens:
    // they stamp the old roots, so the rewritten checkpoint fails, named.
    let forged = root.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(data.join("signing.key"), forged.join("signing.key")).unwrap();
    let log = AuditLog::open(&forged, manual_options()).unwrap();
    for i in 0..entries - 2 {
        log.append(request(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    drop(log);
    assert_eq!(log_size(&forged), entries);
    assert_eq!(verify_dir(&forged, &["--public-key", path(&data.join("signing.pub"))]).0, 0, "signed anew");
    {
        let c = db(&forged);
        c.execute(&format!("ATTACH '{}' AS honest", path(&data.join("log.db"))), []).unwrap();
        c.execute("INSERT INTO timestamps SELECT * FROM honest.timestamps WHERE tree_size = ?1", [entries as i64])
            .unwrap();
    }
    let (code, report) = verify_dir(&forged, &["--tsa-cert", path(&pki.ca())]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["kind"], "timestamp_imprint_mismatch", "{report}");
    assert_eq!(report["failure"]["seq"].as_u64(), Some(entries - 1), "{report}");

    // The stored copy of genTime is checked against the token (on a copy of the log).
    let edited = root.path().join("edited");
    copy_files(&data, &edited);
    db(&edited)
        .execute_batch(&format!(
            "DROP TRIGGER timestamps_no_update;
             UPDATE timestamps SET gen_time = '2020-01-01T00:00:00Z' WHERE tree_size = {entries};"
        ))
        .unwrap();
    let (code, report) = verify_dir(&edited, &["--tsa-cert", path(&pki.ca())]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["kind"], "timestamp_gen_time_altered", "{report}");

    // A token moved onto another checkpoint stamps another imprint: an integrity failure that
    // names the checkpoint.
    let sizes: Vec<i64> = {
        let c = db(&data);
        let mut stmt = c.prepare("SELECT DISTINCT tree_size FROM timestamps ORDER BY tree_size").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let (moved, onto) = (sizes[0], sizes[1]);
    {
        let c = db(&data);
        c.execute_batch(&format!(
            "DROP TRIGGER timestamps_no_update; DROP TRIGGER timestamps_no_delete;
             DELETE FROM timestamps WHERE tree_size = {onto};
             UPDATE timestamps SET tree_size = {onto} WHERE tree_size = {moved};"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let (code, report) = verify_dir(&data, &["--tsa-cert", path(&pki.ca())]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["kind"], "timestamp_imprint_mismatch", "{report}");
    assert_eq!(report["failure"]["seq"].as_i64(), Some(onto - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_stamping_authority_that_is_down_delays_nothing() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::new(&root.path().join("pki"), "auditgate test CA");
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut gw = gateway(&format!("http://127.0.0.1:{port}/tsa"), &pki.ca());
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(call(&gw).await, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "calls waited for the TSA");
    let body = health_until(&gw, |b| b["timestamps"]["authorities"][0]["state"] == "unreachable").await;
    assert_eq!(body["status"], "ok", "an unreachable TSA is no audit failure: {body}");
    let stopping = Instant::now();
    stop(&mut gw);
    assert!(stopping.elapsed() < Duration::from_secs(15), "the stop waited too long for the TSA");
    let data = gw.data_dir();
    assert_eq!(count(&data, "SELECT count(*) FROM entries WHERE kind = 'timestamp_refused'"), 0, "down is no refusal");
    assert_eq!(count(&data, "SELECT count(*) FROM timestamps"), 0);
    let (code, report) = verify_dir(&data, &["--tsa-cert", path(&pki.ca())]);
    assert_eq!(code, 3, "intact and signed, but no entry has a proven time: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn a_token_that_does_not_chain_to_the_configured_certificate_is_refused_and_not_stored() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::new(&root.path().join("pki"), "auditgate test CA");
    let other = Pki::new(&root.path().join("other"), "another test CA");
    let tsa = TsaServer::start(&pki);
    let mut gw = gateway(&tsa.url, &other.ca());
    assert_eq!(call(&gw).await, 200);
    let body = health_until(&gw, |b| b["timestamps"]["authorities"][0]["state"] == "refused").await;
    let detail = body["timestamps"]["authorities"][0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("does not chain"), "{body}");
    assert_eq!(call(&gw).await, 200, "a refusing TSA stops no call");
    stop(&mut gw);
    assert!(tsa.requests() >= 1);
    let data = gw.data_dir();
    assert_eq!(count(&data, "SELECT count(*) FROM timestamps"), 0, "an unverified token was stored");
    let c = db(&data);
    let payload: Vec<u8> = c
        .query_row("SELECT bytes FROM entries WHERE kind = 'timestamp_refused' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .expect("a timestamp_refused entry");
    let entry: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(entry["payload"]["url"], tsa.url.as_str());
    assert_eq!(entry["payload"]["status"], 200);
    assert!(entry["payload"]["detail"].as_str().unwrap().contains("does not chain"), "{entry}");
    // Refused once per kind of refusal, not at every checkpoint.
    let refusals = count(&data, "SELECT count(*) FROM entries WHERE kind = 'timestamp_refused'");
    assert_eq!(refusals, 1, "{refusals} timestamp_refused entries");
    assert_eq!(verify_dir(&data, &[]).0, 0);
}

/// The reply checks on their own, against `openssl ts -reply` directly: each thing checked is
/// shown to matter.
#[test]
fn replies_are_checked_before_anything_is_kept() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::new(&root.path().join("pki"), "auditgate test CA");
    let other = Pki::new(&root.path().join("other"), "another test CA");
    let trusted = TrustedCert::load_pem(&std::fs::read(pki.ca()).unwrap()).unwrap();
    let note = "auditgate.local/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} x sig\n";
    let imprint = imprint_of(note).unwrap();
    let req = Request::new(&imprint).unwrap();
    let reply = pki.reply(&req.der);
    let stamp = check_reply(&reply, &req, &trusted).expect("a good reply");
    assert!(stamp.signer.contains("auditgate test TSA"), "{}", stamp.signer);
    assert!(verify_token(&stamp.token, &imprint, &trusted).is_ok());
    // A TSA that names its certificate by SHA-1 (ESS signing-certificate v1, openssl's default)
    // instead of SHA-256 (v2) is accepted too.
    let v2 = std::fs::read_to_string(pki.dir.join("tsa.cnf")).unwrap();
    std::fs::write(pki.dir.join("tsa-v1.cnf"), v2.replace("ess_cert_id_alg = sha256", "ess_cert_id_alg = sha1"))
        .unwrap();
    let req_v1 = Request::new(&imprint).unwrap();
    let stamp_v1 = check_reply(&pki.reply_with("tsa-v1.cnf", &req_v1.der), &req_v1, &trusted).expect("a v1 reply");
    assert_ne!(stamp_v1.token, stamp.token);

    // Another request's reply (another nonce), another imprint, another CA.
    let again = Request::new(&imprint).unwrap();
    assert_eq!(check_reply(&reply, &again, &trusted), Err(TimestampError::NonceMismatch));
    assert_eq!(verify_token(&stamp.token, &[0; 32], &trusted), Err(TimestampError::ImprintMismatch));
    let strangers = TrustedCert::load_pem(&std::fs::read(other.ca()).unwrap()).unwrap();
    assert!(matches!(verify_token(&stamp.token, &imprint, &strangers), Err(TimestampError::Untrusted(_))));
    // Any byte of the signature changed: the signature no longer verifies.
    let mut forged = stamp.token.clone();
    let n = forged.len();
    forged[n - 3] ^= 1;
    assert!(verify_token(&forged, &imprint, &trusted).is_err());
    // A refusal is not a token: openssl refuses a query for a digest it is not configured for.
    let sha1_query = {
        let file = root.path().join("data.txt");
        std::fs::write(&file, "x").unwrap();
        openssl(root.path(), &["ts", "-query", "-data", "data.txt", "-sha1", "-cert", "-out", "sha1.tsq"]);
        std::fs::read(root.path().join("sha1.tsq")).unwrap()
    };
    let refused = pki.reply(&sha1_query);
    assert!(
        matches!(check_reply(&refused, &req, &trusted), Err(TimestampError::NotGranted { .. })),
        "{:?}",
        check_reply(&refused, &req, &trusted)
    );
}
