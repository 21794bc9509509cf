//! Scans of texts the gateway has seen recently, kept for the next request that sends them again.
//!
//! A chat client sends its system prompt and the whole conversation again with every turn, so most
//! of a request's text was scanned before. [`scanner::scan`] is a pure function of the text, so its
//! result can be reused exactly:
//! - a text is looked up by SHA-256 over its API key and itself (hardware-accelerated, several times
//!   cheaper than a scan, and with no collision to fear: a wrong hit would be a wrong
//!   classification); the key is part of it because a hit is faster than a scan, and that must not
//!   let one key learn whether another sent a given text;
//! - only the findings' kinds, offsets and scores are kept, never the text or the matched values,
//!   so no personal data outlives its request here; a hit takes the values from the text at hand;
//! - short texts are scanned directly (hashing them would cost about as much as the scan);
//! - two generations of at most [`GENERATION`] texts each: when the current one is full it becomes
//!   the previous one and the older is dropped, so texts in use stay and memory stays bounded
//!   (about 100 bytes per text without findings).

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::LazyLock;

use super::scanner::{self, Scan};
use super::Finding;

/// Texts shorter than this (bytes) are scanned every time.
pub const MIN_LEN: usize = 64;
/// Texts per generation.
pub const GENERATION: usize = 4096;

/// What a scan found, without the text: findings with empty `text` and `path`.
struct Remembered {
    findings: Vec<Finding>,
    special_categories: Vec<&'static str>,
}

#[derive(Default)]
struct Memo {
    current: HashMap<[u8; 32], Remembered>,
    previous: HashMap<[u8; 32], Remembered>,
}

static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(Mutex::default);

/// [`scanner::scan`], reusing the result for a text scanned recently in the same `scope` (an API
/// key: a hit is faster than a scan, and that must not tell one key what another sent). Without a
/// scope every text is scanned.
pub fn scan(text: &str, scope: Option<&str>) -> Scan {
    let Some(scope) = scope.filter(|_| text.len() >= MIN_LEN) else {
        return scanner::scan(text);
    };
    let key = memo_key(scope, text);
    if let Some(scan) = MEMO.lock().get(&key, text) {
        return scan;
    }
    let scan = scanner::scan(text);
    MEMO.lock().insert(key, &scan);
    scan
}

/// Drop every remembered scan (benchmarks measure the scan itself this way).
pub fn forget() {
    *MEMO.lock() = Memo::default();
}

/// SHA-256 over the scope's length, the scope and the text (the length keeps scope and text apart).
fn memo_key(scope: &str, text: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((scope.len() as u64).to_le_bytes());
    h.update(scope.as_bytes());
    h.update(text.as_bytes());
    h.finalize().into()
}

impl Memo {
    fn get(&mut self, key: &[u8; 32], text: &str) -> Option<Scan> {
        if !self.current.contains_key(key) {
            let kept = self.previous.remove(key)?;
            self.store(*key, kept);
        }
        self.current.get(key).map(|r| r.restore(text))
    }

    fn insert(&mut self, key: [u8; 32], scan: &Scan) {
        // Built field by field: `..f.clone()` would copy the matched value only to drop it.
        let findings = scan
            .findings
            .iter()
            .map(|f| Finding { text: String::new(), entity_type: f.entity_type.clone(), path: f.path.clone(), ..*f })
            .collect();
        self.store(key, Remembered { findings, special_categories: scan.special_categories.clone() });
    }

    fn store(&mut self, key: [u8; 32], kept: Remembered) {
        if self.current.len() >= GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, kept);
    }
}

impl Remembered {
    /// The scan of `text` (the text this was remembered for): the matched values come back from it.
    fn restore(&self, text: &str) -> Scan {
        let findings =
            self.findings.iter().map(|f| Finding { text: char_slice(text, f.start, f.end), ..f.clone() }).collect();
        Scan { findings, special_categories: self.special_categories.clone() }
    }
}

/// `text[start..end]` in Unicode scalar values, as findings count them.
fn char_slice(text: &str, start: usize, end: usize) -> String {
    if text.is_ascii() {
        return text.get(start..end).unwrap_or_default().to_string();
    }
    text.chars().skip(start).take(end.saturating_sub(start)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn assert_same(a: &Scan, b: &Scan) {
        assert_eq!(a.findings, b.findings);
        assert_eq!(a.special_categories, b.special_categories);
    }

    #[test]
    fn a_repeated_text_gets_the_same_scan_without_keeping_values() {
        let text = format!(
            "{} Bitte überweisen Sie an Hans Müller, IBAN CH93 0076 2011 6238 5295 7, Tel. +41 44 668 18 00, \
             hans.mueller@example.ch. Er ist Diabetiker.",
            "Sehr geehrte Damen und Herren, ".repeat(6)
        );
        assert!(text.len() >= MIN_LEN);
        let direct = scanner::scan(&text);
        assert!(direct.findings.iter().any(|f| f.entity_type == "IBAN_CODE"), "{:?}", direct.findings);
        assert_same(&scan(&text, Some("key-a")), &direct);
        let key = memo_key("key-a", &text);
        {
            let memo = MEMO.lock();
            let kept = memo.current.get(&key).or_else(|| memo.previous.get(&key)).expect("remembered");
            assert!(kept.findings.iter().all(|f| f.text.is_empty()), "no matched value is kept");
        }
        assert_same(&scan(&text, Some("key-a")), &direct); // the hit
        assert!(!MEMO.lock().current.contains_key(&memo_key("key-b", &text)), "another key's scan is its own");
        assert_same(&scan(&text, Some("key-b")), &direct);
    }

    #[test]
    fn generations_stay_bounded_and_keep_texts_in_use() {
        let mut memo = Memo::default();
        let hot = [7u8; 32];
        memo.insert(hot, &Scan::default());
        for i in 0..3 * GENERATION as u32 {
            let mut key = [0u8; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            memo.insert(key, &Scan::default());
            if i % 1000 == 0 {
                assert!(memo.get(&hot, "").is_some(), "a text in use is kept");
            }
        }
        assert!(memo.current.len() <= GENERATION && memo.previous.len() <= GENERATION);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        /// Scanning through the memo, twice, equals scanning directly: for any mix of prose,
        /// numbers, e-mail-like and non-ASCII text (offsets are in chars).
        #[test]
        fn memo_equals_direct_scan(parts in proptest::collection::vec(prop_oneof![
            Just("Kontakt: anna.meier@example.com ".to_string()),
            Just("IBAN CH93 0076 2011 6238 5295 7 ".to_string()),
            Just("AHV 756.1234.5678.97 ".to_string()),
            Just("Grüße aus Zürich, Frau Müller ".to_string()),
            Just("geboren am 12.03.1980 ".to_string()),
            "[a-zA-Z0-9 .,@+éü]{0,40}",
        ], 0..40)) {
            let text = parts.concat();
            let direct = scanner::scan(&text);
            for _ in 0..2 {
                let memo = scan(&text, Some("key-p"));
                prop_assert_eq!(&memo.findings, &direct.findings);
                prop_assert_eq!(&memo.special_categories, &direct.special_categories);
            }
        }
    }
}
