//! Test support: fake upstreams that speak the OpenAI wire format (JSON and SSE) and record every
//! body they receive, and a real gateway process started on an ephemeral port with its own data
//! directory, policy and configuration.

#![allow(dead_code)]

pub mod fake;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use fake::{Behavior, FakeUpstream};

/// A policy that lets everything go anywhere, for tests about the HTTP surface.
pub const ALLOW_ALL_POLICY: &str = r#"
[policy]
name = "test-allow-all"

[[rule]]
id = "allow-everything"
action = "allow"
"#;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_auditgate")
}

/// One provider entry of a test configuration.
pub struct ProviderSpec {
    pub name: String,
    /// `openai` (default) or `anthropic`.
    pub kind: String,
    pub base_url: String,
    pub region: String,
    pub country: String,
    pub zdr: bool,
    pub models: Vec<(String, String)>,
}

impl ProviderSpec {
    pub fn new(name: &str, base_url: &str, region: &str, country: &str) -> Self {
        ProviderSpec {
            name: name.into(),
            kind: "openai".into(),
            base_url: base_url.into(),
            region: region.into(),
            country: country.into(),
            zdr: region != "us",
            models: vec![("test/model".into(), "upstream-model".into())],
        }
    }

    /// The same upstream spoken to as Anthropic's Messages API (base URL without `/v1`).
    pub fn anthropic(mut self) -> Self {
        self.kind = "anthropic".into();
        self.base_url = self.base_url.trim_end_matches("/v1").to_string();
        self
    }

    fn toml(&self) -> String {
        let mut s = format!(
            "[[providers]]\nname = {:?}\nkind = {:?}\nbase_url = {:?}\nregion = {:?}\ncountry = {:?}\nzdr = {}\n",
            self.name, self.kind, self.base_url, self.region, self.country, self.zdr
        );
        for (public, upstream) in &self.models {
            s.push_str(&format!(
                "[[providers.models]]\nid = {public:?}\nupstream = {upstream:?}\nprompt = 1.0\ncompletion = 2.0\ncontext_length = 8192\n\
                 input_modalities = [\"text\", \"image\", \"file\", \"audio\"]\n"
            ));
        }
        s
    }
}

/// Everything needed to start a gateway for one test.
pub struct GatewayBuilder {
    pub providers: Vec<ProviderSpec>,
    pub extra: String,
    pub policy: String,
    /// Use the built-in demo providers instead of `providers`.
    pub demo: bool,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder { providers: vec![], extra: String::new(), policy: ALLOW_ALL_POLICY.into(), demo: false }
    }
}

/// A running gateway process with its own temporary directory.
pub struct Gateway {
    pub child: Child,
    pub url: String,
    pub key: String,
    pub dir: tempfile::TempDir,
    pub stderr_path: PathBuf,
}

impl GatewayBuilder {
    pub fn provider(mut self, p: ProviderSpec) -> Self {
        self.providers.push(p);
        self
    }

    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    pub fn policy(mut self, policy: &str) -> Self {
        self.policy = policy.into();
        self
    }

    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    pub fn write_config(&self, dir: &Path) -> PathBuf {
        let policy_dir = dir.join("policies");
        std::fs::create_dir_all(&policy_dir).unwrap();
        std::fs::write(policy_dir.join("test.toml"), &self.policy).unwrap();
        let mut config = format!(
            "policy_dir = {:?}\ndata_dir = {:?}\npolicy_poll_ms = 200\n{}\n",
            policy_dir.display().to_string(),
            dir.join("data").display().to_string(),
            self.extra
        );
        if !self.demo {
            for p in &self.providers {
                config.push_str(&p.toml());
            }
        }
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config).unwrap();
        path
    }

    pub fn start(self) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let config = self.write_config(dir.path());
        let key = create_key(&dir.path().join("data"), "tester", "testers", None);
        Gateway::spawn(dir, &config, key)
    }
}

/// `auditgate keys create` and return the secret (the last line of stdout).
pub fn create_key(data_dir: &Path, name: &str, team: &str, credit_limit: Option<f64>) -> String {
    let limit = credit_limit.map(|l| l.to_string());
    let extra: Vec<&str> = match &limit {
        Some(l) => vec!["--credit-limit", l],
        None => vec![],
    };
    create_key_with(data_dir, name, team, &extra)
}

/// `auditgate keys create` with extra flags (`--rpm`, `--tpm`, ...).
pub fn create_key_with(data_dir: &Path, name: &str, team: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(["keys", "create", "--name", name, "--team", team, "--data-dir"]).arg(data_dir);
    cmd.args(extra);
    let out = cmd.output().expect("run auditgate keys create");
    assert!(out.status.success(), "keys create failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().expect("a secret line").trim().to_string()
}

impl Gateway {
    /// Start `auditgate serve` on an ephemeral port and wait for its "listening" line.
    pub fn spawn(dir: tempfile::TempDir, config: &Path, key: String) -> Gateway {
        Gateway::spawn_with(dir, config, key, Some("127.0.0.1:0"), &[])
    }

    /// [`Gateway::spawn`] listening where the configuration says when `listen` is `None`, with
    /// extra environment variables.
    pub fn spawn_with(
        dir: tempfile::TempDir,
        config: &Path,
        key: String,
        listen: Option<&str>,
        env: &[(&str, &str)],
    ) -> Gateway {
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg("serve");
        if let Some(addr) = listen {
            cmd.args(["--listen", addr]);
        }
        cmd.arg("--config").arg(config).env("AUDITGATE_LOG", "info").envs(env.iter().copied());
        let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().expect("start gateway");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("auditgate listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("gateway did not start: {}", std::fs::read_to_string(&stderr_path).unwrap_or_default());
            }
        };
        Gateway { child, url, key, dir, stderr_path }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client().post(format!("{}{}", self.url, path)).bearer_auth(&self.key).json(body)
    }

    /// GET `path` with this gateway's key, or with `key` (`Some("")` sends none): status and JSON.
    pub async fn get(&self, path: &str, key: Option<&str>) -> (u16, serde_json::Value) {
        let mut req = self.client().get(format!("{}{}", self.url, path));
        match key.unwrap_or(&self.key) {
            "" => {}
            k => req = req.bearer_auth(k),
        }
        let resp = req.send().await.expect("request");
        (resp.status().as_u16(), resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn chat(&self, body: serde_json::Value) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let resp = self.post("/v1/chat/completions", &body).send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Send SIGTERM and expect a clean stop; the failure names the status and the gateway's log.
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "the gateway did not stop cleanly ({status}):\n{}", self.stderr());
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_timeout(&mut self.child, Duration::from_secs(20)).expect("gateway did not stop after SIGTERM")
    }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parse an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n").filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")).map(str::to_string)).collect()
}

pub fn user(text: &str) -> serde_json::Value {
    serde_json::json!({"model": "test/model", "messages": [{"role": "user", "content": text}]})
}

/// `workers` tasks calling chat on `gw` until `deadline`, every third call streamed; each yields
/// the receipts it got: (request entry, generation id) of every complete answer.
pub fn load(
    gw: &Gateway,
    workers: usize,
    deadline: std::time::Instant,
) -> Vec<tokio::task::JoinHandle<Vec<(u64, String)>>> {
    (0..workers)
        .map(|w| {
            let client = gw.client();
            let url = format!("{}/v1/chat/completions", gw.url);
            let key = gw.key.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut i = 0;
                while std::time::Instant::now() < deadline {
                    i += 1;
                    let mut req = user(&format!("worker {w} call {i}"));
                    req["stream"] = serde_json::json!(i % 3 == 0);
                    let Ok(resp) = client.post(&url).bearer_auth(&key).json(&req).send().await else { break };
                    let header =
                        |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let (entry, id) = (header("x-auditgate-entry"), header("x-generation-id"));
                    let complete = resp.text().await.is_ok();
                    if let (Some(entry), Some(id), true) = (entry.and_then(|e| e.parse().ok()), id, complete) {
                        got.push((entry, id));
                    }
                }
                got
            })
        })
        .collect()
}
