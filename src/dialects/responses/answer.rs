//! A whole chat answer as a Response object: the model's reasoning as a `reasoning` item, the
//! message text as an `output_text` (or a `refusal`), each tool call as a `function_call` item,
//! usage with the gateway's cost.

use serde_json::{json, Value};

use super::{call_item_id, message_id, reasoning_id, reasoning_text, response_frame, status_of, usage};

/// A `chat.completion` (stamped: id, model, provider, usage with cost; pseudonyms restored) as
/// the Response object; `echo` holds the request members it repeats. Only the first choice is
/// read: the Responses API has no `n`.
pub fn from_chat_answer(chat: &Value, echo: &Value) -> Value {
    let id = chat.get("id").and_then(Value::as_str).unwrap_or("");
    let created = chat.get("created").and_then(Value::as_u64).unwrap_or(0);
    let mut r = response_frame(id, chat.get("model").unwrap_or(&Value::Null), created, echo);
    let choice = chat.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message")).unwrap_or(&Value::Null);
    let (status, incomplete) = status_of(choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str));
    r.insert("status".into(), json!(status));
    r.insert("incomplete_details".into(), incomplete);
    r.insert("output".into(), Value::Array(output_items(id, message)));
    r.insert("usage".into(), chat.get("usage").map(usage).unwrap_or(Value::Null));
    if let Some(provider) = chat.get("provider") {
        r.insert("provider".into(), provider.clone());
    }
    Value::Object(r)
}

fn output_items(id: &str, message: &Value) -> Vec<Value> {
    let calls = message.get("tool_calls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut items = Vec::new();
    let reasoning = reasoning_text(message);
    if !reasoning.is_empty() {
        items.push(json!({"type": "reasoning", "id": reasoning_id(id), "summary": [], "status": "completed",
            "content": [{"type": "reasoning_text", "text": reasoning}]}));
    }
    if let Some(part) = message_part(message) {
        items.push(json!({"type": "message", "id": message_id(id), "status": "completed", "role": "assistant",
            "content": [part]}));
    } else if calls.is_empty() {
        // An empty answer is still one message, as the API gives it.
        items.push(json!({"type": "message", "id": message_id(id), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": "", "annotations": []}]}));
    }
    for (i, call) in calls.iter().enumerate() {
        items.push(function_call_item(id, i, call));
    }
    items
}

/// The answer's text as an `output_text` part, or its refusal; None when it has neither.
fn message_part(message: &Value) -> Option<Value> {
    let text: String = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        return Some(json!({"type": "output_text", "text": text, "annotations": []}));
    }
    let refusal = message.get("refusal").and_then(Value::as_str).filter(|r| !r.is_empty())?;
    Some(json!({"type": "refusal", "refusal": refusal}))
}

fn function_call_item(id: &str, index: usize, call: &Value) -> Value {
    let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    json!({"type": "function_call", "id": call_item_id(id, index), "call_id": text("/id"),
        "name": text("/function/name"), "arguments": text("/function/arguments"), "status": "completed"})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(message: Value, finish: &str) -> Value {
        json!({"id": "gen-7", "created": 5, "model": "demo/echo", "provider": "demo-ch",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "cost": 0.125,
                "prompt_tokens_details": {"cached_tokens": 1}}})
    }

    #[test]
    fn text_tool_calls_and_refusals_become_output_items() {
        let message = json!({"role": "assistant", "content": "Let me look",
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]});
        let r = from_chat_answer(&chat(message, "tool_calls"), &json!({"tools": [{"type": "function", "name": "f"}]}));
        assert_eq!(r["id"], "gen-7");
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output"][0]["content"][0]["text"], "Let me look");
        assert_eq!(
            r["output"][1],
            json!({"type": "function_call", "id": "fc_7_0", "call_id": "call_9", "name": "f",
            "arguments": "{\"a\":1}", "status": "completed"})
        );
        assert_eq!(r["tools"][0]["name"], "f");
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 1);
        assert_eq!(r["usage"]["cost"], 0.125);
        assert_eq!(r["provider"], "demo-ch");
        let thought = from_chat_answer(&chat(json!({"content": "42", "reasoning": "6 times 7"}), "stop"), &json!({}));
        assert_eq!(thought["output"][0]["content"][0], json!({"type": "reasoning_text", "text": "6 times 7"}));
        assert_eq!(thought["output"][1]["content"][0]["text"], "42");
        let refused = from_chat_answer(&chat(json!({"content": null, "refusal": "No."}), "stop"), &json!({}));
        assert_eq!(refused["output"][0]["content"][0], json!({"type": "refusal", "refusal": "No."}));
    }

    #[test]
    fn a_length_finish_is_an_incomplete_response() {
        let r = from_chat_answer(&chat(json!({"content": "cut of"}), "length"), &json!({"max_output_tokens": 2}));
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"], json!({"reason": "max_output_tokens"}));
        assert_eq!(r["max_output_tokens"], 2);
    }
}
