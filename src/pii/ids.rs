//! Letter-and-digit identifiers: IBAN, Swiss UID, EU VAT, Italian codice fiscale, UK NINO,
//! Spanish DNI/NIE, and passport / identity-card numbers after a cue word.
//!
//! One cheap trigger regex finds places where an upper-case prefix meets a digit (or eight digits
//! meet a letter); only there are the anchored per-kind patterns tried, strongest first.

use super::context::{flag, Context};
use super::scanner::{in_blob, word_bounded, Candidate, Kind};
use super::validators as v;
use regex::Regex;
use std::sync::LazyLock;

struct Pattern {
    kind: Kind,
    re: Regex,
    validate: fn(&[u8]) -> bool,
    score: f32,
    cue: u32,
}

fn anchored(p: &str) -> Regex {
    Regex::new(&format!("^(?:{p})")).expect("static regex")
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let dg = "[0-9LMNPQRSTUV]";
    vec![
        Pattern {
            kind: Kind::Uid,
            re: anchored(r"CHE[\- ]?[0-9]{3}[. ]?[0-9]{3}[. ]?[0-9]{3}"),
            validate: uid,
            score: 0.9,
            cue: flag::VAT,
        },
        Pattern {
            kind: Kind::Vat,
            re: anchored(
                r"ATU[0-9]{8}|BE ?[01][0-9]{9}|DE ?[0-9]{9}|FR ?[0-9A-HJ-NP-Z]{2} ?[0-9]{9}|IT ?[0-9]{11}|ES ?[0-9A-Z][0-9]{7}[0-9A-Z]|NL ?[0-9]{9}B[0-9]{2}|LU ?[0-9]{8}",
            ),
            validate: v::eu_vat,
            score: 0.85,
            cue: flag::VAT,
        },
        Pattern {
            kind: Kind::ItFiscal,
            re: anchored(&format!("[A-Z]{{6}}{dg}{{2}}[A-EHLMPRST]{dg}{{2}}[A-Z]{dg}{{3}}[A-Z]")),
            validate: v::it_fiscal_code,
            score: 0.95,
            cue: flag::FISCAL,
        },
        Pattern {
            kind: Kind::UkNino,
            re: anchored(r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]"),
            validate: v::uk_nino,
            score: 0.85,
            cue: flag::NINO,
        },
        Pattern {
            kind: Kind::EsNif,
            re: anchored(r"[XYZ]-?[0-9]{7}-?[A-Z]|[0-9]{8}-?[A-Z]"),
            validate: v::es_nif,
            score: 0.9,
            cue: flag::FISCAL,
        },
    ]
});

fn uid(s: &[u8]) -> bool {
    s.len() == 12 && v::ch_uid(&s[3..])
}

/// Upper-case letters and digits of a span, separators dropped, into a stack buffer.
fn compact(s: &str, buf: &mut [u8; 40]) -> usize {
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_alphanumeric) {
        if n == buf.len() {
            return 0;
        }
        buf[n] = b;
        n += 1;
    }
    n
}

/// Where an identifier ending in the digits at `p` may start: one to six upper-case letters
/// right before (optionally joined by `-` or a space), as in `CH93`, `CHE-123`, `DE 123`,
/// `RSSMRA85`, `X1234567L`.
fn letter_start(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = p;
    if i > 0 && matches!(b[i - 1], b'-' | b' ') {
        i -= 1;
    }
    let end = i;
    while i > 0 && end - i < 6 && b[i - 1].is_ascii_uppercase() {
        i -= 1;
    }
    (i < end).then_some(i)
}

/// Scan for IBANs and the pattern-based national identifiers, starting only next to digits.
pub fn scan(ctx: &Context<'_>, starts: &[usize], out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let mut covered = 0;
    for &p in starts {
        if p < covered {
            continue;
        }
        // An IBAN starts two letters (of either case) before its check digits.
        let country = p.checked_sub(2).filter(|&s| text.as_bytes()[s..p].iter().all(u8::is_ascii_alphabetic));
        if let Some(c) = country.filter(|&s| s >= covered).and_then(|s| iban_bounded(ctx, s)) {
            out.push(c);
            covered = c.end;
            continue;
        }
        for s in [letter_start(text, p), Some(p)].into_iter().flatten() {
            if s < covered {
                continue;
            }
            if let Some(c) = try_at(ctx, s) {
                out.push(c);
                covered = c.end;
                break;
            }
        }
    }
}

/// [`iban_at`] at a start not glued to a word before it.
fn iban_bounded(ctx: &Context<'_>, s: usize) -> Option<Candidate> {
    if super::context::char_before(ctx.text, s).is_some_and(super::context::is_word_char) {
        return None;
    }
    iban_at(ctx, s, &ctx.text[s..])
}

fn try_at(ctx: &Context<'_>, s: usize) -> Option<Candidate> {
    let text = ctx.text;
    if super::context::char_before(text, s).is_some_and(super::context::is_word_char) {
        return None;
    }
    let rest = &text[s..];
    let mut buf = [0u8; 40];
    for p in PATTERNS.iter() {
        let Some(m) = p.re.find(rest) else { continue };
        let e = s + m.end();
        let n = compact(m.as_str(), &mut buf);
        if n == 0 || !word_bounded(text, s, e) || !(p.validate)(&buf[..n]) || in_blob(text, s, e) {
            continue;
        }
        let bonus = if ctx.cue_before(s, 48, p.cue) { 0.05 } else { 0.0 };
        return Some(Candidate::new(p.kind, s, e, p.score + bonus, true));
    }
    None
}

/// IBAN: country code (either case), check digits, then exactly the country's length of
/// alphanumerics, optionally grouped by single spaces, dashes or dots (one kind throughout).
fn iban_at(ctx: &Context<'_>, s: usize, rest: &str) -> Option<Candidate> {
    let b = rest.as_bytes();
    if b.len() < 15 || !b[0].is_ascii_alphabetic() || !b[1].is_ascii_alphabetic() {
        return None;
    }
    let want = v::iban_length(&[b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])?;
    let mut buf = [0u8; 40];
    let (mut n, mut i) = (0usize, 0usize);
    let mut sep = None;
    while n < want && i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() {
            buf[n] = c.to_ascii_uppercase();
            n += 1;
        } else if is_group_separator(b, i, n) && sep.is_none_or(|s| s == c) {
            sep = Some(c);
        } else {
            return None;
        }
        i += 1;
    }
    let e = s + i;
    if n != want || !v::iban(&buf[..n]) || !word_bounded(ctx.text, s, e) || in_blob(ctx.text, s, e) {
        return None;
    }
    let bonus = if ctx.cue_before(s, 48, flag::IBAN) { 0.05 } else { 0.0 };
    Some(Candidate::new(Kind::Iban, s, e, 0.95 + bonus, true))
}

/// A single space, dash or dot between two alphanumerics of an IBAN, after its first four.
fn is_group_separator(b: &[u8], i: usize, n: usize) -> bool {
    matches!(b[i], b' ' | b'-' | b'.')
        && n >= 4
        && b.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
        && b[i - 1].is_ascii_alphanumeric()
}

/// Filler words allowed between a document cue and the number.
const FILLER: &[&str] = &[
    "nr", "nr.", "no", "no.", "n°", "n.", "n", "nº", "n.º", "nummer", "number", "numéro", "numero", "num.", "du", "de",
    "of", "is", "ist", "lautet", "est", "è", "the", "der", "des", "del", "della", "id", "#",
];

/// Passport and ID-card numbers: the first 6-10 character token of upper-case letters and digits
/// (at least two digits) within a few words after a cue.
pub fn scan_documents(ctx: &Context<'_>, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    for h in &ctx.hits {
        let kind = if h.entry.flags & flag::PASSPORT != 0 {
            Kind::Passport
        } else if h.entry.flags & flag::ID_CARD != 0 {
            Kind::IdCard
        } else {
            continue;
        };
        let mut pos = h.end;
        for _ in 0..5 {
            let rest = &text[pos..];
            let skip = rest.len()
                - rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | ',' | '(')).len();
            let start = pos + skip;
            let tok_len = text[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ')' | '"'))
                .unwrap_or(text.len() - start);
            if tok_len == 0 {
                break;
            }
            let tok = text[start..start + tok_len].trim_end_matches(['.', ':']);
            let end = start + tok.len();
            if FILLER.iter().any(|f| f.eq_ignore_ascii_case(tok)) {
                pos = start + tok_len;
                continue;
            }
            let digits = tok.bytes().filter(u8::is_ascii_digit).count();
            let shape = (6..=10).contains(&tok.len())
                && digits >= 2
                && tok.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if shape && word_bounded(text, start, end) && end - h.end <= 48 {
                out.push(Candidate::new(kind, start, end, 0.85, false));
            }
            break;
        }
    }
}
