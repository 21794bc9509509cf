//! The `auditgate policy ...` commands, as functions the binary calls with already-built inputs.
//!
//! Output conventions: results (OK line, explanations, test reports) go to stdout; diagnostics
//! (`FILE:LINE:COL: message`, one per line) and usage errors go to stderr.
//! Exit codes: 0 success; 1 invalid policy or failing tests; 2 usage or I/O error.

use super::{explain, run_tests, Explanation, Policy};
use crate::offer::ProviderProfile;
use crate::pii::Classification;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Directory read when no path is given.
pub const DEFAULT_POLICY_DIR: &str = "policies";

/// `auditgate policy <command>`.
#[derive(Debug, Clone, PartialEq, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files; each error is printed as FILE:LINE:COL: message.
    Check {
        /// Policy files or directories (default: ./policies).
        paths: Vec<PathBuf>,
    },
    /// Show how the policy decides for one request and which providers it may reach.
    Explain {
        /// A JSON request body (chat completions or embeddings).
        #[arg(long)]
        request: PathBuf,
        /// The API key name the request is made with.
        #[arg(long)]
        key_name: Option<String>,
        /// The team of that key.
        #[arg(long)]
        team: Option<String>,
        /// The client's X-Data-Classification header value.
        #[arg(long)]
        label: Option<String>,
        /// The model to decide (default: the request's `model`, else the first of `models`).
        #[arg(long)]
        model: Option<String>,
        /// Policy files or directories (default: ./policies).
        #[arg(long = "policy")]
        policy: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the [[test]] blocks of the policy files.
    Test {
        /// Policy files or directories (default: ./policies).
        paths: Vec<PathBuf>,
    },
}

/// Inputs of `policy explain`.
#[derive(Debug, Clone, Default)]
pub struct ExplainArgs {
    pub policy_paths: Vec<PathBuf>,
    pub request: PathBuf,
    pub key_name: Option<String>,
    pub team: Option<String>,
    pub client_label: Option<String>,
    /// Overrides the request's model (to explain one entry of a `models` fallback list).
    pub model: Option<String>,
    pub json: bool,
}

impl PolicyCommand {
    /// Run the command. `classify_body` classifies a request body (the pii module's
    /// `classify_chat` / `classify_embeddings`), `classify_text` bare text (for `[[test]]` inputs).
    pub fn run(
        &self,
        providers: &[ProviderProfile],
        classify_body: &dyn Fn(&Value) -> Classification,
        classify_text: &dyn Fn(&str) -> Classification,
    ) -> i32 {
        match self {
            PolicyCommand::Check { paths } => check_main(paths),
            PolicyCommand::Test { paths } => test_main(paths, classify_text),
            PolicyCommand::Explain { .. } => match self.explain_args() {
                Some(args) => explain_main(&args, providers, classify_body),
                None => 2,
            },
        }
    }
}

impl PolicyCommand {
    /// The arguments of `policy explain`; `None` for the other commands.
    pub fn explain_args(&self) -> Option<ExplainArgs> {
        let PolicyCommand::Explain { request, key_name, team, label, model, policy, json } = self else {
            return None;
        };
        Some(ExplainArgs {
            policy_paths: policy.clone(),
            request: request.clone(),
            key_name: key_name.clone(),
            team: team.clone(),
            client_label: label.clone(),
            model: model.clone(),
            json: *json,
        })
    }

    /// Run the command with the real PII scanner (`crate::pii`).
    pub fn run_with_scanner(&self, providers: &[ProviderProfile]) -> i32 {
        self.run(providers, &scanner_classify_body, &scanner_classify_text)
    }
}

/// Classify a request body with the PII scanner, as the gateway does for its endpoint.
pub fn scanner_classify_body(body: &Value) -> Classification {
    if super::explain::body_shape(body).endpoint == "embeddings" {
        crate::pii::classify_embeddings(body)
    } else {
        crate::pii::classify_chat(body)
    }
}

/// Classify bare text with the PII scanner, as the content of one user message.
pub fn scanner_classify_text(text: &str) -> Classification {
    crate::pii::classify_chat(&serde_json::json!({
        "messages": [{"role": "user", "content": text}]
    }))
}

fn or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_POLICY_DIR)]
    } else {
        paths.to_vec()
    }
}

/// Usage error (exit 2) when a path does not exist.
fn missing_path(paths: &[PathBuf]) -> Option<&Path> {
    paths.iter().find(|p| !p.exists()).map(PathBuf::as_path)
}

/// Load, or print the reason on stderr and return the exit code.
fn load_or_exit(paths: &[PathBuf]) -> Result<Policy, i32> {
    let paths = or_default(paths);
    if let Some(p) = missing_path(&paths) {
        eprintln!("error: {}: no such file or directory", p.display());
        return Err(2);
    }
    Policy::load(&paths).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        eprintln!("{} error(s); the policy is invalid", diags.len());
        1
    })
}

/// `auditgate policy check [PATH...]`: 0 valid, 1 invalid (errors on stderr), 2 usage.
pub fn check_main(paths: &[PathBuf]) -> i32 {
    match load_or_exit(paths) {
        Ok(p) => {
            println!(
                "OK: {} rule(s), {} test(s) in {} file(s); policy version {}",
                p.rules.len(),
                p.tests.len(),
                p.files.len(),
                p.version
            );
            for m in p.meta.iter().filter(|m| m.name.is_some() || m.description.is_some()) {
                let name = m.name.as_deref().unwrap_or("(unnamed)");
                match &m.description {
                    Some(d) => println!("  {}: {name}: {d}", m.file.display()),
                    None => println!("  {}: {name}", m.file.display()),
                }
            }
            0
        }
        Err(code) => code,
    }
}

/// `auditgate policy test [PATH...]`: 0 all pass, 1 invalid policy or a failing test, 2 usage.
pub fn test_main(paths: &[PathBuf], classify: &dyn Fn(&str) -> Classification) -> i32 {
    match load_or_exit(paths) {
        Ok(p) => {
            let report = run_tests(&p, classify);
            println!("{report}");
            if report.all_passed() {
                0
            } else {
                1
            }
        }
        Err(code) => code,
    }
}

/// `auditgate policy explain --request FILE`: 0 explained (whatever the decision), 1 invalid
/// policy, 2 usage (request file unreadable or not JSON).
pub fn explain_main(
    args: &ExplainArgs,
    providers: &[ProviderProfile],
    classify: &dyn Fn(&Value) -> Classification,
) -> i32 {
    match explained(args, providers, classify, &|_| Ok(())) {
        Ok(explained) => print_explanation(&explained.explanation, None, args.json),
        Err(code) => code,
    }
}

/// What `policy explain` works out before printing: the request (with `--model` applied), the
/// policy it was decided by, and the explanation.
pub struct Explained {
    pub request: Value,
    pub policy: Policy,
    pub explanation: Explanation,
}

/// Read the request and the policy and explain the decision; Err with the exit code. `prepare`
/// changes the request first as the gateway would (a preset applied), Err with why it cannot.
pub fn explained(
    args: &ExplainArgs,
    providers: &[ProviderProfile],
    classify: &dyn Fn(&Value) -> Classification,
    prepare: &dyn Fn(&mut Value) -> Result<(), String>,
) -> Result<Explained, i32> {
    let mut request = read_request(&args.request).map_err(|msg| {
        eprintln!("error: {}: {msg}", args.request.display());
        2
    })?;
    prepare(&mut request).map_err(|msg| {
        eprintln!("error: {}: {msg}", args.request.display());
        2
    })?;
    let policy = load_or_exit(&args.policy_paths)?;
    if let Some(model) = &args.model {
        request["model"] = Value::String(model.clone());
    }
    let classification = classify(&request);
    let facts = super::facts_for_request(
        &request,
        &classification,
        args.key_name.as_deref().unwrap_or(""),
        args.team.as_deref().unwrap_or(""),
        args.client_label.as_deref(),
    );
    let explanation = explain(&policy, &facts, providers);
    Ok(Explained { request, policy, explanation })
}

/// Print the explanation, as text or JSON, with `extra` (a JSON member and its text form, such
/// as the gateway's routing) after it; the exit code.
pub fn print_explanation(explanation: &Explanation, extra: Option<(&str, Value, String)>, json: bool) -> i32 {
    if !json {
        print!("{explanation}");
        if let Some((_, _, text)) = extra {
            print!("{text}");
        }
        return 0;
    }
    let mut value = match serde_json::to_value(explanation) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    if let Some((key, member, _)) = extra {
        value[key] = member;
    }
    match serde_json::to_string_pretty(&value) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    }
    0
}

fn read_request(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("the request must be a JSON object".into())
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: PolicyCommand,
    }

    #[test]
    fn command_lines_parse() {
        let cli = Cli::try_parse_from(["policy", "check"]).expect("check");
        assert_eq!(cli.cmd, PolicyCommand::Check { paths: vec![] });
        let cli = Cli::try_parse_from(["policy", "check", "a.toml", "dir"]).expect("check paths");
        assert_eq!(cli.cmd, PolicyCommand::Check { paths: vec!["a.toml".into(), "dir".into()] });
        let cli = Cli::try_parse_from(["policy", "explain", "--request", "r.json", "--key-name", "alice", "--json"])
            .expect("explain");
        assert_eq!(
            cli.cmd,
            PolicyCommand::Explain {
                request: "r.json".into(),
                key_name: Some("alice".into()),
                team: None,
                label: None,
                model: None,
                policy: vec![],
                json: true,
            }
        );
        assert!(Cli::try_parse_from(["policy", "explain"]).is_err(), "--request is required");
        let cli = Cli::try_parse_from(["policy", "test", "policies"]).expect("test");
        assert_eq!(cli.cmd, PolicyCommand::Test { paths: vec!["policies".into()] });
    }
}
