//! The legacy completions API (`POST /v1/completions`, LangChain's `OpenAI` LLM and older SDKs):
//! a prompt becomes one user message of a chat request; the chat answer, whole or streamed,
//! becomes `text_completion` choices with the same usage and cost.
//!
//! Honoured: `prompt` as a string or a list holding one string, and every chat parameter the
//! legacy API shares (`max_tokens`, `n`, `stop`, `temperature`, `top_p`, penalties, `seed`,
//! `logit_bias`, `user`, `stream`, `stream_options`). Refused with 400: several prompts in one
//! request (each is its own exchange upstream and in the audit log) and prompts as token ids (the
//! gateway classifies text and cannot read token ids). `suffix`, `echo`, `logprobs` and `best_of`
//! have no chat counterpart: refused, or dropped under `[request] unsupported = "ignore"`. The
//! legacy API's default of 16 `max_tokens` is not applied: without `max_tokens` the upstream's own
//! limit holds, as for chat.

use serde_json::{json, Map, Value};

use super::{pass_on, refuse, wrong_type, DialectError, Translated, Unhonoured};
use crate::config::Unsupported;

/// Translate a completions request into a chat request.
pub fn to_chat(req: &Value, unsupported: Unsupported) -> Result<Translated, DialectError> {
    let obj = req.as_object().ok_or_else(|| refuse("", "request body must be a JSON object"))?;
    let mut unhonoured = Unhonoured::new(unsupported);
    let mut chat = Map::new();
    let mut rest = Vec::new();
    for (k, v) in obj {
        match k.as_str() {
            "prompt" => {
                let text = prompt_text(Some(v))?;
                chat.insert("messages".into(), json!([{"role": "user", "content": text}]));
            }
            "suffix" | "echo" | "logprobs" | "best_of" => legacy_only(k, v, &mut unhonoured)?,
            "messages" => {
                return Err(refuse("messages", "'messages' belongs to /v1/chat/completions; send 'prompt' here"))
            }
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    if !chat.contains_key("messages") {
        prompt_text(None)?;
    }
    pass_on(rest.into_iter(), &mut chat, "completions API")?;
    Ok(Translated { chat: Value::Object(chat), ignored: unhonoured.ignored, echo: Value::Null })
}

/// The one prompt of the request, as text.
fn prompt_text(prompt: Option<&Value>) -> Result<&str, DialectError> {
    let token_ids = || {
        refuse(
            "prompt",
            "'prompt' as token ids is not supported: the gateway classifies text for personal data and cannot read token ids; send the prompt as text",
        )
    };
    match prompt {
        None | Some(Value::Null) => Err(refuse("prompt", "'prompt' is required")),
        Some(Value::String(s)) => Ok(s),
        Some(Value::Array(items)) => match items.as_slice() {
            [] => Err(refuse("prompt", "'prompt' must not be an empty list")),
            [Value::String(s)] => Ok(s),
            items if items.iter().all(is_token_ids) => Err(token_ids()),
            items if items.iter().all(Value::is_string) => Err(refuse(
                "prompt",
                format!(
                    "'prompt' holds {} prompts: this gateway answers one prompt per request (each is its own upstream call and audit entry); send one request per prompt",
                    items.len()
                ),
            )),
            _ => Err(wrong_type("prompt", "a string or a list of one string")),
        },
        Some(_) => Err(wrong_type("prompt", "a string or a list of one string")),
    }
}

/// A token id, or a list of them (one tokenized prompt).
fn is_token_ids(v: &Value) -> bool {
    v.is_number() || v.as_array().is_some_and(|ids| ids.iter().all(Value::is_number))
}

/// `suffix`, `echo`, `logprobs` and `best_of`: their neutral values pass, any other is unhonoured.
fn legacy_only(key: &str, v: &Value, unhonoured: &mut Unhonoured) -> Result<(), DialectError> {
    let neutral = match (key, v) {
        (_, Value::Null) => true,
        ("suffix", Value::String(s)) => s.is_empty(),
        ("echo", Value::Bool(b)) => !b,
        ("best_of", Value::Number(n)) => n.as_u64() == Some(1),
        ("suffix", _) => return Err(wrong_type(key, "a string")),
        ("echo", _) => return Err(wrong_type(key, "a boolean")),
        _ => false,
    };
    if neutral {
        return Ok(());
    }
    let why = match key {
        "suffix" => "insertion after a suffix has no chat counterpart",
        "echo" => "the prompt is not repeated in the answer",
        "logprobs" => "the answer carries no token log-probabilities",
        _ => "only one completion per choice is generated",
    };
    unhonoured.cannot(key, why)
}

/// A `chat.completion` (stamped: id, model, provider, usage with cost) as a `text_completion`.
pub fn from_chat_answer(chat: &Value) -> Value {
    let choices: Vec<Value> = chat
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| choice(c, c.get("message")))
        .collect();
    let mut out = frame_of(chat);
    out.insert("choices".into(), Value::Array(choices));
    if let Some(usage) = chat.get("usage") {
        out.insert("usage".into(), usage.clone());
    }
    Value::Object(out)
}

/// A `chat.completion.chunk` as a streamed `text_completion` chunk; an error chunk stays as it is.
pub fn from_chat_chunk(chunk: &Value) -> Value {
    if chunk.get("error").is_some_and(|e| !e.is_null()) {
        return chunk.clone();
    }
    let choices: Vec<Value> = chunk
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| choice(c, c.get("delta")))
        .collect();
    let mut out = frame_of(chunk);
    out.insert("choices".into(), Value::Array(choices));
    if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
        out.insert("usage".into(), usage.clone());
    }
    Value::Object(out)
}

/// The members every completion object has, taken from the chat one.
fn frame_of(chat: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), chat.get("id").cloned().unwrap_or(Value::Null));
    out.insert("object".into(), json!("text_completion"));
    out.insert("created".into(), chat.get("created").cloned().unwrap_or(json!(0)));
    out.insert("model".into(), chat.get("model").cloned().unwrap_or(Value::Null));
    for key in ["provider", "system_fingerprint"] {
        if let Some(v) = chat.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out
}

/// One choice: the text of a message or a delta (a refusal stands in for absent content).
fn choice(c: &Value, message: Option<&Value>) -> Value {
    let text = message.map(message_text).unwrap_or_default();
    json!({
        "text": text,
        "index": c.get("index").cloned().unwrap_or(json!(0)),
        "logprobs": Value::Null,
        "finish_reason": c.get("finish_reason").cloned().unwrap_or(Value::Null),
    })
}

fn message_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => m.get("refusal").and_then(Value::as_str).unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_of(req: Value) -> Result<Translated, DialectError> {
        to_chat(&req, Unsupported::Refuse)
    }

    #[test]
    fn a_prompt_becomes_one_user_message_and_the_rest_passes_on_in_order() {
        let t = chat_of(json!({"model": "m", "prompt": ["Say hi"], "max_tokens": 5, "n": 2, "stop": ["\n"],
            "suffix": "", "echo": false, "best_of": 1, "logprobs": null, "stream": true}))
        .unwrap();
        assert_eq!(
            t.chat,
            json!({"model": "m", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 5, "n": 2,
                "stop": ["\n"], "stream": true})
        );
        assert!(t.ignored.is_empty());
    }

    #[test]
    fn several_prompts_token_ids_and_a_missing_prompt_are_refused_naming_prompt() {
        for prompt in [json!(["a", "b"]), json!([1, 2, 3]), json!([[1, 2]]), json!([]), json!(7), Value::Null] {
            let e = chat_of(json!({"model": "m", "prompt": prompt})).unwrap_err();
            assert_eq!(e.param, "prompt", "{prompt}");
        }
        assert!(chat_of(json!({"model": "m", "prompt": ["a", "b"]})).unwrap_err().message.contains("2 prompts"));
        assert!(chat_of(json!({"model": "m", "prompt": [1, 2]})).unwrap_err().message.contains("token ids"));
        assert_eq!(chat_of(json!({"model": "m"})).unwrap_err().param, "prompt");
        assert_eq!(chat_of(json!({"prompt": "x", "messages": []})).unwrap_err().param, "messages");
    }

    #[test]
    fn legacy_only_parameters_are_refused_or_named_when_ignored() {
        for (k, v) in [("suffix", json!("end")), ("echo", json!(true)), ("logprobs", json!(2)), ("best_of", json!(3))] {
            let mut req = json!({"model": "m", "prompt": "p"});
            req[k] = v;
            assert_eq!(to_chat(&req, Unsupported::Refuse).unwrap_err().param, k);
            let t = to_chat(&req, Unsupported::Ignore).unwrap();
            assert_eq!(t.ignored, [k]);
            assert!(t.chat.get(k).is_none(), "{k} must not go upstream");
        }
    }

    #[test]
    fn answers_and_chunks_become_text_completions_with_usage_and_cost() {
        let chat = json!({"id": "gen-1", "object": "chat.completion", "created": 9, "model": "demo/echo",
            "provider": "demo-ch", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
            "finish_reason": "stop"}], "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3, "cost": 0.5}});
        let done = from_chat_answer(&chat);
        assert_eq!(done["object"], "text_completion");
        assert_eq!(done["choices"][0], json!({"text": "hi", "index": 0, "logprobs": null, "finish_reason": "stop"}));
        assert_eq!(done["usage"]["cost"], 0.5);
        assert_eq!(done["provider"], "demo-ch");
        let chunk = json!({"id": "gen-1", "object": "chat.completion.chunk", "created": 9, "model": "demo/echo",
            "choices": [{"index": 1, "delta": {"content": "lo"}, "finish_reason": null}]});
        assert_eq!(from_chat_chunk(&chunk)["choices"][0]["text"], "lo");
        assert_eq!(from_chat_chunk(&chunk)["choices"][0]["index"], 1);
        let usage = json!({"id": "gen-1", "choices": [], "usage": {"total_tokens": 3}});
        assert_eq!(from_chat_chunk(&usage)["usage"]["total_tokens"], 3);
        let error = json!({"error": {"message": "boom"}});
        assert_eq!(from_chat_chunk(&error), error);
    }
}
