//! OpenAI `chat.completion.chunk`s -> the Anthropic Messages event sequence, for clients streaming
//! from the gateway's `POST /v1/messages`.
//!
//! The HTTP layer writes each returned pair as `event: <name>\ndata: <json>\n\n`; the Anthropic
//! SDKs dispatch on the `event:` name, so it must be sent. The sequence is: `message_start`, then
//! for each content block `content_block_start`, its deltas (`text_delta` or `input_json_delta`)
//! and `content_block_stop`, with block indexes counting from 0 in order; then `message_delta`
//! (stop reason and usage) and `message_stop`, emitted by [`MessagesStreamEncoder::finish`] once
//! the upstream stream has ended (OpenAI sends usage after the finish reason, so the encoder waits).
//! An upstream chunk carrying `error` yields an `error` event and ends the stream.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::ingress::{anthropic_usage, error_body, stop_reason};

/// The kind of the content block currently open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u64),
    Tool(u64),
}

/// Per-stream state for encoding OpenAI chunks as Anthropic events.
#[derive(Debug)]
pub struct MessagesStreamEncoder {
    model: String,
    id: String,
    /// The provider serving the stream, named in `message_start` as OpenRouter names it.
    provider: Option<String>,
    started: bool,
    done: bool,
    open: Option<Open>,
    next_block: u64,
    /// OpenAI tool call index -> Anthropic content block index.
    tool_blocks: HashMap<u64, u64>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

/// One event: its SSE name and its JSON data.
pub type Event = (&'static str, Value);

impl MessagesStreamEncoder {
    /// `model` is the name the client asked for; `id` the message id to report (e.g. `msg_...`).
    pub fn new(model: &str, id: &str) -> Self {
        MessagesStreamEncoder {
            model: model.to_string(),
            id: id.to_string(),
            provider: None,
            started: false,
            done: false,
            open: None,
            next_block: 0,
            tool_blocks: HashMap::new(),
            finish_reason: None,
            usage: None,
        }
    }

    /// Name the provider in the `message_start` event's message.
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_string());
        self
    }

    /// Encode one upstream chunk. Chunks after the end (or after an error) yield nothing.
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done {
            return events;
        }
        self.start(&mut events);
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            events.push(self.error_event(err));
            return events;
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return events;
        };
        if let Some(delta) = choice.get("delta") {
            self.on_delta(delta, &mut events);
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(f.to_string());
        }
        events
    }

    /// Close the stream: close the open block, then `message_delta` and `message_stop`. Call once
    /// the upstream ended (after `[DONE]`); later calls yield nothing.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done {
            return events;
        }
        self.start(&mut events);
        self.close_block(&mut events);
        let usage = anthropic_usage(self.usage.as_ref());
        events.push((
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop_reason(self.finish_reason.as_deref()),
                    "stop_sequence": Value::Null,
                },
                "usage": usage,
            }),
        ));
        events.push(("message_stop", json!({ "type": "message_stop" })));
        self.done = true;
        events
    }

    /// An `error` event for a failure the gateway detected mid-stream (upstream reset, timeout);
    /// ends the stream. `status` picks the Anthropic error type.
    pub fn fail(&mut self, status: u16, message: &str) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![("error", error_body(status, message))]
    }

    fn start(&mut self, events: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut message = json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": Value::Null, "stop_sequence": Value::Null,
            "usage": { "input_tokens": 0, "output_tokens": 0 },
        });
        if let Some(p) = &self.provider {
            message["provider"] = json!(p);
        }
        events.push(("message_start", json!({ "type": "message_start", "message": message })));
    }

    fn error_event(&mut self, err: &Value) -> Event {
        self.done = true;
        let message = err.get("message").and_then(Value::as_str).or_else(|| err.as_str()).unwrap_or("upstream error");
        let status = err.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
        ("error", error_body(status, message))
    }

    fn on_delta(&mut self, delta: &Value, events: &mut Vec<Event>) {
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                let index = self.text_block(events);
                events.push(block_delta(index, json!({ "type": "text_delta", "text": text })));
            }
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            self.on_tool_call(call, events);
        }
    }

    /// The open text block's index, opening one (and closing a tool block) if needed.
    fn text_block(&mut self, events: &mut Vec<Event>) -> u64 {
        if let Some(Open::Text(i)) = self.open {
            return i;
        }
        self.close_block(events);
        let index = self.open_block(json!({ "type": "text", "text": "" }), events);
        self.open = Some(Open::Text(index));
        index
    }

    fn on_tool_call(&mut self, call: &Value, events: &mut Vec<Event>) {
        // Chunks without an index come from providers that send one call per chunk in full.
        let key = call.get("index").and_then(Value::as_u64).unwrap_or(self.tool_blocks.len() as u64);
        let index = match self.tool_blocks.get(&key) {
            Some(&i) => i,
            None => self.start_tool(key, call, events),
        };
        let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("");
        if !args.is_empty() {
            events.push(block_delta(index, json!({ "type": "input_json_delta", "partial_json": args })));
        }
    }

    fn start_tool(&mut self, key: u64, call: &Value, events: &mut Vec<Event>) -> u64 {
        self.close_block(events);
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("toolu_{}_{key}", self.id),
        };
        let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or("");
        let block = json!({ "type": "tool_use", "id": id, "name": name, "input": {} });
        let index = self.open_block(block, events);
        self.tool_blocks.insert(key, index);
        self.open = Some(Open::Tool(index));
        index
    }

    fn open_block(&mut self, block: Value, events: &mut Vec<Event>) -> u64 {
        let index = self.next_block;
        self.next_block += 1;
        events.push((
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": block }),
        ));
        index
    }

    fn close_block(&mut self, events: &mut Vec<Event>) {
        if let Some(Open::Text(i) | Open::Tool(i)) = self.open.take() {
            events.push(("content_block_stop", json!({ "type": "content_block_stop", "index": i })));
        }
    }
}

fn block_delta(index: u64, delta: Value) -> Event {
    ("content_block_delta", json!({ "type": "content_block_delta", "index": index, "delta": delta }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Value, finish: Option<&str>) -> Value {
        json!({"id": "gen-1", "object": "chat.completion.chunk", "model": "m",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    fn run(chunks: &[Value]) -> Vec<Event> {
        let mut enc = MessagesStreamEncoder::new("claude-x", "msg_9");
        let mut out: Vec<Event> = chunks.iter().flat_map(|c| enc.on_chunk(c)).collect();
        out.extend(enc.finish());
        assert!(enc.finish().is_empty(), "finish must be idempotent");
        out
    }

    fn names(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn text_stream_gives_the_anthropic_event_sequence() {
        let events = run(&[
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "Hel"}), None),
            chunk(json!({"content": "lo"}), None),
            chunk(json!({}), Some("stop")),
            json!({"id": "gen-1", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}}),
        ]);
        assert_eq!(
            names(&events),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        for (name, data) in &events {
            assert_eq!(data["type"], *name);
        }
        let start = &events[0].1["message"];
        assert_eq!(start["id"], "msg_9");
        assert_eq!(start["model"], "claude-x");
        assert_eq!(start["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
        assert_eq!(events[1].1["content_block"], json!({"type": "text", "text": ""}));
        assert_eq!(events[2].1["delta"], json!({"type": "text_delta", "text": "Hel"}));
        assert_eq!(events[5].1["delta"]["stop_reason"], "end_turn");
        assert_eq!(events[5].1["usage"]["input_tokens"], 12);
        assert_eq!(events[5].1["usage"]["output_tokens"], 2);
    }

    #[test]
    fn tool_calls_become_tool_use_blocks_with_json_deltas() {
        let events = run(&[
            chunk(json!({"content": "Checking"}), None),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
                None,
            ),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Bern\"}"}}]}), None),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": "time", "arguments": "{}"}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
        ]);
        assert_eq!(
            names(&events),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(
            events[4].1,
            json!({"type": "content_block_start", "index": 1,
                   "content_block": {"type": "tool_use", "id": "call_1", "name": "weather", "input": {}}})
        );
        assert_eq!(events[5].1["delta"], json!({"type": "input_json_delta", "partial_json": "{\"city\":"}));
        assert_eq!(events[8].1["index"], 2);
        assert_eq!(events[9].1["index"], 2);
        assert_eq!(events[11].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn empty_stream_still_yields_a_complete_message() {
        let events = run(&[]);
        assert_eq!(names(&events), ["message_start", "message_delta", "message_stop"]);
    }

    #[test]
    fn upstream_error_chunk_ends_the_stream_with_an_error_event() {
        let mut enc = MessagesStreamEncoder::new("m", "msg_1");
        enc.on_chunk(&chunk(json!({"content": "partial"}), None));
        let events = enc.on_chunk(&json!({"error": {"code": 429, "message": "slow down"}}));
        assert_eq!(
            events,
            vec![("error", json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}))]
        );
        assert!(enc.finish().is_empty());
        assert!(enc.on_chunk(&chunk(json!({"content": "more"}), None)).is_empty());
        assert!(enc.fail(500, "x").is_empty());
    }

    #[test]
    fn gateway_failure_mid_stream_gives_an_error_event() {
        let mut enc = MessagesStreamEncoder::new("m", "msg_1");
        enc.on_chunk(&chunk(json!({"content": "partial"}), None));
        let events = enc.fail(504, "upstream timed out");
        assert_eq!(events[0].1["error"]["type"], "timeout_error");
        assert!(enc.finish().is_empty());
    }
}
