//! What a witness keeps in its data directory: its key (`witness.key`, `witness.pub`), the logs it
//! accepts (`logs.json`) and the latest cosigned size and root per log (`state.json`). Both JSON
//! files are replaced atomically (written, fsynced, renamed, directory fsynced), so a crash leaves
//! the old or the new version, never half of one.

use crate::audit::cosign::WitnessSigner;
use crate::audit::files::create_private_dir;
use crate::audit::merkle::Hash;
use crate::audit::note::{write_atomic, write_private, PublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE_KEY: &str = "witness.key";
pub const FILE_PUB: &str = "witness.pub";
pub const FILE_LOGS: &str = "logs.json";
pub const FILE_STATE: &str = "state.json";

/// Witness storage problems, in plain words at the edge.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> StateError {
    StateError::File { path: path.to_path_buf(), reason: e.to_string() }
}

/// One log the witness accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    pub origin: String,
    pub public_key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LogsFile {
    logs: Vec<LogEntry>,
}

/// The latest checkpoint cosigned for one origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    /// origin -> {size, root (base64)}
    logs: BTreeMap<String, StateRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateRow {
    size: u64,
    root: String,
}

/// The witness's data directory.
pub struct WitnessDir {
    dir: PathBuf,
}

impl WitnessDir {
    /// Open (creating the directory, mode 0700) without touching its files.
    pub fn open(dir: &Path) -> Result<WitnessDir, StateError> {
        create_private_dir(dir).map_err(|e| file_error(dir, e))?;
        Ok(WitnessDir { dir: dir.to_path_buf() })
    }

    /// The signing key, created on first start (`witness.key` 0600, `witness.pub`).
    pub fn key(&self, name: &str) -> Result<WitnessSigner, StateError> {
        let path = self.dir.join(FILE_KEY);
        let signer = match std::fs::read_to_string(&path) {
            Ok(text) => WitnessSigner::from_skey(&text).map_err(|e| file_error(&path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let signer = WitnessSigner::generate(name).map_err(|e| StateError::Invalid(e.to_string()))?;
                write_private(&path, &format!("{}\n", signer.skey())).map_err(|e| file_error(&path, e))?;
                signer
            }
            Err(e) => return Err(file_error(&path, e)),
        };
        let pub_path = self.dir.join(FILE_PUB);
        write_atomic(&pub_path, &format!("{}\n", signer.vkey())).map_err(|e| file_error(&pub_path, e))?;
        Ok(signer)
    }

    /// The logs the witness accepts.
    pub fn logs(&self) -> Result<Vec<LogEntry>, StateError> {
        Ok(self.read_json::<LogsFile>(FILE_LOGS)?.logs)
    }

    /// Accept a log (replacing the key of an origin already configured).
    pub fn add_log(&self, origin: &str, public_key: &str) -> Result<(), StateError> {
        let key =
            PublicKey::parse(public_key).map_err(|e| StateError::Invalid(format!("the log's public key: {e}")))?;
        if key.name() != origin {
            return Err(StateError::Invalid(format!(
                "the key is named {:?} but the origin is {origin:?}: a log's key is named after its origin",
                key.name()
            )));
        }
        let mut file = self.read_json::<LogsFile>(FILE_LOGS)?;
        file.logs.retain(|l| l.origin != origin);
        file.logs.push(LogEntry { origin: origin.to_string(), public_key: key.vkey().to_string() });
        self.write_json(FILE_LOGS, &file)
    }

    /// The latest cosigned checkpoint of every log.
    pub fn cosigned(&self) -> Result<BTreeMap<String, Cosigned>, StateError> {
        let file = self.read_json::<StateFile>(FILE_STATE)?;
        file.logs
            .into_iter()
            .map(|(origin, row)| {
                let root =
                    B64.decode(&row.root).ok().and_then(|r| Hash::try_from(r).ok()).ok_or_else(|| {
                        StateError::Invalid(format!("{FILE_STATE}: root of {origin} is not 32 bytes"))
                    })?;
                Ok((origin, Cosigned { size: row.size, root }))
            })
            .collect()
    }

    /// Replace the state durably; only then may the cosignature leave.
    pub fn save_cosigned(&self, all: &BTreeMap<String, Cosigned>) -> Result<(), StateError> {
        let logs = all.iter().map(|(o, c)| (o.clone(), StateRow { size: c.size, root: B64.encode(c.root) })).collect();
        self.write_json(FILE_STATE, &StateFile { logs })
    }

    fn read_json<T: Default + for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, StateError> {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| file_error(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(file_error(&path, e)),
        }
    }

    fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), StateError> {
        let path = self.dir.join(name);
        let text = serde_json::to_string_pretty(value).map_err(|e| file_error(&path, e))?;
        write_atomic(&path, &format!("{text}\n")).map_err(|e| file_error(&path, e))
    }
}
