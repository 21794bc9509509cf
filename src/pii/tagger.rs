//! A statistical person-name tagger beside the rules: an averaged perceptron over hashed token
//! features (shape, case, the words around, suffixes, lexicon flags, line layout), decoded greedily
//! left to right with the previous tag as a feature. It finds names the rules have no cue or list
//! entry for: after form labels it does not know, in lists, JSON values and tables, on the line
//! under a lone title, and names that are in no list at all.
//!
//! The weights (`model/person_tagger.bin`) are trained in the repository from the generated
//! development data (`train.rs`, run by `cargo test --test it pii_train -- --ignored`), shipped
//! inside the binary and read once; nothing is loaded at run time. Tags: O, B (first token of a
//! name), I (a later token). Only tokens that may be names are scored: words that start with an
//! upper-case letter, and lower-case words right after a name cue or a name token.

use super::context::{flag, Context};
use super::scanner::{Candidate, Kind};
use std::collections::HashSet;
use std::sync::LazyLock;

/// Hash buckets of the weight table (a power of two).
pub const BUCKETS: usize = 1 << 16;
/// O, B, I.
pub const CLASSES: usize = 3;
pub const O: u8 = 0;
pub const B: u8 = 1;
pub const I: u8 = 2;

const MAGIC: &[u8; 8] = b"AGPTAG01";
static MODEL_BYTES: &[u8] = include_bytes!("model/person_tagger.bin");

/// The quantised weights: `CLASSES` i16 per bucket.
pub struct Weights {
    pub table: Vec<[i16; CLASSES]>,
}

/// Errors reading a weights file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("weights file has a bad header")]
    Header,
    #[error("weights file has {0} bytes, expected {1}")]
    Length(usize, usize),
}

impl Weights {
    /// Parse `MAGIC`, then `BUCKETS * CLASSES` little-endian i16.
    pub fn from_bytes(bytes: &[u8]) -> Result<Weights, ModelError> {
        let body = bytes.strip_prefix(MAGIC.as_slice()).ok_or(ModelError::Header)?;
        let want = BUCKETS * CLASSES * 2;
        if body.len() != want {
            return Err(ModelError::Length(body.len(), want));
        }
        let table = body
            .chunks_exact(CLASSES * 2)
            .map(|c| {
                let w = |k: usize| i16::from_le_bytes([c[2 * k], c[2 * k + 1]]);
                [w(0), w(1), w(2)]
            })
            .collect();
        Ok(Weights { table })
    }

    /// Serialise in the format `from_bytes` reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for row in &self.table {
            for w in row {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    pub fn score(&self, feats: &[u64]) -> [i32; CLASSES] {
        let mut s = [0i32; CLASSES];
        for &f in feats {
            let row = &self.table[bucket(f)];
            for c in 0..CLASSES {
                s[c] += i32::from(row[c]);
            }
        }
        s
    }
}

/// The shipped model; an unreadable file (a build error the unit tests catch) tags nothing.
static MODEL: LazyLock<Option<Weights>> = LazyLock::new(|| Weights::from_bytes(MODEL_BYTES).ok());

pub fn warm_up() {
    LazyLock::force(&MODEL);
    LazyLock::force(&GIVEN);
    LazyLock::force(&SURNAMES);
}

/// Name gazetteers (lower case, one a line, `#` comments): Faker's person lists, see
/// `tests/pii_corpus/build_gazetteer.py` for the source, licence and which part is kept.
static GIVEN: LazyLock<HashSet<&'static str>> = LazyLock::new(|| list(include_str!("model/given_names.txt")));
static SURNAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| list(include_str!("model/surnames.txt")));

fn list(text: &'static str) -> HashSet<&'static str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// Gazetteer membership of a word: 1 given name, 2 surname, 3 both.
fn gazetteer(word: &[u8]) -> u64 {
    let mut buf = [0u8; 32];
    let lower: std::borrow::Cow<'_, str> = match buf.get_mut(..word.len()) {
        Some(dst) if word.is_ascii() => {
            dst.copy_from_slice(word);
            dst.make_ascii_lowercase();
            std::borrow::Cow::Borrowed(std::str::from_utf8(dst).unwrap_or(""))
        }
        _ => std::borrow::Cow::Owned(std::str::from_utf8(word).unwrap_or("").to_lowercase()),
    };
    u64::from(GIVEN.contains(lower.as_ref())) | (u64::from(SURNAMES.contains(lower.as_ref())) << 1)
}

pub fn bucket(f: u64) -> usize {
    (f >> 40) as usize & (BUCKETS - 1)
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    Word,
    Number,
    Punct,
    Newline,
}

/// One token of the text (byte offsets) with what the features need.
#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub start: usize,
    pub end: usize,
    pub kind: TokKind,
    /// Upper-case first letter.
    pub upper: bool,
    /// Every letter upper case (and at least two).
    pub all_caps: bool,
    /// Lexicon flags of a keyword starting here.
    pub flags: u32,
    /// First token on its line.
    pub bol: bool,
    /// A lower-case word right after a name cue ("my name is", "frau", "Name:").
    pub after_cue: bool,
}

/// Letters with inner `-`, `'`, `’`, `.` after a single letter ("P."), digit runs, single
/// punctuation chars and line breaks.
pub fn tokenize(ctx: &Context<'_>) -> Vec<Tok> {
    let text = ctx.text;
    let bytes = text.as_bytes();
    // About one token per 3-4 bytes of office text: reserving for that avoids the copies of a
    // growing vector (a megabyte's tokens are ~10 MB).
    let mut toks = Vec::with_capacity(text.len() / 3 + 8);
    let mut hit = 0;
    let mut i = 0;
    let mut bol = true;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b' ' || b == b'\t' || b == b'\r' {
            i += 1;
            continue;
        }
        if b == b'\n' {
            toks.push(Tok {
                start: i,
                end: i + 1,
                kind: TokKind::Newline,
                upper: false,
                all_caps: false,
                flags: 0,
                bol,
                after_cue: false,
            });
            bol = true;
            i += 1;
            continue;
        }
        let (end, kind) = if b.is_ascii_digit() {
            (i + bytes[i..].iter().take_while(|c| c.is_ascii_digit()).count(), TokKind::Number)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            if c.is_alphabetic() {
                (word_end(text, i), TokKind::Word)
            } else if c.is_whitespace() {
                i += c.len_utf8();
                continue;
            } else {
                (i + c.len_utf8(), TokKind::Punct)
            }
        };
        let mut t = Tok { start: i, end, kind, upper: false, all_caps: false, flags: 0, bol, after_cue: false };
        if kind == TokKind::Word {
            let w = &text[i..end];
            t.upper = w.chars().next().is_some_and(char::is_uppercase);
            let mut letters = w.chars().filter(|c| c.is_alphabetic());
            t.all_caps = t.upper && letters.clone().count() >= 2 && letters.all(|c| !c.is_lowercase());
            while hit < ctx.hits.len() && ctx.hits[hit].start < i {
                hit += 1;
            }
            if let Some(h) = ctx.hits.get(hit).filter(|h| h.start == i) {
                t.flags = h.entry.flags;
            }
            // Only lower-case words need it (capitalised ones are always scored).
            t.after_cue = !t.upper && ctx.cue_before(i, 3, NAME_CUES);
        }
        bol = false;
        toks.push(t);
        i = end;
    }
    toks
}

fn word_end(text: &str, start: usize) -> usize {
    let mut end = start;
    let mut letters = 0;
    let mut it = text[start..].char_indices().peekable();
    while let Some((k, c)) = it.next() {
        if c.is_alphabetic() {
            letters += 1;
            end = start + k + c.len_utf8();
        } else if matches!(c, '-' | '\'' | '’') && it.peek().is_some_and(|(_, n)| n.is_alphabetic()) {
            continue;
        } else if c == '.' && letters == 1 {
            end = start + k + 1;
            break;
        } else {
            break;
        }
    }
    end
}

/// The word may be scored: a capitalised word, or a lower-case one with a name just before it
/// or a name cue (title, label, role, self-introduction) one or two tokens before.
fn candidate(toks: &[Tok], i: usize, prev_tag: u8) -> bool {
    let t = &toks[i];
    if t.kind != TokKind::Word || t.end - t.start < 2 {
        return false;
    }
    if t.upper {
        return true;
    }
    let before = |k: usize| i.checked_sub(k).map(|j| &toks[j]);
    // A lower-case name goes on in lower case ("hans müller"), a capitalised one does not.
    if prev_tag != O {
        return before(1).is_some_and(|p| !p.upper);
    }
    const CUE: u32 = NAME_CUES;
    t.after_cue
        || before(1).is_some_and(|p| {
            p.flags & CUE != 0 || (p.kind == TokKind::Punct && before(2).is_some_and(|q| q.flags & CUE != 0))
        })
}

/// Cues after which a lower-case word may be a name.
const NAME_CUES: u32 = flag::TITLE | flag::NAME_CUE | flag::NAME_LABEL | flag::GREETING;

const NAME_FLAGS: [u32; 12] = [
    flag::GIVEN,
    flag::SURNAME,
    flag::TITLE,
    flag::GREETING,
    flag::SIGNATURE,
    flag::NAME_LABEL,
    flag::NAME_CUE,
    flag::STREET,
    flag::NEG,
    flag::STOP,
    flag::SPECIAL,
    flag::PHONE | flag::EMAIL | flag::IBAN,
];

/// FNV-1a over the ASCII-lower-cased bytes, seeded by the feature template.
fn hash_str(template: u64, s: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ template.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in s {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

fn hash_n(template: u64, a: u64) -> u64 {
    mix(template.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ a.wrapping_mul(0xc2b2_ae3d_27d4_eb4f) ^ 0x5555)
}

/// A coarse shape: case pattern and length class.
fn shape(text: &str, t: &Tok) -> u64 {
    match t.kind {
        TokKind::Newline => 1,
        TokKind::Number => 2 + u64::from(t.end - t.start > 3),
        TokKind::Punct => 10 + u64::from(text.as_bytes()[t.start]),
        TokKind::Word => {
            let len = (t.end - t.start).min(12) as u64 / 3;
            let case = if t.all_caps {
                0
            } else if t.upper {
                1
            } else {
                2
            };
            let dotted = u64::from(text.as_bytes()[t.end - 1] == b'.');
            let joined = u64::from(text[t.start..t.end].contains(['-', '\'', '’']));
            400 + case * 100 + len * 10 + dotted * 4 + joined
        }
    }
}

fn word_bytes<'a>(text: &'a str, t: Option<&Tok>) -> &'a [u8] {
    match t {
        None => b"<S>",
        Some(t) if t.kind == TokKind::Newline => b"<NL>",
        Some(t) if t.kind == TokKind::Number => b"<NUM>",
        Some(t) => &text.as_bytes()[t.start..t.end],
    }
}

/// Last `n` chars of a word (as bytes).
fn suffix(w: &[u8], n: usize) -> &[u8] {
    let s = std::str::from_utf8(w).unwrap_or("");
    let k = s.char_indices().rev().nth(n - 1).map_or(0, |(k, _)| k);
    &w[k..]
}

/// First `n` chars of a word (as bytes).
fn prefix(w: &[u8], n: usize) -> &[u8] {
    let s = std::str::from_utf8(w).unwrap_or("");
    let k = s.char_indices().nth(n).map_or(w.len(), |(k, _)| k);
    &w[..k]
}

/// The features of token `i` given the previous tag, appended to `out`.
/// `gazetteers` off makes every word read as unlisted (the trainer does that for half of the
/// texts, so the model also learns to find names from their context alone).
pub fn features(text: &str, toks: &[Tok], i: usize, prev_tag: u8, line: Line, gazetteers: bool, out: &mut Vec<u64>) {
    out.clear();
    let t = &toks[i];
    let at = |d: isize| i.checked_add_signed(d).and_then(|j| toks.get(j));
    let w0 = word_bytes(text, Some(t));
    let (p1, p2, n1) = (at(-1), at(-2), at(1));
    let s0 = shape(text, t);
    let sp1 = p1.map_or(0, |p| shape(text, p));
    let sn1 = n1.map_or(0, |n| shape(text, n));
    let pt = u64::from(prev_tag);
    out.push(hash_n(1, 0));
    out.push(hash_n(27, u64::from(t.after_cue)));
    out.push(hash_n(26, u64::from(std::str::from_utf8(w0).is_ok_and(super::person::is_function_word))));
    out.push(hash_str(3, word_bytes(text, p1)));
    out.push(hash_str(4, word_bytes(text, n1)));
    out.push(hash_str(5, word_bytes(text, p2)));
    out.push(hash_n(6, s0));
    out.push(hash_n(7, sp1 * 1000 + s0));
    out.push(hash_n(8, s0 * 1000 + sn1));
    out.push(hash_str(9, suffix(w0, 3)));
    out.push(hash_str(10, suffix(w0, 2)));
    out.push(hash_str(11, suffix(w0, 4)));
    out.push(hash_str(12, prefix(w0, 3)));
    out.push(hash_n(15, pt));
    out.push(hash_n(16, pt * 10_000 + s0));
    out.push(hash_n(17, pt * 10_000 + sn1));
    let p2s = p2.map_or(0, |p| shape(text, p));
    out.push(hash_n(18, (p2s * 1000 + sp1) * 1000 + s0));
    out.push(hash_n(19, u64::from(t.bol) * 2 + u64::from(p1.is_some_and(|p| p.bol))));
    let gaz = |t: Option<&Tok>| match t {
        Some(t) if gazetteers && t.kind == TokKind::Word => gazetteer(word_bytes(text, Some(t))),
        _ => 0,
    };
    let (g0, gp, gn) = (gaz(Some(t)), gaz(p1), gaz(n1));
    out.push(hash_n(21, g0));
    out.push(hash_n(22, gp * 4 + g0));
    out.push(hash_n(23, g0 * 4 + gn));
    out.push(hash_n(24, pt * 16 + g0 * 4 + gn));
    out.push(hash_n(25, (g0 * 10 + s0 % 1000) * 1000 + sp1));
    let mut wp = hash_str(20, word_bytes(text, p1));
    wp = hash_n(wp, s0);
    out.push(wp);
    for (k, f) in NAME_FLAGS.iter().enumerate() {
        let k = k as u64;
        if t.flags & f != 0 {
            out.push(hash_n(30, k));
        }
        if p1.is_some_and(|p| p.flags & f != 0) {
            out.push(hash_n(31, k));
        }
        if p2.is_some_and(|p| p.flags & f != 0) {
            out.push(hash_n(32, k));
        }
        if n1.is_some_and(|p| p.flags & f != 0) {
            out.push(hash_n(33, k));
        }
    }
    // A lone word on the line above ("Herr", "Madame", "Mrs"): its identity.
    if t.bol {
        if let (Some(nl), Some(w)) = (p1, p2) {
            if nl.kind == TokKind::Newline && w.bol && w.kind == TokKind::Word {
                out.push(hash_str(40, word_bytes(text, Some(w))));
                out.push(hash_n(41, u64::from(w.flags & flag::TITLE != 0)));
            }
        }
    }
    // The line's first token (a bullet, a number, a label) and whether a colon came before.
    if line.start < i {
        out.push(hash_n(42, shape(text, &toks[line.start])));
        out.push(hash_n(43, u64::from(line.colon) * 10 + (i - line.start).min(6) as u64));
    }
}

/// Where the current line starts (token index) and whether it had a colon so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Line {
    pub start: usize,
    pub colon: bool,
}

impl Line {
    /// Advance past token `i`.
    pub fn after(&mut self, text: &str, toks: &[Tok], i: usize) {
        match toks[i].kind {
            TokKind::Newline => *self = Line { start: i + 1, colon: false },
            TokKind::Punct if text.as_bytes()[toks[i].start] == b':' => self.colon = true,
            _ => {}
        }
    }
}

/// Tag every token (O for those not scored); `step` gets each scored token's index, its features
/// and the previous tag and returns the tag (the model's best, or the trainer's prediction).
pub fn decode(text: &str, toks: &[Tok], gazetteers: bool, mut step: impl FnMut(usize, &[u64], u8) -> u8) -> Vec<u8> {
    let mut tags = vec![O; toks.len()];
    let mut feats = Vec::with_capacity(64);
    let mut prev = O;
    let mut line = Line::default();
    let mut run = 0;
    for i in 0..toks.len() {
        // Punctuation and line breaks end a name; so does a word that may not be one, and a
        // fifth token.
        if run >= MAX_TOKENS {
            prev = O;
        }
        if toks[i].kind == TokKind::Word && candidate(toks, i, prev) {
            features(text, toks, i, prev, line, gazetteers, &mut feats);
            prev = step(i, &feats, prev);
            tags[i] = prev;
        } else {
            prev = O;
        }
        run = if prev == O { 0 } else { run + 1 };
        line.after(text, toks, i);
    }
    tags
}

/// No name is longer than this many tokens.
const MAX_TOKENS: usize = 4;

/// The best tag for scores `s` after `prev` (I only continues a name).
pub fn best_tag(s: [i32; CLASSES], prev: u8) -> u8 {
    let mut best = O;
    for c in [B, I] {
        if (c != I || prev != O) && s[c as usize] > s[best as usize] {
            best = c;
        }
    }
    best
}

/// Company suffixes after a tagged name make it an organisation.
const COMPANY: &[&str] = &["AG", "GmbH", "SA", "Sàrl", "Sagl", "Ltd", "Inc", "KG", "Srl", "SpA", "LLC", "plc", "SE"];

/// Type names of programming languages and schemas: a field list (`name: String`) reads like a
/// form with a name in it, but a span that is one of these alone is a type, not a person.
const CODE_TYPES: &[&str] = &[
    "string",
    "str",
    "integer",
    "int",
    "boolean",
    "bool",
    "float",
    "double",
    "optional",
    "option",
    "list",
    "dict",
    "array",
    "object",
    "number",
    "vec",
    "hashmap",
    "tuple",
    "null",
    "none",
    "void",
    "char",
    "bytes",
    "datetime",
    "timestamp",
    "uuid",
    "decimal",
    "enum",
    "struct",
    "json",
];

/// ISO 4217 codes written before or after amounts in Swiss and EU documents.
const CURRENCIES: &[&str] =
    &["CHF", "EUR", "USD", "GBP", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "CAD", "AUD"];

/// Whether a tagged span is not a person whatever the model says: one token that is a type name,
/// or a span glued to a number by a hyphen or directly (a product or article code such as
/// `SKU-AB-123`; names are not written that way).
fn never_a_person(text: &str, toks: &[Tok], first: usize, last: usize) -> bool {
    let (start, end) = (toks[first].start, toks[last].end);
    if first == last && CODE_TYPES.iter().any(|w| text[start..end].eq_ignore_ascii_case(w)) {
        return true;
    }
    // "Total CHF 1 250.00": an amount's currency, not a surname.
    let last_word = &text[toks[last].start..end];
    if CURRENCIES.contains(&last_word) {
        return true;
    }
    let after = text[end..].trim_start_matches('-');
    after.len() < text.len() - end && after.starts_with(|c: char| c.is_ascii_digit())
        || text[end..].starts_with(|c: char| c.is_ascii_digit())
}

/// Person spans (byte offsets) the model `weights` tags in the text of `ctx`.
pub fn spans(weights: &Weights, ctx: &Context<'_>, gazetteers: bool) -> Vec<(usize, usize)> {
    let text = ctx.text;
    let toks = tokenize(ctx);
    let tags = decode(text, &toks, gazetteers, |_, f, prev| best_tag(weights.score(f), prev));
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if tags[i] != B {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < toks.len() && tags[j] == I {
            j += 1;
        }
        let (start, end) = (toks[i].start, toks[j - 1].end);
        let company = toks.get(j).is_some_and(|n| COMPANY.contains(&&text[n.start..n.end]));
        let letters = text[start..end].chars().filter(|c| c.is_alphabetic()).count();
        if !company && letters >= 2 && !never_a_person(text, &toks, i, j - 1) {
            out.push((start, end));
        }
        i = j;
    }
    out
}

/// Person candidates from the shipped model.
pub fn scan(ctx: &Context<'_>, gazetteers: bool, out: &mut Vec<Candidate>) {
    if let Some(model) = MODEL.as_ref() {
        out.extend(
            spans(model, ctx, gazetteers).into_iter().map(|(s, e)| Candidate::new(Kind::Person, s, e, 0.6, false)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_loads() {
        let w = Weights::from_bytes(MODEL_BYTES).expect("model parses");
        assert_eq!(w.table.len(), BUCKETS);
        assert_eq!(Weights::from_bytes(&w.to_bytes()).map(|x| x.table.len()).ok(), Some(BUCKETS));
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(matches!(Weights::from_bytes(b"nope"), Err(ModelError::Header)));
        assert!(matches!(Weights::from_bytes(b"AGPTAG01\x00\x00"), Err(ModelError::Length(2, _))));
    }

    #[test]
    fn tokens_keep_joined_names_whole() {
        let ctx = Context::new("Hallo Anne-Marie O'Brien,\n- P. Müller");
        let toks = tokenize(&ctx);
        let words: Vec<&str> =
            toks.iter().filter(|t| t.kind == TokKind::Word).map(|t| &ctx.text[t.start..t.end]).collect();
        assert_eq!(words, ["Hallo", "Anne-Marie", "O'Brien", "P.", "Müller"]);
        assert!(toks
            .iter()
            .find(|t| t.kind == TokKind::Punct && &ctx.text[t.start..t.end] == "-")
            .is_some_and(|t| t.bol));
    }
}
