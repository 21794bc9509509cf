//! The Responses API (`POST /v1/responses`): requests translated into chat requests
//! (`request.rs`), chat answers into Response objects (`answer.rs`) and chat chunks into the typed
//! Responses stream events (`stream.rs`).
//!
//! Honoured: `input` as a string or a list of `message` (content as a string or `input_text`,
//! `output_text`, `refusal`, `input_image`, `input_file` parts), `function_call` and
//! `function_call_output` items (`reasoning` items sent back are accepted and left out: chat
//! upstreams cannot take them); `instructions`; function `tools` and `tool_choice`;
//! `parallel_tool_calls`; `max_output_tokens`; `text.format` (`text`, `json_object`, `json_schema`)
//! and `text.verbosity`; `reasoning.effort`; `temperature`, `top_p`, `metadata`, `user`,
//! `safety_identifier`, `prompt_cache_key`, `service_tier`; `stream`. Refused with 400:
//! `previous_response_id` and `conversation` (no state is stored), other item types. The model's
//! reasoning (OpenRouter's `reasoning` in chat answers) comes back as a `reasoning` item. Unhonoured (400, or dropped and named under `[request] unsupported = "ignore"`):
//! `store: true`, built-in tools, `include`, `truncation: "auto"`, `background: true`, `prompt`
//! templates, `max_tool_calls`, `top_logprobs`, reasoning summaries.
//!
//! The response's `id` is the gateway's generation id (`gen-…`, as in `x-generation-id` and
//! `/api/v1/generation`), not a `resp_` id: no response is stored to be fetched by it.

mod answer;
mod request;
mod stream;

pub use answer::from_chat_answer;
pub use request::to_chat;
pub use stream::ResponsesStreamEncoder;

use serde_json::{json, Map, Value};

/// The Response object's members before any output: its id, model and time, and the request
/// parameters it repeats (`echo`), with the API's defaults for those the request left out.
fn response_frame(id: &str, model: &Value, created_at: u64, echo: &Value) -> Map<String, Value> {
    let echoed = |key: &str, default: Value| echo.get(key).filter(|v| !v.is_null()).cloned().unwrap_or(default);
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created_at));
    r.insert("status".into(), json!("in_progress"));
    r.insert("error".into(), Value::Null);
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("instructions".into(), echoed("instructions", Value::Null));
    r.insert("max_output_tokens".into(), echoed("max_output_tokens", Value::Null));
    r.insert("model".into(), model.clone());
    r.insert("output".into(), json!([]));
    r.insert("parallel_tool_calls".into(), echoed("parallel_tool_calls", json!(true)));
    r.insert("previous_response_id".into(), Value::Null);
    r.insert("reasoning".into(), echoed("reasoning", json!({"effort": null, "summary": null})));
    r.insert("store".into(), json!(false));
    r.insert("temperature".into(), echoed("temperature", Value::Null));
    r.insert("text".into(), echoed("text", json!({"format": {"type": "text"}})));
    r.insert("tool_choice".into(), echoed("tool_choice", json!("auto")));
    r.insert("tools".into(), echoed("tools", json!([])));
    r.insert("top_p".into(), echoed("top_p", Value::Null));
    r.insert("truncation".into(), echoed("truncation", json!("disabled")));
    r.insert("usage".into(), Value::Null);
    r.insert("user".into(), echoed("user", Value::Null));
    r.insert("metadata".into(), echoed("metadata", json!({})));
    if let Some(tier) = echo.get("service_tier") {
        r.insert("service_tier".into(), tier.clone());
    }
    r
}

/// Chat usage (with the gateway's `cost`) in the Responses shape.
fn usage(chat: &Value) -> Value {
    let n = |pointer: &str| chat.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let mut u = json!({
        "input_tokens": n("/prompt_tokens"),
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens")},
        "output_tokens": n("/completion_tokens"),
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": n("/total_tokens"),
    });
    if let Some(cost) = chat.get("cost") {
        u["cost"] = cost.clone();
    }
    u
}

/// The status a chat finish reason gives a response, with the reason it is incomplete.
fn status_of(finish_reason: Option<&str>) -> (&'static str, Value) {
    match finish_reason {
        Some("length") => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some("content_filter") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// Ids of output items, derived from the response's own id (`gen-…`).
fn message_id(response_id: &str) -> String {
    format!("msg_{}", response_id.trim_start_matches("gen-"))
}

fn reasoning_id(response_id: &str) -> String {
    format!("rs_{}", response_id.trim_start_matches("gen-"))
}

/// The model's reasoning in a chat message or delta (OpenRouter's `reasoning`, or
/// `reasoning_content` as some providers name it).
fn reasoning_text(message: &Value) -> &str {
    message.get("reasoning").or_else(|| message.get("reasoning_content")).and_then(Value::as_str).unwrap_or("")
}

fn call_item_id(response_id: &str, index: usize) -> String {
    format!("fc_{}_{index}", response_id.trim_start_matches("gen-"))
}
