//! Personal-data classification: find PII in every text field of a request, grade the request
//! (none / personal / sensitive / special) and redact or pseudonymize what policy asks for.
//!
//! Layout: `context` (one pass over the words for cue words, names and art. 9 keywords, from the
//! word lists under `lexicon/`, read by `lexicon`), one file per recognizer family (`contact`,
//! `numbers` + `phone`, `ids`, `dates`, `person`, `location` with its hand-written `street`
//! readers), `validators` (checksums), `scanner` (orchestration, overlap resolution, char
//! offsets), `request` (walking chat and embeddings bodies), `redact` (operators and pseudonyms)
//! and `cli` (`auditgate pii scan|redact`). See docs/pii.md.

pub mod canonical;
pub mod cli;
mod contact;
pub mod context;
mod dates;
mod ids;
mod lexicon;
mod location;
mod memo;
mod numbers;
mod person;
mod phone;
pub mod redact;
pub mod request;
pub mod scanner;
mod street;
pub mod tagger;
#[doc(hidden)]
pub mod tagger_train;
pub mod validators;

pub use cli::{pii_main, PiiCommand};
pub use redact::{redact_chat, redact_embeddings, redact_text, Operator, Pseudonyms, StreamRestorer};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every entity type the scanner can report (Presidio's vocabulary where one exists).
pub const ENTITY_TYPES: &[&str] = &[
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IBAN_CODE",
    "CREDIT_CARD",
    "CH_AHV",
    "CH_UID",
    "EU_VAT",
    "DE_TAX_ID",
    "FR_NIR",
    "IT_FISCAL_CODE",
    "ES_NIF",
    "UK_NINO",
    "UK_NHS",
    "US_SSN",
    "IP_ADDRESS",
    "DATE_TIME",
    "PASSPORT",
    "ID_CARD",
    "PERSON",
    "LOCATION",
];

/// How sensitive a request is, ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    None,
    Personal,
    Sensitive,
    Special,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Personal => "personal",
            Level::Sensitive => "sensitive",
            Level::Special => "special",
        }
    }
}

/// One piece of personal data found in one text field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub entity_type: String,
    /// Where in the request: `messages[2].content`, `messages[0].content[1].text`,
    /// `messages[3].tool_calls[0].function.arguments`, `input[4]`, `user` ... Empty for bare text.
    pub path: String,
    /// Offsets in Unicode scalar values (Python str indices), end exclusive.
    pub start: usize,
    pub end: usize,
    pub score: f32,
    /// A checksum or format validator passed for this candidate.
    pub validated: bool,
    /// The matched text. Never written to the audit log or operational logs.
    pub text: String,
}

/// The classification of a whole request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub level: Level,
    pub findings: Vec<Finding>,
    /// Paths of parts that cannot be scanned (images, files, audio), so policy can decide.
    pub unscannable: Vec<String>,
    /// GDPR art. 9 categories flagged by keyword (health, religion, union, ...).
    pub special_categories: Vec<String>,
}

impl Classification {
    /// Entity types present, without duplicates.
    pub fn entity_types(&self) -> BTreeSet<String> {
        self.findings.iter().map(|f| f.entity_type.clone()).collect()
    }

    /// Counts per entity type; safe to log (no raw values).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.entity_type.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Distinct message paths that carry findings; safe to log.
    pub fn paths(&self) -> BTreeSet<String> {
        self.findings.iter().map(|f| f.path.clone()).collect()
    }
}

/// The level an entity type puts a request at: identifiers that enable fraud or identity theft
/// and official numbers are sensitive, contact and identity data personal.
pub fn entity_level(entity_type: &str) -> Level {
    match entity_type {
        "IBAN_CODE" | "CREDIT_CARD" | "CH_AHV" | "DE_TAX_ID" | "FR_NIR" | "IT_FISCAL_CODE" | "ES_NIF" | "UK_NINO"
        | "UK_NHS" | "US_SSN" | "PASSPORT" | "ID_CARD" => Level::Sensitive,
        _ => Level::Personal,
    }
}

impl Classification {
    /// Build from findings and special categories, computing the level.
    pub fn from_parts(findings: Vec<Finding>, unscannable: Vec<String>, special: Vec<String>) -> Self {
        let level = if !special.is_empty() {
            Level::Special
        } else {
            findings.iter().map(|f| entity_level(&f.entity_type)).max().unwrap_or(Level::None)
        };
        Classification { level, findings, unscannable, special_categories: special }
    }
}

/// Forget the scans remembered for texts that come back (`memo.rs`); for benchmarks.
#[doc(hidden)]
pub fn forget_recent_scans() {
    memo::forget();
}

/// Compile every pattern now instead of on the first request.
pub fn warm_up() {
    context::warm_up();
    tagger::warm_up();
    let _ = scan_text("Herr Muster, CH93 0076 2011 6238 5295 7, +41 44 668 18 00, a@b.ch, 8001 Zürich");
}

/// Scan bare text. Findings have an empty path.
pub fn scan_text(text: &str) -> Vec<Finding> {
    scanner::scan(text).findings
}

/// [`scan_text`] with the person tagger's name gazetteers switched off: how the scanner fares
/// on names that are in no list (tests/it/pii_quality.rs).
#[doc(hidden)]
pub fn scan_text_without_gazetteers(text: &str) -> Vec<Finding> {
    scanner::scan_with(text, false).findings
}

/// Scan bare text and classify it (level and special categories included).
pub fn classify_text(text: &str) -> Classification {
    let scan = scanner::scan(text);
    let special = scan.special_categories.iter().map(|s| s.to_string()).collect();
    Classification::from_parts(scan.findings, Vec::new(), special)
}

/// Classify an OpenAI chat-completions request body (messages, tools, user, ...).
pub fn classify_chat(body: &Value) -> Classification {
    request::classify_chat(body, None)
}

/// Classify an embeddings request body (`input` as string, array of strings, or tokens).
pub fn classify_embeddings(body: &Value) -> Classification {
    request::classify_embeddings(body, None)
}

/// [`classify_chat`] for one API key's request: texts this key sent recently are not scanned
/// again (`memo.rs`). The memo is per key, so how fast a request is classified says nothing about
/// what other keys sent.
pub fn classify_chat_for_key(body: &Value, key_id: &str) -> Classification {
    request::classify_chat(body, Some(key_id))
}

/// [`classify_embeddings`] for one API key's request, as [`classify_chat_for_key`].
pub fn classify_embeddings_for_key(body: &Value, key_id: &str) -> Classification {
    request::classify_embeddings(body, Some(key_id))
}
