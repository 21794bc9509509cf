//! The `auditgate` command line: `serve`, `keys`, and the officers' and auditors' tools.
//! Command lines and exit codes are promised to users (see docs/ and the contracts); keep them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use auditgate::accounting::cli::{activity_main, keys_main, ActivityCommand, KeysCommand};
use auditgate::audit::cli::{audit_main, verify_log_main, AuditCommand, VerifyLogArgs};
use auditgate::config::Config;
use auditgate::offer::ProviderProfile;
use auditgate::pii::cli::{pii_main, PiiCommand};
use auditgate::policy::cli::{explained, print_explanation, scanner_classify_body, ExplainArgs};
use auditgate::policy::PolicyCommand;
use auditgate::providers::catalog::Catalog;
use auditgate::routing::Health;
use auditgate::witness::{witness_main, WitnessCommand};

/// jemalloc instead of glibc malloc: the request path allocates many small, short-lived buffers
/// (JSON values, headers, records), and glibc's malloc/free were ~13 % of the gateway's CPU under
/// load. mimalloc was as fast but held ~30 MB more with 256 connections or 1,000 open streams
/// (docs/performance.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "auditgate", version, about = "OpenAI-compatible LLM gateway with PII policy and a signed audit log")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Manage API keys (stored hashed in <data-dir>/gateway.db).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify an audit log (same as the `verify-log` binary).
    VerifyLog(VerifyLogArgs),
    /// Inclusion and consistency proofs, export bundles, key rotation, body erasure.
    Audit {
        #[command(flatten)]
        dir: DataDir,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run a witness that cosigns other gateways' checkpoints (C2SP tlog-witness).
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Scan or redact text for personal data (reads stdin).
    Pii {
        #[command(subcommand)]
        command: PiiCommand,
    },
    /// Export the activity log (one row per finished call) as CSV or JSON lines.
    Activity {
        #[command(subcommand)]
        command: ActivityCommand,
    },
    /// Check, explain and test policy files (for compliance officers).
    Policy {
        /// Configuration whose providers `explain` judges (default: ./gateway.toml or built-in).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Configuration file (default: ./gateway.toml when present, else built-in defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides the configuration).
    #[arg(long)]
    listen: Option<String>,
    /// Directory of the audit log, keys and signing key (overrides the configuration).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Args)]
struct DataDir {
    /// The data directory (log.db, keys, gateway.db).
    #[arg(long, default_value = "audit", global = true)]
    data_dir: PathBuf,
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("AUDITGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AUDITGATE_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    init_tracing();
    let mut config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auditgate: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("auditgate: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(auditgate::server::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn policy(config: Option<PathBuf>, command: PolicyCommand) -> ExitCode {
    let config = match Config::load(config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auditgate: {e}");
            return ExitCode::from(2);
        }
    };
    // Only the providers this environment enables (an API key set): the gateway serves with
    // those, so explain must not list the others as reachable.
    let profiles: Vec<_> = config.enabled_providers().map(|p| p.profile()).collect();
    let command = match command {
        PolicyCommand::Explain { key_name: Some(name), team: None, request, label, model, policy, json } => {
            // The key's own team, as the gateway would see it.
            let team = key_team(&config, &name);
            PolicyCommand::Explain { key_name: Some(name), team, request, label, model, policy, json }
        }
        other => other,
    };
    if let Some(args) = command.explain_args() {
        return exit(explain(&config, &args, &profiles));
    }
    exit(command.run_with_scanner(&profiles))
}

/// `policy explain`: the policy's reasoning, then what the gateway does with the request
/// (model limits, provider preferences, cost ceiling), planned by the gateway's own admission
/// code on a fresh health book, so explain and serve give the same answer.
fn explain(config: &Config, args: &ExplainArgs, profiles: &[ProviderProfile]) -> i32 {
    use auditgate::api::{dry_run::dry_run, Caller, Planner};
    // The preset first, as the gateway applies it before reading the request.
    let preset = |request: &mut serde_json::Value| {
        auditgate::presets::apply(&config.presets, request).map(|_| ()).map_err(|e| e.to_string())
    };
    let explained = match explained(args, profiles, &scanner_classify_body, &preset) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let catalog = Catalog::from_config(config);
    let health = Health::default();
    let planner = Planner { policy: &explained.policy, catalog: &catalog, health: &health };
    let caller = Caller {
        key_name: args.key_name.as_deref().unwrap_or(""),
        team: args.team.as_deref().unwrap_or(""),
        client_label: args.client_label.as_deref().map(|l| l.trim().to_ascii_lowercase()),
    };
    // The gateway estimates prompt tokens from the body's length as received; the file's compact
    // form is what a client library sends.
    let body_len = serde_json::to_vec(&explained.request).map_or(0, |b| b.len());
    let run = dry_run(&planner, config, &caller, explained.request.clone(), body_len);
    let member = serde_json::to_value(&run).unwrap_or_default();
    print_explanation(&explained.explanation, Some(("routing", member, run.to_string())), args.json)
}

/// The team of the active key named `name` in the configuration's key store, if there is one.
fn key_team(config: &Config, name: &str) -> Option<String> {
    use auditgate::accounting::{AccountStore, SqliteAccountStore};
    if !config.data_dir.join("gateway.db").exists() {
        return None;
    }
    let store = SqliteAccountStore::open(&config.data_dir).ok()?;
    let keys = store.list_keys().ok()?;
    keys.into_iter().find(|k| k.name == name && k.revoked_at.is_none()).map(|k| k.team)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Keys { command } => keys_main(command),
        Command::Policy { config, command } => policy(config, command),
        Command::Activity { command } => activity_main(command),
        Command::Pii { command } => exit(pii_main(command)),
        Command::VerifyLog(args) => exit(verify_log_main(args)),
        Command::Audit { dir, command } => exit(audit_main(command, &dir.data_dir)),
        Command::Witness { command } => {
            init_tracing();
            exit(witness_main(command))
        }
    }
}
