//! Egress: OpenAI chat requests to Anthropic Messages requests, and Anthropic responses and error
//! bodies back to OpenAI shapes.
//!
//! Anthropic differs from OpenAI in ways the translation must absorb: the system prompt is a
//! top-level field, roles must alternate user/assistant (so consecutive same-role messages are
//! merged), tool results are `tool_result` blocks inside a user message, tool arguments are JSON
//! objects rather than strings, `max_tokens` is mandatory and `temperature` stops at 1.

use serde_json::{json, Map, Value};

use super::{as_object, count, invalid, opt, opt_str, req_str, wrong, TranslateError};

/// `max_tokens` sent when the client gave none, since Anthropic requires the field.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Anthropic rejects temperatures above 1.0 while OpenAI accepts up to 2.0; we clamp rather than
/// fail so that OpenAI clients keep working.
const MAX_TEMPERATURE: f64 = 1.0;

/// Translate an OpenAI chat completion request into an Anthropic Messages request for
/// `upstream_model`.
///
/// Fields without an Anthropic counterpart that do not change the meaning of the answer
/// (`stream_options`, `logprobs`, `seed`, penalties, ...) are dropped; features that would
/// silently change the answer (`n` > 1, audio or file parts, non-function tools) are rejected
/// with [`TranslateError::Unsupported`]. JSON mode (`response_format` `json_object` or
/// `json_schema`) becomes a forced tool whose input is the answer ([`JSON_ANSWER_TOOL`]), and
/// `reasoning` becomes an extended-thinking budget.
pub fn to_anthropic_request(openai: &Value, upstream_model: &str) -> Result<Value, TranslateError> {
    let req = as_object(openai, "request")?;
    check_n(req)?;
    let messages = opt(req, "messages")
        .ok_or_else(|| TranslateError::Missing("messages".into()))?
        .as_array()
        .ok_or_else(|| wrong("messages", "an array"))?;
    let (system, turns) = convert_messages(messages)?;
    if turns.is_empty() {
        return Err(invalid("messages", "no user or assistant content to send"));
    }

    let mut out = Map::new();
    out.insert("model".into(), Value::String(upstream_model.to_string()));
    if !system.is_empty() {
        out.insert("system".into(), Value::String(system.join("\n\n")));
    }
    out.insert("messages".into(), Value::Array(turns));
    out.insert("max_tokens".into(), json!(max_tokens(req)?));
    copy_sampling(req, &mut out)?;
    if let Some(stop) = stop_sequences(req)? {
        out.insert("stop_sequences".into(), stop);
    }
    if let Some(stream) = opt(req, "stream") {
        let s = stream.as_bool().ok_or_else(|| wrong("stream", "a boolean"))?;
        out.insert("stream".into(), Value::Bool(s));
    }
    if let Some(user) = opt_str(req, "user", "user")? {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    add_tools(req, &mut out)?;
    add_json_mode(req, &mut out)?;
    add_thinking(req, &mut out)?;
    Ok(Value::Object(out))
}

/// The tool a JSON-mode request is forced to call: its input is the answer, and the translation
/// back turns that call into the message's `content`.
pub const JSON_ANSWER_TOOL: &str = "auditgate_json_answer";

/// `response_format` of type `json_object` or `json_schema` as a forced tool call whose input
/// schema is the requested one (Anthropic has no JSON mode; the peers do the same). `text` needs
/// nothing. A request with its own tools and JSON mode is refused: the forced tool would keep the
/// model from calling them.
fn add_json_mode(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(format) = opt(req, "response_format") else {
        return Ok(());
    };
    let format = as_object(format, "response_format")?;
    let schema = match req_str(format, "type", "response_format.type")? {
        "text" => return Ok(()),
        "json_object" => json!({"type": "object"}),
        "json_schema" => {
            let spec = as_object(
                opt(format, "json_schema")
                    .ok_or_else(|| TranslateError::Missing("response_format.json_schema".into()))?,
                "response_format.json_schema",
            )?;
            opt(spec, "schema").cloned().unwrap_or_else(|| json!({"type": "object"}))
        }
        other => return Err(invalid("response_format.type", format!("unknown type {other:?}"))),
    };
    if out.contains_key("tools") {
        return Err(TranslateError::Unsupported(
            "response_format together with tools (Anthropic has no JSON mode; it is sent as a forced tool)".into(),
        ));
    }
    out.insert(
        "tools".into(),
        json!([{
            "name": JSON_ANSWER_TOOL,
            "description": "Give the complete answer as this tool's input, as JSON fitting its schema.",
            "input_schema": schema,
        }]),
    );
    out.insert("tool_choice".into(), json!({"type": "tool", "name": JSON_ANSWER_TOOL}));
    Ok(())
}

/// Smallest thinking budget Anthropic accepts.
const MIN_THINKING_BUDGET: u64 = 1024;

/// OpenRouter's `reasoning` (`max_tokens`, or `effort` as a share of the completion limit:
/// high 80 %, medium 50 %, low 20 %; `enabled`; `exclude`) as Anthropic's `thinking` budget. The
/// budget stays below `max_tokens`, which is raised when it leaves no room for it; Anthropic
/// allows no temperature other than 1 with thinking, so a temperature is dropped.
fn add_thinking(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(reasoning) = opt(req, "reasoning") else {
        return Ok(());
    };
    let r = as_object(reasoning, "reasoning")?;
    if opt(r, "enabled").and_then(Value::as_bool) == Some(false) {
        return Ok(());
    }
    let max = out.get("max_tokens").and_then(Value::as_u64).unwrap_or(DEFAULT_MAX_TOKENS);
    let budget = match (opt(r, "max_tokens"), opt_str(r, "effort", "reasoning.effort")?) {
        (Some(n), _) => n.as_u64().ok_or_else(|| wrong("reasoning.max_tokens", "a positive integer"))?,
        (None, Some(effort)) => {
            let share = match effort {
                "high" => 0.8,
                "medium" => 0.5,
                "low" | "minimal" => 0.2,
                other => return Err(invalid("reasoning.effort", format!("unknown effort {other:?}"))),
            };
            (max as f64 * share) as u64
        }
        (None, None) => max / 2,
    }
    .max(MIN_THINKING_BUDGET);
    if budget >= max {
        out.insert("max_tokens".into(), json!(budget + MIN_THINKING_BUDGET));
    }
    out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    for key in ["temperature", "top_k", "top_p"] {
        out.remove(key);
    }
    Ok(())
}

fn check_n(req: &Map<String, Value>) -> Result<(), TranslateError> {
    match opt(req, "n") {
        None => Ok(()),
        Some(n) if n.as_u64() == Some(1) => Ok(()),
        Some(_) => Err(TranslateError::Unsupported("n other than 1 (Anthropic returns one choice)".into())),
    }
}

/// `max_completion_tokens` wins over the legacy `max_tokens`; both must be positive integers.
fn max_tokens(req: &Map<String, Value>) -> Result<u64, TranslateError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = opt(req, key) {
            return match v.as_u64() {
                Some(n) if n > 0 => Ok(n),
                _ => Err(wrong(key, "a positive integer")),
            };
        }
    }
    Ok(DEFAULT_MAX_TOKENS)
}

fn copy_sampling(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    if let Some(t) = opt(req, "temperature") {
        let t = t.as_f64().ok_or_else(|| wrong("temperature", "a number"))?;
        if t < 0.0 {
            return Err(invalid("temperature", "must not be negative"));
        }
        out.insert("temperature".into(), json!(t.min(MAX_TEMPERATURE)));
    }
    for key in ["top_p", "top_k"] {
        if let Some(v) = opt(req, key) {
            if !v.is_number() {
                return Err(wrong(key, "a number"));
            }
            out.insert(key.into(), v.clone());
        }
    }
    Ok(())
}

/// `stop` as a string or a list of strings, as Anthropic's `stop_sequences` list.
fn stop_sequences(req: &Map<String, Value>) -> Result<Option<Value>, TranslateError> {
    match opt(req, "stop") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(json!([s]))),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Ok((!items.is_empty()).then(|| Value::Array(items.clone())))
        }
        Some(_) => Err(wrong("stop", "a string or a list of strings")),
    }
}

/// Split OpenAI messages into the hoisted system texts and alternating Anthropic turns.
fn convert_messages(messages: &[Value]) -> Result<(Vec<String>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        let msg = as_object(m, &field)?;
        let role = req_str(msg, "role", &format!("{field}.role"))?;
        let (role, blocks) = match role {
            "system" | "developer" => {
                system.extend(system_text(msg, &field)?);
                continue;
            }
            "user" => ("user", content_blocks(opt(msg, "content"), &field)?),
            "assistant" => ("assistant", assistant_blocks(msg, &field)?),
            "tool" => ("user", vec![tool_result(msg, &field)?]),
            other => return Err(TranslateError::Unsupported(format!("{field}.role {other:?}"))),
        };
        push_turn(&mut turns, role, blocks);
    }
    let turns = turns.into_iter().map(|(r, b)| turn_value(&r, b)).collect();
    Ok((system, turns))
}

/// Append blocks to the last turn when it has the same role (Anthropic requires alternation);
/// empty messages are skipped since Anthropic rejects empty content.
fn push_turn(turns: &mut Vec<(String, Vec<Value>)>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if last == role => existing.extend(blocks),
        _ => turns.push((role.to_string(), blocks)),
    }
}

/// A single plain text block is sent as a string (the common, compact form); anything else as blocks.
fn turn_value(role: &str, blocks: Vec<Value>) -> Value {
    if let [only] = blocks.as_slice() {
        if only.get("type").and_then(Value::as_str) == Some("text") && only.as_object().map(Map::len) == Some(2) {
            if let Some(text) = only.get("text") {
                return json!({ "role": role, "content": text });
            }
        }
    }
    json!({ "role": role, "content": blocks })
}

fn system_text(msg: &Map<String, Value>, field: &str) -> Result<Vec<String>, TranslateError> {
    let blocks = content_blocks(opt(msg, "content"), field)?;
    blocks
        .iter()
        .map(|b| match b.get("text").and_then(Value::as_str) {
            Some(t) => Ok(t.to_string()),
            None => Err(TranslateError::Unsupported(format!("{field}: non-text content in a system message"))),
        })
        .collect()
}

/// OpenAI `content` (string, list of parts or null) as Anthropic content blocks.
fn content_blocks(content: Option<&Value>, field: &str) -> Result<Vec<Value>, TranslateError> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text_block(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                out.extend(part_block(p, &format!("{field}.content[{j}]"))?);
            }
            Ok(out)
        }
        Some(_) => Err(wrong(format!("{field}.content"), "a string, a list of parts or null")),
    }
}

/// Anthropic rejects empty text blocks, so empty text yields no block at all.
fn text_block(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| json!({ "type": "text", "text": s }))
}

fn part_block(part: &Value, field: &str) -> Result<Option<Value>, TranslateError> {
    let p = as_object(part, field)?;
    match req_str(p, "type", &format!("{field}.type"))? {
        "text" => {
            let block = text_block(req_str(p, "text", &format!("{field}.text"))?);
            Ok(block.map(|b| with_cache_control(b, p)))
        }
        "refusal" => Ok(text_block(req_str(p, "refusal", &format!("{field}.refusal"))?)),
        "image_url" => image_block(p, field).map(Some),
        "file" => document_block(p, field).map(Some),
        other => Err(TranslateError::Unsupported(format!("{field}: content part type {other:?}"))),
    }
}

/// `image_url` parts: `data:` URLs become base64 sources, http(s) URLs become url sources.
fn image_block(p: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let url = match opt(p, "image_url") {
        Some(Value::String(u)) => u.as_str(),
        Some(Value::Object(o)) => req_str(o, "url", &format!("{field}.image_url.url"))?,
        _ => return Err(TranslateError::Missing(format!("{field}.image_url"))),
    };
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = parse_data_url(rest)
            .ok_or_else(|| invalid(format!("{field}.image_url.url"), "data URL must be base64 with a media type"))?;
        json!({ "type": "base64", "media_type": media_type, "data": data })
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({ "type": "url", "url": url })
    } else {
        return Err(invalid(format!("{field}.image_url.url"), "must be a data: or http(s) URL"));
    };
    Ok(json!({ "type": "image", "source": source }))
}

/// OpenRouter-style prompt caching: a `cache_control` marker on a text part is kept, since
/// Anthropic honours it on the block (OpenAI upstreams never see this translation).
fn with_cache_control(mut block: Value, part: &Map<String, Value>) -> Value {
    if let (Some(cc @ Value::Object(_)), Some(b)) = (opt(part, "cache_control"), block.as_object_mut()) {
        b.insert("cache_control".into(), cc.clone());
    }
    block
}

/// `file` parts carrying a PDF as a base64 data URL become Anthropic `document` blocks; uploaded
/// `file_id`s exist only at the OpenAI side and cannot be forwarded.
fn document_block(p: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let file = as_object(
        opt(p, "file").ok_or_else(|| TranslateError::Missing(format!("{field}.file")))?,
        &format!("{field}.file"),
    )?;
    let Some(data_url) = opt_str(file, "file_data", &format!("{field}.file.file_data"))? else {
        return Err(TranslateError::Unsupported(format!("{field}: file parts without inline file_data")));
    };
    let (media_type, data) = data_url
        .strip_prefix("data:")
        .and_then(parse_data_url)
        .ok_or_else(|| invalid(format!("{field}.file.file_data"), "must be a base64 data URL"))?;
    if media_type != "application/pdf" {
        return Err(TranslateError::Unsupported(format!("{field}: file type {media_type:?}")));
    }
    let mut block = json!({
        "type": "document",
        "source": { "type": "base64", "media_type": media_type, "data": data },
    });
    if let Some(name) = opt_str(file, "filename", &format!("{field}.file.filename"))? {
        block["title"] = json!(name);
    }
    Ok(block)
}

/// `image/png;base64,AAAA` -> (`image/png`, `AAAA`).
fn parse_data_url(rest: &str) -> Option<(&str, &str)> {
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    (!media_type.is_empty() && !data.is_empty()).then_some((media_type, data))
}

fn assistant_blocks(msg: &Map<String, Value>, field: &str) -> Result<Vec<Value>, TranslateError> {
    let mut blocks = content_blocks(opt(msg, "content"), field)?;
    if let Some(calls) = opt(msg, "tool_calls") {
        let calls = calls.as_array().ok_or_else(|| wrong(format!("{field}.tool_calls"), "an array"))?;
        for (j, c) in calls.iter().enumerate() {
            blocks.push(tool_use_block(c, &format!("{field}.tool_calls[{j}]"))?);
        }
    }
    Ok(blocks)
}

fn tool_use_block(call: &Value, field: &str) -> Result<Value, TranslateError> {
    let c = as_object(call, field)?;
    let id = req_str(c, "id", &format!("{field}.id"))?;
    let f = as_object(
        opt(c, "function").ok_or_else(|| TranslateError::Missing(format!("{field}.function")))?,
        &format!("{field}.function"),
    )?;
    let name = req_str(f, "name", &format!("{field}.function.name"))?;
    let args = opt_str(f, "arguments", &format!("{field}.function.arguments"))?.unwrap_or("");
    let input = decode_arguments(args, &format!("{field}.function.arguments"))?;
    Ok(json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
}

/// OpenAI carries tool arguments as a JSON string; Anthropic wants the object itself.
fn decode_arguments(args: &str, field: &str) -> Result<Value, TranslateError> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(args) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(invalid(field, "must encode a JSON object")),
        Err(e) => Err(invalid(field, format!("not valid JSON: {e}"))),
    }
}

fn tool_result(msg: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let id = req_str(msg, "tool_call_id", &format!("{field}.tool_call_id"))?;
    let content = match opt(msg, "content") {
        Some(Value::String(s)) => Value::String(s.clone()),
        other => Value::Array(content_blocks(other, field)?),
    };
    Ok(json!({ "type": "tool_result", "tool_use_id": id, "content": content }))
}

/// Copy `tools` and `tool_choice` (plus `parallel_tool_calls: false`) into the Anthropic request.
fn add_tools(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let Some(tools) = opt(req, "tools") else {
        return Ok(());
    };
    let tools = tools.as_array().ok_or_else(|| wrong("tools", "an array"))?;
    if tools.is_empty() {
        return Ok(());
    }
    let converted = tools
        .iter()
        .enumerate()
        .map(|(i, t)| tool_definition(t, &format!("tools[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    out.insert("tools".into(), Value::Array(converted));
    let mut choice = match opt(req, "tool_choice") {
        None => None,
        Some(c) => Some(tool_choice(c)?),
    };
    if opt(req, "parallel_tool_calls").and_then(Value::as_bool) == Some(false) {
        let c = choice.get_or_insert_with(|| json!({ "type": "auto" }));
        // Anthropic's `none` choice takes no parallelism flag.
        if c.get("type").and_then(Value::as_str) != Some("none") {
            c["disable_parallel_tool_use"] = Value::Bool(true);
        }
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
    Ok(())
}

fn tool_definition(tool: &Value, field: &str) -> Result<Value, TranslateError> {
    let t = as_object(tool, field)?;
    let kind = opt_str(t, "type", &format!("{field}.type"))?.unwrap_or("function");
    if kind != "function" {
        return Err(TranslateError::Unsupported(format!("{field}: tool type {kind:?}")));
    }
    let f = as_object(
        opt(t, "function").ok_or_else(|| TranslateError::Missing(format!("{field}.function")))?,
        &format!("{field}.function"),
    )?;
    let mut out = Map::new();
    out.insert("name".into(), json!(req_str(f, "name", &format!("{field}.function.name"))?));
    if let Some(d) = opt_str(f, "description", &format!("{field}.function.description"))? {
        out.insert("description".into(), json!(d));
    }
    let schema = match opt(f, "parameters") {
        None => json!({ "type": "object", "properties": {} }),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Err(wrong(format!("{field}.function.parameters"), "an object")),
    };
    out.insert("input_schema".into(), schema);
    Ok(Value::Object(out))
}

fn tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(json!({ "type": "auto" })),
            "none" => Ok(json!({ "type": "none" })),
            "required" => Ok(json!({ "type": "any" })),
            other => Err(invalid("tool_choice", format!("unknown value {other:?}"))),
        },
        Value::Object(o) => {
            let f = opt(o, "function")
                .and_then(Value::as_object)
                .ok_or_else(|| TranslateError::Missing("tool_choice.function".into()))?;
            let name = req_str(f, "name", "tool_choice.function.name")?;
            Ok(json!({ "type": "tool", "name": name }))
        }
        _ => Err(wrong("tool_choice", "a string or an object")),
    }
}

/// The headers every upstream Messages call needs besides `content-type: application/json`.
pub fn upstream_headers(api_key: &str) -> [(&'static str, String); 2] {
    [(super::API_KEY_HEADER, api_key.to_string()), (super::VERSION_HEADER, super::ANTHROPIC_VERSION.to_string())]
}

/// Translate an Anthropic Messages response into an OpenAI `chat.completion`.
///
/// The `id` and `model` are Anthropic's; the gateway may overwrite them with its own generation id
/// and the client-facing model name. An Anthropic error body gives [`TranslateError::Upstream`].
pub fn from_anthropic_response(resp: &Value) -> Result<Value, TranslateError> {
    let r = as_object(resp, "response")?;
    if opt_str(r, "type", "type")? == Some("error") {
        return Err(upstream_error(r));
    }
    let blocks = opt(r, "content")
        .ok_or_else(|| TranslateError::Missing("content".into()))?
        .as_array()
        .ok_or_else(|| wrong("content", "an array"))?;
    let message = assistant_message(blocks)?;
    let stop_reason = opt_str(r, "stop_reason", "stop_reason")?;
    // The JSON-mode tool call is the answer itself, not a call for the client to make.
    let json_answer = blocks.iter().any(|b| b.get("name").and_then(Value::as_str) == Some(JSON_ANSWER_TOOL));
    let answered = stop_reason == Some("tool_use") && json_answer && message.get("tool_calls").is_none();
    let finish = stop_reason.map(|s| if answered { "stop" } else { finish_reason(s) });
    Ok(json!({
        "id": opt_str(r, "id", "id")?.unwrap_or(""),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": opt_str(r, "model", "model")?.unwrap_or(""),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish,
            "native_finish_reason": stop_reason,
        }],
        "usage": openai_usage(opt(r, "usage"), None),
    }))
}

/// Text blocks concatenated into `content`, `tool_use` blocks as `tool_calls`, thinking blocks as
/// OpenRouter's `reasoning` field; other block types (server tools, citations) are ignored.
fn assistant_message(blocks: &[Value]) -> Result<Value, TranslateError> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let field = format!("content[{i}]");
        let block = as_object(b, &field)?;
        match req_str(block, "type", &format!("{field}.type"))? {
            "text" => text.push_str(req_str(block, "text", &format!("{field}.text"))?),
            "thinking" => reasoning.push_str(opt_str(block, "thinking", &field)?.unwrap_or("")),
            "tool_use" if opt_str(block, "name", &field)? == Some(JSON_ANSWER_TOOL) => {
                text.push_str(&opt(block, "input").cloned().unwrap_or_else(|| json!({})).to_string())
            }
            "tool_use" => calls.push(openai_tool_call(block, &field)?),
            _ => {}
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) };
    msg.insert("content".into(), content);
    if !reasoning.is_empty() {
        msg.insert("reasoning".into(), Value::String(reasoning));
    }
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(msg))
}

fn openai_tool_call(block: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let id = req_str(block, "id", &format!("{field}.id"))?;
    let name = req_str(block, "name", &format!("{field}.name"))?;
    let input = opt(block, "input").cloned().unwrap_or_else(|| json!({}));
    Ok(json!({
        "id": id,
        "type": "function",
        "function": { "name": name, "arguments": input.to_string() },
    }))
}

/// Anthropic `stop_reason` -> OpenAI `finish_reason`.
pub(super) fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer end the turn normally.
        _ => "stop",
    }
}

/// Anthropic usage -> OpenAI usage. Anthropic's `input_tokens` excludes cache reads and writes while
/// OpenAI's `prompt_tokens` includes them, so both are added in and cache reads are reported as
/// `prompt_tokens_details.cached_tokens` (billed at the cached price). `output_override` is the
/// final cumulative output count from a stream's `message_delta`.
pub(super) fn openai_usage(usage: Option<&Value>, output_override: Option<u64>) -> Value {
    let u = usage.and_then(Value::as_object);
    let get = |k: &str| count(u.and_then(|u| u.get(k)));
    let cached = get("cache_read_input_tokens");
    let prompt = get("input_tokens") + cached + get("cache_creation_input_tokens");
    let completion = output_override.unwrap_or_else(|| get("output_tokens"));
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cached },
    })
}

/// The `Upstream` error carried by an Anthropic error object (body or stream event).
pub(super) fn upstream_error(body: &Map<String, Value>) -> TranslateError {
    let err = body.get("error").and_then(Value::as_object);
    let field = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or("");
    TranslateError::Upstream {
        kind: non_empty(field("type"), "api_error").to_string(),
        message: non_empty(field("message"), "upstream reported an error").to_string(),
    }
}

fn non_empty<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() {
        fallback
    } else {
        s
    }
}

/// Longest raw body excerpt quoted in an error message.
const MAX_RAW_ERROR: usize = 300;

/// A readable message from an Anthropic error response (`{"type":"error","error":{"type","message"}}`),
/// e.g. `overloaded_error: Overloaded`. Bodies in other shapes are quoted (truncated); an empty body
/// gives a message naming the status.
pub fn error_message(status: u16, body: &[u8]) -> String {
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        if let Some(err) = o.get("error") {
            let kind = err.get("type").and_then(Value::as_str).unwrap_or("");
            let msg = err.get("message").and_then(Value::as_str).or_else(|| err.as_str()).unwrap_or("");
            match (kind.is_empty(), msg.is_empty()) {
                (false, false) => return format!("{kind}: {msg}"),
                (true, false) => return msg.to_string(),
                (false, true) => return kind.to_string(),
                (true, true) => {}
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {status}");
    }
    let mut cut: String = text.chars().take(MAX_RAW_ERROR).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("upstream returned HTTP {status}: {cut}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(req: Value) -> Value {
        match to_anthropic_request(&req, "claude-x") {
            Ok(v) => v,
            Err(e) => panic!("translation failed: {e}"),
        }
    }

    #[test]
    fn json_mode_is_a_forced_tool_and_its_call_comes_back_as_the_content() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "Where?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}}));
        assert_eq!(out["tools"][0]["name"], JSON_ANSWER_TOOL);
        assert_eq!(out["tools"][0]["input_schema"], schema);
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": JSON_ANSWER_TOOL}));
        let object = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_object"}}));
        assert_eq!(object["tools"][0]["input_schema"], json!({"type": "object"}));
        let with_tools = to_anthropic_request(
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"},
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
            "claude-x",
        );
        assert!(matches!(with_tools, Err(TranslateError::Unsupported(_))), "{with_tools:?}");
        let answer = from_anthropic_response(&json!({"id": "msg_1", "type": "message", "model": "claude-x",
            "content": [{"type": "tool_use", "id": "t1", "name": JSON_ANSWER_TOOL, "input": {"city": "Bern"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 3}}))
        .unwrap();
        let message = &answer["choices"][0]["message"];
        assert_eq!(
            serde_json::from_str::<Value>(message["content"].as_str().unwrap()).unwrap(),
            json!({"city": "Bern"})
        );
        assert!(message.get("tool_calls").is_none());
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn reasoning_becomes_a_thinking_budget_below_max_tokens() {
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 4000,
            "temperature": 0.3, "reasoning": {"effort": "high"}}));
        assert_eq!(out["thinking"], json!({"type": "enabled", "budget_tokens": 3200}));
        assert_eq!(out["max_tokens"], 4000);
        assert!(out.get("temperature").is_none(), "Anthropic takes no temperature with thinking");
        let small = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 500,
            "reasoning": {"max_tokens": 2000}}));
        assert_eq!(small["thinking"]["budget_tokens"], 2000);
        assert!(small["max_tokens"].as_u64().unwrap() > 2000);
        let off = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "reasoning": {"enabled": false}}));
        assert!(off.get("thinking").is_none());
    }

    #[test]
    fn system_and_developer_messages_are_hoisted_and_joined() {
        let out = translate(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in German."}]},
                {"role": "user", "content": "Hi"},
            ],
        }));
        assert_eq!(out["system"], "Be brief.\n\nAnswer in German.");
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["messages"], json!([{"role": "user", "content": "Hi"}]));
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn images_become_base64_or_url_sources() {
        let out = translate(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.org/a.jpg", "detail": "high"}},
        ]}]}));
        let blocks = &out["messages"][0]["content"];
        assert_eq!(blocks[0], json!({"type": "text", "text": "What is this?"}));
        assert_eq!(blocks[1]["source"], json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}));
        assert_eq!(blocks[2]["source"], json!({"type": "url", "url": "https://example.org/a.jpg"}));
    }

    #[test]
    fn pdf_files_become_documents_and_cache_control_is_kept() {
        let out = translate(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Summarise", "cache_control": {"type": "ephemeral"}},
            {"type": "file", "file": {"filename": "contract.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}},
        ]}]}));
        let blocks = &out["messages"][0]["content"];
        assert_eq!(blocks[0], json!({"type": "text", "text": "Summarise", "cache_control": {"type": "ephemeral"}}));
        assert_eq!(
            blocks[1],
            json!({"type": "document", "title": "contract.pdf",
                   "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}})
        );
        for file in [json!({"file_id": "file-1"}), json!({"file_data": "data:text/csv;base64,YQ=="})] {
            let req = json!({"messages": [{"role": "user", "content": [{"type": "file", "file": file}]}]});
            assert!(matches!(to_anthropic_request(&req, "m"), Err(TranslateError::Unsupported(_))));
        }
    }

    #[test]
    fn upstream_headers_carry_key_and_version() {
        let h = upstream_headers("sk-ant-1");
        assert_eq!(h[0], ("x-api-key", "sk-ant-1".to_string()));
        assert_eq!(h[1], ("anthropic-version", "2023-06-01".to_string()));
    }

    #[test]
    fn bad_image_urls_are_rejected() {
        for url in ["data:image/png,rawbytes", "ftp://x/y.png", "data:;base64,AAAA"] {
            let req = json!({"messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}}]}]});
            assert!(matches!(to_anthropic_request(&req, "m"), Err(TranslateError::Invalid { .. })));
        }
    }

    #[test]
    fn tool_calls_and_results_become_blocks_and_consecutive_results_merge() {
        let out = translate(json!({"messages": [
            {"role": "user", "content": "Weather in Bern and Basel?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Bern\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "12C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "14C"},
            {"role": "user", "content": "Thanks"},
        ]}));
        let msgs = out["messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            msgs[1]["content"][0],
            json!({"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Bern"}})
        );
        assert_eq!(msgs[1]["content"][1]["input"], json!({}));
        assert_eq!(msgs[2]["role"], "user");
        assert_eq!(
            msgs[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1", "content": "12C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "14C"},
                {"type": "text", "text": "Thanks"},
            ])
        );
    }

    #[test]
    fn invalid_tool_arguments_are_an_error() {
        for args in ["{not json", "[1,2]"] {
            let req = json!({"messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]},
            ]});
            assert!(matches!(to_anthropic_request(&req, "m"), Err(TranslateError::Invalid { .. })));
        }
    }

    #[test]
    fn tools_choice_stop_tokens_and_sampling_are_mapped() {
        let out = translate(json!({
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}},
                      {"type": "function", "function": {"name": "g"}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": false,
            "stop": "END", "max_tokens": 10, "max_completion_tokens": 20,
            "temperature": 1.7, "top_p": 0.9, "stream": true, "user": "u-42",
        }));
        assert_eq!(
            out["tools"],
            json!([{"name": "f", "description": "d", "input_schema": {"type": "object"}},
                   {"name": "g", "input_schema": {"type": "object", "properties": {}}}])
        );
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}));
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["max_tokens"], 20);
        assert_eq!(out["temperature"], 1.0);
        assert_eq!(out["top_p"], 0.9);
        assert_eq!(out["stream"], true);
        assert_eq!(out["metadata"], json!({"user_id": "u-42"}));
    }

    #[test]
    fn tool_choice_strings_map() {
        for (openai, anthropic) in [("auto", "auto"), ("none", "none"), ("required", "any")] {
            let out = translate(json!({
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": openai, "stop": ["a", "b"],
            }));
            assert_eq!(out["tool_choice"], json!({"type": anthropic}));
            assert_eq!(out["stop_sequences"], json!(["a", "b"]));
        }
    }

    #[test]
    fn unsupported_and_malformed_requests_are_errors() {
        let cases = [
            json!({"messages": [{"role": "user", "content": "x"}], "n": 2}),
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
            json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}),
            json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]}),
            json!({"messages": [{"role": "user", "content": 5}]}),
            json!({"messages": [{"role": "system", "content": "only system"}]}),
            json!({"messages": "hello"}),
            json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
            json!({"messages": [{"role": "user", "content": "x"}], "stop": 3}),
            json!({"messages": [{"role": "user", "content": "x"}], "temperature": -1}),
            json!({"messages": [{"role": "tool", "content": "no id"}]}),
            json!({}),
            json!([]),
        ];
        for c in cases {
            assert!(to_anthropic_request(&c, "m").is_err(), "accepted {c}");
        }
    }

    #[test]
    fn response_text_tools_reasons_and_usage() {
        let resp = json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check. "},
                {"type": "text", "text": "One moment."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Bern"}},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 5},
        });
        let out = from_anthropic_response(&resp).unwrap_or_default();
        assert_eq!(out["object"], "chat.completion");
        let msg = &out["choices"][0]["message"];
        assert_eq!(msg["content"], "Let me check. One moment.");
        assert_eq!(msg["reasoning"], "hmm");
        assert_eq!(msg["tool_calls"][0]["function"]["name"], "weather");
        let args: Value = serde_json::from_str(msg["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or(""))
            .unwrap_or_default();
        assert_eq!(args, json!({"city": "Bern"}));
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["choices"][0]["native_finish_reason"], "tool_use");
        assert_eq!(
            out["usage"],
            json!({"prompt_tokens": 155, "completion_tokens": 20, "total_tokens": 175,
                   "prompt_tokens_details": {"cached_tokens": 50}})
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ] {
            let resp = json!({"content": [{"type": "text", "text": "x"}], "stop_reason": stop});
            let out = from_anthropic_response(&resp).unwrap_or_default();
            assert_eq!(out["choices"][0]["finish_reason"], finish);
        }
    }

    #[test]
    fn error_bodies_become_upstream_errors_and_messages() {
        let body = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(
            from_anthropic_response(&body),
            Err(TranslateError::Upstream { kind: "overloaded_error".into(), message: "Overloaded".into() })
        );
        assert_eq!(error_message(529, body.to_string().as_bytes()), "overloaded_error: Overloaded");
        assert_eq!(error_message(502, b""), "upstream returned HTTP 502");
        assert_eq!(error_message(500, b"<html>oops</html>"), "upstream returned HTTP 500: <html>oops</html>");
        let long = "x".repeat(1000);
        assert!(error_message(500, long.as_bytes()).chars().count() < 350);
        assert_eq!(error_message(400, br#"{"error":{"message":"bad"}}"#), "bad");
    }
}
