//! Fuzz target: the PII scanner never panics on any UTF-8 input, every finding's offsets are in
//! range, in order, on char boundaries and slice back to the reported text, and redaction with
//! pseudonyms restores the original.
#![no_main]

use auditgate::pii::{redact_text, scan_text, Operator, Pseudonyms};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chars: Vec<char> = text.chars().collect();
    let findings = scan_text(text);
    let mut last = 0;
    for f in &findings {
        assert!(f.start < f.end && f.end <= chars.len() && f.start >= last);
        assert_eq!(chars[f.start..f.end].iter().collect::<String>(), f.text);
        last = f.end;
    }
    if !text.contains('<') {
        let mut p = Pseudonyms::default();
        let redacted = redact_text(
            text,
            &findings,
            &BTreeSet::new(),
            Operator::Pseudonymize,
            &mut p,
        );
        assert_eq!(p.restore(&redacted), text);
    }
});
