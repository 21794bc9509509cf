//! Stamping the gateway's fields into an upstream's JSON answers and stream chunks.
//!
//! Every answer and every streamed chunk leaves with our generation `id`, the public `model`, the
//! `provider` and, where there is usage, its cost. The straightforward way parses the JSON into a
//! `serde_json::Value`, sets those fields and serializes the tree again; for a typical answer that
//! is most of the gateway's JSON work after the request itself. The raw way ([`RawAnswer`],
//! [`stamp_chunk_raw`]) splits the object into its top-level members as raw text (one validating
//! pass, no tree) and writes it out again with only `id`, `model`, `provider` and `usage` replaced:
//! every other member goes through byte for byte.
//!
//! The two ways give the same result (property tests below): same members in the same order, same
//! values, same usage, cost and finish reason. JSON the raw way cannot treat exactly as the tree
//! does (duplicate or escaped keys, a `choices` that is not a list of objects; for chunks also data
//! on several lines or an `error` member) is left to the tree: the raw functions return `None`.

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::ops::Range;

use crate::accounting::cost::{cost_usd, usage_from_json};
use crate::offer::{Price, Usage};

/// The values the gateway writes into every answer.
pub struct Stamp<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub provider: &'a str,
}

/// What the answer said about itself, for the response entry and the generation record.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub usage: Option<Usage>,
    pub cost: f64,
    pub finish_reason: Option<String>,
}

/// Set the stamp and the cost on an answer held as a tree (the general way). Returns the usage and
/// the cost.
pub fn stamp_value(json: &mut Value, stamp: &Stamp, price: &Price) -> (Option<Usage>, f64) {
    json["id"] = Value::String(stamp.id.to_string());
    json["model"] = Value::String(stamp.model.to_string());
    json["provider"] = Value::String(stamp.provider.to_string());
    let usage = json.get("usage").and_then(usage_from_json);
    let cost = usage.as_ref().map_or(0.0, |u| cost_usd(price, u));
    if let Some(u) = json.get_mut("usage").and_then(Value::as_object_mut) {
        u.insert("cost".into(), serde_json::json!(cost));
    }
    (usage, cost)
}

/// The first choice's `finish_reason`, when it is a string.
pub fn finish_reason_of(json: &Value) -> Option<String> {
    json.get("choices").and_then(|c| c.get(0)?.get("finish_reason")).and_then(Value::as_str).map(str::to_string)
}

/// A JSON object answer split into its top-level members, each a range of the original bytes.
#[derive(Debug)]
pub struct RawAnswer {
    bytes: bytes::Bytes,
    members: Members,
    /// What `usage` says, read when the answer is split (it is needed twice).
    usage: Option<UsageMember>,
    finish_reason: Option<String>,
}

const STAMPED: [&str; 3] = ["id", "model", "provider"];

impl RawAnswer {
    /// Split `bytes`, or `None` when they are not a JSON object the fast way treats exactly like
    /// the tree (the caller then parses the tree, which also judges malformed answers).
    pub fn parse(bytes: bytes::Bytes) -> Option<RawAnswer> {
        let text = std::str::from_utf8(&bytes).ok()?;
        let members = split_members(text)?;
        let usage = match member(text, &members, "usage") {
            Some(raw) => Some(UsageMember::read(raw)?),
            None => None,
        };
        let finish_reason = match member(text, &members, "choices") {
            Some(raw) => read_choices(raw)?.first,
            None => None,
        };
        Some(RawAnswer { members, usage, finish_reason, bytes })
    }

    fn text(&self) -> &str {
        // Checked in `parse`.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    pub fn completion_tokens(&self) -> u64 {
        self.usage.as_ref().map_or(0, UsageMember::completion_tokens)
    }

    /// The answer as a tree, for the paths that need one (pseudonyms, Anthropic clients).
    pub fn into_value(self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// Write the answer with the stamp and the cost; everything else is copied as it came.
    pub fn stamp(&self, stamp: &Stamp, price: &Price) -> (Vec<u8>, Facts) {
        let text = self.text();
        let usage = self.usage.as_ref().and_then(UsageMember::usage);
        let cost = usage.as_ref().map_or(0.0, |u| cost_usd(price, u));
        let mut out = Vec::with_capacity(self.bytes.len() + 128);
        let write = match &self.usage {
            Some(u) if u.is_object() => UsageWrite::AddCost(u, cost),
            _ => UsageWrite::Keep,
        };
        write_stamped(&mut out, text, &self.members, stamp, write);
        (out, Facts { usage, cost, finish_reason: self.finish_reason.clone() })
    }
}

/// What one streamed chunk said, and whether it goes to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkFacts {
    /// The last `finish_reason` string among its choices.
    pub finish_reason: Option<String>,
    /// Its usage (a stream's last chunk) and the cost of it.
    pub usage: Option<(Usage, f64)>,
    /// False when the chunk carried nothing but usage the client did not ask for.
    pub send: bool,
}

/// Stamp one streamed chunk held as a tree; its usage gets the cost, or is removed when the
/// client did not ask for usage (the whole chunk when it has no choices).
pub fn stamp_chunk_value(chunk: &mut Value, stamp: &Stamp, price: &Price, client_wants_usage: bool) -> ChunkFacts {
    chunk["id"] = Value::String(stamp.id.to_string());
    chunk["model"] = Value::String(stamp.model.to_string());
    chunk["provider"] = Value::String(stamp.provider.to_string());
    let choices = chunk.get("choices").and_then(Value::as_array);
    let finish_reason = choices
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("finish_reason").and_then(Value::as_str))
        .next_back()
        .map(str::to_string);
    let no_choices = choices.is_none_or(|c| c.is_empty());
    let mut facts = ChunkFacts { finish_reason, usage: None, send: true };
    if let Some(usage) = chunk.get("usage").and_then(usage_from_json) {
        let cost = cost_usd(price, &usage);
        facts.usage = Some((usage, cost));
        if !client_wants_usage {
            if no_choices {
                facts.send = false;
            }
            chunk.as_object_mut().map(|o| o.shift_remove("usage"));
        } else if let Some(u) = chunk.get_mut("usage").and_then(Value::as_object_mut) {
            u.insert("cost".into(), serde_json::json!(cost));
        }
    }
    facts
}

/// The same for a chunk as the upstream sent it (`data` of one SSE event), written as a complete
/// SSE frame without building a tree; `None` sends the chunk to the tree (not an object the fast
/// way treats exactly alike, data on several lines, or an `error` member, whose text the relay
/// records).
pub fn stamp_chunk_raw(
    data: &str,
    stamp: &Stamp,
    price: &Price,
    client_wants_usage: bool,
) -> Option<(Vec<u8>, ChunkFacts)> {
    if data.contains(['\n', '\r']) {
        return None; // multi-line data (pretty JSON) copied raw would break the client's SSE framing
    }
    let members = split_members(data)?;
    if member(data, &members, "error").is_some() {
        return None;
    }
    let choices = match member(data, &members, "choices") {
        Some(raw) => read_choices(raw)?,
        None => Choices::default(),
    };
    let usage_member = match member(data, &members, "usage") {
        Some(raw) => Some(UsageMember::read(raw)?),
        None => None,
    };
    let mut facts = ChunkFacts { finish_reason: choices.last, usage: None, send: true };
    let mut write = UsageWrite::Keep;
    if let Some(u) = &usage_member {
        if let Some(usage) = u.usage() {
            let cost = cost_usd(price, &usage);
            facts.usage = Some((usage, cost));
            if !client_wants_usage {
                facts.send = choices.count > 0;
                write = UsageWrite::Drop;
            } else if u.is_object() {
                write = UsageWrite::AddCost(u, cost);
            }
        }
    }
    let mut frame = Vec::with_capacity(data.len() + 96);
    if facts.send {
        frame.extend_from_slice(b"data: ");
        write_stamped(&mut frame, data, &members, stamp, write);
        frame.extend_from_slice(b"\n\n");
    }
    Some((frame, facts))
}

/// Split a JSON object into its top-level members, or `None` when it is not an object the fast
/// way treats exactly like the tree (not an object, trailing text, a duplicate or escaped key).
fn split_members(text: &str) -> Option<Members> {
    let mut de = serde_json::Deserializer::from_str(text);
    let members = de.deserialize_map(MembersVisitor { base: text.as_ptr() as usize }).ok()?;
    de.end().ok()?;
    for (i, (key, _)) in members.iter().enumerate() {
        let key = &text[key.clone()];
        if members[..i].iter().any(|(k, _)| &text[k.clone()] == key) {
            return None; // duplicate key: the tree keeps the last value at the first place
        }
    }
    Some(members)
}

/// (key, value) ranges in order; keys contain no escapes, so a key's range is its text.
type Members = Vec<(Range<usize>, Range<usize>)>;

/// The raw text of a top-level member.
fn member<'t>(text: &'t str, members: &Members, key: &str) -> Option<&'t str> {
    members.iter().find(|(k, _)| &text[k.clone()] == key).map(|(_, v)| &text[v.clone()])
}

/// What becomes of a `usage` member.
enum UsageWrite<'a> {
    /// Copied as it came.
    Keep,
    /// With the cost added (or replaced).
    AddCost(&'a UsageMember, f64),
    /// Left out (a client that did not ask for usage in its stream).
    Drop,
}

/// Write the object with `id`, `model` and `provider` stamped (in place, or appended in that order
/// as the tree does), `usage` as told, and every other member as it came.
fn write_stamped(out: &mut Vec<u8>, text: &str, members: &Members, stamp: &Stamp, usage: UsageWrite) {
    let stamped = [stamp.id, stamp.model, stamp.provider];
    let mut seen = [false; 3];
    out.push(b'{');
    let start = out.len();
    let separate = |out: &mut Vec<u8>| {
        if out.len() > start {
            out.push(b',');
        }
    };
    for (key_range, value_range) in members {
        let (key, raw) = (&text[key_range.clone()], &text[value_range.clone()]);
        if let Some(i) = STAMPED.iter().position(|k| *k == key) {
            seen[i] = true;
            separate(out);
            write_key(out, key);
            write_str(out, stamped[i]);
            continue;
        }
        match (key, &usage) {
            ("usage", UsageWrite::Drop) => continue,
            ("usage", UsageWrite::AddCost(u, cost)) => {
                separate(out);
                write_key(out, key);
                u.write_with_cost(out, raw, *cost);
            }
            _ => {
                separate(out);
                write_key(out, key);
                out.extend_from_slice(raw.as_bytes());
            }
        }
    }
    for ((key, value), done) in STAMPED.iter().zip(stamped).zip(seen) {
        if !done {
            separate(out);
            write_key(out, key);
            write_str(out, value);
        }
    }
    out.push(b'}');
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // Keys were read without escapes (`&str` borrowed from the input), so they need none.
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn write_str(out: &mut Vec<u8>, value: &str) {
    let _ = serde_json::to_writer(out, value);
}

/// The fields of `usage` the gateway reads, without building its map (last value wins, as in
/// the tree).
#[derive(Debug, Default)]
struct UsageMember {
    object: bool,
    members: usize,
    has_cost: bool,
    /// Each as `Value::as_u64` reads the last value given (`None`: absent or not a `u64`).
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
    /// `prompt_tokens_details.cached_tokens`, read the same way.
    cached_tokens: Option<u64>,
}

impl UsageMember {
    /// `None` when the answer should go to the tree (an escaped key).
    fn read(raw: &str) -> Option<UsageMember> {
        if !raw.starts_with('{') {
            return Some(UsageMember::default());
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        de.deserialize_map(UsageVisitor).ok()
    }

    fn is_object(&self) -> bool {
        self.object
    }

    fn completion_tokens(&self) -> u64 {
        self.completion_tokens.unwrap_or(0)
    }

    /// As `usage_from_json` reads the same object.
    fn usage(&self) -> Option<Usage> {
        let prompt = self.prompt_tokens?;
        let completion = self.completion_tokens();
        let total = self.total_tokens.unwrap_or(prompt + completion);
        let cached = self.cached_tokens.unwrap_or(0);
        Some(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, cached_tokens: cached })
    }

    /// The object with `cost` added at its end (or replaced in place, through the tree, when the
    /// upstream already sent one).
    fn write_with_cost(&self, out: &mut Vec<u8>, raw: &str, cost: f64) {
        if self.has_cost {
            if let Ok(Value::Object(mut u)) = serde_json::from_str::<Value>(raw) {
                u.insert("cost".into(), serde_json::json!(cost));
                let _ = serde_json::to_writer(out, &u);
            }
            return;
        }
        let body = raw.trim_end().strip_suffix('}').unwrap_or(raw).trim_end();
        out.extend_from_slice(body.as_bytes());
        if self.members > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"cost\":");
        let _ = serde_json::to_writer(&mut *out, &serde_json::json!(cost));
        out.push(b'}');
    }
}

struct UsageVisitor;

impl<'de> Visitor<'de> for UsageVisitor {
    type Value = UsageMember;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a usage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UsageMember, A::Error> {
        let mut u = UsageMember { object: true, ..UsageMember::default() };
        while let Some(key) = map.next_key::<&'de str>()? {
            u.members += 1;
            let value = match key {
                "prompt_tokens" | "completion_tokens" | "total_tokens" => map.next_value::<Value>()?.as_u64(),
                "prompt_tokens_details" => map.next_value::<Value>()?.get("cached_tokens").and_then(Value::as_u64),
                _ => {
                    u.has_cost |= key == "cost";
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            match key {
                "prompt_tokens" => u.prompt_tokens = value,
                "completion_tokens" => u.completion_tokens = value,
                "total_tokens" => u.total_tokens = value,
                _ => u.cached_tokens = value,
            }
        }
        Ok(u)
    }
}

/// Collects (key, value) ranges of an object's members relative to `base`.
struct MembersVisitor {
    base: usize,
}

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Vec<(Range<usize>, Range<usize>)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(8);
        // A key with escapes cannot be borrowed: the error sends the answer to the tree.
        while let Some(key) = map.next_key::<&'de str>()? {
            let value = map.next_value::<&'de RawValue>()?.get();
            members.push((self.range(key), self.range(value)));
        }
        Ok(members)
    }
}

impl MembersVisitor {
    fn range(&self, s: &str) -> Range<usize> {
        let start = s.as_ptr() as usize - self.base;
        start..start + s.len()
    }
}

/// What `choices` says: the first choice's `finish_reason` (an answer's), the last one given by
/// any choice (a stream chunk's), and how many choices there are. `None` unless it is a list of
/// objects.
fn read_choices(raw: &str) -> Option<Choices> {
    let mut de = serde_json::Deserializer::from_str(raw);
    de.deserialize_seq(ChoicesVisitor).ok()
}

#[derive(Debug, Default)]
struct Choices {
    first: Option<String>,
    last: Option<String>,
    count: usize,
}

struct ChoicesVisitor;

impl<'de> Visitor<'de> for ChoicesVisitor {
    type Value = Choices;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of choices")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Choices, A::Error> {
        let mut choices = Choices::default();
        while let Some(choice) = seq.next_element::<ChoiceFinish>()? {
            let reason = choice.finish_reason.as_ref().and_then(Value::as_str).map(str::to_string);
            if choices.count == 0 {
                choices.first = reason.clone();
            }
            if reason.is_some() {
                choices.last = reason;
            }
            choices.count += 1;
        }
        Ok(choices)
    }
}

/// One choice (an object: a derived `Deserialize` would also take a list), of which only
/// `finish_reason` is read; the rest is skipped, not built.
struct ChoiceFinish {
    finish_reason: Option<Value>,
}

impl<'de> Deserialize<'de> for ChoiceFinish {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ChoiceVisitor)
    }
}

struct ChoiceVisitor;

impl<'de> Visitor<'de> for ChoiceVisitor {
    type Value = ChoiceFinish;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a choice object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChoiceFinish, A::Error> {
        let mut finish_reason = None;
        // Escaped keys fail to borrow and send the answer to the tree, as for the top level.
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "finish_reason" {
                finish_reason = Some(map.next_value::<Value>()?); // the last one wins, as in the tree
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ChoiceFinish { finish_reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const PRICE: Price = Price { prompt_per_mtok: 2.0, completion_per_mtok: 8.0, cached_prompt_per_mtok: Some(0.5) };
    const STAMP: Stamp = Stamp { id: "gen-1", model: "eu/model", provider: "eu \"quoted\" ünï" };

    /// The general way: tree, stamp, serialize.
    fn by_tree(bytes: &[u8]) -> (Value, Facts) {
        let mut json: Value = serde_json::from_slice(bytes).unwrap();
        let (usage, cost) = stamp_value(&mut json, &STAMP, &PRICE);
        let finish_reason = finish_reason_of(&json);
        (json, Facts { usage, cost, finish_reason })
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn assert_same(bytes: &[u8]) -> bool {
        let Some(raw) = RawAnswer::parse(bytes::Bytes::copy_from_slice(bytes)) else {
            return false;
        };
        let (out, facts) = raw.stamp(&STAMP, &PRICE);
        let fast: Value = serde_json::from_slice(&out).expect("the fast way writes valid JSON");
        let (tree, tree_facts) = by_tree(bytes);
        assert_eq!(fast, tree, "{}", String::from_utf8_lossy(bytes));
        assert_eq!(keys(&fast), keys(&tree), "member order");
        assert_eq!(facts, tree_facts);
        assert_eq!(raw.completion_tokens(), tree_facts.usage.map_or(0, |u| u.completion_tokens));
        true
    }

    #[test]
    fn typical_answer_is_stamped_in_place() {
        let answer = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010}});
        assert!(assert_same(answer.to_string().as_bytes()));
        let raw = RawAnswer::parse(answer.to_string().into()).unwrap();
        let (out, facts) = raw.stamp(&STAMP, &PRICE);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(r#"{"id":"gen-1","object":"chat.completion","created":1,"model":"eu/model","#),
            "{out}"
        );
        assert!(out.ends_with(r#""provider":"eu \"quoted\" ünï"}"#), "{out}");
        assert_eq!(facts.finish_reason.as_deref(), Some("stop"));
        assert_eq!(facts.usage.unwrap().completion_tokens, 10);
    }

    #[test]
    fn other_members_pass_byte_for_byte() {
        // Pretty-printed, with number forms the tree would rewrite.
        let answer =
            "{\n  \"id\": \"x\",\n  \"logprobs\": {\"v\": [1.0e3, -0.0, 12345678901234567890]},\n  \"choices\": []\n}";
        let raw = RawAnswer::parse(answer.into()).unwrap();
        let out = String::from_utf8(raw.stamp(&STAMP, &PRICE).0).unwrap();
        assert!(out.contains(r#""logprobs":{"v": [1.0e3, -0.0, 12345678901234567890]}"#), "{out}");
    }

    #[test]
    fn answers_the_tree_must_treat_are_refused() {
        for answer in [
            r#"{"id": "a", "id": "b"}"#,                        // duplicate key
            r#"{"i\u0064": "a"}"#,                              // escaped key
            r#"{"choices": {"0": {}}}"#,                        // choices not a list
            r#"{"choices": [1]}"#,                              // a choice that is not an object
            r#"{"choices": [["stop"]]}"#,                       // a list where a choice object belongs
            r#"{"choices": [{"finish\u005freason": "stop"}]}"#, // escaped key inside a choice
            r#"{"usage": {"prompt_tokens": 1"#,                 // truncated
            r#"[1, 2]"#,                                        // not an object
            r#"{"a": 1} x"#,                                    // trailing text
        ] {
            assert!(RawAnswer::parse(answer.into()).is_none(), "{answer}");
        }
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[a-z \"\\\\é\u{1F600}]{0,8}".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(("[a-z_]{1,6}", inner), 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Values that make `usage`, `choices` and the stamped fields interesting.
    fn member(key: &'static str) -> BoxedStrategy<(String, Value)> {
        let value = match key {
            "usage" => prop_oneof![
                json_value(),
                (0..10_000u64, 0..10_000u64, proptest::option::of(0..5_000u64), any::<bool>(), json_value()).prop_map(
                    |(p, c, cached, has_cost, extra)| {
                        let mut u = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
                        if let Some(cached) = cached {
                            u["prompt_tokens_details"] = json!({"cached_tokens": cached});
                        }
                        if has_cost {
                            u["cost"] = json!(0.5); // an upstream that prices itself: replaced in place
                        }
                        u["completion_tokens_details"] = extra;
                        u
                    }
                ),
                Just(json!({})),
            ]
            .boxed(),
            "choices" => prop_oneof![
                json_value(),
                proptest::collection::vec(
                    (json_value(), proptest::option::of(prop_oneof![json_leaf(), Just(json!("stop"))])).prop_map(
                        |(message, finish)| {
                            let mut c = json!({"index": 0, "message": message});
                            if let Some(f) = finish {
                                c["finish_reason"] = f;
                            }
                            c
                        }
                    ),
                    0..3
                )
                .prop_map(Value::Array),
            ]
            .boxed(),
            _ => json_value().boxed(),
        };
        value.prop_map(move |v| (key.to_string(), v)).boxed()
    }

    fn answer() -> impl Strategy<Value = (Vec<(String, Value)>, bool)> {
        let keys = ["id", "model", "provider", "usage", "choices", "object", "created", "system_fingerprint"];
        let members = proptest::sample::subsequence(keys.to_vec(), 0..=keys.len())
            .prop_shuffle()
            .prop_flat_map(|keys| keys.into_iter().map(member).collect::<Vec<_>>());
        (members, any::<bool>())
    }

    /// The tree way for a chunk, as the relay frames it.
    fn chunk_by_tree(data: &str, wants_usage: bool) -> (Option<Value>, ChunkFacts) {
        let mut chunk: Value = serde_json::from_str(data).unwrap();
        let facts = stamp_chunk_value(&mut chunk, &STAMP, &PRICE, wants_usage);
        (facts.send.then_some(chunk), facts)
    }

    fn chunk_same(data: &str, wants_usage: bool) -> bool {
        let Some((frame, facts)) = stamp_chunk_raw(data, &STAMP, &PRICE, wants_usage) else {
            return false;
        };
        let (tree, tree_facts) = chunk_by_tree(data, wants_usage);
        assert_eq!(facts, tree_facts, "{data}");
        match tree {
            None => assert!(frame.is_empty(), "a dropped chunk writes nothing"),
            Some(tree) => {
                let text = std::str::from_utf8(&frame).unwrap();
                let json = text.strip_prefix("data: ").and_then(|t| t.strip_suffix("\n\n")).expect("one SSE frame");
                assert!(!json.contains('\n'), "a frame's data is one line");
                let fast: Value = serde_json::from_str(json).unwrap();
                assert_eq!(fast, tree, "{data}");
                assert_eq!(keys(&fast), keys(&tree), "member order");
            }
        }
        true
    }

    #[test]
    fn usage_chunk_is_dropped_or_priced() {
        let data = r#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010}}"#;
        assert!(chunk_same(data, true) && chunk_same(data, false));
        let (frame, facts) = stamp_chunk_raw(data, &STAMP, &PRICE, false).unwrap();
        assert!(frame.is_empty() && !facts.send);
        assert_eq!(facts.usage.unwrap().0.prompt_tokens, 1000);
        let (frame, _) = stamp_chunk_raw(data, &STAMP, &PRICE, true).unwrap();
        assert!(String::from_utf8(frame).unwrap().contains(r#""total_tokens":1010,"cost":0.00208}"#));
        let error = r#"{"error":{"message":"overloaded"}}"#;
        assert!(
            stamp_chunk_raw(error, &STAMP, &PRICE, true).is_none(),
            "errors take the tree (their text is recorded)"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fast_way_equals_tree_way((members, pretty) in answer()) {
            let object = Value::Object(members.into_iter().collect());
            let bytes = if pretty { serde_json::to_vec_pretty(&object) } else { serde_json::to_vec(&object) }.unwrap();
            // The one refusal a generated answer may earn (its keys are unique and plain).
            let choices_ok = object.get("choices").is_none_or(|c| c.as_array().is_some_and(|l| l.iter().all(Value::is_object)));
            prop_assert_eq!(assert_same(&bytes), choices_ok, "{}", object);
        }

        #[test]
        fn chunk_fast_way_equals_tree_way((members, pretty) in answer(), wants_usage in any::<bool>()) {
            let object = Value::Object(members.into_iter().collect());
            let data = if pretty { serde_json::to_string_pretty(&object) } else { serde_json::to_string(&object) }.unwrap();
            let choices_ok = object.get("choices").is_none_or(|c| c.as_array().is_some_and(|l| l.iter().all(Value::is_object)));
            prop_assert_eq!(chunk_same(&data, wants_usage), choices_ok && !data.contains('\n'), "{}", object);
        }
    }
}
