//! The `auditgate pii scan|redact` output contract (contracts.md): `scan --json` prints exactly
//! one JSON array of {entity_type, start, end, score, text} with char offsets.

use auditgate::pii::cli::{redact_output, scan_output};
use auditgate::pii::Operator;
use serde_json::Value;

#[test]
fn scan_json_matches_the_contract() {
    let text = "Grüezi Herr Müller, IBAN: CH93 0076 2011 6238 5295 7";
    let out = scan_output(text, true).unwrap_or_default();
    assert_eq!(out.matches('\n').count(), 1, "one line: {out}");
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    let items = v.as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{out}");
    for item in &items {
        let keys: Vec<&String> = item.as_object().map(|o| o.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["entity_type", "start", "end", "score", "text"]);
    }
    assert_eq!(items[0]["entity_type"], "PERSON");
    assert_eq!(items[0]["text"], "Müller");
    assert_eq!(items[1]["entity_type"], "IBAN_CODE");
    assert!(out.contains(r#""score":1.0"#) || out.contains(r#""score":0.95"#), "{out}");
    // Char offsets (Python str indices): "Grüezi" has a two-byte ü.
    assert_eq!((items[1]["start"].as_u64(), items[1]["end"].as_u64()), (Some(26), Some(52)));
    assert_eq!(scan_output("nothing here", true).unwrap_or_default(), "[]\n");
}

#[test]
fn scan_table_and_redact_text() {
    let table = scan_output("Tel. 044 668 18 00", false).unwrap_or_default();
    assert!(
        table.starts_with("ENTITY") && table.contains("PHONE_NUMBER") && table.contains("level: personal"),
        "{table}"
    );
    let red = redact_output("Mail anna@example.ch, Tel. 044 668 18 00", Operator::Replace, &["EMAIL_ADDRESS".into()])
        .unwrap_or_default();
    assert_eq!(red, "Mail <EMAIL_ADDRESS>, Tel. 044 668 18 00");
    assert!(redact_output("x", Operator::Replace, &["NOPE".into()]).is_err());
    let body = r#"{"messages":[{"role":"user","content":"Herr Hans Meier"}]}"#;
    let red = redact_output(body, Operator::Pseudonymize, &[]).unwrap_or_default();
    assert!(red.contains("Herr <PERSON_1>"), "{red}");
}

#[test]
fn boilerplate_and_code_are_not_names() {
    for t in [
        "Hello World!",
        "name: String\nage: Optional[int]",
        "Thanks!\n\nP.S. see you",
        "Dear Customer,",
        "Write a poem about Florence and Paris.",
    ] {
        let out = scan_output(t, true).unwrap_or_default();
        assert_eq!(out, "[]\n", "{t:?} -> {out}");
    }
}
