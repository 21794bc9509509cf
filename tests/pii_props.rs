//! Property tests: the scanner never panics on arbitrary Unicode, offsets are in range, on char
//! boundaries, sorted and non-overlapping, and pseudonymization round-trips.

use auditgate::pii::{redact_text, scan_text, Operator, Pseudonyms};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Fragments that exercise every recognizer, glued with arbitrary Unicode in between.
const FRAGMENTS: &[&str] = &[
    "Herr Dr. Hans Meier",
    "CH93 0076 2011 6238 5295 7",
    "4111 1111 1111 1111",
    "756.9217.0769.85",
    "+41 44 668 18 00",
    "anna@example.ch",
    "Bahnhofstrasse 12, 8001 Zürich",
    "geboren am 12.03.1985",
    "CHE-116.281.710",
    "RSSMRA85T10A562S",
    "2001:db8::1",
    "192.168.1.20",
    "Pass-Nr. X1234567",
    "Liebe Grüsse\nAnna",
    "Diagnose",
    "é",
    "ß",
    "😀",
    "\u{a0}",
    "\u{200b}",
    "(0)",
    "::",
    "@",
    "-",
    ".",
];

fn mixed() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![prop::sample::select(FRAGMENTS).prop_map(str::to_string), any::<String>()], 0..12)
        .prop_map(|parts| parts.join(" "))
}

fn check_offsets(text: &str) {
    let chars: Vec<char> = text.chars().collect();
    let findings = scan_text(text);
    let mut last_end = 0;
    for f in &findings {
        assert!(f.start < f.end && f.end <= chars.len(), "{f:?}");
        assert!(f.start >= last_end, "overlap or unsorted: {findings:?}");
        last_end = f.end;
        let slice: String = chars[f.start..f.end].iter().collect();
        assert_eq!(slice, f.text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_unicode_never_panics(s in any::<String>()) {
        check_offsets(&s);
    }

    #[test]
    fn mixed_fragments_have_valid_offsets(s in mixed()) {
        check_offsets(&s);
    }

    #[test]
    fn pseudonymize_round_trips(s in mixed()) {
        // A text that already holds placeholder-like `<...>` cannot round-trip by design.
        let s = s.replace('<', "");
        let findings = scan_text(&s);
        let mut p = Pseudonyms::default();
        let redacted = redact_text(&s, &findings, &BTreeSet::new(), Operator::Pseudonymize, &mut p);
        prop_assert_eq!(p.restore(&redacted), s.clone());
        let mut r = p.stream_restorer();
        let mut streamed = String::new();
        let chars: Vec<char> = redacted.chars().collect();
        for chunk in chars.chunks(3) {
            streamed.push_str(&r.push(&chunk.iter().collect::<String>()));
        }
        streamed.push_str(&r.finish());
        prop_assert_eq!(streamed, s);
    }
}
