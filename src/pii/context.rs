//! Context words: one pass over the words of the text finds every cue word (de/fr/it/en), person
//! title, greeting, signature, given name, surname and GDPR art. 9 keyword at once (an anchored
//! Aho-Corasick walk from each word start, and one back from each word end for street suffixes).
//! Recognizers then ask "is there a phone cue within 48 bytes before this candidate?" with a binary
//! search over the sorted hits instead of re-reading the text.

use super::lexicon::{self, entries};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Flags a keyword can carry (a word may carry several, e.g. "Martin" is given name and surname).
pub mod flag {
    pub const GIVEN: u32 = 1 << 0;
    pub const SURNAME: u32 = 1 << 1;
    pub const TITLE: u32 = 1 << 2;
    pub const GREETING: u32 = 1 << 3;
    pub const SIGNATURE: u32 = 1 << 4;
    pub const NAME_LABEL: u32 = 1 << 5;
    pub const PHONE: u32 = 1 << 6;
    pub const IBAN: u32 = 1 << 7;
    pub const CARD: u32 = 1 << 8;
    pub const AHV: u32 = 1 << 9;
    pub const VAT: u32 = 1 << 10;
    pub const TAX: u32 = 1 << 11;
    pub const NIR: u32 = 1 << 12;
    pub const FISCAL: u32 = 1 << 13;
    pub const NINO: u32 = 1 << 14;
    pub const NHS: u32 = 1 << 15;
    pub const SSN: u32 = 1 << 16;
    pub const IP: u32 = 1 << 17;
    pub const BIRTH: u32 = 1 << 18;
    pub const PASSPORT: u32 = 1 << 19;
    pub const ID_CARD: u32 = 1 << 20;
    /// Order, invoice, reference, version, ...: numbers after these are not personal data.
    pub const NEG: u32 = 1 << 21;
    pub const EMAIL: u32 = 1 << 22;
    /// Keyword is a stem: the word may continue after it ("diagnos" -> "Diagnose").
    pub const STEM: u32 = 1 << 23;
    pub const SPECIAL: u32 = 1 << 24;
    /// A word that is never a name after a greeting or title ("Grüsse", "Sir", "Damen").
    pub const STOP: u32 = 1 << 25;
    /// A role or phrase directly followed by a name, no colon needed ("Klient", "my name is").
    pub const NAME_CUE: u32 = 1 << 26;
    /// A street type: a suffix inside a compound ("...strasse", no left boundary needed) or a
    /// word before or after the name ("Rue", "Via", "Street"). Triggers the address regex.
    pub const STREET: u32 = 1 << 27;
    /// Matches inside a word on the left (street suffixes).
    pub const SUFFIX: u32 = 1 << 28;
}

/// GDPR art. 9 special categories, by the name reported in `Classification.special_categories`.
pub const SPECIAL_CATEGORIES: &[&str] = &[
    "health",
    "religion",
    "trade_union",
    "political_opinion",
    "sexual_orientation",
    "ethnic_origin",
    "biometric",
    "genetic",
];

/// What the automaton knows about one keyword.
#[derive(Debug, Clone, Copy, Default)]
pub struct Entry {
    pub flags: u32,
    /// Index into `SPECIAL_CATEGORIES` when `flags` has SPECIAL.
    pub category: u8,
}

/// One keyword occurrence in the text (byte offsets, word boundaries already checked).
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    pub entry: Entry,
}

/// Every word list (a file under `lexicon/`) with the flags its keywords carry.
const LISTS: &[(&str, u32)] = &[
    (lexicon::GIVEN_NAMES, flag::GIVEN),
    (lexicon::SURNAMES, flag::SURNAME),
    (lexicon::TITLES, flag::TITLE),
    (lexicon::GREETINGS, flag::GREETING),
    (lexicon::SIGNATURES, flag::SIGNATURE),
    (lexicon::NAME_LABELS, flag::NAME_LABEL),
    (lexicon::PHONE, flag::PHONE),
    (lexicon::IBAN, flag::IBAN),
    (lexicon::CARD, flag::CARD),
    (lexicon::AHV, flag::AHV),
    (lexicon::VAT, flag::VAT),
    (lexicon::TAX, flag::TAX),
    (lexicon::NIR, flag::NIR),
    (lexicon::FISCAL, flag::FISCAL),
    (lexicon::NINO, flag::NINO),
    (lexicon::NHS, flag::NHS),
    (lexicon::SSN, flag::SSN),
    (lexicon::IP, flag::IP),
    (lexicon::BIRTH, flag::BIRTH),
    (lexicon::PASSPORT, flag::PASSPORT),
    (lexicon::ID_CARD, flag::ID_CARD),
    (lexicon::NEGATIVE, flag::NEG),
    (lexicon::EMAIL, flag::EMAIL),
    (lexicon::STOPWORDS, flag::STOP),
    (lexicon::NAME_CUES, flag::NAME_CUE),
    (lexicon::STREET_SUFFIXES, flag::STREET | flag::SUFFIX),
    (lexicon::STREET_WORDS, flag::STREET),
];

/// A street suffix inside a compound needs at least this many chars of stem before it, so that
/// "During", "Spring" or "Anhang" are not read as "Du-ring", "Sp-ring", "An-hang".
pub(crate) const MIN_STEM_CHARS: usize = 3;

/// The lexicon as two tries, walked only where a keyword may start.
///
/// Every keyword but a street suffix is a whole word or a stem, so it starts where a word starts:
/// the forward trie is walked from each word start and sees every keyword that starts there; the
/// longest one that passes its right boundary check wins. A street suffix starts inside a word and
/// ends where the word ends: the backward trie (suffixes reversed) is walked from each word end.
/// Because no match is ever taken at a position its keyword may not start at, a candidate that
/// fails its boundary check cannot cover, and so hide, another keyword (one unanchored
/// leftmost-longest pass let "ernst" inside "Fernstrasse" swallow the "s" of "strasse", and
/// "il signor" inside "Brasil Signora" swallow the title).
///
/// A trie rather than an Aho-Corasick DFA: anchored walks need no failure links, and it builds in
/// about a millisecond with ~100 KB (the DFA took ~20 ms and 3.4 MB, which `auditgate pii scan`
/// paid on every run).
struct Lexicon {
    forward: Trie,
    backward: Trie,
}

/// A byte trie over ASCII-lower-cased keywords, flattened for walking: the root's children in a
/// 256-entry table, every other node's edges sorted in one slice.
struct Trie {
    root: [u32; 256],
    /// Node `n`'s edges are `edge_byte[first[n]..first[n + 1]]` (and the same range of `edge_node`).
    first: Vec<u32>,
    edge_byte: Vec<u8>,
    edge_node: Vec<u32>,
    /// The keyword ending at each node, if any.
    entry: Vec<Option<Entry>>,
}

const NO_NODE: u32 = u32::MAX;

impl Trie {
    fn build<'a>(words: impl Iterator<Item = (&'a [u8], Entry)>) -> Trie {
        // Build with per-node edge lists, then flatten.
        let mut edges: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut entry: Vec<Option<Entry>> = vec![None];
        for (word, e) in words {
            let mut node = 0usize;
            for &b in word {
                let b = b.to_ascii_lowercase();
                node = match edges[node].iter().find(|(x, _)| *x == b) {
                    Some(&(_, n)) => n as usize,
                    None => {
                        let n = edges.len();
                        edges.push(Vec::new());
                        entry.push(None);
                        edges[node].push((b, n as u32));
                        n
                    }
                };
            }
            entry[node] = Some(e);
        }
        let mut root = [NO_NODE; 256];
        for &(b, n) in &edges[0] {
            root[usize::from(b)] = n;
        }
        let (mut first, mut edge_byte, mut edge_node) = (Vec::with_capacity(edges.len() + 1), Vec::new(), Vec::new());
        for list in &mut edges {
            list.sort_unstable();
            first.push(edge_byte.len() as u32);
            edge_byte.extend(list.iter().map(|e| e.0));
            edge_node.extend(list.iter().map(|e| e.1));
        }
        first.push(edge_byte.len() as u32);
        Trie { root, first, edge_byte, edge_node, entry }
    }

    /// The child of `node` for the (ASCII-lower-cased) byte `b`.
    #[inline]
    fn step(&self, node: u32, b: u8) -> Option<u32> {
        let b = b.to_ascii_lowercase();
        if node == 0 {
            let n = self.root[usize::from(b)];
            return (n != NO_NODE).then_some(n);
        }
        let n = node as usize;
        let (lo, hi) = (self.first[n] as usize, self.first[n + 1] as usize);
        self.edge_byte[lo..hi].iter().position(|&x| x == b).map(|k| self.edge_node[lo + k])
    }
}

fn add(map: &mut HashMap<String, Entry>, word: &str, flags: u32, category: u8) {
    let (word, flags) = match word.strip_suffix('*') {
        Some(stem) => (stem, flags | flag::STEM),
        None => (word, flags),
    };
    let e = map.entry(word.to_ascii_lowercase()).or_default();
    // A stem only stays a stem if every use of the word is one.
    let stem = if e.flags == 0 { flags & flag::STEM } else { e.flags & flags & flag::STEM };
    e.flags = ((e.flags | flags) & !flag::STEM) | stem;
    if flags & flag::SPECIAL != 0 {
        e.category = category;
    }
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut map: HashMap<String, Entry> = HashMap::new();
    // Inside a word a suffix carries only the flags of its suffix list: were a suffix also a
    // surname, "...berg" ending a compound would still be no surname.
    let mut suffixes: HashMap<String, Entry> = HashMap::new();
    for (text, f) in LISTS {
        for w in entries(text) {
            add(&mut map, w, *f, 0);
            if f & flag::SUFFIX != 0 {
                add(&mut suffixes, w, *f, 0);
            }
        }
    }
    for (cat, text) in lexicon::SPECIAL.iter().enumerate() {
        for w in entries(text) {
            add(&mut map, w, flag::SPECIAL, cat as u8);
        }
    }
    let reversed: Vec<(Vec<u8>, Entry)> = suffixes.iter().map(|(w, e)| (w.bytes().rev().collect(), *e)).collect();
    Lexicon {
        forward: Trie::build(map.iter().map(|(w, e)| (w.as_bytes(), *e))),
        backward: Trie::build(reversed.iter().map(|(w, e)| (w.as_slice(), *e))),
    }
});

/// A keyword ending at `end` ends a word there, unless it is a stem or ends in punctuation.
fn right_ok(text: &str, end: usize, entry: Entry) -> bool {
    text.is_char_boundary(end)
        && (entry.flags & flag::STEM != 0
            || !char_before(text, end).is_some_and(is_word_char)
            || !char_at(text, end).is_some_and(is_word_char))
}

impl Lexicon {
    /// The longest keyword starting at the word start `ws` that passes its right boundary check.
    fn longest_at(&self, text: &str, ws: usize) -> Option<Hit> {
        let trie = &self.forward;
        let mut node = 0;
        let mut best = None;
        for (i, &b) in text.as_bytes()[ws..].iter().enumerate() {
            let Some(n) = trie.step(node, b) else { break };
            node = n;
            if let Some(entry) = trie.entry[n as usize] {
                let end = ws + i + 1;
                if right_ok(text, end, entry) {
                    best = Some(Hit { start: ws, end, entry });
                }
            }
        }
        best
    }

    /// The longest street suffix ending exactly at `end` and starting at or after `lo`.
    fn suffix_ending_at(&self, text: &str, lo: usize, end: usize) -> Option<Hit> {
        let trie = &self.backward;
        let mut node = 0;
        let mut best = None;
        for (i, &b) in text.as_bytes().get(lo..end)?.iter().rev().enumerate() {
            let Some(n) = trie.step(node, b) else { break };
            node = n;
            let start = end - i - 1;
            if let Some(entry) = trie.entry[n as usize].filter(|_| text.is_char_boundary(start)) {
                best = Some(Hit { start, end, entry });
            }
        }
        best
    }

    /// The street suffix ending the word `[ws, we)` (or its "." as in "Bahnhofstr."), after a
    /// stem of `MIN_STEM_CHARS` and not before `covered`.
    fn suffix_of(&self, text: &str, ws: usize, we: usize, covered: usize) -> Option<Hit> {
        let stem_end = text[ws..we].char_indices().nth(MIN_STEM_CHARS).map(|(i, _)| ws + i)?;
        let lo = stem_end.max(covered);
        if lo >= we {
            return None;
        }
        let dotted = (text.as_bytes().get(we) == Some(&b'.')).then(|| self.suffix_ending_at(text, lo, we + 1));
        let plain = self.suffix_ending_at(text, lo, we);
        dotted.flatten().into_iter().chain(plain).max_by_key(|h| h.end - h.start)
    }
}

/// Force compilation of the automaton (the gateway calls this at start-up).
pub fn warm_up() {
    LazyLock::force(&LEXICON);
}

/// True for letters, digits and the joiners inside words.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The char just before byte `i` (None at the start).
pub fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

/// The char starting at byte `i` (None at the end).
pub fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// Word bytes among ASCII: letters, digits and `_` (what [`is_word_char`] says for ASCII chars).
const ASCII_WORD: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

/// Length in bytes of the run from byte `pos` of chars that are word chars (`word`) or are not.
/// Every byte of every scanned text passes through here, so ASCII (nearly all of it) takes a
/// table look-up per byte and only other chars are decoded.
fn run_len(text: &str, pos: usize, word: bool) -> usize {
    let bytes = text.as_bytes();
    let mut i = pos;
    loop {
        while let Some(&b) = bytes.get(i) {
            if !b.is_ascii() {
                break;
            }
            if ASCII_WORD[usize::from(b)] != word {
                return i - pos;
            }
            i += 1;
        }
        match char_at(text, i) {
            Some(c) if is_word_char(c) == word => i += c.len_utf8(),
            _ => return i - pos,
        }
    }
}

/// The next word (a maximal run of word chars) at or after byte `pos`, as `(start, end)`.
fn next_word(text: &str, pos: usize) -> Option<(usize, usize)> {
    let start = pos + run_len(text, pos, false);
    let end = start + run_len(text, start, true);
    (end > start).then_some((start, end))
}

/// All keyword hits in `text`, in order and without overlaps, with word boundaries checked.
pub fn find_hits(text: &str) -> Vec<Hit> {
    let lex = &*LEXICON;
    let mut hits = Vec::new();
    // End of the last hit: a keyword inside an accepted longer one ("mail" in "e-mail", "signor"
    // in "il signor") is not reported again.
    let mut covered = 0;
    let mut pos = 0;
    while let Some((ws, we)) = next_word(text, pos) {
        if ws >= covered {
            if let Some(h) = lex.longest_at(text, ws) {
                covered = h.end;
                hits.push(h);
            }
        }
        if let Some(h) = lex.suffix_of(text, ws, we, covered) {
            covered = h.end;
            hits.push(h);
        }
        pos = we;
    }
    hits
}

/// The keyword hits of one text, with look-ups recognizers need.
pub struct Context<'a> {
    pub text: &'a str,
    pub hits: Vec<Hit>,
}

impl<'a> Context<'a> {
    pub fn new(text: &'a str) -> Self {
        Context { text, hits: find_hits(text) }
    }

    /// Union of all flags present anywhere in the text (for fast paths).
    pub fn all_flags(&self) -> u32 {
        self.hits.iter().fold(0, |a, h| a | h.entry.flags)
    }

    /// A hit with any of `mask` ends within `window` bytes before `pos` (and starts before it).
    pub fn cue_before(&self, pos: usize, window: usize, mask: u32) -> bool {
        self.cues_before(pos, window, mask).next().is_some()
    }

    /// Distance in bytes from the end of the nearest hit with `mask` to `pos`, within `window`.
    pub fn nearest_before(&self, pos: usize, window: usize, mask: u32) -> Option<usize> {
        self.cues_before(pos, window, mask).map(|h| pos - h.end).min()
    }

    /// The hits with any of `mask` that start before `pos` and end within `window` bytes before it,
    /// nearest first (no keyword is longer than 64 bytes, so the walk back stops there).
    fn cues_before(&self, pos: usize, window: usize, mask: u32) -> impl Iterator<Item = &Hit> {
        self.cues_before_at(self.hits.partition_point(|h| h.start < pos), pos, window, mask)
    }

    /// [`Context::cue_before`] for a caller walking the hits in order that already knows `idx`,
    /// the index of the first hit starting at or after `pos` (no binary search per word).
    pub fn cue_before_at(&self, idx: usize, pos: usize, window: usize, mask: u32) -> bool {
        self.cues_before_at(idx, pos, window, mask).next().is_some()
    }

    fn cues_before_at(&self, idx: usize, pos: usize, window: usize, mask: u32) -> impl Iterator<Item = &Hit> {
        let lo = pos.saturating_sub(window);
        self.hits[..idx]
            .iter()
            .rev()
            .take_while(move |h| h.start + 64 >= lo)
            .filter(move |h| h.entry.flags & mask != 0 && h.end >= lo && h.end <= pos)
    }

    /// A negative cue (order, invoice, version, ...) is nearer than any cue for the kind.
    pub fn negated(&self, pos: usize, positive: u32) -> bool {
        match (self.nearest_before(pos, 28, flag::NEG), self.nearest_before(pos, 48, positive)) {
            (Some(n), Some(p)) => n < p,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// The hit that starts exactly at byte `pos`, if any.
    pub fn hit_at(&self, pos: usize) -> Option<&Hit> {
        let idx = self.hits.partition_point(|h| h.start < pos);
        self.hits.get(idx).filter(|h| h.start == pos)
    }

    /// Special categories present (deduplicated, in SPECIAL_CATEGORIES order).
    pub fn special_categories(&self) -> Vec<&'static str> {
        let mut seen = [false; 8];
        for h in &self.hits {
            if h.entry.flags & flag::SPECIAL != 0 {
                if let Some(s) = seen.get_mut(usize::from(h.entry.category)) {
                    *s = true;
                }
            }
        }
        SPECIAL_CATEGORIES.iter().zip(seen).filter(|(_, s)| *s).map(|(c, _)| *c).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_len_agrees_with_the_char_definition_of_a_word() {
        let reference = |text: &str, pos: usize, word: bool| -> usize {
            text[pos..].chars().take_while(|&c| is_word_char(c) == word).map(char::len_utf8).sum()
        };
        let texts = [
            "",
            "Herr Müller, Zürich 8001; IBAN CH93 0076 2011 6238 5295 7!",
            "naïve_café—東京 2024年 emoji 🙂 end",
            "____abc123   \t\n...ÄÖÜäöüß",
            "ǅungla İstanbul Ωmega ß",
        ];
        for text in texts {
            for (pos, _) in text.char_indices() {
                for word in [true, false] {
                    assert_eq!(run_len(text, pos, word), reference(text, pos, word), "{text:?} at {pos}");
                }
            }
        }
    }

    use super::*;

    #[test]
    fn finds_cues_with_word_boundaries() {
        let ctx = Context::new("Tel. 044 668 18 00, Telefonbuch; Diagnose: Diabetes; Herr Meier");
        let words: Vec<&str> = ctx.hits.iter().map(|h| &ctx.text[h.start..h.end]).collect();
        assert!(words.contains(&"Tel."));
        assert!(!words.contains(&"Telefon"), "{words:?}");
        assert!(words.contains(&"Diagnos"));
        assert!(words.contains(&"Herr"));
        assert!(words.contains(&"Meier"));
        assert_eq!(ctx.special_categories(), vec!["health"]);
        assert!(ctx.cue_before(5, 48, flag::PHONE));
    }

    /// The hits as (text, flags), in order.
    fn hits(text: &str) -> Vec<(&str, u32)> {
        find_hits(text).into_iter().map(|h| (&text[h.start..h.end], h.entry.flags)).collect()
    }

    fn has(text: &str, word: &str, mask: u32) -> bool {
        hits(text).iter().any(|&(w, f)| w == word && f & mask != 0)
    }

    #[test]
    fn name_inside_a_compound_does_not_hide_the_street_suffix() {
        // "ernst" inside "Fernstrasse" used to take the "s" of "strasse".
        assert!(has("Fernstrasse 3", "strasse", flag::STREET), "{:?}", hits("Fernstrasse 3"));
        assert!(has("an der Ernststrasse 3", "strasse", flag::STREET));
        assert!(has("Seestr. 5", "str.", flag::STREET));
        assert!(has("Bahnhofstr. 5", "Bahnhofstr.", flag::STREET));
        let found = crate::pii::scan_text("Sie wohnt an der Fernstrasse 3, 8001 Zürich.");
        assert!(found.iter().any(|f| f.entity_type == "LOCATION" && f.text == "Fernstrasse 3, 8001 Zürich"));
    }

    #[test]
    fn phrase_inside_a_word_does_not_hide_the_next_word() {
        // "il signor" inside "Brasil Signora", "la signora" inside "Scuola Signora", "de luca"
        // inside "Grande Luca", "ni no" inside "Zucchini Noah".
        assert!(has("Brasil Signora Rossi", "Signora", flag::TITLE), "{:?}", hits("Brasil Signora Rossi"));
        assert!(has("Scuola Signora Bianchi", "Signora", flag::TITLE));
        assert!(has("Grande Luca Ferrari", "Luca", flag::GIVEN), "{:?}", hits("Grande Luca Ferrari"));
        assert!(has("Zucchini Noah Keller", "Noah", flag::GIVEN));
        let persons: Vec<String> = crate::pii::scan_text("Viaggio in Brasil Signora Rossi ha scritto.")
            .into_iter()
            .filter(|f| f.entity_type == "PERSON")
            .map(|f| f.text)
            .collect();
        assert_eq!(persons, vec!["Rossi"]);
    }

    #[test]
    fn longer_keyword_failing_its_boundary_leaves_the_shorter_one() {
        // "nhs no" / "passport no" end inside "now"; the shorter keyword still counts.
        assert!(has("NHS now lists 943 476 5919", "NHS", flag::NHS), "{:?}", hits("NHS now lists"));
        assert!(has("Passport now: X1234567", "Passport", flag::PASSPORT));
        assert!(has("Tel. 044", "Tel.", flag::PHONE));
    }

    #[test]
    fn keywords_respect_their_boundaries() {
        assert!(!has("Hotelfon", "tel", flag::PHONE));
        assert!(!has("Telefonbuch", "Telefon", flag::PHONE));
        assert!(has("Diagnosen", "Diagnos", flag::SPECIAL));
        // A suffix carries only its street flags inside a word, all flags as the whole word.
        assert!(hits("Weinberg 4").iter().any(|&(w, f)| w == "berg" && f == flag::STREET | flag::SUFFIX));
        // Keywords inside an accepted longer one are not reported again.
        assert_eq!(hits("e-mail"), vec![("e-mail", flag::EMAIL)]);
        let il = hits("il signor Rossi");
        assert_eq!(il.first().map(|h| h.0), Some("il signor"));
        assert!(!il.iter().any(|h| h.0 == "signor"));
    }

    #[test]
    fn street_suffix_needs_a_stem() {
        assert!(hits("During the meeting").iter().all(|&(_, f)| f & flag::STREET == 0), "{:?}", hits("During"));
        assert!(!has("siehe Anhang 3", "hang", flag::STREET));
        assert!(has("Seeweg 4", "weg", flag::STREET));
        assert!(has("Ring 4", "Ring", flag::STREET));
    }

    #[test]
    fn hits_are_sorted_and_disjoint() {
        let text = "Herr Ernst Fernstrasse-Meier, e-mail: a@b.ch, Tél. 022, né le 3.4.1970, Zürichstrasse 1";
        let found = find_hits(text);
        assert!(found.windows(2).all(|w| w[0].end <= w[1].start), "{found:?}");
        assert!(found.iter().all(|h| text.is_char_boundary(h.start) && text.is_char_boundary(h.end)));
    }

    #[test]
    fn every_keyword_starts_with_a_word_char() {
        // Keywords are only looked for at word starts (and suffixes at word ends).
        let special = lexicon::SPECIAL.iter().flat_map(|text| entries(text));
        for w in LISTS.iter().flat_map(|(text, _)| entries(text)).chain(special) {
            assert!(w.chars().next().is_some_and(is_word_char), "{w:?}");
        }
        for (text, f) in LISTS {
            if f & flag::SUFFIX != 0 {
                assert!(entries(text).all(|w| !w.ends_with('*') && w.chars().count() >= 3), "{text:?}");
            }
        }
    }
}
