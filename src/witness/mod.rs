//! `auditgate witness`: a C2SP tlog-witness that another party runs (an auditor, a second
//! office) to cosign the checkpoints of the logs it is configured for, so that a log rewritten
//! or rolled back by whoever holds its signing key is refused and visible.
//!
//! [`state`] keeps the key, the accepted logs and the latest cosigned size per log; [`server`]
//! answers `POST /add-checkpoint`.

pub mod server;
pub mod state;

use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;

/// `auditgate witness ...`
#[derive(Subcommand, Debug, Clone)]
pub enum WitnessCommand {
    /// Run the witness: `POST /add-checkpoint`. Creates its key on first start (DIR/witness.pub).
    Serve {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
        listen: String,
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The witness's key name, used when the key is created (e.g. witness.example.org/w1).
        #[arg(long, default_value = "auditgate.local/witness")]
        name: String,
    },
    /// Accept a log: its origin and its public key (the log's signing.pub).
    AddLog {
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        #[arg(long)]
        origin: String,
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
    },
}

/// Run one witness command; returns the exit code (0 ok, 2 usage or I/O error).
pub fn witness_main(cmd: WitnessCommand) -> i32 {
    let result = match cmd {
        WitnessCommand::Serve { listen, data_dir, name } => serve(&listen, &data_dir, &name),
        WitnessCommand::AddLog { data_dir, origin, public_key } => add_log(&data_dir, &origin, &public_key),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("auditgate witness: {e}");
            2
        }
    }
}

fn add_log(dir: &std::path::Path, origin: &str, key_file: &std::path::Path) -> Result<(), String> {
    let key = std::fs::read_to_string(key_file).map_err(|e| format!("{}: {e}", key_file.display()))?;
    let wd = state::WitnessDir::open(dir).map_err(|e| e.to_string())?;
    wd.add_log(origin, &key).map_err(|e| e.to_string())?;
    println!("witness accepts {origin} signed by {}", key.trim());
    Ok(())
}

fn serve(listen: &str, dir: &std::path::Path, name: &str) -> Result<(), String> {
    let wd = state::WitnessDir::open(dir).map_err(|e| e.to_string())?;
    let signer = wd.key(name).map_err(|e| e.to_string())?;
    let logs = wd.logs().map_err(|e| e.to_string())?;
    if logs.is_empty() {
        tracing::warn!("no log configured yet (auditgate witness add-log): every checkpoint gets 404");
    }
    let vkey = signer.vkey();
    let witness = Arc::new(server::Witness::new(wd, signer, logs)?);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(listen = %local, key = %vkey, "witness listening");
        println!("auditgate witness listening on http://{local}");
        println!("witness key: {vkey}");
        axum::serve(listener, server::router(witness))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| e.to_string())
    })
}
