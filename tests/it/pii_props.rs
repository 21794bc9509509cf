//! Property tests: the scanner never panics on arbitrary Unicode, offsets are in range, on char
//! boundaries, sorted and non-overlapping, and pseudonymization round-trips; keyword hits obey
//! their boundary rules and a word before a keyword never hides it.

use auditgate::pii::context::{char_at, char_before, find_hits, flag, is_word_char, Hit};
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

/// Keyword-bearing text to put after an arbitrary word.
const KEYWORD_TEXTS: &[&str] = &[
    "Signora Rossi",
    "signor Bianchi",
    "Noah Keller",
    "Luca Ferrari",
    "NHS now",
    "Passport now",
    "Herr Dr. Meier",
    "Telefon 044 668 18 00",
    "Fernstrasse 3",
    "Diagnose Diabetes",
    "Grüsse Anna",
    "Mme Rochat",
];

/// A word ending in the start of some multi-word keyword ("Brasil" + "il signor").
fn word_before() -> impl Strategy<Value = String> {
    let tails = prop::sample::select(&["", "il", "la", "de", "ni", "nhs", "né", "nato", "tax", "Ernst", "id"][..]);
    ("[A-Za-zäöü]{0,6}", tails).prop_map(|(a, b)| format!("{a}{b}"))
}

/// Every hit starts at a word start (or, for a street suffix, ends a word), ends at a word end
/// unless it is a stem or ends in punctuation, and hits are sorted and disjoint.
fn check_hit_rules(text: &str, hits: &[Hit]) {
    let mut last_end = 0;
    for h in hits {
        assert!(h.start >= last_end && h.start < h.end, "unsorted or overlapping: {hits:?}");
        last_end = h.end;
        let word_end = !char_at(text, h.end).is_some_and(is_word_char);
        let ends_word = word_end || !char_before(text, h.end).is_some_and(is_word_char);
        let at_start = !char_before(text, h.start).is_some_and(is_word_char);
        assert!(at_start || (h.entry.flags & flag::SUFFIX != 0 && ends_word), "{:?}", &text[h.start..h.end]);
        assert!(ends_word || h.entry.flags & flag::STEM != 0, "{:?}", &text[h.start..h.end]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn keyword_hits_obey_boundaries(s in mixed()) {
        check_hit_rules(&s, &find_hits(&s));
    }

    /// A word in front of a text keeps every hit of that text, unless a hit that passed its own
    /// boundary check runs over it ("il" + "signor" -> "il signor").
    #[test]
    fn a_word_before_never_hides_a_keyword(w in word_before(), t in prop::sample::select(KEYWORD_TEXTS)) {
        let text = format!("{w} {t}");
        let off = w.len() + 1;
        let hits = find_hits(&text);
        check_hit_rules(&text, &hits);
        for h in find_hits(t) {
            let (s, e) = (h.start + off, h.end + off);
            let kept = hits.iter().any(|g| g.start == s && g.end == e && g.entry.flags == h.entry.flags);
            let covered = hits.iter().any(|g| g.start < off && g.end > s);
            prop_assert!(kept || covered, "{:?} lost in {:?}: {:?}", &t[h.start..h.end], text, hits);
        }
    }

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
