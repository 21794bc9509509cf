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
    pub body_hold_years: Option<Spanned<i64>>,
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
            inner.items.iter().map(|s| Spanned::new(list.span(), s.get_ref().clone())).collect()
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
        Ok(StrList { items: vec![Spanned::new(0..0, v.to_string())], single: true })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<String>>()? {
            items.push(item);
        }
        Ok(StrList { items, single: false })
    }
}

/// The shape of a parsed file with the span of every key and value, used to find every unknown
/// key of a file in one go (serde's `deny_unknown_fields` stops at the first).
#[derive(Debug)]
pub(crate) enum Tree {
    Table(Vec<(Spanned<String>, Spanned<Tree>)>),
    Array(Vec<Spanned<Tree>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any TOML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Tree, E> {
        Ok(Tree::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Tree>>()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Tree>>()?;
            // A TOML date-time arrives as a one-key map: it is a scalar to us.
            if key.get_ref().starts_with("$__toml_private") {
                return Ok(Tree::Scalar);
            }
            entries.push((key, value));
        }
        Ok(Tree::Table(entries))
    }
}

/// The keys a table may hold, and what is below each.
pub(crate) struct Schema {
    /// How the table is written, for messages: `[[rule]]`, `match`, ...
    pub name: &'static str,
    pub keys: &'static [(&'static str, Option<&'static Schema>)],
}

pub(crate) const FILE_SCHEMA: Schema = Schema {
    name: "the file",
    keys: &[("policy", Some(&META_SCHEMA)), ("rule", Some(&RULE_SCHEMA)), ("test", Some(&TEST_SCHEMA))],
};
const META_SCHEMA: Schema = Schema { name: "[policy]", keys: &[("name", None), ("description", None)] };
const RULE_SCHEMA: Schema = Schema {
    name: "[[rule]]",
    keys: &[
        ("id", None),
        ("description", None),
        ("match", Some(&MATCH_SCHEMA)),
        ("action", None),
        ("reason", None),
        ("redact", Some(&REDACT_SCHEMA)),
        ("route", Some(&ROUTE_SCHEMA)),
        ("max_cost_usd", None),
        ("body_hold_years", None),
    ],
};
const MATCH_SCHEMA: Schema = Schema {
    name: "match",
    keys: &[
        ("keys", None),
        ("teams", None),
        ("models", None),
        ("level", None),
        ("min_level", None),
        ("max_level", None),
        ("entities", None),
        ("client_label", None),
        ("stream", None),
        ("endpoint", None),
        ("unscannable", None),
    ],
};
const REDACT_SCHEMA: Schema = Schema { name: "redact", keys: &[("entities", None), ("operator", None)] };
const ROUTE_SCHEMA: Schema = Schema {
    name: "route",
    keys: &[
        ("regions", None),
        ("countries", None),
        ("providers", None),
        ("require_zdr", None),
        ("deny_data_collection", None),
    ],
};
const TEST_SCHEMA: Schema = Schema {
    name: "[[test]]",
    keys: &[
        ("name", None),
        ("input", None),
        ("request", None),
        ("key", None),
        ("team", None),
        ("model", None),
        ("client_label", None),
        ("stream", None),
        ("endpoint", None),
        ("unscannable", None),
        ("expect", None),
        ("expect_rule", None),
        ("expect_regions", None),
    ],
};

/// Every key not in the schema, as (span, message). Arrays of tables are checked element-wise;
/// values of the wrong type are left to the typed pass.
pub(crate) fn unknown_keys(tree: &Tree, schema: &Schema, out: &mut Vec<(std::ops::Range<usize>, String)>) {
    match tree {
        Tree::Table(entries) => {
            for (key, value) in entries {
                let known = schema.keys.iter().find(|(k, _)| k == key.get_ref());
                match known {
                    Some((_, Some(child))) => unknown_keys(value.get_ref(), child, out),
                    Some((_, None)) => {}
                    None => out.push((key.span(), unknown_key_message(key.get_ref(), schema))),
                }
            }
        }
        Tree::Array(items) => items.iter().for_each(|item| unknown_keys(item.get_ref(), schema, out)),
        Tree::Scalar => {}
    }
}

fn unknown_key_message(key: &str, schema: &Schema) -> String {
    let names: Vec<&str> = schema.keys.iter().map(|(k, _)| *k).collect();
    let hint = super::vocab::suggest(key, names.iter().copied(), false);
    let mut msg = format!("unknown field `{key}` in {}", schema.name);
    match hint {
        Some(h) => msg.push_str(&format!(": did you mean `{h}`?")),
        None => msg.push_str(&format!(" (known: {})", names.join(", "))),
    }
    msg
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    /// Uses every key of every table once: the schema lists and the serde structs must agree.
    const EVERY_KEY: &str = r#"
[policy]
name = "n"
description = "d"

[[rule]]
id = "r"
description = "d"
action = "redact"
reason = "x"
max_cost_usd = 1.5
body_hold_years = 12
match = { keys = ["k"], teams = "t", models = ["*"], level = "none", min_level = "none", max_level = "special", entities = ["PERSON"], client_label = "c", stream = false, endpoint = "chat", unscannable = false }
redact = { entities = ["PERSON"], operator = "mask" }
route = { regions = ["ch"], countries = ["CH"], providers = ["p"], require_zdr = true, deny_data_collection = true }

[[test]]
name = "t"
input = "i"
request = "{}"
key = "k"
team = "t"
model = "m"
client_label = "c"
stream = true
endpoint = "chat"
unscannable = true
expect = "allow"
expect_rule = "r"
expect_regions = ["ch"]
"#;

    fn key_count(s: &Schema) -> usize {
        s.keys.iter().map(|(_, child)| 1 + child.map_or(0, key_count)).sum()
    }

    #[test]
    fn schema_lists_match_the_serde_structs() {
        let tree: Tree = toml::from_str(EVERY_KEY).expect("tree");
        let mut unknown = Vec::new();
        unknown_keys(&tree, &FILE_SCHEMA, &mut unknown);
        assert!(unknown.is_empty(), "{unknown:?}");
        let raw: RawFile = toml::from_str(EVERY_KEY).expect("every key is a struct field");
        assert_eq!(raw.rule.len(), 1);
        let keys_in_doc = EVERY_KEY
            .lines()
            .filter(|l| l.contains(" = ") || l.starts_with('['))
            .count()
            // the inline tables: their keys sit on the line counted for `match`, `redact`, `route`
            + 11
            + 2
            + 5;
        assert_eq!(key_count(&FILE_SCHEMA), keys_in_doc);
    }

    #[test]
    fn str_list_accepts_one_or_many() {
        #[derive(Deserialize)]
        struct T {
            a: Spanned<StrList>,
            b: Spanned<StrList>,
        }
        let t: T = toml::from_str("a = \"x\"\nb = [\"y\", \"z\"]\n").expect("parse");
        let a = StrList::items(&t.a);
        assert_eq!((a[0].get_ref().as_str(), a[0].span()), ("x", 4..7));
        let b: Vec<String> = StrList::items(&t.b).iter().map(|s| s.get_ref().clone()).collect();
        assert_eq!(b, ["y", "z"]);
    }
}
