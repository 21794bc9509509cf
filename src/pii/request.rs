//! Walking request bodies: every string a chat or embeddings request carries upstream is scanned,
//! and findings are tagged with its path (`messages[2].content`, `messages[0].content[1].text`,
//! `messages[3].tool_calls[0].function.arguments.iban`, `tools[0].function.parameters.properties
//! .iban.description`, `metadata.note`, `input[4]`).
//!
//! The walk is whole-body: a member is skipped only when the request schemas (OpenAI, OpenRouter)
//! say it carries no text and its value has the expected type ([`NON_TEXT_PARAMETERS`], roles,
//! `type` tags, JSON Schema keywords). Everything else is text: unknown keys, object keys in
//! free-form objects (tool schemas, `metadata`), and integers long enough to be an identifier.
//! Images, audio and files are listed as unscannable for policy to decide.
//!
//! A number or name cut between two adjacent text parts, or between one message and the next, is
//! still one to the model reading them: each such junction is scanned as well (see
//! [`Collector::junctions`]), and a finding across it is reported in both parts.

use super::canonical::Canonical;
use super::{memo, Classification, Finding};
use serde_json::Value;
use std::collections::BTreeSet;

/// Request fields that steer the gateway and are removed before the body goes upstream.
pub const GATEWAY_FIELDS: &[&str] = &["model", "models", "provider", "route", "transforms", "plugins", "usage"];

/// Chat-completions parameters that carry no text when they have the expected JSON type
/// (numbers, booleans, enum words). The same key with a value of another type is scanned.
pub const NON_TEXT_PARAMETERS: &[&str] = &[
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "top_a",
    "min_p",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "seed",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "store",
    "reasoning_effort",
    "service_tier",
    "modalities",
    "verbosity",
    "include_reasoning",
    "encoding_format",
    "dimensions",
];

/// Every top-level field the OpenAI and OpenRouter chat schemas define (the rest are unknown).
pub const CHAT_FIELDS: &[&str] = &[
    "messages",
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "response_format",
    "stop",
    "logit_bias",
    "user",
    "metadata",
    "prediction",
    "reasoning",
    "audio",
    "web_search_options",
    "prompt",
    "safety_identifier",
    "prompt_cache_key",
];

/// Every top-level field of the embeddings schema besides the shared ones.
pub const EMBEDDINGS_FIELDS: &[&str] = &["input", "user", "encoding_format", "dimensions", "input_type"];

/// Message roles the chat schema allows.
pub const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// Keys of JSON Schema and of tool definitions: structure, not text. Their values are still walked.
const SCHEMA_KEYWORDS: &[&str] = &[
    "type",
    "function",
    "name",
    "description",
    "parameters",
    "properties",
    "items",
    "required",
    "enum",
    "const",
    "default",
    "examples",
    "title",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "$ref",
    "$defs",
    "definitions",
    "nullable",
    "strict",
    "schema",
    "json_schema",
    "content",
    "text",
];

/// Values of a `type` member that are schema or part tags, not text.
const TYPE_TAGS: &[&str] = &[
    "string",
    "number",
    "integer",
    "boolean",
    "object",
    "array",
    "null",
    "function",
    "text",
    "image_url",
    "input_audio",
    "file",
    "json_object",
    "json_schema",
    "content",
    "refusal",
];

/// Integers with at least this many digits are read as text (an account or AHV number sent as a
/// JSON number is still that number).
const IDENTIFIER_DIGITS: u32 = 6;

/// Characters scanned on each side of a junction between two texts: longer than any identifier
/// with its separators (an IBAN is at most 34 characters and 8 spaces).
const JUNCTION_REACH: usize = 64;

/// Append an object key to a path: `a.b` for plain keys, `a["odd key"]` otherwise.
pub fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    } else {
        let quoted = serde_json::to_string(key).unwrap_or_default();
        format!("{path}[{quoted}]")
    }
}

/// One step of the path being walked; rendered to a string only when something is found there.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn render(steps: &[Step<'_>]) -> String {
    let mut path = String::new();
    for step in steps {
        match step {
            Step::Key(k) => path = join_key(&path, k),
            Step::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

/// A text that reads on into the next one (message contents, text parts, embedding inputs).
struct Flowing<'a> {
    text: &'a str,
    path: String,
}

#[derive(Default)]
struct Collector<'a> {
    /// Whose earlier scans may be reused (`memo.rs`); `None`: scan everything.
    memo_scope: Option<&'a str>,
    steps: Vec<Step<'a>>,
    findings: Vec<Finding>,
    unscannable: Vec<String>,
    special: BTreeSet<&'static str>,
    flowing: Vec<Flowing<'a>>,
}

impl<'a> Collector<'a> {
    fn path(&self) -> String {
        render(&self.steps)
    }

    fn at<R>(&mut self, step: Step<'a>, f: impl FnOnce(&mut Self) -> R) -> R {
        self.steps.push(step);
        let r = f(self);
        self.steps.pop();
        r
    }

    /// Scan one text at the current path (or reuse its recent scan).
    fn text(&mut self, text: &str) {
        self.text_with(text, Self::path);
    }

    fn text_at(&mut self, text: &str, path: &str) {
        self.text_with(text, |_| path.to_string());
    }

    /// Scan one text; its path is only built when something was found.
    fn text_with(&mut self, text: &str, path: impl FnOnce(&Self) -> String) {
        let scan = memo::scan(text, self.memo_scope);
        self.special.extend(scan.special_categories);
        if scan.findings.is_empty() {
            return;
        }
        let path = path(self);
        for mut f in scan.findings {
            f.path.clone_from(&path);
            self.findings.push(f);
        }
    }

    /// A text the model reads in sequence with its neighbours: scanned, and kept for the junctions.
    fn flowing(&mut self, text: &'a str) {
        self.text(text);
        let path = self.path();
        self.flowing.push(Flowing { text, path });
    }

    fn unscannable_here(&mut self) {
        let path = self.path();
        self.unscannable.push(path);
    }

    /// Any JSON value whose schema says nothing more: every string, every object key (but JSON
    /// Schema's own keywords) and every long integer is text.
    fn any(&mut self, v: &'a Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Number(n) => {
                if let Some(digits) = long_integer(n) {
                    self.text(&digits);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.at(Step::Index(i), |c| c.any(item));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.at(Step::Key(k), |c| {
                        if !SCHEMA_KEYWORDS.contains(&k.as_str()) {
                            c.text(k);
                        }
                        match (k.as_str(), item) {
                            ("type", Value::String(t)) if TYPE_TAGS.contains(&t.as_str()) => {}
                            _ => c.any(item),
                        }
                    });
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Tool-call arguments: a JSON document inside a string. Scan its strings with their own
    /// paths; fall back to the raw string when it is not a JSON object or array.
    fn arguments(&mut self, args: &'a Value) {
        let Value::String(s) = args else {
            return self.any(args);
        };
        match serde_json::from_str::<Value>(s) {
            Ok(doc @ (Value::Object(_) | Value::Array(_))) => {
                let path = self.path();
                self.json_document(&doc, &path);
            }
            _ => self.text(s),
        }
    }

    /// A parsed document that lives shorter than the request: every string, key and long integer
    /// in it, with paths built as it goes.
    fn json_document(&mut self, v: &Value, path: &str) {
        match v {
            Value::String(s) => self.text_at(s, path),
            Value::Number(n) => {
                if let Some(digits) = long_integer(n) {
                    self.text_at(&digits, path);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_document(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let inner = join_key(path, k);
                    self.text_at(k, &inner);
                    self.json_document(item, &inner);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn content(&mut self, content: &'a Value) {
        match content {
            Value::String(s) => self.flowing(s),
            Value::Array(parts) => {
                for (j, part) in parts.iter().enumerate() {
                    self.at(Step::Index(j), |c| c.part(part));
                }
            }
            Value::Null => {}
            other => self.any(other),
        }
    }

    fn part(&mut self, part: &'a Value) {
        let Value::Object(obj) = part else {
            return match part {
                Value::String(s) => self.flowing(s),
                other => self.any(other),
            };
        };
        let mut carries_text = false;
        let mut media = false;
        for (k, v) in obj {
            self.at(Step::Key(k), |c| match (k.as_str(), v) {
                ("type", Value::String(_)) => {}
                ("text", Value::String(s)) => {
                    carries_text = true;
                    c.flowing(s);
                }
                ("refusal", Value::String(s)) => {
                    carries_text = true;
                    c.text(s);
                }
                ("image_url" | "input_audio" | "file" | "image" | "document", v) => {
                    media = true;
                    c.media(v);
                }
                _ => {
                    c.text(k);
                    c.any(v);
                }
            });
        }
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if media || (!carries_text && kind != "text") {
            self.unscannable_here();
        }
    }

    /// An image, audio or file part: its encoded data cannot be scanned (the part is listed as
    /// unscannable), but the names and links beside it are text.
    fn media(&mut self, v: &'a Value) {
        match v {
            Value::String(s) if s.starts_with("data:") => {}
            Value::Object(map) => {
                for (k, item) in map {
                    self.at(Step::Key(k), |c| match (k.as_str(), item) {
                        ("data" | "file_data", _) => {}
                        // Enum words (`low`, `wav`) only: any other value is text like the rest.
                        ("detail" | "format", v) if carries_no_text(v) => {}
                        ("url", Value::String(s)) if s.starts_with("data:") => {}
                        _ => c.any(item),
                    });
                }
            }
            other => self.any(other),
        }
    }

    fn message(&mut self, m: &'a Value) {
        let Value::Object(obj) = m else {
            return self.any(m);
        };
        for (k, v) in obj {
            self.at(Step::Key(k), |c| match (k.as_str(), v) {
                ("role", Value::String(r)) if ROLES.contains(&r.as_str()) => {}
                ("content", v) => c.content(v),
                ("tool_calls", Value::Array(calls)) => {
                    for (i, call) in calls.iter().enumerate() {
                        c.at(Step::Index(i), |c| c.tool_call(call));
                    }
                }
                ("function_call", Value::Object(_)) => c.tool_call_function(v),
                _ => c.any(v),
            });
        }
    }

    fn tool_call(&mut self, call: &'a Value) {
        let Value::Object(obj) = call else {
            return self.any(call);
        };
        for (k, v) in obj {
            self.at(Step::Key(k), |c| match (k.as_str(), v) {
                ("type", Value::String(t)) if t == "function" => {}
                ("function", Value::Object(_)) => c.tool_call_function(v),
                _ => c.any(v),
            });
        }
    }

    fn tool_call_function(&mut self, f: &'a Value) {
        let Value::Object(obj) = f else {
            return self.any(f);
        };
        for (k, v) in obj {
            self.at(Step::Key(k), |c| match k.as_str() {
                "arguments" => c.arguments(v),
                _ => c.any(v),
            });
        }
    }

    /// A top-level member of a chat or embeddings body.
    fn member(&mut self, k: &'a str, v: &'a Value) {
        if GATEWAY_FIELDS.contains(&k) {
            return; // never sent upstream
        }
        self.at(Step::Key(k), |c| match (k, v) {
            (_, v) if NON_TEXT_PARAMETERS.contains(&k) && carries_no_text(v) => {}
            ("messages", Value::Array(messages)) => {
                for (i, m) in messages.iter().enumerate() {
                    c.at(Step::Index(i), |c| c.message(m));
                }
            }
            ("tool_choice", Value::String(_)) => {}
            ("prompt", Value::String(s)) => c.flowing(s),
            _ => {
                if !CHAT_FIELDS.contains(&k) && !EMBEDDINGS_FIELDS.contains(&k) {
                    c.text(k);
                }
                c.any(v);
            }
        });
    }

    /// Scan where adjacent flowing texts meet, so that a value cut in two is found: the end of
    /// one and the start of the next joined by a space, and also with nothing between them
    /// (`CH93 00` + `76 2011`, `C` + `H93 …`, `anna` + `@example.ch`). A finding across the junction is
    /// reported in both texts, each with its own part.
    fn junctions(&mut self) {
        let flowing = std::mem::take(&mut self.flowing);
        for pair in flowing.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if !could_continue(a.text, b.text) {
                continue;
            }
            let left = tail(a.text, JUNCTION_REACH);
            let right = head(b.text, JUNCTION_REACH);
            // Where either side already has the space, the two are read as they are.
            let spaced = left.ends_with(char::is_whitespace) || right.starts_with(char::is_whitespace);
            if spaced {
                self.junction(a, b, left, right, "");
                continue;
            }
            self.junction(a, b, left, right, " ");
            self.junction(a, b, left, right, "");
        }
    }

    fn junction(&mut self, a: &Flowing<'_>, b: &Flowing<'_>, left: &str, right: &str, sep: &str) {
        let joined = format!("{left}{sep}{right}");
        let scan = memo::scan(&joined, self.memo_scope);
        self.special.extend(scan.special_categories);
        let left_chars = left.chars().count();
        let right_from = left_chars + sep.chars().count();
        let a_chars = a.text.chars().count();
        for f in scan.findings {
            if f.start >= left_chars || f.end <= right_from {
                continue; // within one text: already found there
            }
            let a_start = a_chars - (left_chars - f.start);
            let b_end = f.end - right_from;
            let in_a: String = a.text.chars().skip(a_start).collect();
            let in_b: String = b.text.chars().take(b_end).collect();
            let part = |path: &str, start, end, text| Finding { path: path.to_string(), start, end, text, ..f.clone() };
            self.findings.push(part(&a.path, a_start, a_chars, in_a));
            self.findings.push(part(&b.path, 0, b_end, in_b));
        }
    }

    fn finish(mut self) -> Classification {
        self.junctions();
        let special = self.special.into_iter().map(str::to_string).collect();
        Classification::from_parts(self.findings, self.unscannable, special)
    }
}

/// The decimal digits of an integer long enough to be an identifier.
fn long_integer(n: &serde_json::Number) -> Option<String> {
    let digits = n.as_u64().map(|u| u.to_string()).or_else(|| n.as_i64().map(|i| i.unsigned_abs().to_string()))?;
    (digits.len() as u32 >= IDENTIFIER_DIGITS).then_some(digits)
}

/// A parameter value of the type its schema gives it: numbers, booleans, enum words (at most 32
/// ASCII letters, digits, `-` or `_`), and objects or lists of those.
fn carries_no_text(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => true,
        Value::Number(n) => long_integer(n).is_none() || n.is_f64(),
        Value::String(s) => enum_word(s),
        Value::Array(items) => items.iter().all(carries_no_text),
        // Keys are words too: a key with spaces may be an account number written out.
        Value::Object(map) => map.iter().all(|(k, v)| enum_word(k) && carries_no_text(v)),
    }
}

/// At most 32 ASCII letters, digits, `-` or `_`: an enum word or a parameter name.
fn enum_word(s: &str) -> bool {
    s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the end of `a` and the start of `b` could be two halves of one value: letters,
/// digits or the joiners of numbers and addresses meet there (prose that ends a sentence and
/// starts the next with a capital does not).
fn could_continue(a: &str, b: &str) -> bool {
    // The edges as the scanner reads them: `．` as `.`, `＠` as `@`, zero-width characters gone.
    let (a, b) = (Canonical::new(tail(a, 8)), Canonical::new(head(b, 8)));
    let (Some(end), Some(start)) = (a.text().trim_end().chars().next_back(), b.text().trim_start().chars().next())
    else {
        return false;
    };
    let joiner = |c: char| matches!(c, '@' | '+' | '-' | '_' | '/' | '(' | '.');
    let end_ok = end.is_alphanumeric() || (joiner(end) && end != '.') || (end == '.' && !start.is_uppercase());
    end_ok && (start.is_alphanumeric() || joiner(start))
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let from = s.char_indices().rev().nth(n.saturating_sub(1)).map_or(0, |(i, _)| i);
    &s[from..]
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    let to = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    &s[..to]
}

/// Classify a chat-completions body; `memo_scope` names whose earlier scans may be reused.
pub fn classify_chat(body: &Value, memo_scope: Option<&str>) -> Classification {
    let mut c = Collector { memo_scope, ..Collector::default() };
    match body {
        Value::Object(map) => {
            for (k, v) in map {
                c.member(k, v);
            }
        }
        other => c.any(other),
    }
    c.finish()
}

/// Classify an embeddings body; `memo_scope` as for [`classify_chat`].
pub fn classify_embeddings(body: &Value, memo_scope: Option<&str>) -> Classification {
    let mut c = Collector { memo_scope, ..Collector::default() };
    let Value::Object(map) = body else {
        c.any(body);
        return c.finish();
    };
    for (k, v) in map {
        if k != "input" {
            c.member(k, v);
            continue;
        }
        c.at(Step::Key(k), |c| match v {
            Value::String(s) => c.flowing(s),
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_number) => c.unscannable_here(),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    c.at(Step::Index(i), |c| match item {
                        Value::String(s) => c.flowing(s),
                        Value::Array(tokens) if tokens.iter().all(Value::is_number) => c.unscannable_here(),
                        other => c.any(other),
                    });
                }
            }
            other => c.any(other),
        });
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junction_windows_take_characters_not_bytes() {
        assert_eq!(tail("Grüße", 3), "üße");
        assert_eq!(head("Grüße", 3), "Grü");
        assert_eq!(tail("ab", 10), "ab");
    }

    #[test]
    fn media_details_and_parameter_keys_are_skipped_only_as_words() {
        let iban = "IBAN CH93 0076 2011 6238 5295 7";
        let bodies = [
            serde_json::json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://example.org/a.png", "detail": iban}}]}]}),
            serde_json::json!({"messages": [{"role": "user", "content": "hi"}], "stream_options": {iban: true}}),
        ];
        for body in bodies {
            let found = classify_chat(&body, None).entity_types();
            assert!(found.contains("IBAN_CODE"), "{body}");
        }
        let words = serde_json::json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.org/a.png", "detail": "low"}}]}],
            "stream_options": {"include_usage": true}});
        assert!(classify_chat(&words, None).findings.is_empty());
    }

    #[test]
    fn sentences_do_not_continue_but_halves_of_values_do() {
        assert!(!could_continue("Danke.", "Bitte"));
        assert!(could_continue("CH93 0076 ", "2011 6238"));
        assert!(could_continue("Anna", "Müller"));
        assert!(could_continue("anna.keller@", "example.ch"));
    }
}
