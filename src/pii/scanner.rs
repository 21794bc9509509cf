//! The scanner: runs the keyword pass once, then only the recognizer families whose trigger is
//! present (a digit, an `@`, a colon, a cue word), resolves overlapping candidates and converts
//! byte offsets into char offsets in one forward walk.
//!
//! Every pattern is compiled once into a `LazyLock` static; nothing is compiled per request.
//! Digits in patterns are written `[0-9]`, not `\d`: the scanning form has ASCII digits only
//! (`canonical.rs` reads a decimal digit of any script as its ASCII digit), and Unicode `\d`, a
//! class of ~70 ranges, repeated in every `\d{1,4}`, made compiling the address regexes a large
//! part of a CLI run's start.

use super::canonical::Canonical;
use super::context::{self, char_at, char_before, is_word_char, Context};
use super::{contact, dates, ids, location, numbers, person, tagger, Finding};

/// Entity kinds, in the order of `ENTITY_TYPES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Email,
    Phone,
    Iban,
    Card,
    Ahv,
    Uid,
    Vat,
    DeTax,
    FrNir,
    ItFiscal,
    EsNif,
    UkNino,
    UkNhs,
    UsSsn,
    Ip,
    DateTime,
    Passport,
    IdCard,
    Person,
    Location,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        super::ENTITY_TYPES[self as usize]
    }
}

/// A recognized span in byte offsets, before overlap resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub validated: bool,
}

impl Candidate {
    pub fn new(kind: Kind, start: usize, end: usize, score: f32, validated: bool) -> Self {
        Candidate { kind, start, end, score: score.min(1.0), validated }
    }
}

/// Result of scanning one text.
#[derive(Debug, Default)]
pub struct Scan {
    pub findings: Vec<Finding>,
    pub special_categories: Vec<&'static str>,
}

/// The span is not glued to surrounding letters or digits.
pub fn word_bounded(text: &str, start: usize, end: usize) -> bool {
    !char_before(text, start).is_some_and(is_word_char) && !char_at(text, end).is_some_and(is_word_char)
}

/// The whitespace-delimited token around `[start, end)`.
fn enclosing_token(text: &str, start: usize, end: usize) -> (usize, usize) {
    let delim = |b: u8| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b',' | b';');
    let bytes = text.as_bytes();
    let mut s = start;
    while s > 0 && start - s < 512 && !delim(bytes[s - 1]) {
        s -= 1;
    }
    let mut e = end;
    while e < bytes.len() && e - end < 512 && !delim(bytes[e]) {
        e += 1;
    }
    (s, e)
}

/// The span sits inside a URL, a hash, a GUID, a JWT or a base64 blob: identifiers there are
/// accidental (weak patterns firing inside encoded data is the classic false positive).
pub fn in_blob(text: &str, start: usize, end: usize) -> bool {
    let (s, e) = enclosing_token(text, start, end);
    let tok = &text.as_bytes()[s..e];
    if tok.windows(3).any(|w| w == b"://") || tok.starts_with(b"www.") {
        return true;
    }
    if tok.len() < 24 || tok.contains(&b'@') {
        return false;
    }
    let hexish = tok.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-');
    let b64ish = tok.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.'));
    let lower = tok.iter().any(u8::is_ascii_lowercase);
    let upper = tok.iter().any(u8::is_ascii_uppercase);
    let digit = tok.iter().any(u8::is_ascii_digit);
    (hexish && tok.len() >= 32) || (b64ish && lower && upper && digit && tok.len() >= 32)
}

/// Byte offsets where a maximal run of ASCII digits starts. Digit-anchored recognizers (number
/// runs, identifiers, postcodes) are tried only there, so prose between digits costs one byte
/// comparison per byte instead of a regex pass per recognizer.
pub fn digit_starts(text: &str) -> Vec<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut prev_digit = false;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time: skip words without any ASCII digit (SWAR "has byte < 10" on
        // the bytes XOR '0'; false positives only cost the byte loop below).
        if let Some(chunk) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ (0x30 * ONES);
            if (w.wrapping_sub(10 * ONES) & !w & HIGHS) == 0 {
                prev_digit = false;
                i += 8;
                continue;
            }
        }
        let end = (i + 8).min(bytes.len());
        for (j, b) in bytes[i..end].iter().enumerate() {
            let d = b.is_ascii_digit();
            if d && !prev_digit {
                out.push(i + j);
            }
            prev_digit = d;
        }
        i = end;
    }
    out
}

/// Scan one text: candidates from every triggered recognizer run on its scanning form
/// (`canonical.rs`), overlaps resolved, spans mapped back to the original and given in char offsets.
pub fn scan(original: &str) -> Scan {
    scan_with(original, true)
}

/// [`scan`], with the person tagger's name gazetteers on or off (off: for measuring how names
/// that are in no list fare).
pub fn scan_with(original: &str, gazetteers: bool) -> Scan {
    if original.is_empty() {
        return Scan::default();
    }
    let canonical = Canonical::new(original);
    let text = canonical.text();
    let ctx = Context::new(text);
    let mut cands: Vec<Candidate> = Vec::new();
    let bytes = text.as_bytes();
    if bytes.contains(&b'@') {
        contact::scan_emails(&ctx, &mut cands);
    }
    let starts = digit_starts(text);
    if !starts.is_empty() {
        numbers::scan(&ctx, &starts, &mut cands);
        ids::scan(&ctx, &starts, &mut cands);
        location::scan(&ctx, &starts, &mut cands);
        let flags = ctx.all_flags();
        if flags & context::flag::BIRTH != 0 {
            dates::scan(&ctx, &mut cands);
        }
        if flags & (context::flag::PASSPORT | context::flag::ID_CARD) != 0 {
            ids::scan_documents(&ctx, &mut cands);
        }
        if bytes.iter().filter(|&&b| b == b':').nth(1).is_some() {
            contact::scan_ipv6(&ctx, &mut cands);
        }
    }
    person::scan(&ctx, &mut cands);
    tagger::scan(&ctx, gazetteers, &mut cands);
    drop_street_names(&ctx, &mut cands);
    let mut kept = resolve(cands);
    if !canonical.is_identity() {
        for c in &mut kept {
            (c.start, c.end) = canonical.original_span(c.start, c.end);
        }
    }
    Scan { findings: to_findings(original, &kept), special_categories: ctx.special_categories() }
}

/// A name right after a street type or right before one names the street, not a person
/// ("Via Giuseppe Verdi", "Elizabeth Street", "rue Victor Hugo").
fn drop_street_names(ctx: &Context<'_>, cands: &mut Vec<Candidate>) {
    let text = ctx.text;
    let street_word = |h: Option<&context::Hit>| {
        h.is_some_and(|h| h.entry.flags & context::flag::STREET != 0 && h.entry.flags & context::flag::SUFFIX == 0)
    };
    cands.retain(|c| {
        if c.kind != Kind::Person {
            return true;
        }
        // The word before, separated by spaces: a street type ending right there?
        let before = text[..c.start].trim_end_matches(' ');
        let spaced_before = before.len() < c.start;
        let prev_start = before.rfind(|ch: char| !ch.is_alphanumeric() && ch != '.').map_or(0, |i| i + 1);
        let street_before =
            spaced_before && ctx.hit_at(prev_start).is_some_and(|h| h.end == before.len() && street_word(Some(h)));
        let rest = &text[c.end..];
        let after = c.end + rest.len() - rest.trim_start_matches(' ').len();
        let street_after = after > c.end && street_word(ctx.hit_at(after));
        !(street_before || street_after)
    });
}

/// Keep the best of overlapping candidates: validated first, then longer, then higher score.
/// Taken in that order, a candidate is kept when none of its bytes is taken yet.
fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    if cands.len() <= 1 {
        return cands;
    }
    cands.sort_by(|a, b| {
        b.validated
            .cmp(&a.validated)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(b.score.total_cmp(&a.score))
            .then(a.start.cmp(&b.start))
    });
    let mut taken = Taken::new(cands.iter().map(|c| c.end).max().unwrap_or(0));
    let mut kept: Vec<Candidate> = cands.into_iter().filter(|c| taken.take(c.start, c.end)).collect();
    kept.sort_unstable_by_key(|c| c.start);
    kept
}

/// The bytes of the kept spans, one bit each: checking and marking a span costs a word or two
/// (a search tree of the kept spans was ~4 % of a PII-dense scan, perf 2026-12-03).
struct Taken(Vec<u64>);

impl Taken {
    fn new(len: usize) -> Self {
        Taken(vec![0; len / 64 + 1])
    }

    /// The word index and bit mask of each 64-byte block that `[start, end)` touches.
    fn blocks(start: usize, end: usize) -> impl Iterator<Item = (usize, u64)> {
        (start / 64..end.div_ceil(64)).map(move |w| {
            let lo = start.max(w * 64) - w * 64;
            let hi = end.min(w * 64 + 64) - w * 64;
            let ones = if hi - lo == 64 { u64::MAX } else { (1u64 << (hi - lo)) - 1 };
            (w, ones << lo)
        })
    }

    /// Mark `[start, end)` and return true, unless a byte of it is taken already. An empty span
    /// is never kept (it is no finding).
    fn take(&mut self, start: usize, end: usize) -> bool {
        if start >= end || Self::blocks(start, end).any(|(w, m)| self.0[w] & m != 0) {
            return false;
        }
        for (w, m) in Self::blocks(start, end) {
            self.0[w] |= m;
        }
        true
    }
}

/// Convert byte spans (sorted by start) into findings with char offsets, in one walk.
fn to_findings(text: &str, kept: &[Candidate]) -> Vec<Finding> {
    let mut out = Vec::with_capacity(kept.len());
    let (mut byte, mut chars, mut last_end) = (0usize, 0usize, 0usize);
    let advance = |to: usize, byte: &mut usize, chars: &mut usize| {
        *chars += text.get(*byte..to).map(|s| s.chars().count()).unwrap_or(0);
        *byte = to;
    };
    for c in kept {
        // Two spans that end and start inside one expanded character (a ligature) both take it
        // whole; the later one is dropped rather than overlap.
        let Some(slice) = text.get(c.start..c.end).filter(|_| c.start >= last_end) else {
            continue;
        };
        last_end = c.end;
        advance(c.start, &mut byte, &mut chars);
        let start = chars;
        let len = slice.chars().count();
        out.push(Finding {
            entity_type: c.kind.as_str().to_string(),
            path: String::new(),
            start,
            end: start + len,
            score: (c.score * 100.0).round() / 100.0,
            validated: c.validated,
            text: slice.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_prefers_validated_and_longer() {
        let a = Candidate::new(Kind::Phone, 0, 10, 0.6, false);
        let b = Candidate::new(Kind::Iban, 0, 26, 0.95, true);
        let c = Candidate::new(Kind::Person, 30, 40, 0.8, false);
        let kept = resolve(vec![a, b, c]);
        assert_eq!(kept, vec![b, c]);
    }

    #[test]
    fn resolve_keeps_adjacent_spans_and_drops_overlaps_across_blocks() {
        let long = Candidate::new(Kind::Location, 60, 140, 0.9, false);
        let touching = Candidate::new(Kind::Person, 140, 150, 0.6, false);
        let inside = Candidate::new(Kind::Person, 127, 129, 0.6, false);
        let before = Candidate::new(Kind::Phone, 0, 60, 0.6, false);
        assert_eq!(resolve(vec![inside, touching, long, before]), vec![before, long, touching]);
    }

    #[test]
    fn digit_starts_finds_every_run() {
        let t = "ab1 22x333 öé4444 5 66666666 7";
        let naive: Vec<usize> = (0..t.len())
            .filter(|&i| t.as_bytes()[i].is_ascii_digit() && (i == 0 || !t.as_bytes()[i - 1].is_ascii_digit()))
            .collect();
        assert_eq!(digit_starts(t), naive);
        assert!(digit_starts("keine Ziffern hier, nur Text.").is_empty());
    }

    #[test]
    fn blobs_are_detected() {
        let t =
            "see https://shop.example.com/o/4111111111111111 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc";
        let i = t.find("4111").unwrap_or(0);
        assert!(in_blob(t, i, i + 16));
        let j = t.find("eyJ").unwrap_or(0);
        assert!(in_blob(t, j + 5, j + 9));
        assert!(!in_blob("IBAN CH9300762011623852957 bitte", 5, 26));
    }

    #[test]
    fn char_offsets_count_scalars() {
        let t = "Grüße an Zoë: anna.muster@example.ch";
        let f = scan(t).findings;
        let email = f.iter().find(|f| f.entity_type == "EMAIL_ADDRESS").map(|f| (f.start, f.end));
        assert_eq!(email, Some((14, 36)));
    }
}
