//! Redaction of findings inside request bodies, in place at each finding's path and offsets, and
//! reversible pseudonymization with restoration of the answer (plain and streaming).
//!
//! Operators (see docs/pii.md):
//! - `Replace`: a typed placeholder, `<IBAN_CODE>`.
//! - `Mask`: every letter and digit becomes `*`, separators stay; IBANs keep country code, check
//!   digits and the last two characters, cards and phone numbers their last four (two) digits.
//! - `Hash`: `<IBAN_CODE:3f9a1c2b4d5e>`, the first 12 hex digits of SHA-256(salt, type, value);
//!   stable for a given salt (`set_hash_salt`), so equal values stay linkable without revealing.
//! - `Pseudonymize`: `<PERSON_1>`, the same value gets the same placeholder within a request;
//!   the returned `Pseudonyms` restores the originals in the provider's answer.

use super::{Classification, Finding};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// How a finding is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Replace,
    Mask,
    Hash,
    Pseudonymize,
}

static SALT: OnceLock<Vec<u8>> = OnceLock::new();

/// Set the process-wide salt for `Operator::Hash` (once, at start-up). Without it a fixed
/// domain-separation string is used, which keeps hashes stable but guessable for short values.
pub fn set_hash_salt(salt: &[u8]) -> bool {
    SALT.set(salt.to_vec()).is_ok()
}

fn salt() -> &'static [u8] {
    SALT.get().map_or(b"auditgate-pii-v1".as_slice(), Vec::as_slice)
}

/// Placeholders handed out within one request, and the way back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pseudonyms {
    /// `<PERSON_1>` -> original text.
    originals: HashMap<String, String>,
    /// (entity type, original) -> placeholder.
    assigned: HashMap<(String, String), String>,
    counters: HashMap<String, usize>,
}

impl Pseudonyms {
    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    pub fn len(&self) -> usize {
        self.originals.len()
    }

    /// Placeholder -> original pairs, sorted (for `auditgate pii redact` and tests).
    pub fn mapping(&self) -> BTreeMap<String, String> {
        self.originals.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The placeholder for a value, reusing an earlier one for the same type and value.
    pub fn placeholder(&mut self, entity_type: &str, value: &str) -> String {
        let key = (entity_type.to_string(), value.to_string());
        if let Some(p) = self.assigned.get(&key) {
            return p.clone();
        }
        let n = self.counters.entry(entity_type.to_string()).or_insert(0);
        *n += 1;
        let p = format!("<{entity_type}_{n}>");
        self.originals.insert(p.clone(), value.to_string());
        self.assigned.insert(key, p.clone());
        p
    }

    /// Replace every known placeholder in `text` by its original.
    pub fn restore(&self, text: &str) -> String {
        restore_with(&self.originals, text)
    }

    /// Restore a chat-completion response: every string under `choices` (message content, text
    /// parts, refusal), with tool-call and function-call arguments decoded, restored and re-encoded.
    pub fn restore_response(&self, body: &mut Value) {
        if self.is_empty() {
            return;
        }
        if let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                self.restore_value(choice);
            }
        }
    }

    /// Restore every string inside a JSON value; `arguments` strings are treated as JSON text.
    pub fn restore_value(&self, v: &mut Value) {
        match v {
            Value::String(s) if s.contains('<') => *s = self.restore(s),
            Value::String(_) => {}
            Value::Array(items) => items.iter_mut().for_each(|i| self.restore_value(i)),
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    match item {
                        Value::String(s) if k == "arguments" => *s = self.restore_json_text(s),
                        _ => self.restore_value(item),
                    }
                }
            }
            _ => {}
        }
    }

    /// Restore inside a JSON document held as text, keeping it valid JSON.
    fn restore_json_text(&self, s: &str) -> String {
        match serde_json::from_str::<Value>(s) {
            Ok(mut doc) => {
                self.restore_value(&mut doc);
                serde_json::to_string(&doc).unwrap_or_else(|_| s.to_string())
            }
            Err(_) => self.restore(s),
        }
    }

    /// A restorer for a streamed answer: placeholders split across chunks are still restored.
    pub fn stream_restorer(&self) -> StreamRestorer {
        let max = self.originals.keys().map(String::len).max().unwrap_or(0);
        StreamRestorer { originals: self.originals.clone(), pending: String::new(), max_len: max }
    }
}

fn restore_with(originals: &HashMap<String, String>, text: &str) -> String {
    if originals.is_empty() || !text.contains('<') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let close = tail[1..].find(|c: char| !is_placeholder_char(c)).map(|j| j + 1);
        match close.filter(|&j| tail.as_bytes()[j] == b'>').and_then(|j| originals.get(&tail[..=j]).map(|o| (j, o))) {
            Some((j, original)) => {
                out.push_str(original);
                rest = &tail[j + 1..];
            }
            None => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_placeholder_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

/// Restores placeholders in a stream of text chunks, holding back only a possible placeholder
/// prefix (`<PERS`) at the end of what has arrived.
#[derive(Debug, Clone, Default)]
pub struct StreamRestorer {
    originals: HashMap<String, String>,
    pending: String,
    max_len: usize,
}

impl StreamRestorer {
    /// Feed one chunk; returns the text that can be sent on now.
    pub fn push(&mut self, chunk: &str) -> String {
        if self.originals.is_empty() {
            return chunk.to_string();
        }
        self.pending.push_str(chunk);
        let cut = self.hold_from();
        let ready: String = self.pending.drain(..cut).collect();
        restore_with(&self.originals, &ready)
    }

    /// End of stream: everything still held back.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        restore_with(&self.originals, &rest)
    }

    /// Where a trailing, still-incomplete placeholder starts (or the end of the buffer).
    fn hold_from(&self) -> usize {
        let Some(i) = self.pending.rfind('<') else {
            return self.pending.len();
        };
        let tail = &self.pending[i..];
        let could_be = tail.len() < self.max_len
            && tail[1..].chars().all(is_placeholder_char)
            && self.originals.keys().any(|k| k.starts_with(tail));
        if could_be {
            i
        } else {
            self.pending.len()
        }
    }
}

/// Characters kept visible by the mask operator: (leading, trailing) alphanumerics.
fn mask_keep(entity_type: &str) -> (usize, usize) {
    match entity_type {
        "IBAN_CODE" => (4, 2),
        "CREDIT_CARD" => (0, 4),
        "PHONE_NUMBER" => (0, 2),
        _ => (0, 0),
    }
}

/// Mask letters and digits, keeping separators and the type's visible prefix/suffix.
pub fn mask(entity_type: &str, value: &str) -> String {
    let (keep_head, keep_tail) = mask_keep(entity_type);
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            let visible = total > keep_head + keep_tail + 2 && (seen <= keep_head || seen > total - keep_tail);
            if visible {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Salted, typed hash placeholder.
pub fn hash(entity_type: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt());
    h.update([0]);
    h.update(entity_type.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    let digest = hex::encode(h.finalize());
    format!("<{entity_type}:{}>", &digest[..12])
}

fn replacement(op: Operator, f: &Finding, pseudonyms: &mut Pseudonyms) -> String {
    match op {
        Operator::Replace => format!("<{}>", f.entity_type),
        Operator::Mask => mask(&f.entity_type, &f.text),
        Operator::Hash => hash(&f.entity_type, &f.text),
        Operator::Pseudonymize => pseudonyms.placeholder(&f.entity_type, &f.text),
    }
}

/// Apply edits (char offsets, any order) to one string. Edits whose text no longer matches the
/// string are skipped rather than corrupting it.
fn apply_edits(s: &str, edits: &mut [(usize, usize, &str, String)]) -> String {
    edits.sort_by_key(|e| e.0);
    let mut byte_of = Vec::with_capacity(edits.len() * 2);
    let mut idx = s.char_indices().map(|(b, _)| b).chain(std::iter::once(s.len()));
    let mut char_pos = 0usize;
    let mut current = idx.next();
    for (start, end, _, _) in edits.iter() {
        let mut locate = |target: usize| {
            while char_pos < target {
                current = idx.next();
                char_pos += 1;
            }
            current
        };
        let (a, b) = (locate(*start), locate(*end));
        byte_of.push((a, b));
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0usize;
    for ((_, _, expect, repl), (a, b)) in edits.iter().zip(byte_of) {
        let (Some(a), Some(b)) = (a, b) else { continue };
        if a < last || s.get(a..b) != Some(*expect) {
            continue;
        }
        out.push_str(&s[last..a]);
        out.push_str(repl);
        last = b;
    }
    out.push_str(&s[last..]);
    out
}

/// Redact bare text given its findings (paths ignored).
pub fn redact_text(
    text: &str,
    findings: &[Finding],
    entities: &BTreeSet<String>,
    op: Operator,
    pseudonyms: &mut Pseudonyms,
) -> String {
    let mut edits: Vec<(usize, usize, &str, String)> = findings
        .iter()
        .filter(|f| entities.is_empty() || entities.contains(&f.entity_type))
        .map(|f| (f.start, f.end, f.text.as_str(), replacement(op, f, pseudonyms)))
        .collect();
    apply_edits(text, &mut edits)
}

/// One step of a finding path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Parse `messages[3].tool_calls[0].function.arguments.iban` or `a["odd key"][2]`.
fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'[' if b.get(i + 1) == Some(&b'"') => {
                let mut de = serde_json::Deserializer::from_str(&path[i + 1..]).into_iter::<String>();
                let key = de.next()?.ok()?;
                let used = de.byte_offset();
                i += 1 + used;
                if b.get(i) != Some(&b']') {
                    return None;
                }
                i += 1;
                segs.push(Seg::Key(key));
            }
            b'[' => {
                let close = path[i..].find(']')? + i;
                segs.push(Seg::Index(path[i + 1..close].parse().ok()?));
                i = close + 1;
            }
            _ => {
                let end = path[i..].find(['.', '[']).map_or(path.len(), |j| i + j);
                segs.push(Seg::Key(path[i..end].to_string()));
                i = end;
            }
        }
    }
    Some(segs)
}

type Edits<'f> = Vec<(usize, usize, &'f str, String)>;

/// Walk to the string at `segs` and apply the edits; strings that hold JSON (tool-call
/// arguments) are decoded, edited at the inner path and re-encoded.
fn edit_at(v: &mut Value, segs: &[Seg], edits: &mut Edits<'_>) -> bool {
    match (v, segs.split_first()) {
        (Value::String(s), None) => {
            *s = apply_edits(s, edits);
            true
        }
        (Value::String(s), Some(_)) => {
            let Ok(mut doc) = serde_json::from_str::<Value>(s) else {
                return false;
            };
            let ok = edit_at(&mut doc, segs, edits);
            if ok {
                if let Ok(text) = serde_json::to_string(&doc) {
                    *s = text;
                }
            }
            ok
        }
        (Value::Object(map), Some((Seg::Key(k), rest))) => map.get_mut(k).is_some_and(|c| edit_at(c, rest, edits)),
        (Value::Array(items), Some((Seg::Index(i), rest))) => {
            items.get_mut(*i).is_some_and(|c| edit_at(c, rest, edits))
        }
        _ => false,
    }
}

/// Redact the findings of `cls` (all types if `entities` is empty) in place in a request body.
fn redact_body(body: &mut Value, cls: &Classification, entities: &BTreeSet<String>, op: Operator) -> Pseudonyms {
    let mut pseudonyms = Pseudonyms::default();
    // Placeholders are numbered in document order, so assign them before grouping by path.
    let mut by_path: BTreeMap<&str, Edits<'_>> = BTreeMap::new();
    for f in cls.findings.iter().filter(|f| entities.is_empty() || entities.contains(&f.entity_type)) {
        let repl = replacement(op, f, &mut pseudonyms);
        by_path.entry(f.path.as_str()).or_default().push((f.start, f.end, f.text.as_str(), repl));
    }
    for (path, mut edits) in by_path {
        if let Some(segs) = parse_path(path) {
            edit_at(body, &segs, &mut edits);
        }
    }
    pseudonyms
}

/// Redact a chat-completions request body in place.
pub fn redact_chat(body: &mut Value, cls: &Classification, entities: &BTreeSet<String>, op: Operator) -> Pseudonyms {
    redact_body(body, cls, entities, op)
}

/// Redact an embeddings request body in place.
pub fn redact_embeddings(
    body: &mut Value,
    cls: &Classification,
    entities: &BTreeSet<String>,
    op: Operator,
) -> Pseudonyms {
    redact_body(body, cls, entities, op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::request::join_key;

    #[test]
    fn paths_parse_back() {
        assert_eq!(
            parse_path("messages[3].tool_calls[0].function.arguments.iban"),
            Some(vec![
                Seg::Key("messages".into()),
                Seg::Index(3),
                Seg::Key("tool_calls".into()),
                Seg::Index(0),
                Seg::Key("function".into()),
                Seg::Key("arguments".into()),
                Seg::Key("iban".into()),
            ])
        );
        let odd = join_key("x", "a.b");
        assert_eq!(parse_path(&odd), Some(vec![Seg::Key("x".into()), Seg::Key("a.b".into())]));
    }

    #[test]
    fn mask_keeps_separators() {
        assert_eq!(mask("IBAN_CODE", "CH93 0076 2011 6238 5295 7"), "CH93 **** **** **** ***5 7");
        assert_eq!(mask("CREDIT_CARD", "4111-1111-1111-1111"), "****-****-****-1111");
        assert_eq!(mask("PERSON", "Anna Müller"), "**** ******");
    }

    #[test]
    fn stream_restorer_handles_split_placeholders() {
        let mut p = Pseudonyms::default();
        let ph = p.placeholder("PERSON", "Anna Müller");
        assert_eq!(ph, "<PERSON_1>");
        assert_eq!(p.placeholder("PERSON", "Anna Müller"), "<PERSON_1>");
        let mut r = p.stream_restorer();
        let mut out = String::new();
        for chunk in ["Hallo <PER", "SON_", "1>, a < b and <", "x>"] {
            out.push_str(&r.push(chunk));
        }
        out.push_str(&r.finish());
        assert_eq!(out, "Hallo Anna Müller, a < b and <x>");
        // Nothing is held back when no placeholder can start.
        assert_eq!(r.push("plain text"), "plain text");
    }
}
