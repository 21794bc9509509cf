//! Request classification and redaction end to end: every text a chat or embeddings request
//! carries is scanned with the right path, redaction edits the JSON in place (tool-call
//! arguments included) and pseudonyms are restored in plain and streamed answers.

use auditgate::pii::{classify_chat, classify_embeddings, redact_chat, redact_embeddings, Level, Operator};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn chat_body() -> Value {
    json!({
        "model": "demo/echo",
        "user": "anna.keller@example.ch",
        "tools": [{"type": "function", "function": {"name": "pay", "description": "Pay Herr Hans Meier at CH93 0076 2011 6238 5295 7"}}],
        "messages": [
            {"role": "system", "content": "Du bist ein Treuhand-Assistent."},
            {"role": "user", "name": "Anna Keller", "content": [
                {"type": "text", "text": "Bitte zahle an Herrn Peter Brändli."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "text", "text": "Seine IBAN ist CH93 0076 2011 6238 5295 7."}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "pay", "arguments": "{\"iban\":\"CH93 0076 2011 6238 5295 7\",\"memo\":\"Rechnung 2024-113 für Peter Brändli\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "Zahlung an Peter Brändli ausgeführt, AHV 756.9217.0769.85 geprüft."},
            {"role": "user", "content": "Er hat Diabetes, bitte vertraulich."}
        ]
    })
}

#[test]
fn classify_chat_reports_paths_levels_and_unscannable_parts() {
    let cls = classify_chat(&chat_body());
    let paths: BTreeSet<String> = cls.findings.iter().map(|f| format!("{}:{}", f.path, f.entity_type)).collect();
    for expected in [
        "user:EMAIL_ADDRESS",
        "messages[1].name:PERSON",
        "messages[1].content[0].text:PERSON",
        "messages[1].content[2].text:IBAN_CODE",
        "messages[2].tool_calls[0].function.arguments.iban:IBAN_CODE",
        "messages[2].tool_calls[0].function.arguments.memo:PERSON",
        "messages[3].content:PERSON",
        "messages[3].content:CH_AHV",
    ] {
        assert!(paths.contains(expected), "missing {expected} in {paths:?}");
    }
    assert!(
        cls.findings.iter().any(|f| f.path == "tools[0].function.description" && f.entity_type == "IBAN_CODE"),
        "tool definitions are scanned"
    );
    assert_eq!(cls.unscannable, vec!["messages[1].content[1]".to_string()]);
    assert_eq!(cls.special_categories, vec!["health".to_string()]);
    assert_eq!(cls.level, Level::Special);
    let iban = cls.findings.iter().find(|f| f.path == "messages[1].content[2].text").map(|f| (f.start, f.end));
    assert_eq!(iban, Some((15, 41)));
}

#[test]
fn levels_follow_the_most_sensitive_finding() {
    let none = classify_chat(&json!({"messages": [{"role": "user", "content": "What is VAT?"}]}));
    assert_eq!(none.level, Level::None);
    let personal = classify_chat(&json!({"messages": [{"role": "user", "content": "Mail anna@example.ch"}]}));
    assert_eq!(personal.level, Level::Personal);
    let sensitive = classify_chat(&json!({"messages": [{"role": "user", "content": "Card 4111 1111 1111 1111"}]}));
    assert_eq!(sensitive.level, Level::Sensitive);
}

#[test]
fn embeddings_inputs_and_token_arrays() {
    let cls = classify_embeddings(&json!({"input": ["no pii here", "Tel. +41 44 668 18 00", [101, 2023]]}));
    assert_eq!(cls.findings.len(), 1);
    assert_eq!(cls.findings[0].path, "input[1]");
    assert_eq!(cls.unscannable, vec!["input[2]".to_string()]);
    let tokens = classify_embeddings(&json!({"input": [101, 2023, 102]}));
    assert_eq!(tokens.unscannable, vec!["input".to_string()]);
    let mut body = json!({"input": "Kontakt: anna@example.ch"});
    let cls = classify_embeddings(&body);
    redact_embeddings(&mut body, &cls, &BTreeSet::new(), Operator::Replace);
    assert_eq!(body["input"], "Kontakt: <EMAIL_ADDRESS>");
}

#[test]
fn replace_edits_in_place_including_tool_call_arguments() {
    let mut body = chat_body();
    let cls = classify_chat(&body);
    let entities: BTreeSet<String> = ["IBAN_CODE".to_string()].into();
    let p = redact_chat(&mut body, &cls, &entities, Operator::Replace);
    assert!(p.is_empty());
    assert_eq!(body["messages"][1]["content"][2]["text"], "Seine IBAN ist <IBAN_CODE>.");
    let args: Value =
        serde_json::from_str(body["messages"][2]["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or(""))
            .unwrap_or_default();
    assert_eq!(args["iban"], "<IBAN_CODE>");
    assert_eq!(args["memo"], "Rechnung 2024-113 für Peter Brändli", "other entities untouched");
    // Tool definitions go upstream too, so they are redacted like the messages.
    assert_eq!(body["tools"][0]["function"]["description"], "Pay Herr Hans Meier at <IBAN_CODE>");
    // Nothing else left to find for the selected type.
    let again = classify_chat(&body);
    assert!(!again.findings.iter().any(|f| f.entity_type == "IBAN_CODE"));
}

#[test]
fn pseudonyms_are_consistent_and_restored_in_answers_and_streams() {
    let mut body = chat_body();
    // Placeholders are numbered in document order: without the tool and the sender's name,
    // Peter Brändli is the first person.
    body.as_object_mut().map(|o| o.shift_remove("tools"));
    body["messages"][1].as_object_mut().map(|o| o.shift_remove("name"));
    let cls = classify_chat(&body);
    let p = redact_chat(&mut body, &cls, &BTreeSet::new(), Operator::Pseudonymize);
    let text = serde_json::to_string(&body).unwrap_or_default();
    assert!(!text.contains("Peter Brändli"), "{text}");
    // Same person, same placeholder everywhere in the request.
    assert_eq!(body["messages"][1]["content"][0]["text"], "Bitte zahle an Herrn <PERSON_1>.");
    assert_eq!(body["messages"][3]["content"], "Zahlung an <PERSON_1> ausgeführt, AHV <CH_AHV_1> geprüft.");
    assert_eq!(
        p.restore("Überweisung an <PERSON_1> (<IBAN_CODE_1>)"),
        "Überweisung an Peter Brändli (CH93 0076 2011 6238 5295 7)"
    );

    let mut response = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Erledigt für <PERSON_1>.",
        "tool_calls": [{"id": "x", "type": "function", "function": {"name": "pay", "arguments": "{\"to\":\"<PERSON_1>\",\"iban\":\"<IBAN_CODE_1>\"}"}}]}}]});
    p.restore_response(&mut response);
    assert_eq!(response["choices"][0]["message"]["content"], "Erledigt für Peter Brändli.");
    let args: Value = serde_json::from_str(
        response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or(""),
    )
    .unwrap_or_default();
    assert_eq!(args["to"], "Peter Brändli");

    let mut r = p.stream_restorer();
    let mut out = String::new();
    for chunk in ["Zahlung an <", "PERSON", "_1", "> auf <IBAN_C", "ODE_1> ok"] {
        out.push_str(&r.push(chunk));
    }
    out.push_str(&r.finish());
    assert_eq!(out, "Zahlung an Peter Brändli auf CH93 0076 2011 6238 5295 7 ok");
}

#[test]
fn mask_and_hash_operators() {
    let mut body =
        json!({"messages": [{"role": "user", "content": "IBAN CH93 0076 2011 6238 5295 7 von anna@example.ch"}]});
    let cls = classify_chat(&body);
    let mut masked = body.clone();
    redact_chat(&mut masked, &cls, &BTreeSet::new(), Operator::Mask);
    assert_eq!(masked["messages"][0]["content"], "IBAN CH93 **** **** **** ***5 7 von ****@*******.**");
    redact_chat(&mut body, &cls, &BTreeSet::new(), Operator::Hash);
    let s = body["messages"][0]["content"].as_str().unwrap_or("");
    assert!(s.starts_with("IBAN <IBAN_CODE:") && s.contains("von <EMAIL_ADDRESS:"), "{s}");
    let again = auditgate::pii::redact::hash("IBAN_CODE", "CH93 0076 2011 6238 5295 7");
    assert!(s.contains(&again), "hash is stable");
}
