//! Anthropic stream events -> OpenAI `chat.completion.chunk`s.
//!
//! The HTTP layer parses the upstream SSE stream and hands each event's JSON `data` (which carries
//! its own `type`, so the `event:` line can be ignored) to [`StreamTranslator::on_event`], then
//! writes every returned chunk as `data: <json>\n\n`, and `data: [DONE]\n\n` after `message_stop`.
//!
//! Chunk sequence produced: a role chunk at `message_start`; content chunks for text deltas; for
//! each `tool_use` block a chunk with `index`, `id`, `type` and `name` followed by chunks carrying
//! argument fragments; a finish chunk (empty delta, `finish_reason`) at `message_delta`; and at
//! `message_stop` a usage chunk with empty `choices`, as OpenAI sends with `include_usage`.
//!
//! An `error` event is returned as `Err(TranslateError::Upstream)`: the caller decides whether it
//! can still fall back (nothing sent to the client yet) or must end the client's stream with an
//! error event.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::egress::{finish_reason, openai_usage, upstream_error, JSON_ANSWER_TOOL};
use super::{as_object, count, invalid, opt, opt_str, req_str, TranslateError};

/// Per-stream state for translating Anthropic events into OpenAI chunks.
#[derive(Debug)]
pub struct StreamTranslator {
    model: String,
    id: String,
    created: i64,
    /// Usage as reported by `message_start` (input and cache counts).
    start_usage: Option<Value>,
    /// Cumulative output tokens from the latest `message_delta`.
    output_tokens: Option<u64>,
    /// Anthropic content block index -> OpenAI tool call index.
    tool_index: HashMap<u64, usize>,
    /// Content block indexes of the JSON-mode answer tool: their input is the message's content.
    json_answer: std::collections::HashSet<u64>,
    finished: bool,
}

impl StreamTranslator {
    /// `model` is the name the client sees in every chunk.
    pub fn new(model: &str) -> Self {
        StreamTranslator {
            model: model.to_string(),
            id: String::new(),
            created: chrono::Utc::now().timestamp(),
            start_usage: None,
            output_tokens: None,
            tool_index: HashMap::new(),
            json_answer: std::collections::HashSet::new(),
            finished: false,
        }
    }

    /// The upstream message id (`msg_...`), known after `message_start`.
    pub fn message_id(&self) -> &str {
        &self.id
    }

    /// Whether `message_stop` has been seen (the stream is complete).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Usage so far in OpenAI shape (prompt, completion, total, cached), for the audit entry when a
    /// stream ends early.
    pub fn usage(&self) -> Value {
        openai_usage(self.start_usage.as_ref(), self.output_tokens)
    }

    /// Translate one event's JSON data into zero or more OpenAI chunks. Unknown event and delta
    /// types yield nothing (Anthropic adds new ones over time); `ping` yields nothing.
    pub fn on_event(&mut self, data: &Value) -> Result<Vec<Value>, TranslateError> {
        let ev = as_object(data, "event")?;
        match req_str(ev, "type", "event.type")? {
            "message_start" => self.message_start(ev),
            "content_block_start" => self.block_start(ev),
            "content_block_delta" => self.block_delta(ev),
            "message_delta" => self.message_delta(ev),
            "message_stop" => self.message_stop(),
            "error" => Err(upstream_error(ev)),
            // ping, content_block_stop and future event types carry nothing to forward.
            _ => Ok(Vec::new()),
        }
    }

    fn message_start(&mut self, ev: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
        let msg = as_object(
            opt(ev, "message").ok_or_else(|| TranslateError::Missing("message_start.message".into()))?,
            "message_start.message",
        )?;
        self.id = opt_str(msg, "id", "message_start.message.id")?.unwrap_or("").to_string();
        self.start_usage = opt(msg, "usage").cloned();
        Ok(vec![self.chunk(json!({ "role": "assistant", "content": "" }), None)])
    }

    fn block_start(&mut self, ev: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
        let index = block_index(ev)?;
        let block = as_object(
            opt(ev, "content_block").ok_or_else(|| TranslateError::Missing("content_block".into()))?,
            "content_block",
        )?;
        match req_str(block, "type", "content_block.type")? {
            "text" => {
                let text = opt_str(block, "text", "content_block.text")?.unwrap_or("");
                Ok(self.text_chunk(text))
            }
            "tool_use" if opt_str(block, "name", "content_block.name")? == Some(JSON_ANSWER_TOOL) => {
                self.json_answer.insert(index);
                Ok(Vec::new())
            }
            "tool_use" => {
                let id = req_str(block, "id", "content_block.id")?;
                let name = req_str(block, "name", "content_block.name")?;
                let n = self.tool_index.len();
                self.tool_index.insert(index, n);
                let call = json!({
                    "index": n, "id": id, "type": "function",
                    "function": { "name": name, "arguments": "" },
                });
                Ok(vec![self.chunk(json!({ "tool_calls": [call] }), None)])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn block_delta(&mut self, ev: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
        let index = block_index(ev)?;
        let delta = as_object(
            opt(ev, "delta").ok_or_else(|| TranslateError::Missing("content_block_delta.delta".into()))?,
            "content_block_delta.delta",
        )?;
        match req_str(delta, "type", "delta.type")? {
            "text_delta" => Ok(self.text_chunk(req_str(delta, "text", "delta.text")?)),
            "input_json_delta" => {
                let part = req_str(delta, "partial_json", "delta.partial_json")?;
                if self.json_answer.contains(&index) {
                    return Ok(self.text_chunk(part));
                }
                self.arguments_chunk(index, part)
            }
            "thinking_delta" => {
                let t = req_str(delta, "thinking", "delta.thinking")?;
                Ok(self.nonempty_chunk("reasoning", t))
            }
            // signature_delta, citations_delta and future kinds have no OpenAI counterpart.
            _ => Ok(Vec::new()),
        }
    }

    fn arguments_chunk(&self, index: u64, part: &str) -> Result<Vec<Value>, TranslateError> {
        let Some(&n) = self.tool_index.get(&index) else {
            return Err(invalid(
                "content_block_delta",
                format!("input_json_delta for block {index}, which is not a tool_use block"),
            ));
        };
        if part.is_empty() {
            return Ok(Vec::new());
        }
        let call = json!({ "index": n, "function": { "arguments": part } });
        Ok(vec![self.chunk(json!({ "tool_calls": [call] }), None)])
    }

    fn message_delta(&mut self, ev: &Map<String, Value>) -> Result<Vec<Value>, TranslateError> {
        if let Some(u) = opt(ev, "usage").and_then(Value::as_object) {
            self.merge_delta_usage(u);
        }
        let stop = opt(ev, "delta")
            .and_then(Value::as_object)
            .map(|d| opt_str(d, "stop_reason", "message_delta.delta.stop_reason"))
            .transpose()?
            .flatten();
        let Some(stop) = stop else {
            return Ok(Vec::new());
        };
        // The JSON-mode tool call is the answer itself, not a call for the client to make.
        let answered = stop == "tool_use" && self.tool_index.is_empty() && !self.json_answer.is_empty();
        let mut chunk = self.chunk(json!({}), Some(if answered { "stop" } else { finish_reason(stop) }));
        chunk["choices"][0]["native_finish_reason"] = json!(stop);
        Ok(vec![chunk])
    }

    /// `message_delta` usage is cumulative; newer API versions also repeat input and cache counts
    /// there, which then replace the `message_start` figures.
    fn merge_delta_usage(&mut self, u: &Map<String, Value>) {
        if let Some(out) = u.get("output_tokens").and_then(Value::as_u64) {
            self.output_tokens = Some(out);
        }
        let start = self.start_usage.get_or_insert_with(|| json!({}));
        for key in ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] {
            if let Some(v) = u.get(key).filter(|v| v.is_u64()) {
                if let Some(obj) = start.as_object_mut() {
                    obj.insert(key.into(), v.clone());
                }
            }
        }
    }

    fn message_stop(&mut self) -> Result<Vec<Value>, TranslateError> {
        self.finished = true;
        Ok(vec![json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": self.usage(),
        })])
    }

    fn text_chunk(&self, text: &str) -> Vec<Value> {
        self.nonempty_chunk("content", text)
    }

    fn nonempty_chunk(&self, key: &str, text: &str) -> Vec<Value> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut delta = Map::new();
        delta.insert(key.into(), Value::String(text.to_string()));
        vec![self.chunk(Value::Object(delta), None)]
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    }
}

fn block_index(ev: &Map<String, Value>) -> Result<u64, TranslateError> {
    match opt(ev, "index") {
        Some(v) if v.is_u64() => Ok(count(Some(v))),
        Some(_) => Err(super::wrong("index", "a non-negative integer")),
        None => Err(TranslateError::Missing("index".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut StreamTranslator, events: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        for e in events {
            match t.on_event(e) {
                Ok(chunks) => out.extend(chunks),
                Err(err) => panic!("event {e} failed: {err}"),
            }
        }
        out
    }

    fn start(input: u64) -> Value {
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": 1, "cache_read_input_tokens": 4}}})
    }

    #[test]
    fn the_json_answer_tool_streams_as_content_and_ends_as_stop() {
        let mut t = StreamTranslator::new("client-model");
        let chunks = feed(
            &mut t,
            &[
                start(5),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1",
                    "name": JSON_ANSWER_TOOL, "input": {}}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ": \"Bern\"}"}}),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
                json!({"type": "message_stop"}),
            ],
        );
        let text: String =
            chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/content").and_then(Value::as_str)).collect();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"city": "Bern"}));
        assert!(chunks.iter().all(|c| c.pointer("/choices/0/delta/tool_calls").is_none()));
        let finish = chunks.iter().find_map(|c| c.pointer("/choices/0/finish_reason").and_then(Value::as_str));
        assert_eq!(finish, Some("stop"));
    }

    #[test]
    fn text_stream_gives_role_content_finish_and_usage_chunks() {
        let mut t = StreamTranslator::new("client-model");
        let chunks = feed(
            &mut t,
            &[
                start(25),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                json!({"type": "ping"}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 15}}),
                json!({"type": "message_stop"}),
            ],
        );
        assert_eq!(chunks.len(), 5);
        assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
        assert_eq!(chunks[0]["model"], "client-model");
        assert_eq!(chunks[0]["id"], "msg_1");
        assert_eq!(chunks[1]["choices"][0]["delta"], json!({"content": "Hello"}));
        assert_eq!(chunks[2]["choices"][0]["delta"], json!({"content": "!"}));
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[3]["choices"][0]["delta"], json!({}));
        assert_eq!(chunks[4]["choices"], json!([]));
        assert_eq!(
            chunks[4]["usage"],
            json!({"prompt_tokens": 29, "completion_tokens": 15, "total_tokens": 44,
                   "prompt_tokens_details": {"cached_tokens": 4}})
        );
        assert!(t.is_finished());
        assert_eq!(t.message_id(), "msg_1");
    }

    #[test]
    fn tool_use_with_split_json_gives_indexed_tool_call_chunks() {
        let mut t = StreamTranslator::new("m");
        let chunks = feed(
            &mut t,
            &[
                start(10),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Let me"}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {}}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Be"}}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "rn\"}"}}),
                json!({"type": "content_block_stop", "index": 1}),
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_b", "name": "time", "input": {}}}),
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}}),
                json!({"type": "message_stop"}),
            ],
        );
        let calls: Vec<&Value> = chunks.iter().filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0")).collect();
        assert_eq!(calls.len(), 5);
        assert_eq!(
            calls[0],
            &json!({"index": 0, "id": "toolu_a", "type": "function", "function": {"name": "weather", "arguments": ""}})
        );
        let args: String = calls[1..3].iter().filter_map(|c| c.pointer("/function/arguments")?.as_str()).collect();
        assert_eq!(args, "{\"city\": \"Bern\"}");
        assert_eq!(calls[3]["index"], 1);
        assert_eq!(calls[3]["id"], "toolu_b");
        assert_eq!(calls[4], &json!({"index": 1, "function": {"arguments": "{}"}}));
        let finish = chunks.iter().find_map(|c| c.pointer("/choices/0/finish_reason")?.as_str());
        assert_eq!(finish, Some("tool_calls"));
    }

    #[test]
    fn error_event_is_an_upstream_error_with_status() {
        let mut t = StreamTranslator::new("m");
        let err = t.on_event(&json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
        match err {
            Err(e @ TranslateError::Upstream { .. }) => assert_eq!(e.status(), 529),
            other => panic!("expected upstream error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_events_are_errors_and_unknown_ones_are_ignored() {
        let mut t = StreamTranslator::new("m");
        assert!(t.on_event(&json!("text")).is_err());
        assert!(t.on_event(&json!({"no": "type"})).is_err());
        assert!(t.on_event(&json!({"type": "message_start"})).is_err());
        assert!(t
            .on_event(&json!({"type": "content_block_delta", "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": "{"}}))
            .is_err());
        assert!(t
            .on_event(&json!({"type": "content_block_delta", "index": -1,
            "delta": {"type": "text_delta", "text": "x"}}))
            .is_err());
        assert_eq!(t.on_event(&json!({"type": "brand_new_event"})), Ok(Vec::new()));
        assert_eq!(
            t.on_event(&json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": "x"}})),
            Ok(Vec::new())
        );
    }

    #[test]
    fn late_input_counts_in_message_delta_replace_start_counts() {
        let mut t = StreamTranslator::new("m");
        feed(
            &mut t,
            &[
                start(5),
                json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                   "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 0}}),
            ],
        );
        assert_eq!(t.usage()["prompt_tokens"], 7);
        assert_eq!(t.usage()["completion_tokens"], 3);
        assert!(!t.is_finished());
    }
}
