//! Person names without a statistical model: cue words (titles, greetings, signatures, "Name:"
//! labels) in de/fr/it/en followed by capitalised name tokens, and a known given name followed by
//! one or more capitalised tokens. The span is the name alone, without titles.

use super::context::{char_at, flag, Context, Hit};
use super::scanner::{Candidate, Kind};
use rustc_hash::FxHashSet;
use std::sync::LazyLock;

/// Lower-case particles that may sit inside a name (von Allmen, de Montmollin, di Stefano).
const PARTICLES: &[&str] = &[
    "von", "van", "vom", "zu", "de", "di", "da", "del", "della", "dei", "du", "des", "le", "la", "ter", "der", "den",
    "dos", "d'", "d’", "dell'", "mc",
];

/// Academic and professional qualifiers skipped after a title ("Dr. med.", "Prof. Dr.").
const QUALIFIERS: &[&str] = &[
    "med.", "iur.", "jur.", "phil.", "rer.", "nat.", "oec.", "dipl.", "lic.", "dent.", "vet.", "h.c.", "pol.", "sc.",
    "techn.", "ing.", "mult.",
];

/// Company suffixes: a capitalised sequence ending in one of these is an organisation.
const COMPANY: &[&str] = &[
    "AG", "GmbH", "SA", "Sàrl", "Sagl", "Ltd", "Ltd.", "Inc", "Inc.", "KG", "Srl", "S.r.l.", "SpA", "S.p.A.", "LLC",
    "plc", "SE", "Co.", "&",
];

/// A name token: upper-case letter then letters, with inner hyphens or apostrophes
/// (Meier-Huber, O'Brien, D'Angelo), or an initial like "P.".
fn token_at(text: &str, pos: usize) -> Option<usize> {
    let mut chars = text[pos..].char_indices();
    let (_, first) = chars.next()?;
    if !first.is_uppercase() {
        return None;
    }
    let mut end = pos + first.len_utf8();
    let mut letters = 1;
    for (i, c) in chars {
        if c.is_alphabetic() {
            letters += 1;
            end = pos + i + c.len_utf8();
        } else if matches!(c, '-' | '\'' | '’')
            && text[pos + i + c.len_utf8()..].chars().next().is_some_and(char::is_alphabetic)
        {
            end = pos + i + c.len_utf8();
        } else if c == '.' && letters == 1 {
            return Some(pos + i + 1);
        } else {
            break;
        }
    }
    (letters >= 2).then_some(end)
}

fn skip_spaces(text: &str, mut pos: usize) -> usize {
    while let Some(c) = char_at(text, pos) {
        if c == ' ' || c == '\u{a0}' || c == '\t' {
            pos += c.len_utf8();
        } else {
            break;
        }
    }
    pos
}

fn word_in(text: &str, pos: usize, list: &[&str]) -> Option<usize> {
    list.iter().find_map(|w| {
        let end = pos + w.len();
        let ok = text.get(pos..end).is_some_and(|s| s.eq_ignore_ascii_case(w))
            && (w.ends_with('\'')
                || w.ends_with('’')
                || w.ends_with('.')
                || !char_at(text, end).is_some_and(char::is_alphanumeric));
        ok.then_some(end)
    })
}

/// A name read from `pos`: (start, end, token count, first token flags, any token listed).
struct Name {
    start: usize,
    end: usize,
    tokens: usize,
    listed: bool,
    first_given: bool,
}

/// Articles, pronouns and other function words: capitalised at a sentence start, never names.
/// Kept out of the keyword automaton because they occur every few words.
const FUNCTION_WORDS: &[&str] = &[
    "a",
    "alle",
    "all",
    "an",
    "bitte",
    "das",
    "dein",
    "deine",
    "der",
    "die",
    "du",
    "ein",
    "eine",
    "er",
    "es",
    "euer",
    "i",
    "ich",
    "ihr",
    "ihre",
    "il",
    "io",
    "je",
    "la",
    "le",
    "lei",
    "les",
    "lui",
    "mein",
    "meine",
    "nous",
    "noi",
    "notre",
    "nostro",
    "our",
    "please",
    "sie",
    "ihnen",
    "that",
    "the",
    "this",
    "tu",
    "tutti",
    "unser",
    "unsere",
    "vous",
    "votre",
    "we",
    "wir",
    "you",
    "your",
    "he",
    "she",
    "they",
    "it",
    "in",
    "im",
    "am",
    "on",
    "at",
    "for",
    "für",
    "pour",
    "per",
    "mit",
    "avec",
    "con",
    "with",
    "und",
    "et",
    "e",
    "and",
    "oder",
    "ou",
    "o",
    "or",
    "aber",
    "mais",
    "ma",
    "but",
    "wenn",
    "si",
    "se",
    "if",
    "bei",
    "chez",
    "von",
    "vom",
    "zum",
    "zur",
    "des",
    "del",
    "della",
    "di",
    "da",
    "de",
    "du",
    "au",
    "aux",
    "sur",
    "su",
    "nel",
    "nella",
    "dans",
    "dear",
    // Words that follow "Hello"/"Name:" in code, schemas and boilerplate, never names.
    "world",
    "welt",
    "monde",
    "mondo",
    "string",
    "str",
    "optional",
    "option",
    "integer",
    "int",
    "boolean",
    "bool",
    "none",
    "null",
    "true",
    "false",
    "object",
    "number",
    "required",
    "text",
    "list",
    "vec",
    "float",
    "double",
    "any",
    "date",
    "enum",
    "struct",
    "type",
    "value",
    "default",
    "example",
    "test",
    "user",
    "admin",
    "unknown",
    "name",
    "there",
    "everybody",
    "colleagues",
    "friends",
    "folks",
    "guys",
    "leute",
    "tous",
    "ciao",
    "hello",
    "hallo",
];

/// A fast hash: the tagger asks this for every word it scores (SipHash here was ~1.5 % of a
/// prose scan, callgrind 2026-12-04).
static FUNCTION_SET: LazyLock<FxHashSet<&'static str>> = LazyLock::new(|| FUNCTION_WORDS.iter().copied().collect());

/// Set lookup on the ASCII-lower-cased word, lower-cased into a stack buffer (no allocation).
pub(crate) fn is_function_word(word: &str) -> bool {
    let mut buf = [0u8; 12];
    let Some(dst) = buf.get_mut(..word.len()) else {
        return false;
    };
    dst.copy_from_slice(word.as_bytes());
    dst.make_ascii_lowercase();
    std::str::from_utf8(dst).is_ok_and(|w| FUNCTION_SET.contains(w))
}

fn is_stop(ctx: &Context<'_>, pos: usize, end: usize) -> bool {
    is_function_word(&ctx.text[pos..end])
        || ctx.hit_at(pos).is_some_and(|h| {
            h.end == end && h.entry.flags & (flag::STOP | flag::TITLE | flag::GREETING | flag::SIGNATURE) != 0
        })
}

/// Read up to four name tokens on the same line starting at `pos` (after spaces).
fn read_name(ctx: &Context<'_>, pos: usize, allow_particle_first: bool) -> Option<Name> {
    let text = ctx.text;
    let start = skip_spaces(text, pos);
    let mut p = start;
    let mut name = Name { start, end: start, tokens: 0, listed: false, first_given: false };
    while name.tokens < 4 {
        let q = if name.tokens > 0 { skip_spaces(text, p) } else { p };
        if name.tokens > 0 && q == p {
            break;
        }
        if let Some(pe) = word_in(text, q, PARTICLES) {
            let after = skip_spaces(text, pe);
            if (name.tokens > 0 || allow_particle_first) && token_at(text, after).is_some() {
                p = after;
                continue;
            }
            break;
        }
        let Some(te) = token_at(text, q) else { break };
        if COMPANY.iter().any(|c| &text[q..te] == *c) {
            return None;
        }
        if is_stop(ctx, q, te) {
            break;
        }
        let flags = ctx.hit_at(q).filter(|h| h.end == te).map_or(0, |h| h.entry.flags);
        if name.tokens == 0 {
            name.first_given = flags & flag::GIVEN != 0;
        }
        name.listed |= flags & (flag::GIVEN | flag::SURNAME) != 0;
        name.tokens += 1;
        name.end = te;
        p = te;
    }
    // Initials alone ("P.S.") are no name.
    if name.tokens > 0 && text[name.start..name.end].chars().filter(|c| c.is_alphabetic()).count() <= name.tokens {
        return None;
    }
    // A trailing company suffix means the whole thing names a firm ("Meier Treuhand AG").
    let after = skip_spaces(text, name.end);
    if token_at(text, after).is_some_and(|e| COMPANY.iter().any(|c| text.get(after..e) == Some(*c))) {
        return None;
    }
    (name.tokens > 0).then_some(name)
}

/// Text right after the name ends the phrase: punctuation, line end or text end.
fn ends_phrase(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with([',', '!', '\n', '\r', ';', ':', '.', ')'])
}

fn starts_upper(text: &str, h: &Hit) -> bool {
    text[h.start..].chars().next().is_some_and(char::is_uppercase)
}

fn push(out: &mut Vec<Candidate>, n: &Name, score: f32) {
    let bonus = if n.listed { 0.1 } else { 0.0 };
    out.push(Candidate::new(Kind::Person, n.start, n.end, score + bonus, false));
}

/// After a title: skip further titles and qualifiers, then the name.
fn after_title(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let word = &text[h.start..h.end];
    if !starts_upper(text, h) || (word.len() <= 2 && word != "M." && word != "Mr" && word != "Ms") {
        return;
    }
    let mut pos = skip_spaces(text, h.end);
    for _ in 0..4 {
        if let Some(t) = ctx.hit_at(pos).filter(|t| t.entry.flags & flag::TITLE != 0) {
            pos = skip_spaces(text, t.end);
        } else if let Some(e) = word_in(text, pos, QUALIFIERS) {
            pos = skip_spaces(text, e);
        } else {
            break;
        }
    }
    if pos == h.end {
        return;
    }
    if let Some(n) = read_name(ctx, pos, true) {
        push(out, &n, 0.8);
    }
}

fn after_greeting(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    if !starts_upper(text, h) || !text[h.end..].starts_with([' ', '\u{a0}']) {
        return;
    }
    let pos = skip_spaces(text, h.end);
    if ctx.hit_at(pos).is_some_and(|t| t.entry.flags & flag::TITLE != 0) {
        return;
    }
    if let Some(n) = read_name(ctx, pos, false) {
        if n.first_given || ends_phrase(text, n.end) {
            push(out, &n, 0.75);
        }
    }
}

fn after_label(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let pos = skip_spaces(text, h.end);
    let pos = if text[h.start..h.end].ends_with(':') {
        pos
    } else if text[pos..].starts_with(':') {
        skip_spaces(text, pos + 1)
    } else {
        return;
    };
    let mut p = pos;
    // "Name: Dr. Anna Keller" -> skip titles here too.
    while let Some(t) = ctx.hit_at(p).filter(|t| t.entry.flags & flag::TITLE != 0) {
        p = skip_spaces(text, t.end);
    }
    if let Some(n) = read_name(ctx, p, true) {
        push(out, &n, 0.8);
    }
}

/// "Freundliche Grüsse," then a line break, then the signer's name alone on its line.
fn after_signature(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let rest = &text[h.end..];
    let trimmed = rest.trim_start_matches([',', '!', '.', ' ', '\t']);
    if !trimmed.starts_with(['\n', '\r']) {
        return;
    }
    let mut pos = text.len() - trimmed.trim_start_matches(|c: char| c.is_whitespace()).len();
    while let Some(t) = ctx.hit_at(pos).filter(|t| t.entry.flags & flag::TITLE != 0) {
        pos = skip_spaces(text, t.end);
    }
    if let Some(n) = read_name(ctx, pos, true) {
        let line_ends =
            text[n.end..].trim_start_matches([' ', '\t', ',']).chars().next().is_none_or(|c| c == '\n' || c == '\r');
        if line_ends && (n.tokens >= 2 || n.first_given || n.listed || text[n.end..].trim().is_empty()) {
            push(out, &n, 0.75);
        }
    }
}

/// Surnames that are also everyday words ("Keller" = cellar, "Costa" = coast): they do not
/// anchor a name on their own.
const AMBIGUOUS_SURNAMES: &[&str] = &[
    "Keller",
    "Koch",
    "Wolf",
    "Fuchs",
    "Vogel",
    "Sommer",
    "Graf",
    "Lang",
    "Klein",
    "Braun",
    "Schwarz",
    "Bauer",
    "Jung",
    "Hahn",
    "Frey",
    "Frei",
    "Roth",
    "Richter",
    "Schenk",
    "Green",
    "White",
    "Brown",
    "Young",
    "Hill",
    "Wood",
    "Cook",
    "Baker",
    "Walker",
    "Martin",
    "Bruno",
    "Sala",
    "Villa",
    "Conte",
    "Testa",
    "Monti",
    "Costa",
    "Leone",
    "Longo",
    "Serra",
    "Gallo",
    "Greco",
    "Marino",
    "Fontana",
    "Bassi",
    "Gentile",
    "Colombo",
    "Blanc",
    "Petit",
    "Rey",
    "Clerc",
    "Henry",
    "Thomas",
    "Simon",
    "David",
    "Michel",
    "Vincent",
    "Laurent",
    "Bernard",
    "Werner",
    "Arnold",
    "Friedrich",
    "Berger",
    "Hess",
    "Moore",
    "Scott",
    "Hall",
    "Wright",
];

/// Joined to the previous word by a hyphen or apostrophe ("Gian-Andrea"): not a token start.
fn glued_before(text: &str, pos: usize) -> bool {
    text[..pos].ends_with(['-', '\'', '’'])
}

/// A listed given name followed by at least one more capitalised token, or alone (lower score)
/// when it is not part of a capitalised sequence.
fn from_given(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    if !starts_upper(text, h) || glued_before(text, h.start) {
        return;
    }
    let Some(n) = read_name(ctx, h.start, false) else {
        return;
    };
    if n.tokens >= 2 && n.first_given {
        push(out, &n, 0.6);
    } else if n.tokens == 1 && n.first_given && alone_ok(text, &n) {
        out.push(Candidate::new(Kind::Person, n.start, n.end, 0.5, false));
    }
}

/// A lone given name counts unless it looks like an abbreviation or a heading ("Jan. 2024").
fn alone_ok(text: &str, n: &Name) -> bool {
    let rest = &text[n.end..];
    let next = rest.chars().next();
    if next == Some('.') && rest[1..].trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    !rest.trim_start_matches(' ').starts_with(|c: char| c.is_ascii_digit())
}

/// An unlisted capitalised word right before a listed surname: "Urban Meier".
fn from_surname(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let word = &text[h.start..h.end];
    if !starts_upper(text, h) || AMBIGUOUS_SURNAMES.contains(&word) || h.entry.flags & flag::GIVEN != 0 {
        return;
    }
    let before = &text[..h.start];
    let Some(head) = before.strip_suffix(' ') else {
        return;
    };
    let start = head
        .rfind(|c: char| !(c.is_alphabetic() || c == '-' || c == '\'' || c == '’'))
        .map_or(0, |i| i + head[i..].chars().next().map_or(1, char::len_utf8));
    let first = &head[start..];
    let Some(first_end) = token_at(text, start) else {
        return;
    };
    if first_end != head.len()
        || first.chars().count() < 3
        || first.chars().all(char::is_uppercase)
        || is_stop(ctx, start, first_end)
    {
        return;
    }
    if ctx
        .hit_at(start)
        .is_some_and(|t| t.entry.flags & (flag::NEG | flag::NAME_CUE | flag::NAME_LABEL | flag::SPECIAL) != 0)
    {
        return;
    }
    if let Some(n) = read_name(ctx, start, false) {
        if n.tokens >= 2 {
            push(out, &n, 0.55);
        }
    }
}

/// A role or phrase directly followed by a name: "Klient Reto Gnägi", "my name is ...".
fn after_name_cue(ctx: &Context<'_>, h: &Hit, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let mut pos = skip_spaces(text, h.end);
    if text[pos..].starts_with(':') {
        pos = skip_spaces(text, pos + 1);
    }
    if pos == h.end || ctx.hit_at(pos).is_some_and(|t| t.entry.flags & flag::TITLE != 0) {
        return;
    }
    if let Some(n) = read_name(ctx, pos, false) {
        if n.tokens >= 2 || n.listed || ends_phrase(text, n.end) {
            push(out, &n, 0.7);
        }
    }
}

/// Scan for person names.
pub fn scan(ctx: &Context<'_>, out: &mut Vec<Candidate>) {
    for h in &ctx.hits {
        let f = h.entry.flags;
        if f & flag::TITLE != 0 {
            after_title(ctx, h, out);
        } else if f & flag::GREETING != 0 {
            after_greeting(ctx, h, out);
        }
        if f & flag::NAME_LABEL != 0 {
            after_label(ctx, h, out);
        }
        if f & flag::SIGNATURE != 0 {
            after_signature(ctx, h, out);
        }
        if f & flag::GIVEN != 0 {
            from_given(ctx, h, out);
        }
        if f & flag::SURNAME != 0 {
            from_surname(ctx, h, out);
        }
        if f & flag::NAME_CUE != 0 {
            after_name_cue(ctx, h, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pii::scan_text;

    fn persons(t: &str) -> Vec<String> {
        scan_text(t).into_iter().filter(|f| f.entity_type == "PERSON").map(|f| f.text).collect()
    }

    #[test]
    fn finds_names_by_cue_and_list() {
        assert_eq!(persons("Sehr geehrter Herr Dr. Hans Meier, vielen Dank"), vec!["Hans Meier"]);
        assert_eq!(persons("Bonjour Mme Rochat,"), vec!["Rochat"]);
        assert_eq!(persons("Liebe Grüsse\nAnna Keller"), vec!["Anna Keller"]);
        assert_eq!(persons("Gentile Sig.ra Bianchi"), vec!["Bianchi"]);
        assert_eq!(persons("Name: Marco Rossi\n"), vec!["Marco Rossi"]);
        assert_eq!(persons("Call Peter Brändli tomorrow"), vec!["Peter Brändli"]);
        assert!(persons("Die Meier Treuhand AG hat geschrieben").is_empty());
        assert!(persons("Liebe Kolleginnen und Kollegen").is_empty());
    }
}
