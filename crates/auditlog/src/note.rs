//! Keys, C2SP signed notes and tlog checkpoints, on top of the `signed_note` crate (Cloudflare's
//! port of Go's `sumdb/note`).
//!
//! Key files: `signing.key` holds the C2SP signer key `PRIVATE+KEY+<name>+<keyid>+<base64(0x01||seed)>`
//! and `signing.pub` the verifier key `<name>+<keyid hex>+<base64(0x01||pubkey)>`, each on one line.
//! The key name is the checkpoint origin. Key id = SHA-256(name || 0x0A || 0x01 || pubkey)[:4].

use super::merkle::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Key and note problems.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("key name {0:?} is not a valid signed-note key name (no spaces or '+')")]
    BadName(String),
    #[error("malformed key: {0}")]
    BadKey(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("signature does not verify with key {0}")]
    BadSignature(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A signing key together with its encoded forms.
#[derive(Clone)]
pub struct KeyPair {
    skey: String,
    vkey: String,
    signer: StandardSigner,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("KeyPair").field("vkey", &self.vkey).finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh ed25519 key named `name`.
    pub fn generate(name: &str) -> Result<KeyPair, NoteError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(NoteError::BadName(name.to_string()));
        }
        let (skey, vkey) = signed_note::generate_key(&mut rand::rngs::OsRng, name);
        KeyPair::from_skey(&skey).and_then(|k| {
            if k.vkey == vkey {
                Ok(k)
            } else {
                Err(NoteError::BadKey("derived key mismatch".into()))
            }
        })
    }

    /// Parse a C2SP signer key string.
    pub fn from_skey(skey: &str) -> Result<KeyPair, NoteError> {
        let skey = skey.trim();
        let signer = StandardSigner::new(skey).map_err(|e| NoteError::BadKey(e.to_string()))?;
        let vkey = vkey_from_skey(skey)?;
        Ok(KeyPair { skey: skey.to_string(), vkey, signer })
    }

    /// The signer key string (what `signing.key` contains). Never log it.
    pub fn skey(&self) -> &str {
        &self.skey
    }

    /// The verifier key (what `signing.pub` contains).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// Sign `text` (which must end in a newline) as a signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        let mut note = Note::new(text.as_bytes(), &[]).map_err(|e| NoteError::Malformed(e.to_string()))?;
        note.add_sigs(&[&self.signer]).map_err(|e| NoteError::Malformed(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))
    }

    /// Write `signing.key` (mode 0600, created fresh) and `signing.pub` atomically into `dir`
    /// under the given file name stem.
    pub fn write_files(&self, key_path: &Path, pub_path: &Path) -> Result<(), NoteError> {
        write_private(key_path, &format!("{}\n", self.skey))?;
        write_atomic(pub_path, &format!("{}\n", self.vkey))?;
        Ok(())
    }
}

/// Derive the verifier key from a signer key without printing or keeping the secret elsewhere.
fn vkey_from_skey(skey: &str) -> Result<String, NoteError> {
    let parts: Vec<&str> = skey.splitn(5, '+').collect();
    let (name, b64) = match parts.as_slice() {
        ["PRIVATE", "KEY", name, _id, b64] => (*name, *b64),
        _ => return Err(NoteError::BadKey("not a PRIVATE+KEY+name+id+key string".into())),
    };
    let raw = B64.decode(b64).map_err(|e| NoteError::BadKey(e.to_string()))?;
    let seed: [u8; 32] = match raw.split_first() {
        Some((1, seed)) => seed.try_into().map_err(|_| NoteError::BadKey("seed is not 32 bytes".into()))?,
        _ => return Err(NoteError::BadKey("not an ed25519 key".into())),
    };
    let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(signed_note::new_ed25519_verifier_key(name, &sk.verifying_key()))
}

/// Create a private file with mode 0600 (replacing any previous one via rename).
pub fn write_private(path: &Path, contents: &str) -> Result<(), NoteError> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(path);
    Ok(())
}

/// Replace a file atomically (write, fsync, rename); created 0600 like every file in the data
/// directory.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), NoteError> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(path);
    Ok(())
}

fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn sync_dir(path: &Path) {
    // Best effort: make the rename itself durable.
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// A verifier key, checked for shape and key id.
#[derive(Clone)]
pub struct PublicKey {
    vkey: String,
    verifier: StandardVerifier,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.vkey)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.vkey == other.vkey
    }
}

impl PublicKey {
    pub fn parse(vkey: &str) -> Result<PublicKey, NoteError> {
        let vkey = vkey.trim();
        let verifier = StandardVerifier::new(vkey).map_err(|e| NoteError::BadKey(e.to_string()))?;
        Ok(PublicKey { vkey: vkey.to_string(), verifier })
    }

    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The key name (the log origin).
    pub fn name(&self) -> &str {
        self.vkey.split('+').next().unwrap_or("")
    }

    /// The 8 hex digit key id.
    pub fn key_id(&self) -> &str {
        self.vkey.split('+').nth(1).unwrap_or("")
    }

    /// The key's fingerprint: SHA-256 of the raw 32-byte Ed25519 public key, 64 lowercase hex
    /// digits (docs/audit-format.md 5). Unlike the key id it does not depend on the key's name,
    /// and it is long enough to be compared out of band.
    pub fn fingerprint(&self) -> String {
        let raw = self.vkey.splitn(3, '+').nth(2).and_then(|b| B64.decode(b).ok()).unwrap_or_default();
        // `StandardVerifier::new` accepted the key, so it is 0x01 (Ed25519) and 32 bytes.
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw.get(1..).unwrap_or_default()))
    }

    /// Verify a signed note with this key; returns the signed text.
    pub fn open_note(&self, note: &str) -> Result<String, NoteError> {
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))?;
        let list = VerifierList::new(vec![Box::new(self.verifier.clone())]);
        parsed.verify(&list).map_err(|_| NoteError::BadSignature(format!("{}+{}", self.name(), self.key_id())))?;
        String::from_utf8(parsed.text().to_vec()).map_err(|e| NoteError::Malformed(e.to_string()))
    }
}

/// A key fingerprint as an auditor types it: 64 hex digits (either case), optionally prefixed
/// `sha256:`; returned in the canonical lowercase form of [`PublicKey::fingerprint`].
pub fn parse_fingerprint(text: &str) -> Result<String, NoteError> {
    let t = text.trim();
    let t = t.strip_prefix("sha256:").or_else(|| t.strip_prefix("SHA256:")).unwrap_or(t);
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::BadKey(format!(
            "{text:?} is not a key fingerprint (64 hex digits: the SHA-256 of the public key)"
        )));
    }
    Ok(t.to_ascii_lowercase())
}

/// The body of a C2SP tlog checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// `<origin>\n<size>\n<base64 root>\n`
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parse a checkpoint body (the signed text, extension lines ignored).
    pub fn parse_text(text: &str) -> Result<Checkpoint, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| malformed("missing origin line"))?;
        let size_line = lines.next().ok_or_else(|| malformed("missing tree size line"))?;
        let size_ok = !size_line.is_empty()
            && size_line.bytes().all(|b| b.is_ascii_digit())
            && (size_line == "0" || !size_line.starts_with('0'));
        let size: u64 =
            size_line.parse().ok().filter(|_| size_ok).ok_or_else(|| malformed("tree size is not a decimal number"))?;
        let root_line = lines.next().ok_or_else(|| malformed("missing root hash line"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| malformed("root hash is not base64 of 32 bytes"))?;
        Ok(Checkpoint { origin: origin.to_string(), size, root })
    }

    /// Parse a signed checkpoint note without verifying its signature.
    pub fn parse_note(note: &str) -> Result<Checkpoint, NoteError> {
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))?;
        let text = std::str::from_utf8(parsed.text()).map_err(|e| NoteError::Malformed(e.to_string()))?;
        Checkpoint::parse_text(text)
    }
}

fn malformed(what: &str) -> NoteError {
    NoteError::Malformed(what.to_string())
}

/// The text an old key signs when handing over to a new one.
pub fn rotation_text(old_vkey: &str, new_vkey: &str) -> String {
    format!("auditgate key rotation\nold {old_vkey}\nnew {new_vkey}\n")
}

/// The `signature_by_old` of a KeyRotated record: the base64 signature of the rotation note.
pub fn sign_rotation(old: &KeyPair, new_vkey: &str) -> Result<String, NoteError> {
    let note = old.sign_note(&rotation_text(old.vkey(), new_vkey))?;
    let line = note.lines().last().unwrap_or("");
    Ok(line.rsplit(' ').next().unwrap_or("").to_string())
}

/// Check a KeyRotated record's signature.
pub fn verify_rotation(old: &PublicKey, new_vkey: &str, signature: &str) -> Result<(), NoteError> {
    let note = format!("{}\n\u{2014} {} {}\n", rotation_text(old.vkey(), new_vkey), old.name(), signature);
    old.open_note(&note).map(|_| ())
}

/// Split the text of `checkpoints.log` into its notes (separated by one empty line).
pub fn split_notes(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut in_sigs = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if bare.is_empty() {
            if in_sigs {
                notes.push(std::mem::take(&mut current));
                in_sigs = false;
            } else if !current.is_empty() {
                current.push_str(line);
            }
            continue;
        }
        if bare.starts_with('\u{2014}') {
            in_sigs = true;
        } else if in_sigs {
            notes.push(std::mem::take(&mut current));
            in_sigs = false;
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        notes.push(current);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_note_signs_and_verifies() {
        let kp = KeyPair::generate("example.com/log").unwrap();
        let cp = Checkpoint { origin: "example.com/log".into(), size: 42, root: [7; 32] };
        let note = kp.sign_note(&cp.text()).unwrap();
        assert!(note.starts_with(
            "example.com/log\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} example.com/log "
        ));
        let pk = PublicKey::parse(kp.vkey()).unwrap();
        assert_eq!(pk.open_note(&note).unwrap(), cp.text());
        assert_eq!(Checkpoint::parse_note(&note).unwrap(), cp);
        let other = KeyPair::generate("example.com/log").unwrap();
        assert!(PublicKey::parse(other.vkey()).unwrap().open_note(&note).is_err());
        let altered = note.replacen("\n42\n", "\n43\n", 1);
        assert!(pk.open_note(&altered).is_err());
    }

    #[test]
    fn key_id_follows_c2sp() {
        use sha2::{Digest, Sha256};
        let kp = KeyPair::generate("n").unwrap();
        let pk = PublicKey::parse(kp.vkey()).unwrap();
        let raw = B64.decode(kp.vkey().splitn(3, '+').nth(2).unwrap()).unwrap();
        assert_eq!(raw[0], 1);
        let mut h = Sha256::new();
        h.update(b"n\n");
        h.update(&raw);
        assert_eq!(pk.key_id(), hex::encode(&h.finalize()[..4]));
    }

    #[test]
    fn fingerprint_is_sha256_of_the_raw_public_key() {
        use sha2::{Digest, Sha256};
        let kp = KeyPair::generate("n").unwrap();
        let pk = PublicKey::parse(kp.vkey()).unwrap();
        let raw = B64.decode(kp.vkey().splitn(3, '+').nth(2).unwrap()).unwrap();
        assert_eq!(raw.len(), 33);
        assert_eq!(pk.fingerprint(), hex::encode(Sha256::digest(&raw[1..])));
        // The same key under another name has the same fingerprint.
        let seed = B64.decode(kp.skey().splitn(5, '+').nth(4).unwrap()).unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed[1..].try_into().unwrap());
        let renamed = signed_note::new_ed25519_verifier_key("other", &sk.verifying_key());
        assert_eq!(PublicKey::parse(&renamed).unwrap().fingerprint(), pk.fingerprint());
        assert_eq!(
            parse_fingerprint(&format!("sha256:{}", pk.fingerprint().to_uppercase())).unwrap(),
            pk.fingerprint()
        );
        assert!(parse_fingerprint("abc").is_err());
    }

    #[test]
    fn rotation_signature_checks_old_key() {
        let old = KeyPair::generate("o").unwrap();
        let new = KeyPair::generate("o").unwrap();
        let sig = sign_rotation(&old, new.vkey()).unwrap();
        let old_pk = PublicKey::parse(old.vkey()).unwrap();
        assert!(verify_rotation(&old_pk, new.vkey(), &sig).is_ok());
        let third = KeyPair::generate("o").unwrap();
        assert!(verify_rotation(&old_pk, third.vkey(), &sig).is_err());
    }

    #[test]
    fn split_notes_handles_separators() {
        let kp = KeyPair::generate("o").unwrap();
        let a = kp.sign_note("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
        let b = kp.sign_note("o\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
        let file = format!("{a}\n{b}");
        assert_eq!(split_notes(&file), vec![a, b]);
        assert!(split_notes("").is_empty());
    }

    #[test]
    fn checkpoint_text_rejects_bad_sizes() {
        assert!(Checkpoint::parse_text("o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").is_err());
        assert!(Checkpoint::parse_text("o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").is_err());
        assert!(Checkpoint::parse_text("o\n1\nAAAA\n").is_err());
    }
}
