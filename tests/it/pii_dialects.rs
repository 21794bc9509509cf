//! Nothing of a completions or Responses request reaches an upstream unscanned. Each string and
//! each object key of rich request bodies is replaced in turn by a text holding an IBAN; then the
//! request is refused, or the IBAN is not in what goes upstream, or the classification of what
//! goes upstream finds it.

use auditgate::config::Unsupported;
use auditgate::dialects::{completions, responses, DialectError, Translated};
use auditgate::pii::request::GATEWAY_FIELDS;
use serde_json::{json, Value};

const IBAN_TEXT: &str = "IBAN CH93 0076 2011 6238 5295 7";
const IBAN_DIGITS: &str = "6238 5295";

fn responses_body() -> Value {
    json!({
        "model": "test/model",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "plain string content"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "a text part"},
                {"type": "input_image", "image_url": "https://example.org/cat.png", "detail": "low"},
                {"type": "input_file", "filename": "invoice.pdf", "file_data": "data:application/pdf;base64,AAAA"}
            ]},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed", "content": [
                {"type": "output_text", "text": "an earlier answer", "annotations": []}
            ]},
            {"type": "function_call", "call_id": "call_1", "name": "pay", "id": "fc_1", "status": "completed",
             "arguments": "{\"account\": \"none\", \"note\": \"monthly\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "done"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "left out"}]},
            {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "also done"}]},
            {"role": "developer", "content": [{"type": "input_text", "text": "developer note"}]}
        ],
        "tools": [{"type": "function", "name": "pay", "description": "Pay an invoice", "strict": true,
                   "parameters": {"type": "object", "properties": {"account": {"type": "string", "description": "the account"}}}}],
        "tool_choice": {"type": "function", "name": "pay"},
        "text": {"format": {"type": "json_schema", "name": "answer", "description": "the answer",
                            "schema": {"type": "object", "properties": {"note": {"type": "string"}}}}, "verbosity": "low"},
        "reasoning": {"effort": "low"},
        "metadata": {"ticket": "T-1"},
        "user": "someone",
        "safety_identifier": "abc",
        "prompt_cache_key": "k1",
        "temperature": 0.5,
        "max_output_tokens": 100,
        "parallel_tool_calls": true,
        "store": false,
        "truncation": "disabled",
        "include": [],
        "stream": true,
        "stream_options": {"include_obfuscation": false},
        "custom_extension": {"note": "unknown members pass on"},
        "provider": {"order": ["fake-eu"]}
    })
}

fn completions_body() -> Value {
    json!({
        "model": "test/model",
        "prompt": ["Once upon a time"],
        "suffix": "",
        "max_tokens": 10,
        "stop": ["\n", "END"],
        "user": "someone",
        "logit_bias": {"50256": -100},
        "echo": false,
        "stream": true,
        "stream_options": {"include_usage": true},
        "custom_extension": "unknown members pass on"
    })
}

/// Every body with one string value or one object key replaced by the IBAN text, with its path.
fn variants(v: &Value, path: &str, out: &mut Vec<(String, Value)>, rebuild: &dyn Fn(Value) -> Value) {
    match v {
        Value::String(_) => out.push((path.to_string(), rebuild(json!(IBAN_TEXT)))),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let with = |x: Value| {
                    let mut items = items.clone();
                    items[i] = x;
                    rebuild(Value::Array(items))
                };
                variants(item, &format!("{path}[{i}]"), out, &with);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let renamed: serde_json::Map<String, Value> = map
                    .iter()
                    .map(|(k2, v2)| (if k2 == k { IBAN_TEXT.to_string() } else { k2.clone() }, v2.clone()))
                    .collect();
                out.push((format!("{path}.{k} (key)"), rebuild(Value::Object(renamed))));
                let with = |x: Value| {
                    let mut map = map.clone();
                    map.insert(k.clone(), x);
                    rebuild(Value::Object(map))
                };
                variants(item, &format!("{path}.{k}"), out, &with);
            }
        }
        _ => {}
    }
}

/// The request as it goes upstream: the translation minus the gateway's own fields.
fn upstream(t: &Translated) -> Value {
    let mut chat = t.chat.clone();
    if let Some(obj) = chat.as_object_mut() {
        for f in GATEWAY_FIELDS {
            obj.shift_remove(*f);
        }
    }
    chat
}

fn nothing_leaves_unscanned(body: Value, translate: fn(&Value, Unsupported) -> Result<Translated, DialectError>) {
    let mut cases = Vec::new();
    variants(&body, "", &mut cases, &|v| v);
    assert!(cases.len() >= 15, "too few variants: {}", cases.len());
    let (mut refused, mut kept_back, mut found) = (0, 0, 0);
    for (path, case) in cases {
        for setting in [Unsupported::Refuse, Unsupported::Ignore] {
            let Ok(t) = translate(&case, setting) else {
                refused += 1;
                continue;
            };
            let sent = upstream(&t);
            if !sent.to_string().contains(IBAN_DIGITS) {
                kept_back += 1;
                continue;
            }
            let cls = auditgate::pii::classify_chat(&sent);
            if path.ends_with(".file_data") {
                // Encoded file contents cannot be scanned: the part is listed for policy to decide.
                assert!(cls.unscannable.iter().any(|p| p.ends_with("content[2]")), "{path}: {:?}", cls.unscannable);
                found += 1;
                continue;
            }
            assert!(cls.entity_types().contains("IBAN_CODE"), "{path}: the IBAN goes upstream unscanned: {sent}");
            found += 1;
        }
    }
    assert!(found > 10 && refused > 0, "found {found}, refused {refused}, kept back {kept_back}");
}

#[test]
fn every_string_and_key_of_a_responses_request_is_refused_kept_back_or_found() {
    nothing_leaves_unscanned(responses_body(), responses::to_chat);
}

#[test]
fn every_string_and_key_of_a_completions_request_is_refused_kept_back_or_found() {
    nothing_leaves_unscanned(completions_body(), completions::to_chat);
}

#[test]
fn the_rich_bodies_translate_whole_so_the_variants_test_real_paths() {
    for (body, translate) in [
        (responses_body(), responses::to_chat as fn(&Value, Unsupported) -> Result<Translated, DialectError>),
        (completions_body(), completions::to_chat),
    ] {
        let t = translate(&body, Unsupported::Refuse).expect("the unmodified body is accepted");
        assert!(t.ignored.is_empty(), "{:?}", t.ignored);
        assert!(t.chat["messages"].as_array().is_some_and(|m| !m.is_empty()));
    }
}
