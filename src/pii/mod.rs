//! Personal-data classification: find PII in every text field of a request, grade the request
//! (none / personal / sensitive / special) and redact or pseudonymize what policy asks for.
//!
//! INTERFACE SKELETON: the real recognizers replace the bodies below; the types and signatures are
//! what the rest of the gateway calls.

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

/// Scan bare text. Findings have an empty path.
pub fn scan_text(_text: &str) -> Vec<Finding> {
    Vec::new()
}

/// Classify an OpenAI chat-completions request body (messages, tools, user, ...).
pub fn classify_chat(_body: &Value) -> Classification {
    Classification::default()
}

/// Classify an embeddings request body (`input` as string, array of strings, or tokens).
pub fn classify_embeddings(_body: &Value) -> Classification {
    Classification::default()
}

/// Redaction operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Replace,
    Mask,
    Hash,
    Pseudonymize,
}

/// Placeholders issued for one request, to restore the originals in the answer.
#[derive(Debug, Clone, Default)]
pub struct Pseudonyms {
    map: Vec<(String, String)>,
}

impl Pseudonyms {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn restore(&self, text: &str) -> String {
        text.to_string()
    }
    pub fn restore_response(&self, _body: &mut Value) {}
    pub fn stream_restorer(&self) -> StreamRestorer {
        StreamRestorer::default()
    }
}

/// Restores placeholders in a stream of text pieces, even when split across pieces.
#[derive(Debug, Default)]
pub struct StreamRestorer {}

impl StreamRestorer {
    pub fn push(&mut self, chunk: &str) -> String {
        chunk.to_string()
    }
    pub fn finish(&mut self) -> String {
        String::new()
    }
}

/// Redact the findings of the given entity types (empty = all) in a chat request, in place.
pub fn redact_chat(
    _body: &mut Value,
    _cls: &Classification,
    _entities: &BTreeSet<String>,
    _op: Operator,
) -> Pseudonyms {
    Pseudonyms::default()
}

/// Redact an embeddings request in place.
pub fn redact_embeddings(
    _body: &mut Value,
    _cls: &Classification,
    _entities: &BTreeSet<String>,
    _op: Operator,
) -> Pseudonyms {
    Pseudonyms::default()
}
