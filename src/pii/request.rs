//! Walking request bodies: every place text enters an OpenAI-style chat or embeddings request is
//! scanned and findings are tagged with a path (`messages[2].content`,
//! `messages[0].content[1].text`, `messages[3].tool_calls[0].function.arguments.iban`, `user`,
//! `input[4]`). Tool definitions are not personal data and are skipped; images, audio and files
//! are listed as unscannable.

use super::{memo, Classification, Finding};
use serde_json::Value;
use std::collections::BTreeSet;

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

#[derive(Default)]
struct Collector<'a> {
    /// Whose earlier scans may be reused (`memo.rs`); `None`: scan everything.
    memo_scope: Option<&'a str>,
    findings: Vec<Finding>,
    unscannable: Vec<String>,
    special: BTreeSet<&'static str>,
}

impl Collector<'_> {
    /// Scan one text (or reuse its recent scan); the path is only built when something was found.
    fn text(&mut self, text: &str, path: impl FnOnce() -> String) {
        let scan = memo::scan(text, self.memo_scope);
        self.special.extend(scan.special_categories);
        if scan.findings.is_empty() {
            return;
        }
        let path = path();
        for mut f in scan.findings {
            f.path.clone_from(&path);
            self.findings.push(f);
        }
    }

    /// Tool-call arguments: a JSON document inside a string. Scan its string values with their
    /// own paths; fall back to the raw string when it is not a JSON object or array.
    fn arguments(&mut self, args: &str, path: &str) {
        match serde_json::from_str::<Value>(args) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => self.json_strings(&v, path),
            _ => self.text(args, || path.to_string()),
        }
    }

    fn json_strings(&mut self, v: &Value, path: &str) {
        match v {
            Value::String(s) => self.text(s, || path.to_string()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_strings(item, &format!("{path}[{i}]"));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.json_strings(item, &join_key(path, k));
                }
            }
            _ => {}
        }
    }

    fn content(&mut self, content: &Value, base: &str) {
        match content {
            Value::String(s) => self.text(s, || format!("{base}.content")),
            Value::Array(parts) => {
                for (j, part) in parts.iter().enumerate() {
                    self.part(part, &format!("{base}.content[{j}]"));
                }
            }
            _ => {}
        }
    }

    fn part(&mut self, part: &Value, path: &str) {
        match part {
            Value::String(s) => self.text(s, || path.to_string()),
            Value::Object(obj) => {
                let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
                let mut scanned = false;
                for field in ["text", "refusal"] {
                    if let Some(s) = obj.get(field).and_then(Value::as_str) {
                        self.text(s, || format!("{path}.{field}"));
                        scanned = true;
                    }
                }
                if !scanned && kind != "text" {
                    // image_url, input_audio, file, image, document, ...: policy decides.
                    self.unscannable.push(path.to_string());
                }
            }
            _ => {}
        }
    }

    fn message(&mut self, m: &Value, i: usize) {
        let base = format!("messages[{i}]");
        if let Some(c) = m.get("content") {
            self.content(c, &base);
        }
        for field in ["name", "refusal", "reasoning", "reasoning_content"] {
            if let Some(s) = m.get(field).and_then(Value::as_str) {
                self.text(s, || format!("{base}.{field}"));
            }
        }
        if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
            for (k, call) in calls.iter().enumerate() {
                if let Some(args) = field_str(call, "function", "arguments") {
                    self.arguments(args, &format!("{base}.tool_calls[{k}].function.arguments"));
                }
            }
        }
        if let Some(args) = field_str(m, "function_call", "arguments") {
            self.arguments(args, &format!("{base}.function_call.arguments"));
        }
    }

    fn finish(self) -> Classification {
        let special = self.special.into_iter().map(str::to_string).collect();
        Classification::from_parts(self.findings, self.unscannable, special)
    }
}

/// `v[outer][inner]` as a string. (`Value::pointer` would allocate two strings per path segment,
/// for every message of every request.)
fn field_str<'a>(v: &'a Value, outer: &str, inner: &str) -> Option<&'a str> {
    v.get(outer)?.get(inner)?.as_str()
}

/// Classify a chat-completions body; `memo_scope` names whose earlier scans may be reused.
pub fn classify_chat(body: &Value, memo_scope: Option<&str>) -> Classification {
    let mut c = Collector { memo_scope, ..Collector::default() };
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for (i, m) in messages.iter().enumerate() {
            c.message(m, i);
        }
    }
    // OpenRouter also accepts a bare `prompt` on the chat endpoint.
    for field in ["prompt", "user"] {
        if let Some(s) = body.get(field).and_then(Value::as_str) {
            c.text(s, || field.to_string());
        }
    }
    c.finish()
}

/// Classify an embeddings body; `memo_scope` as for [`classify_chat`].
pub fn classify_embeddings(body: &Value, memo_scope: Option<&str>) -> Classification {
    let mut c = Collector { memo_scope, ..Collector::default() };
    match body.get("input") {
        Some(Value::String(s)) => c.text(s, || "input".to_string()),
        Some(Value::Array(items)) => {
            if items.iter().all(Value::is_number) && !items.is_empty() {
                c.unscannable.push("input".to_string());
            }
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => c.text(s, || format!("input[{i}]")),
                    Value::Array(_) => c.unscannable.push(format!("input[{i}]")),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if let Some(s) = body.get("user").and_then(Value::as_str) {
        c.text(s, || "user".to_string());
    }
    c.finish()
}
