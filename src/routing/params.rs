//! Which OpenAI request parameters a request uses, in the vocabulary of OpenRouter's
//! `supported_parameters`, for `provider.require_parameters`.
//!
//! Only parameters that change what a provider must be able to do are listed; transport and
//! routing fields (`model`, `messages`, `stream`, `provider`, `models`, `user`, ...) are not.
//! A parameter set to `null` is treated as absent, as OpenAI does.

use serde_json::{Map, Value};

/// Request keys that name provider capabilities (OpenRouter's `supported_parameters` names).
const CAPABILITIES: &[&str] = &[
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "top_a",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "seed",
    "stop",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "reasoning",
    "include_reasoning",
    "web_search_options",
    "verbosity",
];

/// The capability parameters a chat request body uses, sorted and without repeats.
///
/// Two aliases are folded the way OpenRouter names them: `max_completion_tokens` counts as
/// `max_tokens`, and a `response_format` of type `json_schema` also requires
/// `structured_outputs`.
pub fn request_parameters(body: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        let name = if key == "max_completion_tokens" { "max_tokens" } else { key.as_str() };
        if CAPABILITIES.contains(&name) {
            out.push(name.to_owned());
        }
        if name == "response_format" && value.get("type").and_then(Value::as_str) == Some("json_schema") {
            out.push("structured_outputs".to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Vec<String> {
        match v {
            Value::Object(map) => request_parameters(&map),
            _ => Vec::new(),
        }
    }

    #[test]
    fn picks_capabilities_only() {
        let got = params(json!({
            "model": "demo/echo", "messages": [], "stream": true, "provider": {},
            "tools": [], "temperature": 0.2, "seed": null
        }));
        assert_eq!(got, ["temperature", "tools"]);
    }

    #[test]
    fn aliases() {
        let got = params(json!({
            "max_completion_tokens": 10, "max_tokens": 5,
            "response_format": {"type": "json_schema", "json_schema": {}}
        }));
        assert_eq!(got, ["max_tokens", "response_format", "structured_outputs"]);
        let plain = params(json!({"response_format": {"type": "json_object"}}));
        assert_eq!(plain, ["response_format"]);
    }
}
