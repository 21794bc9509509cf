//! Witness cosignatures: C2SP `tlog-cosignature`, type `cosignature/v1` (Ed25519), on top of the
//! `signed_note` crate's signature lines and key ids.
//!
//! A witness's verifier key is `<name>+<key id hex>+base64(0x04 || 32-byte Ed25519 key)`, the key
//! id `SHA-256(<name> || 0x0A || 0x04 || key)[:4]`. A cosignature is a note signature line
//! `— <name> base64(key id || u64 big-endian timestamp || Ed25519 signature)`, the signature over
//!
//! ```text
//! cosignature/v1\n
//! time <timestamp>\n
//! <the checkpoint's note text, its final newline included>
//! ```
//!
//! It states that at that time (POSIX seconds) this was the largest tree the witness had seen for
//! the origin, consistent with every earlier one it cosigned.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, Signature};

/// The signature type byte of an Ed25519 `cosignature/v1` key.
pub const COSIGNATURE_V1: u8 = 0x04;

/// Why a key or a cosignature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    #[error("malformed witness key: {0}")]
    BadKey(String),
    #[error("malformed cosignature line: {0}")]
    Malformed(String),
    #[error("the cosignature is by another key than {0}")]
    OtherKey(String),
    #[error("the cosignature of {0} does not verify on this checkpoint")]
    BadSignature(String),
}

/// The message a `cosignature/v1` signature covers.
fn signed_message(note_text: &[u8], time: u64) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {time}\n").into_bytes();
    msg.extend_from_slice(note_text);
    msg
}

fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    let mut material = vec![COSIGNATURE_V1];
    material.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &material)
}

fn encode_vkey(name: &str, key: &VerifyingKey) -> String {
    let mut material = vec![COSIGNATURE_V1];
    material.extend_from_slice(key.as_bytes());
    format!("{name}+{:08x}+{}", key_id(name, key), B64.encode(material))
}

/// A witness's public key, as `witness.pub` holds it and auditors pin it.
#[derive(Clone, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    id: u32,
    key: VerifyingKey,
    vkey: String,
}

impl std::fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.vkey)
    }
}

impl WitnessKey {
    /// Parse `<name>+<key id>+<base64(0x04 || key)>`; the key id must match.
    pub fn parse(vkey: &str) -> Result<WitnessKey, CosignError> {
        let vkey = vkey.trim();
        let bad = |why: &str| CosignError::BadKey(format!("{why}: {vkey:?}"));
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("not name+id+key"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(bad("invalid key name"));
        }
        let raw = B64.decode(b64).map_err(|_| bad("key is not base64"))?;
        let key_bytes: [u8; 32] = match raw.split_first() {
            Some((&COSIGNATURE_V1, rest)) => rest.try_into().map_err(|_| bad("key is not 32 bytes"))?,
            _ => return Err(bad("not a cosignature/v1 (type 0x04) key")),
        };
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| bad("not an Ed25519 public key"))?;
        let want = key_id(name, &key);
        if id.len() != 8 || u32::from_str_radix(id, 16).ok() != Some(want) {
            return Err(bad("key id does not match the key"));
        }
        Ok(WitnessKey { name: name.to_string(), id: want, key, vkey: vkey.to_string() })
    }

    /// The encoded verifier key.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Check one cosignature line on a checkpoint note's text (body lines, final newline included);
    /// returns the cosignature's timestamp.
    pub fn check(&self, note_text: &str, line: &str) -> Result<u64, CosignError> {
        let sig = Signature::from_bytes(line.trim_end_matches('\n').as_bytes())
            .map_err(|e| CosignError::Malformed(e.to_string()))?;
        if sig.name() != self.name || sig.id() != self.id {
            return Err(CosignError::OtherKey(self.vkey.clone()));
        }
        let time = timestamp_of(sig.signature()).ok_or_else(|| CosignError::BadSignature(self.vkey.clone()))?;
        if signed_note::Verifier::verify(self, note_text.as_bytes(), sig.signature()) {
            Ok(time)
        } else {
            Err(CosignError::BadSignature(self.vkey.clone()))
        }
    }
}

/// The timestamp of a `timestamped_signature` (8 bytes big-endian, then 64 bytes of signature).
fn timestamp_of(sig: &[u8]) -> Option<u64> {
    let time = u64::from_be_bytes(sig.get(..8)?.try_into().ok()?);
    (sig.len() == 72 && time <= i64::MAX as u64).then_some(time)
}

impl signed_note::Verifier for WitnessKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some(time) = timestamp_of(sig) else { return false };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&sig[8..]) else { return false };
        self.key.verify_strict(&signed_message(msg, time), &signature).is_ok()
    }
}

/// A witness's signing key. `witness.key` holds `PRIVATE+KEY+<name>+<key id>+base64(0x04 || seed)`.
#[derive(Clone)]
pub struct WitnessSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("WitnessSigner").field("vkey", &self.vkey()).finish_non_exhaustive()
    }
}

impl WitnessSigner {
    /// A fresh key named `name`.
    pub fn generate(name: &str) -> Result<WitnessSigner, CosignError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CosignError::BadKey(format!("invalid key name {name:?}")));
        }
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(WitnessSigner { name: name.to_string(), id: key_id(name, &key.verifying_key()), key })
    }

    /// Parse the `witness.key` line.
    pub fn from_skey(skey: &str) -> Result<WitnessSigner, CosignError> {
        let bad = |why: &str| CosignError::BadKey(format!("witness signing key: {why}"));
        let parts: Vec<&str> = skey.trim().splitn(5, '+').collect();
        let ["PRIVATE", "KEY", name, id, b64] = parts.as_slice() else {
            return Err(bad("not PRIVATE+KEY+name+id+key"));
        };
        let raw = B64.decode(b64).map_err(|_| bad("not base64"))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&COSIGNATURE_V1, rest)) => rest.try_into().map_err(|_| bad("seed is not 32 bytes"))?,
            _ => return Err(bad("not a cosignature/v1 key")),
        };
        let key = SigningKey::from_bytes(&seed);
        let signer = WitnessSigner { name: name.to_string(), id: key_id(name, &key.verifying_key()), key };
        if u32::from_str_radix(id, 16).ok() != Some(signer.id) {
            return Err(bad("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The `witness.key` line. Never log it.
    pub fn skey(&self) -> String {
        let mut material = vec![COSIGNATURE_V1];
        material.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, B64.encode(material))
    }

    /// The verifier key (`witness.pub`).
    pub fn vkey(&self) -> String {
        encode_vkey(&self.name, &self.key.verifying_key())
    }

    /// The public side.
    pub fn public(&self) -> WitnessKey {
        WitnessKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key(), vkey: self.vkey() }
    }

    /// Cosign a checkpoint note's text at `time` (POSIX seconds): the signature line, with its
    /// newline, as `add-checkpoint` returns it.
    pub fn cosign(&self, note_text: &str, time: u64) -> Result<String, CosignError> {
        let mut note = Note::new(note_text.as_bytes(), &[]).map_err(|e| CosignError::Malformed(e.to_string()))?;
        note.add_sigs(&[&AtTime { signer: self, time }]).map_err(|e| CosignError::Malformed(e.to_string()))?;
        let bytes = note.to_bytes();
        let lines = String::from_utf8_lossy(&bytes[note_text.len() + 1..]).into_owned();
        Ok(lines)
    }
}

/// A signer for one cosignature: `signed_note` frames the line, the time goes into the signature.
struct AtTime<'a> {
    signer: &'a WitnessSigner,
    time: u64,
}

impl signed_note::Signer for AtTime<'_> {
    fn name(&self) -> &str {
        &self.signer.name
    }

    fn key_id(&self) -> u32 {
        self.signer.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut out = self.time.to_be_bytes().to_vec();
        out.extend_from_slice(&self.signer.key.sign(&signed_message(msg, self.time)).to_bytes());
        Ok(out)
    }
}

/// The note text (body lines) of a signed note: what every signature on it covers.
pub fn note_text(note: &str) -> Option<&str> {
    note.find("\n\n").map(|i| &note[..=i])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn cosignatures_verify_with_their_time_and_only_on_their_checkpoint() {
        let w = WitnessSigner::generate("witness.example/w1").unwrap();
        let key = WitnessKey::parse(&w.vkey()).unwrap();
        let line = w.cosign(TEXT, 1_679_315_147).unwrap();
        assert!(line.starts_with("\u{2014} witness.example/w1 ") && line.ends_with('\n'), "{line}");
        assert_eq!(key.check(TEXT, &line), Ok(1_679_315_147));
        let other = TEXT.replace("\n5\n", "\n6\n");
        assert!(matches!(key.check(&other, &line), Err(CosignError::BadSignature(_))));
        let stranger = WitnessSigner::generate("witness.example/w1").unwrap();
        assert!(matches!(key.check(TEXT, &stranger.cosign(TEXT, 1).unwrap()), Err(CosignError::OtherKey(_))));
        // The same key material under the Ed25519 note type (0x01) is another key.
        let mut material = vec![0x01];
        material.extend_from_slice(w.key.verifying_key().as_bytes());
        let as_note_key = format!("witness.example/w1+{:08x}+{}", key.id, B64.encode(material));
        assert!(WitnessKey::parse(&as_note_key).is_err());
    }

    #[test]
    fn the_signed_message_and_key_id_follow_the_spec() {
        let w = WitnessSigner::generate("w").unwrap();
        let line = w.cosign(TEXT, 7).unwrap();
        let raw = B64.decode(line.trim_end().rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64);
        assert_eq!(u64::from_be_bytes(raw[4..12].try_into().unwrap()), 7);
        let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
        let msg = format!("cosignature/v1\ntime 7\n{TEXT}");
        w.key.verifying_key().verify_strict(msg.as_bytes(), &sig).unwrap();
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut h, b"w\n\x04");
        sha2::Digest::update(&mut h, w.key.verifying_key().as_bytes());
        assert_eq!(raw[..4], sha2::Digest::finalize(h)[..4]);
    }

    #[test]
    fn keys_round_trip() {
        let w = WitnessSigner::generate("witness.example/w1").unwrap();
        let again = WitnessSigner::from_skey(&w.skey()).unwrap();
        assert_eq!(again.vkey(), w.vkey());
        assert_eq!(WitnessKey::parse(&format!("{}\n", w.vkey())).unwrap(), w.public());
    }
}
