//! The `auditgate` command line: `serve`, `keys`, and the officers' and auditors' tools.
//! Command lines and exit codes are promised to users (see docs/ and the contracts); keep them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use auditgate::accounting::activity::{self, normalize_time, Format};
use auditgate::accounting::{AccountStore, NewKey, SqliteAccountStore};
use auditgate::audit::cli::{audit_main, verify_log_main, AuditCommand, VerifyLogArgs};
use auditgate::audit::operator::{self, operator_name, OperatorRequest};
use auditgate::config::Config;
use auditgate::pii::cli::{pii_main, PiiCommand};
use auditgate::policy::PolicyCommand;
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

#[derive(Subcommand)]
enum ActivityCommand {
    /// Write calls created in [--from, --to) to stdout or --out.
    Export {
        /// Start, inclusive: a date (2026-11-01) or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// End, exclusive: a date or an RFC 3339 time.
        #[arg(long)]
        to: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// File to write (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Why (recorded in the access entry the export appends to the audit log).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; the secret is printed alone on the last line.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "default")]
        team: String,
        /// Spending limit in USD (402 once used up).
        #[arg(long)]
        credit_limit: Option<f64>,
        /// Requests per minute (429 above).
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens per minute, prompt and completion (429 above).
        #[arg(long)]
        tpm: Option<u64>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke a key by id or name.
    Revoke {
        id_or_name: String,
        #[command(flatten)]
        dir: DataDir,
    },
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
    match runtime.block_on(auditgate::api::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keys(command: KeysCommand) -> ExitCode {
    let dir = match &command {
        KeysCommand::Create { dir, .. } | KeysCommand::List { dir, .. } | KeysCommand::Revoke { dir, .. } => {
            dir.data_dir.clone()
        }
    };
    let store = match SqliteAccountStore::open(&dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("auditgate: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        KeysCommand::Create { name, team, credit_limit, rpm, tpm, .. } => store
            .create_key(&NewKey {
                name,
                team,
                credit_limit_usd: credit_limit,
                rate_limit_rpm: rpm,
                rate_limit_tpm: tpm,
            })
            .map(|(k, secret)| {
                println!("created key {} ({}) for team {}", k.id, k.name, k.team);
                if let Some(limit) = k.credit_limit_usd {
                    println!("credit limit: {limit} USD");
                }
                if let Some(rpm) = k.rate_limit_rpm {
                    println!("rate limit: {rpm} requests per minute");
                }
                if let Some(tpm) = k.rate_limit_tpm {
                    println!("rate limit: {tpm} tokens per minute");
                }
                if let Some(fp) = auditgate::audit::signing_key_fingerprint(&dir) {
                    println!("audit log signing key fingerprint (for your auditors): {fp}");
                }
                println!("store this secret now; it is not shown again:");
                println!("{secret}");
            }),
        KeysCommand::List { json, .. } => store.list_keys().map(|keys| {
            if json {
                println!("{}", serde_json::to_string_pretty(&keys).unwrap_or_default());
                return;
            }
            if let Some(fp) = auditgate::audit::signing_key_fingerprint(&dir) {
                println!("audit log signing key fingerprint: {fp}");
            }
            println!("{:<18} {:<20} {:<14} {:>10} {:>10}  status", "id", "name", "team", "usage", "limit");
            for k in keys {
                let limit = k.credit_limit_usd.map(|l| format!("{l:.2}")).unwrap_or_else(|| "-".into());
                let status = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{:<18} {:<20} {:<14} {:>10.4} {:>10}  {status}", k.id, k.name, k.team, k.usage_usd, limit);
            }
        }),
        KeysCommand::Revoke { id_or_name, .. } => match store.revoke_key(&id_or_name) {
            Ok(true) => {
                println!("revoked {id_or_name}");
                Ok(())
            }
            Ok(false) => {
                eprintln!("auditgate: no active key {id_or_name:?}");
                return ExitCode::FAILURE;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("auditgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn activity(command: ActivityCommand) -> ExitCode {
    let ActivityCommand::Export { from, to, format, out, reason, dir } = command;
    let (Some(from), Some(to)) = (normalize_time(&from), normalize_time(&to)) else {
        eprintln!("auditgate: --from and --to take a date (2026-11-01) or an RFC 3339 time");
        return ExitCode::from(2);
    };
    // Rows name audit entries: the read is recorded in the log before anything is written.
    let access = OperatorRequest::Access {
        by: operator_name(),
        action: "activity_export".into(),
        from_seq: None,
        to_seq: None,
        detail: Some(format!("calls created in [{from}, {to})")),
        reason,
    };
    if let Err(e) = operator::submit(&dir.data_dir, &access) {
        eprintln!("auditgate: the export was not recorded in the audit log, so nothing is exported: {e}");
        return ExitCode::from(2);
    }
    let store = match SqliteAccountStore::open(&dir.data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("auditgate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut sink: Box<dyn std::io::Write> = match &out {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("auditgate: cannot create {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => Box::new(std::io::stdout().lock()),
    };
    match activity::export(&store, &from, &to, format, &mut sink)
        .and_then(|n| sink.flush().map(|_| n).map_err(Into::into))
    {
        Ok(n) => {
            if out.is_some() {
                println!("{n} call(s) exported");
            }
            ExitCode::SUCCESS
        }
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
    let profiles: Vec<_> = config.providers.iter().map(|p| p.profile()).collect();
    exit(command.run_with_scanner(&profiles))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Keys { command } => keys(command),
        Command::Policy { config, command } => policy(config, command),
        Command::Activity { command } => activity(command),
        Command::Pii { command } => exit(pii_main(command)),
        Command::VerifyLog(args) => exit(verify_log_main(args)),
        Command::Audit { dir, command } => exit(audit_main(command, &dir.data_dir)),
        Command::Witness { command } => {
            init_tracing();
            exit(witness_main(command))
        }
    }
}
