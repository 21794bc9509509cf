//! The `auditgate keys` and `auditgate activity` commands: API keys in the account store, and the
//! activity log exported (the read recorded in the audit log first).

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use super::activity::{self, normalize_time, Format};
use super::{AccountStore, NewKey, SqliteAccountStore};
use crate::audit::operator::{self, operator_name, OperatorRequest};

#[derive(Args, Debug, Clone)]
pub struct DataDir {
    /// The data directory (log.db, keys, gateway.db).
    #[arg(long, default_value = "audit", global = true)]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ActivityCommand {
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

#[derive(Subcommand, Debug, Clone)]
pub enum KeysCommand {
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
        /// A provisioning key: manages keys over /api/v1/keys and can never call a model.
        #[arg(long)]
        admin: bool,
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

/// Run `auditgate keys ...`.
pub fn keys_main(command: KeysCommand) -> ExitCode {
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
        KeysCommand::Create { name, team, credit_limit, rpm, tpm, admin, .. } => store
            .create_key(&NewKey {
                name,
                team,
                credit_limit_usd: credit_limit,
                rate_limit_rpm: rpm,
                rate_limit_tpm: tpm,
                admin,
            })
            .map(|(k, secret)| {
                let kind = if k.admin { "provisioning key (manages keys, calls no model)" } else { "key" };
                println!("created {kind} {} ({}) for team {}", k.id, k.name, k.team);
                if let Some(limit) = k.credit_limit_usd {
                    println!("credit limit: {limit} USD");
                }
                if let Some(rpm) = k.rate_limit_rpm {
                    println!("rate limit: {rpm} requests per minute");
                }
                if let Some(tpm) = k.rate_limit_tpm {
                    println!("rate limit: {tpm} tokens per minute");
                }
                if let Some(fp) = crate::audit::signing_key_fingerprint(&dir) {
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
            if let Some(fp) = crate::audit::signing_key_fingerprint(&dir) {
                println!("audit log signing key fingerprint: {fp}");
            }
            println!("{:<18} {:<20} {:<14} {:>10} {:>10}  status", "id", "name", "team", "usage", "limit");
            let mut by_team: std::collections::BTreeMap<&str, f64> = std::collections::BTreeMap::new();
            for k in &keys {
                *by_team.entry(k.team.as_str()).or_default() += k.usage_usd;
            }
            for k in &keys {
                let limit = k.credit_limit_usd.map(|l| format!("{l:.2}")).unwrap_or_else(|| "-".into());
                let status = match (&k.revoked_at, k.disabled, k.admin) {
                    (Some(_), _, _) => "revoked",
                    (None, true, _) => "disabled",
                    (None, false, true) => "admin",
                    (None, false, false) => "active",
                };
                println!("{:<18} {:<20} {:<14} {:>10.4} {:>10}  {status}", k.id, k.name, k.team, k.usage_usd, limit);
            }
            // Spend per team (revoked keys included: what they spent was spent).
            println!("spend by team (USD):");
            for (team, usd) in by_team {
                println!("  {team:<20} {usd:>10.4}");
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

/// Run `auditgate activity ...`.
pub fn activity_main(command: ActivityCommand) -> ExitCode {
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
