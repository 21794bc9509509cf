//! Chat chunks as the typed Responses stream events, each with its `sequence_number`:
//! `response.created` and `response.in_progress` first; for the model's reasoning
//! `response.output_item.added`, `response.reasoning_text.delta`s, `response.reasoning_text.done`,
//! `response.output_item.done`; for the text `response.output_item.added`,
//! `response.content_part.added`, `response.output_text.delta`s, then `response.output_text.done`,
//! `response.content_part.done`, `response.output_item.done`; for each tool call
//! `response.output_item.added`, `response.function_call_arguments.delta`s,
//! `response.function_call_arguments.done`, `response.output_item.done`; and last
//! `response.completed` (or `response.incomplete`) with the whole response and its usage, from
//! [`ResponsesStreamEncoder::finish`] once the upstream ended (usage arrives after the finish
//! reason). A failure gives an `error` event, which the SDKs raise.

use serde_json::{json, Map, Value};

use super::{call_item_id, message_id, reasoning_id, reasoning_text, response_frame, status_of, usage};

/// One event: its SSE name (also its `type`) and its JSON data.
pub type Event = (&'static str, Value);

/// The output item being streamed.
#[derive(Debug)]
enum Open {
    Reasoning { index: usize, text: String },
    Text { index: usize, text: String },
    Call { index: usize, key: u64, id: String, call_id: String, name: String, arguments: String },
}

/// Per-stream state for encoding chat chunks as Responses events.
#[derive(Debug)]
pub struct ResponsesStreamEncoder {
    id: String,
    model: Value,
    created_at: u64,
    echo: Value,
    sequence: u64,
    started: bool,
    done: bool,
    output: Vec<Value>,
    open: Option<Open>,
    calls: usize,
    /// The provider serving the stream, from the stamped chunks.
    provider: Option<Value>,
    usage: Option<Value>,
    finish_reason: Option<String>,
}

impl ResponsesStreamEncoder {
    /// `id` is the response id (the generation id), `model` the public model, `echo` the request
    /// members the Response object repeats.
    pub fn new(id: &str, model: &str, created_at: u64, echo: Value) -> Self {
        ResponsesStreamEncoder {
            id: id.to_string(),
            model: json!(model),
            created_at,
            echo,
            sequence: 0,
            started: false,
            done: false,
            output: Vec::new(),
            open: None,
            calls: 0,
            provider: None,
            usage: None,
            finish_reason: None,
        }
    }

    /// Encode one chat chunk (stamped, pseudonyms restored). Nothing after the end.
    pub fn on_chunk(&mut self, chunk: &Value) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done {
            return events;
        }
        if let Some(provider) = chunk.get("provider").filter(|p| p.is_string()) {
            self.provider = Some(provider.clone());
        }
        self.start(&mut events);
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = err.get("message").and_then(Value::as_str).map_or_else(|| err.to_string(), str::to_string);
            events.extend(self.fail(&message));
            return events;
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage(u));
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

    /// Close the open item and end with `response.completed` (or `response.incomplete`). Call once
    /// the upstream ended; later calls yield nothing.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if self.done {
            return events;
        }
        self.start(&mut events);
        if self.output.is_empty() && self.open.is_none() {
            self.text_item(&mut events); // an empty answer is still one message
        }
        self.close(&mut events);
        let (status, incomplete) = status_of(self.finish_reason.as_deref());
        let mut response = self.frame();
        response.insert("status".into(), json!(status));
        response.insert("incomplete_details".into(), incomplete);
        response.insert("output".into(), Value::Array(self.output.clone()));
        response.insert("usage".into(), self.usage.clone().unwrap_or(Value::Null));
        let name = if status == "completed" { "response.completed" } else { "response.incomplete" };
        events.push(self.event(name, json!({"response": response})));
        self.done = true;
        events
    }

    /// An `error` event for a failure mid-stream; ends the stream. Its top-level `error` member is
    /// what the SDKs raise on.
    pub fn fail(&mut self, message: &str) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let error = json!({"message": message, "type": "upstream_error", "code": "upstream_stream_error"});
        vec![self.event(
            "error",
            json!({"code": "upstream_stream_error", "message": message, "param": null, "error": error}),
        )]
    }

    /// The event `name` with `type` and `sequence_number` first, as the API writes them.
    fn event(&mut self, name: &'static str, data: Value) -> Event {
        let mut event = Map::new();
        event.insert("type".into(), json!(name));
        event.insert("sequence_number".into(), json!(self.sequence));
        self.sequence += 1;
        if let Value::Object(members) = data {
            event.extend(members);
        }
        (name, Value::Object(event))
    }

    fn frame(&self) -> Map<String, Value> {
        let mut r = response_frame(&self.id, &self.model, self.created_at, &self.echo);
        if let Some(provider) = &self.provider {
            r.insert("provider".into(), provider.clone());
        }
        r
    }

    fn start(&mut self, events: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = Value::Object(self.frame());
        events.push(self.event("response.created", json!({"response": response})));
        events.push(self.event("response.in_progress", json!({"response": response})));
    }

    fn on_delta(&mut self, delta: &Value, events: &mut Vec<Event>) {
        let thought = reasoning_text(delta);
        if !thought.is_empty() {
            self.on_reasoning(thought, events);
        }
        // A refusal streams as text: the event sequence has one text part per message.
        let text = delta.get("content").or_else(|| delta.get("refusal")).and_then(Value::as_str).unwrap_or("");
        if !text.is_empty() {
            let index = self.text_item(events);
            if let Some(Open::Text { text: all, .. }) = &mut self.open {
                all.push_str(text);
            }
            let item_id = message_id(&self.id);
            events.push(self.event(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []}),
            ));
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            self.on_tool_call(call, events);
        }
    }

    fn on_reasoning(&mut self, piece: &str, events: &mut Vec<Event>) {
        let index = match &mut self.open {
            Some(Open::Reasoning { index, text }) => {
                text.push_str(piece);
                *index
            }
            _ => {
                self.close(events);
                let index = self.output.len();
                let item = json!({"type": "reasoning", "id": reasoning_id(&self.id), "summary": [], "content": [],
                    "status": "in_progress"});
                events.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
                self.open = Some(Open::Reasoning { index, text: piece.to_string() });
                index
            }
        };
        let data =
            json!({"item_id": reasoning_id(&self.id), "output_index": index, "content_index": 0, "delta": piece});
        events.push(self.event("response.reasoning_text.delta", data));
    }

    /// The open message item's output index, opening one (and closing a call) if needed.
    fn text_item(&mut self, events: &mut Vec<Event>) -> usize {
        if let Some(Open::Text { index, .. }) = self.open {
            return index;
        }
        self.close(events);
        let index = self.output.len();
        let item_id = message_id(&self.id);
        let item =
            json!({"type": "message", "id": item_id, "status": "in_progress", "role": "assistant", "content": []});
        events.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
        let part = json!({"type": "output_text", "text": "", "annotations": []});
        events.push(self.event(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
        ));
        self.open = Some(Open::Text { index, text: String::new() });
        index
    }

    fn on_tool_call(&mut self, call: &Value, events: &mut Vec<Event>) {
        // Chunks without an index come from providers that send each call whole in one chunk.
        let key = call.get("index").and_then(Value::as_u64).unwrap_or(self.calls as u64);
        let same = matches!(&self.open, Some(Open::Call { key: k, .. }) if *k == key);
        if !same {
            self.open_call(key, call, events);
        }
        let piece = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("");
        if piece.is_empty() {
            return;
        }
        let Some(Open::Call { index, id, arguments, .. }) = &mut self.open else {
            return;
        };
        arguments.push_str(piece);
        let data = json!({"item_id": id, "output_index": index, "delta": piece});
        events.push(self.event("response.function_call_arguments.delta", data));
    }

    fn open_call(&mut self, key: u64, call: &Value, events: &mut Vec<Event>) {
        self.close(events);
        let index = self.output.len();
        let id = call_item_id(&self.id, self.calls);
        self.calls += 1;
        let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
        let (call_id, name) = (text("/id"), text("/function/name"));
        let item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "",
            "status": "in_progress"});
        events.push(self.event("response.output_item.added", json!({"output_index": index, "item": item})));
        self.open = Some(Open::Call { index, key, id, call_id, name, arguments: String::new() });
    }

    /// Close the open item: its done events, and the finished item kept for the last event.
    fn close(&mut self, events: &mut Vec<Event>) {
        match self.open.take() {
            None => {}
            Some(Open::Reasoning { index, text }) => {
                let item_id = reasoning_id(&self.id);
                let done = json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text});
                events.push(self.event("response.reasoning_text.done", done));
                let item = json!({"type": "reasoning", "id": item_id, "summary": [], "status": "completed",
                    "content": [{"type": "reasoning_text", "text": text}]});
                self.finish_item(index, item, events);
            }
            Some(Open::Text { index, text }) => {
                let item_id = message_id(&self.id);
                let at = json!({"item_id": item_id, "output_index": index, "content_index": 0});
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                let mut done = at.clone();
                done["text"] = json!(text);
                done["logprobs"] = json!([]);
                events.push(self.event("response.output_text.done", done));
                let mut part_done = at;
                part_done["part"] = part.clone();
                events.push(self.event("response.content_part.done", part_done));
                let item = json!({"type": "message", "id": item_id, "status": "completed", "role": "assistant",
                    "content": [part]});
                self.finish_item(index, item, events);
            }
            Some(Open::Call { index, id, call_id, name, arguments, .. }) => {
                let done = json!({"item_id": id, "output_index": index, "arguments": arguments, "name": name});
                events.push(self.event("response.function_call_arguments.done", done));
                let item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
                    "arguments": arguments, "status": "completed"});
                self.finish_item(index, item, events);
            }
        }
    }

    fn finish_item(&mut self, index: usize, item: Value, events: &mut Vec<Event>) {
        events.push(self.event("response.output_item.done", json!({"output_index": index, "item": item})));
        self.output.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Value, finish: Option<&str>) -> Value {
        json!({"id": "gen-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    fn run(chunks: &[Value]) -> Vec<Event> {
        let mut enc = ResponsesStreamEncoder::new("gen-1", "demo/echo", 7, json!({"instructions": "be brief"}));
        let mut out: Vec<Event> = chunks.iter().flat_map(|c| enc.on_chunk(c)).collect();
        out.extend(enc.finish());
        assert!(enc.finish().is_empty(), "finish must be idempotent");
        out
    }

    fn names(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|(n, _)| *n).collect()
    }

    fn numbered_in_order_and_typed(events: &[Event]) {
        for (i, (name, data)) in events.iter().enumerate() {
            assert_eq!(data["type"], *name);
            assert_eq!(data["sequence_number"], i as u64, "{name}");
        }
    }

    #[test]
    fn text_gives_the_responses_event_sequence_with_usage_and_cost_last() {
        let events = run(&[
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "Hel"}), None),
            chunk(json!({"content": "lo"}), None),
            chunk(json!({}), Some("stop")),
            json!({"id": "gen-1", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "cost": 0.25}}),
        ]);
        assert_eq!(
            names(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        numbered_in_order_and_typed(&events);
        assert_eq!(events[0].1["response"]["status"], "in_progress");
        assert_eq!(events[0].1["response"]["instructions"], "be brief");
        assert_eq!(events[4].1["delta"], "Hel");
        assert_eq!(events[6].1["text"], "Hello");
        let done = &events[9].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 4, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 6, "cost": 0.25})
        );
    }

    #[test]
    fn tool_calls_become_function_call_items_with_argument_deltas() {
        let events = run(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "weather", "arguments": ""}}]}),
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
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        numbered_in_order_and_typed(&events);
        assert_eq!(events[5].1["arguments"], "{\"city\":\"Bern\"}");
        assert_eq!(events[7].1["output_index"], 1);
        let output = &events[11].1["response"]["output"];
        assert_eq!(output[0]["call_id"], "call_1");
        assert_eq!(output[1]["name"], "time");
        assert_eq!(output[1]["id"], "fc_1_1");
    }

    #[test]
    fn reasoning_streams_as_a_reasoning_item_before_the_message() {
        let events = run(&[
            chunk(json!({"reasoning": "think"}), None),
            chunk(json!({"reasoning": "ing"}), None),
            chunk(json!({"content": "done"}), Some("stop")),
        ]);
        assert_eq!(
            names(&events)[2..7],
            [
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done"
            ]
        );
        numbered_in_order_and_typed(&events);
        assert_eq!(events[5].1["text"], "thinking");
        let output = &events.last().unwrap().1["response"]["output"];
        assert_eq!(output[0]["type"], "reasoning");
        assert_eq!(output[1]["content"][0]["text"], "done");
        assert_eq!(output[1]["id"], "msg_1");
    }

    #[test]
    fn a_length_finish_is_incomplete_and_an_empty_stream_is_one_empty_message() {
        let events = run(&[chunk(json!({"content": "cut"}), Some("length"))]);
        let last = &events.last().unwrap().1;
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");
        let empty = run(&[]);
        assert_eq!(empty.last().unwrap().1["response"]["output"][0]["content"][0]["text"], "");
    }

    #[test]
    fn failures_end_the_stream_with_an_error_event_the_sdk_raises() {
        let mut enc = ResponsesStreamEncoder::new("gen-1", "m", 0, json!({}));
        enc.on_chunk(&chunk(json!({"content": "partial"}), None));
        let events = enc.on_chunk(&json!({"error": {"message": "slow down"}}));
        assert_eq!(names(&events), ["error"]);
        assert_eq!(events[0].1["sequence_number"], 5);
        assert_eq!(events[0].1["error"]["message"], "slow down");
        assert!(enc.finish().is_empty());
        assert!(enc.fail("again").is_empty());
        assert!(enc.on_chunk(&chunk(json!({"content": "more"}), None)).is_empty());
    }
}
