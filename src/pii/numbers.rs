//! Digit-run recognizers: payment cards, AHV, French NIR, German tax id, UK NHS, US SSN, IPv4
//! and phone numbers.
//!
//! One regex finds maximal runs of digit "atoms" (digits joined by `.`, `-` or `/`, optionally a
//! leading `+` or a parenthesised area code) separated by single spaces. A run is then split at
//! its spaces only: from each atom, the longest stretch of at most eight atoms that a validator
//! accepts wins. Dotted or dashed atoms are never split, so `1.2.3.4.5` is not an IPv4 address
//! and `12.03.2024` never becomes a phone number.

use super::context::{flag, Context};
use super::phone;
use super::scanner::{in_blob, Candidate, Kind};
use super::validators as v;
use regex::Regex;
use std::sync::LazyLock;

static RUN: LazyLock<Regex> = LazyLock::new(|| {
    let atom = r"(?:\([0-9]{1,5}\)[ \x{a0}]?)?[0-9]+(?:[.\-/][0-9]+)*";
    // "+44(0)20 ...": the trunk zero in brackets may follow the country code without a space.
    let trunk = r"\(0\)[ \x{a0}]?[0-9]+(?:[.\-/][0-9]+)*";
    Regex::new(&format!(r"^\+?{atom}(?:[ \x{{a0}}]{atom}|{trunk})*")).expect("static regex")
});

/// Most digits a candidate identifier may carry (IBAN-free runs never exceed 19).
const MAX_DIGITS: usize = 24;

/// A contiguous stretch of atoms, with its digits copied into a stack buffer.
pub struct Span<'a> {
    pub text: &'a str,
    pub digits: [u8; MAX_DIGITS],
    pub n: usize,
    /// Digit counts of the groups between any separators (space, dot, dash, slash, parens).
    pub groups: [u8; 16],
    pub ngroups: usize,
}

impl<'a> Span<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let mut s = Span { text, digits: [0; MAX_DIGITS], n: 0, groups: [0; 16], ngroups: 0 };
        let mut in_group = false;
        for b in text.bytes() {
            if b.is_ascii_digit() {
                if s.n == MAX_DIGITS {
                    return None;
                }
                s.digits[s.n] = b;
                s.n += 1;
                if !in_group {
                    if s.ngroups == s.groups.len() {
                        return None;
                    }
                    s.ngroups += 1;
                    in_group = true;
                }
                s.groups[s.ngroups - 1] += 1;
            } else {
                in_group = false;
            }
        }
        Some(s)
    }

    pub fn digits(&self) -> &[u8] {
        &self.digits[..self.n]
    }

    pub fn groups(&self) -> &[u8] {
        &self.groups[..self.ngroups]
    }

    /// Separator characters used (excluding a leading `+`).
    pub fn has_sep(&self, c: u8) -> bool {
        self.text.bytes().any(|b| b == c)
    }

    /// Only digits, no separators at all.
    pub fn plain(&self) -> bool {
        self.ngroups == 1 && self.text.bytes().all(|b| b.is_ascii_digit())
    }

    /// All separators are the same single char from `allowed` (or there are none).
    pub fn uniform_sep(&self, allowed: &[u8]) -> bool {
        let mut sep = None;
        for b in self.text.bytes().filter(|b| !b.is_ascii_digit()) {
            if !allowed.contains(&b) || sep.is_some_and(|s| s != b) {
                return false;
            }
            sep = Some(b);
        }
        true
    }
}

/// Atom boundaries inside a run: (start, end) byte offsets relative to the text.
fn atoms(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let bytes = text.as_bytes();
    let mut i = start;
    while i < end {
        let s = i;
        // An atom ends at a space that is followed by a digit, '(' or '+' (the run regex only
        // joins atoms with single spaces); "(0)44" keeps its inner space.
        while i < end {
            if is_space_at(text, i) && !(i > s && bytes[i - 1] == b')') {
                break;
            }
            i += 1;
        }
        out.push((s, i));
        if i < end {
            i += space_len(text, i);
        }
    }
}

fn is_space_at(text: &str, i: usize) -> bool {
    let b = text.as_bytes();
    b[i] == b' ' || (b[i] == 0xC2 && b.get(i + 1) == Some(&0xA0))
}

fn space_len(text: &str, i: usize) -> usize {
    if text.as_bytes()[i] == b' ' {
        1
    } else {
        2
    }
}

/// Scan all digit runs (anchored at the digit starts, with a leading `+` or `(`).
pub fn scan(ctx: &Context<'_>, starts: &[usize], out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let mut parts = Vec::with_capacity(16);
    let mut covered = 0;
    for &p in starts {
        if p < covered {
            continue;
        }
        let prefixed = p > 0 && matches!(text.as_bytes()[p - 1], b'+' | b'(');
        let found = prefixed.then(|| RUN.find(&text[p - 1..]).map(|m| (p - 1, m.end()))).flatten();
        let Some((ms, len)) = found.or_else(|| RUN.find(&text[p..]).map(|m| (p, m.end()))) else {
            continue;
        };
        let me = ms + len;
        covered = me;
        atoms(text, ms, me, &mut parts);
        let mut i = 0;
        while i < parts.len() {
            // A stretch may not start right after a plain number: "4936 0977 6626 7767" is one
            // failed card, not a card prefix followed by a phone number.
            if i > 0 && text[parts[i - 1].0..parts[i - 1].1].bytes().all(|b| b.is_ascii_digit()) {
                i += 1;
                continue;
            }
            let mut matched = false;
            for j in (i + 1..=(i + 8).min(parts.len())).rev() {
                let (s, e) = (parts[i].0, parts[j - 1].1);
                if let Some(c) = classify(ctx, s, e) {
                    out.push(c);
                    i = j;
                    matched = true;
                    break;
                }
            }
            if !matched {
                i += 1;
            }
        }
    }
}

/// The run is glued to text that makes it part of something else (a word, an amount, a
/// decimal, a longer dotted number).
fn badly_bounded(text: &str, s: usize, e: usize) -> bool {
    let b = text.as_bytes();
    let before = s.checked_sub(1).map(|i| b[i]);
    let before2 = s.checked_sub(2).map(|i| b[i]);
    let after = b.get(e).copied();
    let after2 = b.get(e + 1).copied();
    let glued = |x: Option<u8>| x.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 && c != 0xC2);
    if glued(before) || glued(after) {
        // Non-breaking spaces (C2 A0) are fine; other non-ASCII letters glue.
        return true;
    }
    let joiner = |x: Option<u8>| x.is_some_and(|c| matches!(c, b'.' | b',' | b'\'' | b'/' | b'-' | b':' | b'+'));
    let alnum = |x: Option<u8>| x.is_some_and(|c| c.is_ascii_alphanumeric());
    (joiner(before) && alnum(before2)) || (joiner(after) && alnum(after2)) || after == Some(b'%')
}

/// Try every digit-run entity on one stretch `[s, e)`.
fn classify(ctx: &Context<'_>, s: usize, e: usize) -> Option<Candidate> {
    let text = ctx.text;
    let span_text = text.get(s..e)?;
    if badly_bounded(text, s, e) {
        return None;
    }
    let span = Span::parse(span_text)?;
    let d = span.digits();
    let n = d.len();
    if n < 7 && !(n >= 4 && span.has_sep(b'.')) {
        return None;
    }
    if in_blob(text, s, e) {
        return None;
    }
    let cue = |mask: u32, window: usize| ctx.cue_before(s, window, mask);
    let neg = |positive: u32| ctx.negated(s, positive);
    let bonus = |mask: u32, window: usize| if cue(mask, window) { 0.05 } else { 0.0 };
    let c = |kind, score| Some(Candidate::new(kind, s, e, score, true));

    if n == 13 && v::ch_ahv(d) && (span.plain() || span.uniform_sep(b". -")) {
        return c(Kind::Ahv, 0.95 + bonus(flag::AHV, 300));
    }
    if (12..=19).contains(&n) && v::credit_card(d) && card_shape(&span) && !(span.plain() && neg(flag::CARD)) {
        return c(Kind::Card, 0.9 + 2.0 * bonus(flag::CARD, 48));
    }
    if n == 15 && v::fr_nir(d) && span.uniform_sep(b" ") {
        return c(Kind::FrNir, 0.9 + bonus(flag::NIR, 64));
    }
    if span.ngroups == 4 && span.uniform_sep(b".") && v::ipv4(span_text) {
        return (!neg(flag::IP)).then(|| Candidate::new(Kind::Ip, s, e, 0.8 + 3.0 * bonus(flag::IP, 48), true));
    }
    if n == 11 && cue(flag::TAX, 64) && span.uniform_sep(b" ") && v::de_tax_id(d) {
        return c(Kind::DeTax, 0.95);
    }
    if n == 10 && cue(flag::NHS, 64) && nhs_shape(&span) && v::uk_nhs(d) {
        return c(Kind::UkNhs, 0.95);
    }
    if n == 9 && v::us_ssn(d) {
        let dashed = span.groups() == [3, 2, 4] && span.uniform_sep(b"-");
        let ssn_cue = cue(flag::SSN, 48);
        if (ssn_cue && (span.plain() || span.groups() == [3, 2, 4])) || (dashed && !neg(flag::SSN)) {
            return c(Kind::UsSsn, if ssn_cue { 0.95 } else { 0.75 });
        }
    }
    phone::check(ctx, s, e, &span, neg(flag::PHONE)).map(|score| Candidate::new(Kind::Phone, s, e, score, true))
}

/// Cards are written ungrouped or in groups with one consistent separator.
fn card_shape(span: &Span<'_>) -> bool {
    span.plain()
        || (span.uniform_sep(b" -.") && span.ngroups >= 3 && span.groups().iter().all(|&g| (3..=6).contains(&g)))
}

fn nhs_shape(span: &Span<'_>) -> bool {
    span.plain() || (span.groups() == [3, 3, 4] && span.uniform_sep(b" -"))
}

#[cfg(test)]
mod tests {
    use crate::pii::scan_text;

    fn kinds(t: &str) -> Vec<(String, String)> {
        scan_text(t).into_iter().map(|f| (f.entity_type, f.text)).collect()
    }

    #[test]
    fn finds_validated_numbers_and_skips_negatives() {
        let k = kinds("Karte 4111 1111 1111 1111, AHV 756.9217.0769.85, IP 192.168.1.20");
        assert!(k.contains(&("CREDIT_CARD".into(), "4111 1111 1111 1111".into())), "{k:?}");
        assert!(k.contains(&("CH_AHV".into(), "756.9217.0769.85".into())), "{k:?}");
        assert!(k.contains(&("IP_ADDRESS".into(), "192.168.1.20".into())), "{k:?}");
        assert!(kinds("Bestellung 4111 1111 1111 1112 vom 12.03.2024").is_empty());
        assert!(kinds("version 1.2.3.4 and 10.0.19045.2965").is_empty());
        assert!(kinds("Betrag CHF 1'250.00 und 3 250 000").is_empty());
    }
}
