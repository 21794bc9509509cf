//! Stored bodies are sealed: each one is encrypted with its own random key (XChaCha20-Poly1305,
//! RustCrypto's `chacha20poly1305`), and that key is wrapped with the deployment's body master key,
//! kept in its own file outside `log.db` (`body-master.key`, or `[audit] body_key_file`). Erasing a
//! body destroys its wrapped key (and the ciphertext), so no copy of `log.db` made afterwards can
//! give the body back, while the chain, which commits only to the ciphertext's hash, still verifies.
//!
//! Layout (docs/audit-format.md 8): ciphertext = nonce (24 bytes) || AEAD(body key, body), wrapped
//! key = nonce (24 bytes) || AEAD(master key, body key); associated data binds each to its entry
//! and role (`auditgate body v1 {seq} {role}` and `auditgate body key v1 {seq} {role}`), so a
//! sealed body cannot be moved to another entry.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::path::Path;

const NONCE: usize = 24;

/// Why a body could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read or create the body master key {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("the body master key {0} is not 64 hex digits")]
    KeyFormat(String),
    #[error("the body of entry {seq} ({role}) was erased or does not open with this master key")]
    DoesNotOpen { seq: u64, role: String },
}

/// A body as stored: ciphertext and its wrapped key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: Vec<u8>,
}

/// The deployment's body master key.
#[derive(Clone)]
pub struct MasterKey(Key);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Load the key from `path`, creating it (0600, random) if it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SealError> {
        let io = |source| SealError::KeyFile { path: path.display().to_string(), source };
        if !path.exists() {
            let key = XChaCha20Poly1305::generate_key(&mut OsRng);
            super::note::write_private(path, &format!("{}\n", hex::encode(key)))
                .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        }
        Self::load(path)
    }

    /// Load an existing key.
    pub fn load(path: &Path) -> Result<MasterKey, SealError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SealError::KeyFile { path: path.display().to_string(), source })?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SealError::KeyFormat(path.display().to_string()))?;
        Ok(MasterKey(Key::from(bytes)))
    }

    /// Encrypt one body for entry `seq` and `role` under a fresh body key.
    pub fn seal(&self, seq: u64, role: &str, body: &[u8]) -> Sealed {
        let body_key = XChaCha20Poly1305::generate_key(&mut OsRng);
        Sealed {
            ciphertext: encrypt(&body_key, &body_aad(seq, role), body),
            wrapped_key: encrypt(&self.0, &key_aad(seq, role), body_key.as_slice()),
        }
    }

    /// Decrypt a sealed body; fails if the key was erased, or the bytes or master key differ.
    pub fn open(&self, seq: u64, role: &str, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        let fail = || SealError::DoesNotOpen { seq, role: role.to_string() };
        let body_key = decrypt(&self.0, &key_aad(seq, role), &sealed.wrapped_key).ok_or_else(fail)?;
        let body_key = Key::from_exact_iter(body_key).ok_or_else(fail)?;
        decrypt(&body_key, &body_aad(seq, role), &sealed.ciphertext).ok_or_else(fail)
    }
}

fn body_aad(seq: u64, role: &str) -> Vec<u8> {
    format!("auditgate body v1 {seq} {role}").into_bytes()
}

fn key_aad(seq: u64, role: &str) -> Vec<u8> {
    format!("auditgate body key v1 {seq} {role}").into_bytes()
}

fn encrypt(key: &Key, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = XChaCha20Poly1305::new(key)
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

fn decrypt(key: &Key, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE);
    XChaCha20Poly1305::new(key).decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    #[test]
    fn a_sealed_body_opens_only_for_its_entry_and_role_and_key() {
        let k = key();
        let sealed = k.seal(7, "request", b"IBAN CH93 0076 2011 6238 5295 7");
        assert!(!sealed.ciphertext.windows(4).any(|w| w == b"IBAN"));
        assert_eq!(k.open(7, "request", &sealed).unwrap(), b"IBAN CH93 0076 2011 6238 5295 7");
        assert!(k.open(8, "request", &sealed).is_err());
        assert!(k.open(7, "response", &sealed).is_err());
        assert!(key().open(7, "request", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.ciphertext.last_mut().unwrap() ^= 1;
        assert!(k.open(7, "request", &tampered).is_err());
    }

    #[test]
    fn the_master_key_file_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body-master.key");
        let k = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = k.seal(1, "response", b"x");
        assert_eq!(MasterKey::load_or_create(&path).unwrap().open(1, "response", &sealed).unwrap(), b"x");
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(MasterKey::load(&path), Err(SealError::KeyFormat(_))));
    }
}
