//! The scanning form of a text: what the recognizers read, with a map back to the original.
//!
//! Real documents and evasive clients write the same IBAN, AHV number or name in many ways: groups
//! separated by no-break or thin spaces (Word and Outlook insert them), zero-width characters or
//! soft hyphens inside, full-width letters and digits, digits of another script, Cyrillic or Greek
//! capitals that look like Latin ones. One pass maps every such character to what an identifier
//! reader expects, unit by unit (a character with the combining marks that follow it):
//!
//! 1. format characters (general category Cf: zero-width space and joiners, soft hyphen, BOM,
//!    bidi controls) are removed;
//! 2. every space separator (Zs: no-break, narrow no-break, thin, ideographic ...) reads as `' '`;
//! 3. every dash punctuation (Pd: hyphen, non-breaking hyphen, en dash ...) reads as `'-'`;
//! 4. a decimal digit of any script (Nd) reads as its ASCII digit;
//! 5. the unit is put in Unicode NFKC (full-width `ＣＨ９３` and `＠` become `CH93` and `@`);
//! 6. a letter of another script than Latin whose Unicode confusable prototype (UTS #39, from the
//!    `unicode-security` data) is one ASCII letter or digit reads as that character, keeping its
//!    case, so a Cyrillic `СН93` reads `CH93`.
//!
//! Letters are not case-folded here (names depend on case); recognizers that expect upper-case
//! codes accept lower case themselves.
//!
//! ASCII text, and any text the pass leaves unchanged, is borrowed as it is: no copy and no map.
//! Otherwise the map lists each changed unit as an [`Edit`]; between edits the two texts are
//! byte-for-byte the same, so a span found in the scanning form maps back to exactly the original
//! characters it came from, zero-width characters inside it included.

use std::borrow::Cow;
use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};

/// One unit of the original that reads differently in the scanning form (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edit {
    canon_start: usize,
    canon_end: usize,
    orig_start: usize,
    orig_end: usize,
}

/// A text in scanning form, and the way back to the original's byte offsets.
#[derive(Debug)]
pub struct Canonical<'a> {
    text: Cow<'a, str>,
    /// Sorted by both `canon_start` and `orig_start`; adjacent removals are merged.
    edits: Vec<Edit>,
}

impl<'a> Canonical<'a> {
    /// Map `original` to its scanning form.
    pub fn new(original: &'a str) -> Self {
        if original.is_ascii() {
            return Canonical { text: Cow::Borrowed(original), edits: Vec::new() };
        }
        let mut builder = Builder::default();
        let bytes = original.as_bytes();
        let mut pos = 0;
        while pos < bytes.len() {
            // ASCII runs read as they are: copy them whole, and look only at the units around
            // non-ASCII characters (an ASCII letter may carry combining marks after it).
            let Some(j) = bytes[pos..].iter().position(|b| *b >= 0x80).map(|j| pos + j) else {
                builder.same(&original[pos..]);
                break;
            };
            let marked = j > pos && original[j..].chars().next().is_some_and(|c| canonical_combining_class(c) != 0);
            let unit_start = if marked { j - 1 } else { j };
            builder.same(&original[pos..unit_start]);
            let unit = unit_at(original, unit_start);
            builder.unit(original, unit_start, unit);
            pos = unit_start + unit.len();
        }
        match builder.out {
            None => Canonical { text: Cow::Borrowed(original), edits: Vec::new() },
            Some(out) => Canonical { text: Cow::Owned(out), edits: builder.edits },
        }
    }

    /// The scanning form.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The scanning form is the original itself.
    pub fn is_identity(&self) -> bool {
        self.edits.is_empty()
    }

    /// The original byte span a scanning-form span `[start, end)` was read from: a span that
    /// starts or ends inside a changed unit takes the whole unit.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.original_start(start), self.original_end(end).max(self.original_start(start)))
    }

    fn original_start(&self, p: usize) -> usize {
        let i = self.edits.partition_point(|e| e.canon_start <= p);
        match i.checked_sub(1).map(|i| self.edits[i]) {
            None => p,
            Some(e) if p < e.canon_end => e.orig_start,
            Some(e) => e.orig_end + (p - e.canon_end),
        }
    }

    fn original_end(&self, p: usize) -> usize {
        // Strictly before: a character removed right after the span is not part of it.
        let i = self.edits.partition_point(|e| e.canon_start < p);
        match i.checked_sub(1).map(|i| self.edits[i]) {
            None => p,
            Some(e) if p < e.canon_end => e.orig_end,
            Some(e) => e.orig_end + (p - e.canon_end),
        }
    }
}

/// A character and the combining marks after it, so that NFKC composes `e` + U+0301 as it
/// would in the whole text.
fn unit_at(text: &str, start: usize) -> &str {
    let rest = &text[start..];
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return rest;
    };
    let mut len = first.len_utf8();
    for (i, c) in chars {
        if canonical_combining_class(c) == 0 {
            break;
        }
        len = i + c.len_utf8();
    }
    &rest[..len]
}

/// Builds the scanning form lazily: nothing is copied until the first unit that changes.
#[derive(Default)]
struct Builder {
    out: Option<String>,
    edits: Vec<Edit>,
}

impl Builder {
    /// Text that reads as it is written.
    fn same(&mut self, text: &str) {
        if let Some(out) = &mut self.out {
            out.push_str(text);
        }
    }

    fn unit(&mut self, original: &str, start: usize, unit: &str) {
        let end = start + unit.len();
        let Some(read) = read_unit(original, start, unit) else {
            if let Some(out) = &mut self.out {
                out.push_str(unit);
            }
            return;
        };
        let out = self.out.get_or_insert_with(|| {
            let mut s = String::with_capacity(original.len());
            s.push_str(&original[..start]);
            s
        });
        let canon_start = out.len();
        out.push_str(&read);
        let edit = Edit { canon_start, canon_end: out.len(), orig_start: start, orig_end: end };
        match self.edits.last_mut() {
            // Removals next to each other are one edit: nothing can start or end between them.
            Some(last)
                if edit.canon_start == edit.canon_end
                    && last.canon_start == last.canon_end
                    && last.orig_end == start
                    && last.canon_end == canon_start =>
            {
                last.orig_end = end;
            }
            _ => self.edits.push(edit),
        }
    }
}

/// How one unit reads in the scanning form, or `None` when it reads as it is written.
fn read_unit(original: &str, start: usize, unit: &str) -> Option<String> {
    let mut chars = unit.chars();
    let first = chars.next()?;
    if unit.len() == first.len_utf8() {
        return match read_char(first)? {
            Reading::LookAlike(latin) => in_latin_word(original, start, unit.len()).then(|| latin.to_string()),
            other => Some(other.into_string()),
        };
    }
    // A character with combining marks: NFKC of the whole unit, then each character's reading.
    let mut out = String::with_capacity(unit.len());
    for c in unit.nfkc() {
        match read_char(c) {
            Some(r) => out.push_str(&r.into_string()),
            None => out.push(c),
        }
    }
    (out != unit).then_some(out)
}

/// The reading of one character, when it differs from the character.
enum Reading {
    Char(char),
    Text(String),
    /// A letter of another script that looks like this ASCII letter or digit; it reads as that
    /// only inside a word that is Latin otherwise (see [`in_latin_word`]).
    LookAlike(char),
}

impl Reading {
    fn into_string(self) -> String {
        match self {
            Reading::Char(c) | Reading::LookAlike(c) => c.to_string(),
            Reading::Text(s) => s,
        }
    }
}

fn read_char(c: char) -> Option<Reading> {
    if c.is_ascii() {
        return None;
    }
    // Precomposed Latin-1 letters (the accents of German, French and Italian) are NFKC-stable and
    // confuse nothing: most non-ASCII text is these, so they skip the table look-ups.
    if ('\u{C0}'..='\u{FF}').contains(&c) {
        return None;
    }
    match get_general_category(c) {
        GeneralCategory::Format => return Some(Reading::Text(String::new())),
        GeneralCategory::SpaceSeparator => return Some(Reading::Char(' ')),
        GeneralCategory::DashPunctuation => return Some(Reading::Char('-')),
        GeneralCategory::DecimalNumber => return Some(Reading::Char(ascii_digit(c))),
        _ => {}
    }
    let mut nfkc = std::iter::once(c).nfkc();
    let first = nfkc.next()?;
    let rest: String = nfkc.collect();
    if rest.is_empty() {
        if first != c {
            // `ｃ` -> `c`; a result that is itself a dash or space reads as one.
            return Some(Reading::Char(read_char(first).and_then(Reading::single).unwrap_or(first)));
        }
        return latin_look_alike(c).map(Reading::LookAlike);
    }
    let mut out = String::with_capacity(first.len_utf8() + rest.len());
    for d in std::iter::once(first).chain(rest.chars()) {
        match read_char(d) {
            Some(r) => out.push_str(&r.into_string()),
            None => out.push(d),
        }
    }
    Some(Reading::Text(out))
}

impl Reading {
    fn single(self) -> Option<char> {
        match self {
            Reading::Char(c) | Reading::LookAlike(c) => Some(c),
            Reading::Text(s) => {
                let mut it = s.chars();
                let c = it.next()?;
                it.next().is_none().then_some(c)
            }
        }
    }
}

/// The ASCII digit a decimal digit of any script stands for. Unicode encodes every script's
/// decimal digits as contiguous runs of 0 to 9 (a stability guarantee), so the value is the
/// position in the run.
fn ascii_digit(c: char) -> char {
    let mut k = 0u32;
    let mut cp = c as u32;
    while let Some(prev) = cp.checked_sub(1).and_then(char::from_u32) {
        if get_general_category(prev) != GeneralCategory::DecimalNumber {
            break;
        }
        k += 1;
        cp -= 1;
    }
    char::from(b'0' + (k % 10) as u8)
}

/// The word around `[start, start + len)` is one an identifier or a Latin name could be: every
/// letter of it is Latin or has a Latin look-alike (`СН93`, `Аnna`, `СОМ`). A Russian or Greek
/// word with letters of its own (`Жук`) is left as it is.
fn in_latin_word(text: &str, start: usize, len: usize) -> bool {
    const REACH: usize = 64;
    let part_of_word = |c: &char| c.is_alphanumeric() || get_general_category(*c) == GeneralCategory::Format;
    let before = text[..start].chars().rev().take(REACH).take_while(part_of_word);
    let after = text[start + len..].chars().take(REACH).take_while(part_of_word);
    before.chain(after).all(|c| !c.is_alphabetic() || c.script() == Script::Latin || latin_look_alike(c).is_some())
}

/// The ASCII letter or digit a letter of another script is confusable with (UTS #39 prototype),
/// in the letter's own case: Cyrillic `С` -> `C`, Greek `Ο` -> `O`, Cyrillic `І` -> `I`.
fn latin_look_alike(c: char) -> Option<char> {
    if !c.is_alphabetic() || matches!(c.script(), Script::Latin | Script::Common | Script::Inherited) {
        return None;
    }
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::confusable_detection::skeleton(c.encode_utf8(&mut buf));
    let proto = skeleton.next()?;
    if skeleton.next().is_some() || !proto.is_ascii_alphanumeric() {
        return None;
    }
    // The prototype of a capital may be lower case (`I` and `l` share the prototype `l`).
    Some(if c.is_uppercase() { proto.to_ascii_uppercase() } else { proto })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> String {
        Canonical::new(s).text().to_string()
    }

    #[test]
    fn ascii_and_latin_1_text_is_borrowed() {
        assert!(Canonical::new("IBAN CH93 0076 2011").is_identity());
        assert!(Canonical::new("Grüße an Zoë, Müller & Söhne, Genève").is_identity());
    }

    #[test]
    fn spaces_format_characters_and_dashes() {
        assert_eq!(read("CH93\u{a0}0076\u{202f}2011\u{2009}6238"), "CH93 0076 2011 6238");
        assert_eq!(read("An\u{200b}na M\u{fc}l\u{ad}ler\u{feff}"), "Anna Müller");
        assert_eq!(read("756\u{2010}9217\u{2013}0769\u{2011}85"), "756-9217-0769-85");
        assert_eq!(read("\u{202e}abc\u{202c}"), "abc");
    }

    #[test]
    fn digits_of_every_script_and_full_width_forms() {
        assert_eq!(read("٧٥٦.٩٢١٧"), "756.9217");
        assert_eq!(read("७५६ ९२१७"), "756 9217");
        assert_eq!(read("ＣＨ９３　００７６"), "CH93 0076");
        assert_eq!(read("anna＠example．ch"), "anna@example.ch");
        assert_eq!(read("𝟕𝟓𝟔"), "756");
    }

    #[test]
    fn look_alike_capitals_fold_to_latin() {
        assert_eq!(read("СН93 0076"), "CH93 0076"); // Cyrillic Es and En
        assert_eq!(read("ΟΚ"), "OK"); // Greek Omicron and Kappa
        assert_eq!(read("Аnnа"), "Anna"); // Cyrillic a
                                          // Words with letters of their own script stay as they are.
        assert_eq!(read("Жук"), "Жук");
        assert_eq!(read("Сергей СОМ"), "Сергей COM");
    }

    #[test]
    fn combining_marks_compose() {
        assert_eq!(read("Mu\u{308}ller"), "Müller");
    }

    #[test]
    fn spans_map_back_to_the_original_characters() {
        let original = "IBAN ＣＨ９３\u{a0}00\u{200b}76 2011, Ende";
        let c = Canonical::new(original);
        let canon = c.text();
        let s = canon.find("CH93").unwrap();
        let e = canon.find(" 2011").unwrap() + 5;
        let (os, oe) = c.original_span(s, e);
        assert_eq!(&original[os..oe], "ＣＨ９３\u{a0}00\u{200b}76 2011");
        // Outside the edits the offsets shift by the edits before them.
        let tail = canon.find("Ende").unwrap();
        assert_eq!(&original[c.original_span(tail, tail + 4).0..][..4], "Ende");
        // A removed character right before or after a span is not part of it.
        let z = "x \u{200b}Anna\u{200b} y";
        let c = Canonical::new(z);
        let s = c.text().find("Anna").unwrap();
        let (os, oe) = c.original_span(s, s + 4);
        assert_eq!(&z[os..oe], "Anna");
    }

    #[test]
    fn a_span_inside_an_expansion_takes_the_whole_unit() {
        let original = "a\u{fb01}x"; // the ligature fi
        let c = Canonical::new(original);
        assert_eq!(c.text(), "afix");
        let (os, oe) = c.original_span(2, 3); // just the `i`
        assert_eq!(&original[os..oe], "\u{fb01}");
    }
}
