//! A Responses API request into a chat request: `instructions` and every `input` item become chat
//! messages, function tools and `tool_choice` the chat ones, `max_output_tokens` `max_tokens`,
//! `text.format` `response_format`, `reasoning.effort` OpenRouter's `reasoning`. Everything else
//! the chat request takes (`temperature`, `top_p`, `parallel_tool_calls`, `metadata`, `user`,
//! gateway fields) passes on unchanged, so the walk of `pii::request` scans it with the rest.

use serde_json::{json, Map, Value};

use super::super::{absent, pass_on, refuse, wrong_type, DialectError, Translated, Unhonoured};
use crate::config::Unsupported;

/// Members the Response object repeats from its request.
const ECHOED: &[&str] = &[
    "instructions",
    "max_output_tokens",
    "metadata",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "tool_choice",
    "tools",
    "text",
    "reasoning",
    "truncation",
    "user",
    "service_tier",
];

/// Translate a Responses request into a chat request.
pub fn to_chat(req: &Value, unsupported: Unsupported) -> Result<Translated, DialectError> {
    let obj = req.as_object().ok_or_else(|| refuse("", "request body must be a JSON object"))?;
    refuse_stored_state(obj)?;
    let mut unhonoured = Unhonoured::new(unsupported);
    let mut chat = Map::new();
    let mut messages = Vec::new();
    if let Some(instructions) = obj.get("instructions").filter(|v| !v.is_null()) {
        let text = instructions.as_str().ok_or_else(|| wrong_type("instructions", "a string"))?;
        messages.push(json!({"role": "system", "content": text}));
    }
    match obj.get("input") {
        None | Some(Value::Null) => return Err(refuse("input", "'input' is required")),
        Some(input) => input_messages(input, &mut messages)?,
    }
    let mut rest = Vec::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "input" | "instructions" | "previous_response_id" | "conversation" => {}
            "model" => {
                chat.insert(k.clone(), v.clone());
                chat.insert("messages".into(), Value::Array(std::mem::take(&mut messages)));
            }
            "tools" => tools(v, &mut chat, &mut unhonoured)?,
            "tool_choice" => tool_choice(v, &mut chat, &mut unhonoured)?,
            "max_output_tokens" => max_output_tokens(v, &mut chat)?,
            "text" => text_options(v, &mut chat)?,
            "reasoning" => reasoning(v, &mut chat, &mut unhonoured)?,
            "stream_options" => stream_options(v)?,
            "store" | "include" | "truncation" | "background" | "prompt" | "max_tool_calls" | "top_logprobs" => {
                unhonoured_member(k, v, &mut unhonoured)?
            }
            "messages" => {
                return Err(refuse("messages", "'messages' belongs to /v1/chat/completions; send 'input' here"))
            }
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    if !messages.is_empty() {
        chat.insert("messages".into(), Value::Array(messages));
    }
    pass_on(rest.into_iter(), &mut chat, "Responses API")?;
    let echo: Map<String, Value> =
        ECHOED.iter().filter_map(|k| obj.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
    Ok(Translated { chat: Value::Object(chat), ignored: unhonoured.ignored, echo: Value::Object(echo) })
}

/// Conversation state lives with a provider that stores responses; this gateway stores none, and
/// answering without the earlier turns would be a different question.
fn refuse_stored_state(obj: &Map<String, Value>) -> Result<(), DialectError> {
    for key in ["previous_response_id", "conversation"] {
        if !absent(obj, key) {
            return Err(refuse(
                key,
                format!("{key} is not supported: this gateway stores no responses or conversations; send the whole conversation as input items"),
            ));
        }
    }
    Ok(())
}

/// Parameters whose neutral value passes and whose other values the gateway cannot honour.
fn unhonoured_member(key: &str, v: &Value, unhonoured: &mut Unhonoured) -> Result<(), DialectError> {
    let neutral = match (key, v) {
        ("store" | "background", Value::Bool(b)) => !b,
        ("include", Value::Array(items)) => items.is_empty(),
        ("truncation", Value::String(t)) => t == "disabled",
        ("top_logprobs", Value::Number(n)) => n.as_u64() == Some(0),
        ("store" | "background", _) => return Err(wrong_type(key, "a boolean")),
        _ => false,
    };
    if neutral {
        return Ok(());
    }
    let why = match key {
        "store" => "the gateway keeps no responses to retrieve later (its audit log keeps the record of each call)",
        "include" => "no extra output (encrypted reasoning, log-probabilities, tool sources) is returned",
        "truncation" => "the input is never truncated by the gateway",
        "background" => "responses are answered while the request waits",
        "prompt" => "stored prompt templates are not available",
        "max_tool_calls" => "built-in tools are not implemented",
        _ => "the answer carries no token log-probabilities",
    };
    unhonoured.cannot(key, why)
}

/// `stream_options` only asks for obfuscation padding, which the gateway does not add (it pads
/// against a side channel of OpenAI's own network path).
fn stream_options(v: &Value) -> Result<(), DialectError> {
    let obj = v.as_object().ok_or_else(|| wrong_type("stream_options", "an object"))?;
    only_members(obj, &["include_obfuscation"], "stream_options")?;
    match obj.get("include_obfuscation") {
        None | Some(Value::Null | Value::Bool(_)) => Ok(()),
        Some(_) => Err(wrong_type("stream_options.include_obfuscation", "a boolean")),
    }
}

fn max_output_tokens(v: &Value, chat: &mut Map<String, Value>) -> Result<(), DialectError> {
    let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| wrong_type("max_output_tokens", "a positive integer"))?;
    chat.insert("max_tokens".into(), json!(n));
    Ok(())
}

/// The input as chat messages: a string is one user message, a list is read item by item.
fn input_messages(input: &Value, out: &mut Vec<Value>) -> Result<(), DialectError> {
    match input {
        Value::String(s) => {
            out.push(json!({"role": "user", "content": s}));
            Ok(())
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                item_to_chat(item, &format!("input[{i}]"), out)?;
            }
            Ok(())
        }
        Value::Array(_) => Err(refuse("input", "'input' must not be an empty list")),
        _ => Err(wrong_type("input", "a string or a list of input items")),
    }
}

fn item_to_chat(item: &Value, path: &str, out: &mut Vec<Value>) -> Result<(), DialectError> {
    let obj = item.as_object().ok_or_else(|| wrong_type(path, "an input item object"))?;
    let kind = match obj.get("type") {
        None | Some(Value::Null) if obj.contains_key("role") => "message",
        Some(Value::String(t)) => t.as_str(),
        _ => {
            return Err(refuse(
                format!("{path}.type"),
                format!("{path} needs a string 'type' (or a 'role' for a message)"),
            ))
        }
    };
    match kind {
        "message" => {
            out.push(message(obj, path)?);
            Ok(())
        }
        "function_call" => function_call(obj, path, out),
        "function_call_output" => {
            out.push(function_call_output(obj, path)?);
            Ok(())
        }
        // The model's own earlier reasoning, sent back by clients that pass the whole output on:
        // chat upstreams cannot take it back, so it is left out (as `/v1/messages` leaves out
        // thinking blocks).
        "reasoning" => only_members(obj, &["type", "id", "summary", "content", "encrypted_content", "status"], path),
        other => Err(refuse(
            format!("{path}.type"),
            format!("input item type {other:?} is not supported by this gateway (message, function_call, function_call_output and reasoning are)"),
        )),
    }
}

/// Refuse a member outside `known`, so nothing reaches the model in a shape nobody classified.
fn only_members(obj: &Map<String, Value>, known: &[&str], path: &str) -> Result<(), DialectError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(refuse(format!("{path}.{k}"), format!("unknown member {path}.{k}"))),
        None => Ok(()),
    }
}

fn string_member<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, DialectError> {
    obj.get(key).and_then(Value::as_str).ok_or_else(|| wrong_type(&format!("{path}.{key}"), "a string"))
}

fn message(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "role", "content", "id", "status"], path)?;
    let role = string_member(obj, "role", path)?;
    if !["user", "system", "developer", "assistant"].contains(&role) {
        return Err(refuse(
            format!("{path}.role"),
            format!("{path}.role: unknown role {role:?} (user, system, developer or assistant)"),
        ));
    }
    let content_path = format!("{path}.content");
    let content = match obj.get("content") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) => {
            let parts = parts
                .iter()
                .enumerate()
                .map(|(j, p)| content_part(p, &format!("{content_path}[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(parts)
        }
        _ => return Err(wrong_type(&content_path, "a string or a list of content parts")),
    };
    Ok(json!({"role": role, "content": content}))
}

/// One content part as its chat counterpart: text (input or earlier output), a refusal, an image
/// or a file.
fn content_part(part: &Value, path: &str) -> Result<Value, DialectError> {
    let obj = part.as_object().ok_or_else(|| wrong_type(path, "a content part object"))?;
    match obj.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text") => text_part(obj, path),
        Some("refusal") => {
            only_members(obj, &["type", "refusal"], path)?;
            Ok(json!({"type": "refusal", "refusal": string_member(obj, "refusal", path)?}))
        }
        Some("input_image") => image_part(obj, path),
        Some("input_file") => file_part(obj, path),
        Some(other) => Err(refuse(
            format!("{path}.type"),
            format!("content part type {other:?} is not supported by this gateway (input_text, output_text, refusal, input_image, input_file are)"),
        )),
        None => Err(refuse(format!("{path}.type"), format!("{path} needs a string 'type'"))),
    }
}

/// `annotations` and `logprobs` of an earlier output text are its own metadata, not text for the
/// model; only empty ones are accepted, so none carries a citation nobody scanned.
fn text_part(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "text", "annotations", "logprobs"], path)?;
    for key in ["annotations", "logprobs"] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(_) => {
                return Err(refuse(format!("{path}.{key}"), format!("{path}.{key}: only an empty list is accepted")))
            }
        }
    }
    Ok(json!({"type": "text", "text": string_member(obj, "text", path)?}))
}

fn image_part(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "image_url", "detail", "file_id"], path)?;
    if !absent(obj, "file_id") {
        return Err(refuse(
            format!("{path}.file_id"),
            "images by file id need a provider's file store; send image_url",
        ));
    }
    let mut image = Map::new();
    image.insert("url".into(), json!(string_member(obj, "image_url", path)?));
    if let Some(detail) = obj.get("detail").filter(|d| !d.is_null()) {
        image.insert("detail".into(), detail.clone());
    }
    Ok(json!({"type": "image_url", "image_url": image}))
}

fn file_part(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "file_data", "filename", "file_id", "file_url"], path)?;
    if !absent(obj, "file_url") {
        return Err(refuse(format!("{path}.file_url"), "files by URL are not fetched by this gateway; send file_data"));
    }
    let file: Map<String, Value> = ["file_data", "filename", "file_id"]
        .iter()
        .filter_map(|k| obj.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone())))
        .collect();
    Ok(json!({"type": "file", "file": file}))
}

/// A function call the model made earlier: a tool call of the assistant message before it (the
/// calls of one turn share one message).
fn function_call(obj: &Map<String, Value>, path: &str, out: &mut Vec<Value>) -> Result<(), DialectError> {
    only_members(obj, &["type", "call_id", "name", "arguments", "id", "status"], path)?;
    let call = json!({"id": string_member(obj, "call_id", path)?, "type": "function", "function": {
        "name": string_member(obj, "name", path)?, "arguments": string_member(obj, "arguments", path)?}});
    let open_turn = out.last_mut().filter(|m| m["role"] == "assistant");
    match open_turn {
        Some(Value::Object(m)) => match m.get_mut("tool_calls") {
            Some(Value::Array(calls)) => calls.push(call),
            _ => {
                m.insert("tool_calls".into(), json!([call]));
            }
        },
        _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
    }
    Ok(())
}

fn function_call_output(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "call_id", "output", "id", "status"], path)?;
    let call_id = string_member(obj, "call_id", path)?;
    let output_path = format!("{path}.output");
    let content = match obj.get("output") {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(parts)) => {
            let parts = parts
                .iter()
                .enumerate()
                .map(|(j, p)| match p.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text") => content_part(p, &format!("{output_path}[{j}]")),
                    _ => Err(refuse(format!("{output_path}[{j}]"), "a tool result carries text parts only")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(parts)
        }
        _ => return Err(wrong_type(&output_path, "a string or a list of input_text parts")),
    };
    Ok(json!({"role": "tool", "tool_call_id": call_id, "content": content}))
}

/// Function tools as chat tools; a built-in tool (web search, file search, ...) is unhonoured.
fn tools(v: &Value, chat: &mut Map<String, Value>, unhonoured: &mut Unhonoured) -> Result<(), DialectError> {
    let list = v.as_array().ok_or_else(|| wrong_type("tools", "a list of tools"))?;
    let mut out = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let path = format!("tools[{i}]");
        let obj = tool.as_object().ok_or_else(|| wrong_type(&path, "a tool object"))?;
        match obj.get("type").and_then(Value::as_str) {
            Some("function") => out.push(function_tool(obj, &path)?),
            Some(other) => unhonoured
                .cannot(&path, &format!("the built-in tool {other:?} is not implemented; function tools are"))?,
            None => return Err(refuse(format!("{path}.type"), format!("{path} needs a string 'type'"))),
        }
    }
    if !out.is_empty() {
        chat.insert("tools".into(), Value::Array(out));
    }
    Ok(())
}

fn function_tool(obj: &Map<String, Value>, path: &str) -> Result<Value, DialectError> {
    only_members(obj, &["type", "name", "description", "parameters", "strict"], path)?;
    let mut function = Map::new();
    function.insert("name".into(), json!(string_member(obj, "name", path)?));
    for key in ["description", "parameters", "strict"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            function.insert(key.into(), v.clone());
        }
    }
    Ok(json!({"type": "function", "function": function}))
}

fn tool_choice(v: &Value, chat: &mut Map<String, Value>, unhonoured: &mut Unhonoured) -> Result<(), DialectError> {
    let choice = match v {
        Value::String(s) if ["auto", "none", "required"].contains(&s.as_str()) => v.clone(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            only_members(o, &["type", "name"], "tool_choice")?;
            json!({"type": "function", "function": {"name": string_member(o, "name", "tool_choice")?}})
        }
        Value::Object(_) => {
            return unhonoured.cannot("tool_choice", "only auto, none, required or one function can be chosen")
        }
        _ => return Err(wrong_type("tool_choice", "auto, none, required or {\"type\": \"function\", \"name\": ...}")),
    };
    chat.insert("tool_choice".into(), choice);
    Ok(())
}

/// `text.format` as `response_format`, `text.verbosity` as `verbosity`.
fn text_options(v: &Value, chat: &mut Map<String, Value>) -> Result<(), DialectError> {
    let obj = v.as_object().ok_or_else(|| wrong_type("text", "an object"))?;
    only_members(obj, &["format", "verbosity"], "text")?;
    if let Some(verbosity) = obj.get("verbosity").filter(|v| !v.is_null()) {
        chat.insert("verbosity".into(), verbosity.clone());
    }
    let Some(format) = obj.get("format").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    let f = format.as_object().ok_or_else(|| wrong_type("text.format", "an object"))?;
    match f.get("type").and_then(Value::as_str) {
        Some("text") => only_members(f, &["type"], "text.format"),
        Some("json_object") => {
            only_members(f, &["type"], "text.format")?;
            chat.insert("response_format".into(), json!({"type": "json_object"}));
            Ok(())
        }
        Some("json_schema") => {
            only_members(f, &["type", "name", "schema", "description", "strict"], "text.format")?;
            string_member(f, "name", "text.format")?;
            if !f.get("schema").is_some_and(Value::is_object) {
                return Err(wrong_type("text.format.schema", "a JSON Schema object"));
            }
            let schema: Map<String, Value> =
                f.iter().filter(|(k, _)| *k != "type").map(|(k, v)| (k.clone(), v.clone())).collect();
            chat.insert("response_format".into(), json!({"type": "json_schema", "json_schema": schema}));
            Ok(())
        }
        _ => Err(wrong_type("text.format.type", "text, json_object or json_schema")),
    }
}

/// `reasoning.effort` as OpenRouter's `reasoning` (which Anthropic providers get as a thinking
/// budget); summaries are not returned.
fn reasoning(v: &Value, chat: &mut Map<String, Value>, unhonoured: &mut Unhonoured) -> Result<(), DialectError> {
    let obj = v.as_object().ok_or_else(|| wrong_type("reasoning", "an object"))?;
    only_members(obj, &["effort", "summary", "generate_summary"], "reasoning")?;
    for key in ["summary", "generate_summary"] {
        if !absent(obj, key) {
            unhonoured.cannot(&format!("reasoning.{key}"), "reasoning summaries are not returned")?;
        }
    }
    if let Some(effort) = obj.get("effort").filter(|e| !e.is_null()) {
        chat.insert("reasoning".into(), json!({"effort": effort}));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_of(req: Value) -> Result<Translated, DialectError> {
        to_chat(&req, Unsupported::Refuse)
    }

    #[test]
    fn the_calls_of_one_turn_join_the_assistant_message_before_them() {
        let t = chat_of(json!({"model": "m", "input": [
            {"role": "user", "content": "q"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "hmm"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
            {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "a", "output": "1"},
            {"type": "function_call_output", "call_id": "b", "output": "2"},
        ]}))
        .unwrap();
        let messages = t.chat["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4, "the reasoning item is left out: {messages:?}");
        assert_eq!(messages[1]["content"], json!([{"type": "text", "text": "checking"}]));
        let calls: Vec<&Value> = messages[1]["tool_calls"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
        assert_eq!(calls, [&json!("a"), &json!("b")]);
        assert_eq!(messages[3], json!({"role": "tool", "tool_call_id": "b", "content": "2"}));
    }

    #[test]
    fn the_model_comes_first_and_the_echo_keeps_the_request_s_own_forms() {
        let tools = json!([{"type": "function", "name": "f"}]);
        let t = chat_of(
            json!({"model": "m", "input": "hi", "tools": tools, "instructions": "sys", "metadata": {"a": "b"}}),
        )
        .unwrap();
        assert_eq!(t.chat.as_object().unwrap().keys().take(2).collect::<Vec<_>>(), ["model", "messages"]);
        assert_eq!(t.chat["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!(t.echo["tools"], tools);
        assert_eq!(t.echo["instructions"], "sys");
        assert_eq!(t.chat["metadata"], json!({"a": "b"}), "metadata goes upstream, scanned like chat's");
    }

    #[test]
    fn stored_state_and_unknown_shapes_are_refused_naming_the_member() {
        let cases = [
            (json!({"input": "x", "previous_response_id": "r"}), "previous_response_id"),
            (json!({"input": "x", "conversation": "c"}), "conversation"),
            (json!({}), "input"),
            (json!({"input": []}), "input"),
            (json!({"input": [{"type": "item_reference", "id": "x"}]}), "input[0].type"),
            (json!({"input": [{"type": "reasoning", "summary": [], "signature": "s"}]}), "input[0].signature"),
            (json!({"input": [{"role": "tool", "content": "x"}]}), "input[0].role"),
            (json!({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}), "input[0].content[0].type"),
            (
                json!({"input": [{"role": "user", "content": [{"type": "output_text", "text": "t", "annotations": [{"url": "u"}]}]}]}),
                "input[0].content[0].annotations",
            ),
            (
                json!({"input": [{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_image"}]}]}),
                "input[0].output[0]",
            ),
            (json!({"input": "x", "tools": [{"type": "function", "name": "f", "extra": 1}]}), "tools[0].extra"),
            (json!({"input": "x", "tool_choice": "sometimes"}), "tool_choice"),
            (json!({"input": "x", "text": {"format": {"type": "yaml"}}}), "text.format.type"),
            (json!({"input": "x", "max_output_tokens": 0}), "max_output_tokens"),
            (json!({"input": "x", "stream_options": {"chunk_size": 3}}), "stream_options.chunk_size"),
            (json!({"input": "x", "messages": []}), "messages"),
        ];
        for (req, param) in cases {
            assert_eq!(chat_of(req.clone()).map(|t| t.chat).unwrap_err().param, param, "{req}");
        }
    }

    #[test]
    fn unhonoured_parameters_are_refused_or_named_when_ignored() {
        let cases = [
            ("store", json!(true)),
            ("include", json!(["reasoning.encrypted_content"])),
            ("truncation", json!("auto")),
            ("background", json!(true)),
            ("prompt", json!({"id": "p"})),
            ("max_tool_calls", json!(3)),
            ("top_logprobs", json!(2)),
        ];
        for (key, value) in cases {
            let mut req = json!({"model": "m", "input": "x"});
            req[key] = value;
            assert_eq!(to_chat(&req, Unsupported::Refuse).unwrap_err().param, key);
            let t = to_chat(&req, Unsupported::Ignore).unwrap();
            assert_eq!(t.ignored, [key]);
            assert!(t.chat.get(key).is_none());
        }
        let neutral =
            json!({"input": "x", "store": false, "include": [], "truncation": "disabled", "background": false});
        assert!(chat_of(neutral).unwrap().ignored.is_empty());
    }
}
