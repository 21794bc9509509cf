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
use rustc_hash::FxHashMap;
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
    LazyLock::force(&GAZETTEER);
}

/// Given-name (1) and surname (2) gazetteers (lower case, one a line, `#` comments): Faker's
/// person lists, see `tests/pii_corpus/build_gazetteer.py` for the source, licence and which
/// part is kept. One map with a fast hash: up to three look-ups per scored word (SipHash on two
/// sets was ~5 % of a PII-dense scan).
static GAZETTEER: LazyLock<FxHashMap<&'static str, u8>> = LazyLock::new(|| {
    let mut map = FxHashMap::default();
    for (list, bit) in [(include_str!("model/given_names.txt"), 1), (include_str!("model/surnames.txt"), 2)] {
        for name in list.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            *map.entry(name).or_insert(0) |= bit;
        }
    }
    map
});

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
    GAZETTEER.get(lower.as_ref()).map_or(0, |&bits| u64::from(bits))
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
    /// The coarse shape (`shape_of`), computed once: a token is read as the word itself, as the
    /// one before, the one after and two before.
    pub shape: u16,
}

/// The tokens of a text, one at a time: letters with inner `-`, `'`, `’`, `.` after a single
/// letter ("P."), digit runs, single punctuation chars and line breaks. Read as a stream so that
/// a megabyte's ~300,000 tokens are never held at once (as a vector they were ~10 MB, whose
/// fresh pages the kernel zeroed on every run).
pub struct Tokens<'c, 'a> {
    ctx: &'c Context<'a>,
    pos: usize,
    /// The first keyword hit at or after `pos`.
    hit: usize,
    bol: bool,
}

impl<'c, 'a> Tokens<'c, 'a> {
    pub fn new(ctx: &'c Context<'a>) -> Self {
        Tokens { ctx, pos: 0, hit: 0, bol: true }
    }

    fn token(&self, start: usize, end: usize, kind: TokKind) -> Tok {
        Tok { start, end, kind, upper: false, all_caps: false, flags: 0, bol: self.bol, after_cue: false, shape: 0 }
    }

    /// The word starting at `start` with its case, keyword flags and cue.
    fn word(&mut self, start: usize) -> Tok {
        let w = read_word(self.ctx.text, start);
        let mut t = self.token(start, w.end, TokKind::Word);
        t.upper = w.upper;
        t.all_caps = w.upper && w.letters >= 2 && !w.lower;
        let hits = &self.ctx.hits;
        while self.hit < hits.len() && hits[self.hit].start < start {
            self.hit += 1;
        }
        if let Some(h) = hits.get(self.hit).filter(|h| h.start == start) {
            t.flags = h.entry.flags;
        }
        // Only lower-case words need it (capitalised ones are always scored).
        t.after_cue = !t.upper && self.ctx.cue_before_at(self.hit, start, 3, NAME_CUES);
        t.shape = word_shape(&t, w.joined, self.ctx.text.as_bytes()[w.end - 1] == b'.');
        t
    }
}

impl Iterator for Tokens<'_, '_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        let text = self.ctx.text;
        let bytes = text.as_bytes();
        loop {
            let i = self.pos;
            let &b = bytes.get(i)?;
            if b == b' ' || b == b'\t' || b == b'\r' {
                self.pos += 1;
                continue;
            }
            let t = if b == b'\n' {
                let mut t = self.token(i, i + 1, TokKind::Newline);
                t.shape = 1;
                t
            } else if b.is_ascii_digit() {
                let end = i + bytes[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                let mut t = self.token(i, end, TokKind::Number);
                t.shape = 2 + u16::from(end - i > 3);
                t
            } else {
                let (c, len) = char_at(text, i);
                if c.is_alphabetic() {
                    self.word(i)
                } else if c.is_whitespace() {
                    self.pos += len;
                    continue;
                } else {
                    let mut t = self.token(i, i + len, TokKind::Punct);
                    t.shape = 10 + u16::from(b);
                    t
                }
            };
            self.bol = t.kind == TokKind::Newline;
            self.pos = t.end;
            return Some(t);
        }
    }
}

/// Every token of the text (the trainer's gold tags are per token index).
pub fn tokenize(ctx: &Context<'_>) -> Vec<Tok> {
    Tokens::new(ctx).collect()
}

/// The char at byte `i` and its length; ASCII (nearly every byte) without decoding.
fn char_at(text: &str, i: usize) -> (char, usize) {
    match text.as_bytes()[i] {
        b if b.is_ascii() => (char::from(b), 1),
        _ => text[i..].chars().next().map_or((' ', 1), |c| (c, c.len_utf8())),
    }
}

/// What reading a word finds.
struct Word {
    end: usize,
    letters: usize,
    upper: bool,
    /// A lower-case letter anywhere.
    lower: bool,
    /// An inner `-`, `'` or `’`.
    joined: bool,
}

/// The word starting with a letter at `start`: letters, inner joiners followed by a letter, and
/// a `.` after a single letter ("P.").
fn read_word(text: &str, start: usize) -> Word {
    let mut w = Word { end: start, letters: 0, upper: false, lower: false, joined: false };
    let bytes = text.as_bytes();
    let mut k = start;
    while k < text.len() {
        // ASCII letters, nearly all of them, without decoding.
        if bytes[k].is_ascii_alphabetic() {
            w.upper |= w.letters == 0 && bytes[k].is_ascii_uppercase();
            w.lower |= bytes[k].is_ascii_lowercase();
            w.letters += 1;
            k += 1;
            w.end = k;
            continue;
        }
        let (c, len) = char_at(text, k);
        if c.is_alphabetic() {
            w.upper |= w.letters == 0 && c.is_uppercase();
            w.lower |= c.is_lowercase();
            w.letters += 1;
            w.end = k + len;
        } else if matches!(c, '-' | '\'' | '’') && k + len < text.len() && char_at(text, k + len).0.is_alphabetic() {
            w.joined = true;
        } else {
            if c == '.' && w.letters == 1 {
                w.end = k + 1;
            }
            break;
        }
        k += len;
    }
    w
}

/// The word may be scored: a capitalised word, or a lower-case one with a name just before it
/// or a name cue (title, label, role, self-introduction) one or two tokens before.
fn candidate(w: &Window, prev_tag: u8) -> bool {
    let Some(t) = w.t() else { return false };
    if t.kind != TokKind::Word || t.end - t.start < 2 {
        return false;
    }
    if t.upper {
        return true;
    }
    // A lower-case name goes on in lower case ("hans müller"), a capitalised one does not.
    if prev_tag != O {
        return w.p1().is_some_and(|p| !p.upper);
    }
    const CUE: u32 = NAME_CUES;
    t.after_cue
        || w.p1().is_some_and(|p| {
            p.flags & CUE != 0 || (p.kind == TokKind::Punct && w.p2().is_some_and(|q| q.flags & CUE != 0))
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

/// A word's coarse shape: case pattern and length class, a final `.`, an inner joiner.
fn word_shape(t: &Tok, joined: bool, dotted: bool) -> u16 {
    let len = (t.end - t.start).min(12) as u16 / 3;
    let case = if t.all_caps {
        0
    } else if t.upper {
        1
    } else {
        2
    };
    400 + case * 100 + len * 10 + u16::from(dotted) * 4 + u16::from(joined)
}

/// The shape of a token, 0 for none (before the text's start or after its end).
fn shape(t: Option<&Tok>) -> u64 {
    t.map_or(0, |t| u64::from(t.shape))
}

fn word_bytes<'a>(text: &'a str, t: Option<&Tok>) -> &'a [u8] {
    match t {
        None => b"<S>",
        Some(t) if t.kind == TokKind::Newline => b"<NL>",
        Some(t) if t.kind == TokKind::Number => b"<NUM>",
        Some(t) => &text.as_bytes()[t.start..t.end],
    }
}

/// The first byte of a UTF-8 char (not a continuation byte).
fn char_start(b: u8) -> bool {
    b & 0xc0 != 0x80
}

/// Last `n` chars of a word (as bytes).
fn suffix(w: &[u8], n: usize) -> &[u8] {
    (0..w.len()).rev().filter(|&k| char_start(w[k])).nth(n - 1).map_or(w, |k| &w[k..])
}

/// First `n` chars of a word (as bytes).
fn prefix(w: &[u8], n: usize) -> &[u8] {
    (0..w.len()).filter(|&k| char_start(w[k])).nth(n).map_or(w, |k| &w[..k])
}

/// The tokens the features of one token read: two before it, the token itself and one after,
/// with each word's gazetteer membership looked up once (it is read in three of the positions).
pub struct Window {
    /// Two before, one before, the token, one after.
    toks: [Option<Tok>; 4],
    gaz: [Option<u64>; 4],
}

impl Window {
    fn new(t: Option<Tok>, n1: Option<Tok>) -> Self {
        Window { toks: [None, None, t, n1], gaz: [None; 4] }
    }

    fn p2(&self) -> Option<&Tok> {
        self.toks[0].as_ref()
    }

    fn p1(&self) -> Option<&Tok> {
        self.toks[1].as_ref()
    }

    fn t(&self) -> Option<&Tok> {
        self.toks[2].as_ref()
    }

    fn n1(&self) -> Option<&Tok> {
        self.toks[3].as_ref()
    }

    /// Move on by one token; `next` is the new look-ahead.
    fn shift(&mut self, next: Option<Tok>) {
        let [_, p1, t, n1] = self.toks;
        self.toks = [p1, t, n1, next];
        let [_, g1, g0, gn] = self.gaz;
        self.gaz = [g1, g0, gn, None];
    }

    /// Gazetteer membership of the word in slot `k` (0 for other tokens or with the lists off).
    fn gaz(&mut self, text: &str, k: usize, gazetteers: bool) -> u64 {
        match self.toks[k] {
            Some(t) if gazetteers && t.kind == TokKind::Word => {
                *self.gaz[k].get_or_insert_with(|| gazetteer(&text.as_bytes()[t.start..t.end]))
            }
            _ => 0,
        }
    }
}

/// The features of the window's token given the previous tag, appended to `out`.
/// `gazetteers` off makes every word read as unlisted (the trainer does that for half of the
/// texts, so the model also learns to find names from their context alone).
fn features(text: &str, w: &mut Window, prev_tag: u8, line: Line, gazetteers: bool, out: &mut Vec<u64>) {
    out.clear();
    let Some(t) = w.t().copied() else { return };
    let w0 = word_bytes(text, Some(&t));
    let (p1, p2, n1) = (w.p1().copied(), w.p2().copied(), w.n1().copied());
    let (p1, p2, n1) = (p1.as_ref(), p2.as_ref(), n1.as_ref());
    let s0 = u64::from(t.shape);
    let sp1 = shape(p1);
    let sn1 = shape(n1);
    let pt = u64::from(prev_tag);
    out.push(hash_n(1, 0));
    out.push(hash_n(27, u64::from(t.after_cue)));
    out.push(hash_n(26, u64::from(super::person::is_function_word(&text[t.start..t.end]))));
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
    out.push(hash_n(18, (shape(p2) * 1000 + sp1) * 1000 + s0));
    out.push(hash_n(19, u64::from(t.bol) * 2 + u64::from(p1.is_some_and(|p| p.bol))));
    let (g0, gp, gn) = (w.gaz(text, 2, gazetteers), w.gaz(text, 1, gazetteers), w.gaz(text, 3, gazetteers));
    out.push(hash_n(21, g0));
    out.push(hash_n(22, gp * 4 + g0));
    out.push(hash_n(23, g0 * 4 + gn));
    out.push(hash_n(24, pt * 16 + g0 * 4 + gn));
    out.push(hash_n(25, (g0 * 10 + s0 % 1000) * 1000 + sp1));
    out.push(hash_n(hash_str(20, word_bytes(text, p1)), s0));
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
    if line.len > 0 {
        out.push(hash_n(42, line.first_shape));
        out.push(hash_n(43, u64::from(line.colon) * 10 + line.len.min(6) as u64));
    }
}

/// The current line so far: its first token's shape, how many tokens it has had and whether one
/// was a colon.
#[derive(Debug, Clone, Copy, Default)]
pub struct Line {
    first_shape: u64,
    len: usize,
    colon: bool,
}

impl Line {
    /// Advance past token `t`.
    fn after(&mut self, text: &str, t: &Tok) {
        if t.kind == TokKind::Newline {
            *self = Line::default();
            return;
        }
        if self.len == 0 {
            self.first_shape = u64::from(t.shape);
        }
        self.len += 1;
        self.colon |= t.kind == TokKind::Punct && text.as_bytes()[t.start] == b':';
    }
}

/// Tag every token of the text in order. `step` gets each scored token's index, its features
/// and the previous tag and returns the tag (the model's best, or the trainer's prediction);
/// `tagged` then gets every token with its tag (O for those not scored).
pub fn decode(
    ctx: &Context<'_>,
    gazetteers: bool,
    mut step: impl FnMut(usize, &[u64], u8) -> u8,
    mut tagged: impl FnMut(&Tok, u8),
) {
    let mut toks = Tokens::new(ctx);
    let first = toks.next();
    let mut w = Window::new(first, toks.next());
    let mut feats = Vec::with_capacity(96);
    let (mut prev, mut run, mut line) = (O, 0, Line::default());
    let mut i = 0;
    while let Some(t) = w.t().copied() {
        // Punctuation and line breaks end a name; so does a word that may not be one, and a
        // fifth token.
        if run >= MAX_TOKENS {
            prev = O;
        }
        if candidate(&w, prev) {
            features(ctx.text, &mut w, prev, line, gazetteers, &mut feats);
            prev = step(i, &feats, prev);
        } else {
            prev = O;
        }
        tagged(&t, prev);
        run = if prev == O { 0 } else { run + 1 };
        line.after(ctx.text, &t);
        w.shift(toks.next());
        i += 1;
    }
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
fn never_a_person(text: &str, first: &Tok, last: &Tok) -> bool {
    let (start, end) = (first.start, last.end);
    if first.start == last.start && CODE_TYPES.iter().any(|w| text[start..end].eq_ignore_ascii_case(w)) {
        return true;
    }
    // "Total CHF 1 250.00": an amount's currency, not a surname.
    let last_word = &text[last.start..end];
    if CURRENCIES.contains(&last_word) {
        return true;
    }
    let after = text[end..].trim_start_matches('-');
    after.len() < text.len() - end && after.starts_with(|c: char| c.is_ascii_digit())
        || text[end..].starts_with(|c: char| c.is_ascii_digit())
}

/// A tagged name from its first to its last token, unless what follows (`next`, the token after
/// it) or what it is says it is no person.
fn person_span(text: &str, first: &Tok, last: &Tok, next: Option<&Tok>) -> Option<(usize, usize)> {
    let (start, end) = (first.start, last.end);
    let company = next.is_some_and(|n| COMPANY.contains(&&text[n.start..n.end]));
    let letters = text[start..end].chars().filter(|c| c.is_alphabetic()).count();
    (!company && letters >= 2 && !never_a_person(text, first, last)).then_some((start, end))
}

/// Person spans (byte offsets) the model `weights` tags in the text of `ctx`.
pub fn spans(weights: &Weights, ctx: &Context<'_>, gazetteers: bool) -> Vec<(usize, usize)> {
    let text = ctx.text;
    let mut out = Vec::new();
    // The name being read: its first and (so far) last token.
    let mut open: Option<(Tok, Tok)> = None;
    let step = |_, f: &[u64], prev| best_tag(weights.score(f), prev);
    decode(ctx, gazetteers, step, |t, tag| {
        if tag == I {
            if let Some((_, last)) = open.as_mut() {
                *last = *t;
            }
            return;
        }
        if let Some((first, last)) = open.take() {
            out.extend(person_span(text, &first, &last, Some(t)));
        }
        if tag == B {
            open = Some((*t, *t));
        }
    });
    if let Some((first, last)) = open {
        out.extend(person_span(text, &first, &last, None));
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
