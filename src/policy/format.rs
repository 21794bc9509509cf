//! The TOML schema of a policy file, exactly as written by a compliance officer.
//!
//! Every value keeps its byte span (`toml::Spanned`) so the loader can report `FILE:LINE:COL`.
//! Words with a closed vocabulary (levels, regions, entity types, ...) are read as plain strings
//! here and checked in `load.rs`, so that a typo gets a "did you mean ...?" hint instead of serde's
//! generic "unknown variant" message.
//!
//! ```toml
//! [policy]
//! name = "Fiduciary baseline"
//!
//! [[rule]]
//! id = "iban-stays-home"
//! match = { entities = ["IBAN_CODE"] }
//! action = "allow"
//! route = { regions = ["ch", "eu"], require_zdr = true }
//!
//! [[test]]
//! name = "an IBAN goes to CH/EU only"
//! input = "Pay to CH93 0076 2011 6238 5295 7"
//! expect = "allow"
//! expect_regions = ["ch", "eu"]
//! ```

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// One policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub policy: Option<RawMeta>,
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub test: Vec<Spanned<RawTest>>,
}

/// `[policy]`: who wrote the file and why; informational only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeta {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `[[rule]]`: conditions, then what happens when they all hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: Option<Spanned<String>>,
    pub description: Option<String>,
    #[serde(rename = "match")]
    pub matches: Option<Spanned<RawMatch>>,
    pub action: Option<Spanned<String>>,
    pub reason: Option<Spanned<String>>,
    pub redact: Option<Spanned<RawRedact>>,
    pub route: Option<Spanned<RawRoute>>,
    pub max_cost_usd: Option<Spanned<f64>>,
}

/// `match = { ... }`: every listed condition must hold; a list holds when any entry matches.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    pub keys: Option<Spanned<StrList>>,
    pub teams: Option<Spanned<StrList>>,
    pub models: Option<Spanned<StrList>>,
    pub level: Option<Spanned<StrList>>,
    pub min_level: Option<Spanned<String>>,
    pub max_level: Option<Spanned<String>>,
    pub entities: Option<Spanned<StrList>>,
    pub client_label: Option<Spanned<StrList>>,
    pub stream: Option<Spanned<bool>>,
    pub endpoint: Option<Spanned<StrList>>,
    pub unscannable: Option<Spanned<bool>>,
}

/// `redact = { entities = [...], operator = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedact {
    pub entities: Option<Spanned<StrList>>,
    pub operator: Option<Spanned<String>>,
}

/// `route = { ... }`: where the data may go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub regions: Option<Spanned<StrList>>,
    pub countries: Option<Spanned<StrList>>,
    pub providers: Option<Spanned<StrList>>,
    #[serde(default)]
    pub require_zdr: bool,
    #[serde(default)]
    pub deny_data_collection: bool,
}

/// `[[test]]`: an officer's example request and the decision they expect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTest {
    pub name: Option<Spanned<String>>,
    /// Plain text, classified as one user message.
    pub input: Option<String>,
    /// A whole OpenAI request body as JSON text (chat or embeddings).
    pub request: Option<Spanned<String>>,
    pub key: Option<String>,
    pub team: Option<String>,
    pub model: Option<String>,
    pub client_label: Option<String>,
    pub stream: Option<bool>,
    pub endpoint: Option<Spanned<String>>,
    pub unscannable: Option<bool>,
    pub expect: Option<Spanned<String>>,
    pub expect_rule: Option<Spanned<String>>,
    pub expect_regions: Option<Spanned<StrList>>,
}

/// A string or a list of strings (`level = "special"` or `level = ["sensitive", "special"]`).
///
/// A lone string has no span of its own: [`StrList::items`] gives it the span of the whole value.
#[derive(Debug, Default)]
pub(crate) struct StrList {
    items: Vec<Spanned<String>>,
    single: bool,
}

impl StrList {
    /// The entries, each with its own span.
    pub fn items(list: &Spanned<StrList>) -> Vec<Spanned<String>> {
        let inner = list.get_ref();
        if inner.single {
            inner
                .items
                .iter()
                .map(|s| Spanned::new(list.span(), s.get_ref().clone()))
                .collect()
        } else {
            inner.items.clone()
        }
    }
}

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrListVisitor)
    }
}

struct StrListVisitor;

impl<'de> Visitor<'de> for StrListVisitor {
    type Value = StrList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
        Ok(StrList {
            items: vec![Spanned::new(0..0, v.to_string())],
            single: true,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<String>>()? {
            items.push(item);
        }
        Ok(StrList {
            items,
            single: false,
        })
    }
}
