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
            started: false,
            done: false,
            open: None,
            next_block: 0,
            tool_blocks: HashMap::new(),
            finish_reason: None,
            usage: None,
        }
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
        events.push((
            "message_start",
            json!({
                "type": "message_start",
                "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": Value::Null, "stop_sequence": Value::Null,
                    "usage": { "input_tokens": 0, "output_tokens": 0 },
                },
            }),
        ));
    }

    fn error_event(&mut self, err: &Value) -> Event {
        self.done = true;
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| err.as_str())
            .unwrap_or("upstream error");
        let status = err
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        ("error", error_body(status, message))
    }

    fn on_delta(&mut self, delta: &Value, events: &mut Vec<Event>) {
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                let index = self.text_block(events);
                events.push(block_delta(
                    index,
                    json!({ "type": "text_delta", "text": text }),
                ));
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
        let key = call
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(self.tool_blocks.len() as u64);
        let index = match self.tool_blocks.get(&key) {
            Some(&i) => i,
            None => self.start_tool(key, call, events),
        };
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !args.is_empty() {
            events.push(block_delta(
                index,
                json!({ "type": "input_json_delta", "partial_json": args }),
            ));
        }
    }

    fn start_tool(&mut self, key: u64, call: &Value, events: &mut Vec<Event>) -> u64 {
        self.close_block(events);
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("toolu_{}_{key}", self.id),
        };
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
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
            events.push((
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": i }),
            ));
        }
    }
}

fn block_delta(index: u64, delta: Value) -> Event {
    (
        "content_block_delta",
        json!({ "type": "content_block_delta", "index": index, "delta": delta }),
    )
}
