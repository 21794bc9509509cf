//! Hand-written readers for streets with a house number and for English addresses, used by
//! `location.rs` in place of two large regexes (issue 19).
//!
//! Why by hand: the two regexes repeated a Unicode letter class (`\p{L}`) in some thirty places,
//! so compiling them was ~8 ms of every `auditgate pii scan` start and their lazy DFA built
//! thousands of states per process (~14 % of a PII-dense scan, perf 2026-12-03). These readers
//! compile nothing and build nothing: they try the patterns' alternatives in order with
//! backtracking, which is how the regexes' leftmost-first matches are defined, so they find
//! exactly the same spans (the unit tests compare both on every window of the labeled corpora).
//!
//! Each reader is written in continuation style: a piece of the pattern gets the position where
//! it may start and `rest`, the rest of the pattern; it tries its own ways to match in the
//! regex's order of preference and calls `rest` with each end, stopping at the first that
//! succeeds.

use unicode_general_category::{get_general_category, GeneralCategory};

/// The rest of a pattern: true (and the end recorded) when it matches from the given position.
type Rest<'r> = &'r mut dyn FnMut(usize) -> bool;

/// Capitals that may start a street name in the German, French and Italian forms.
fn is_street_capital(c: char) -> bool {
    c.is_ascii_uppercase() || matches!(c, 'Ä' | 'Ö' | 'Ü' | 'É' | 'È' | 'À' | 'Â' | 'Ê' | 'Î' | 'Ô' | 'Û' | 'Ç')
}

/// Capitals that may start a word of an English address.
fn is_ascii_capital(c: char) -> bool {
    c.is_ascii_uppercase()
}

/// A Unicode letter (general category L), as the regexes' `\p{L}`.
fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        get_general_category(c),
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
    )
}

/// What may follow the first letter of a name word: letters, apostrophes and hyphens.
fn is_name_char(c: char) -> bool {
    is_letter(c) || matches!(c, '\'' | '’' | '-')
}

/// `c` matches the lower-case letter `l` case-insensitively, by Unicode simple case folding (as
/// the regexes' `(?i)`: `ſ` is an `s`, the Kelvin sign a `k`, `ẞ` an `ß`).
fn folds_to(c: char, l: char) -> bool {
    // An ASCII char folds only to its ASCII lower case (nearly every char read takes this path).
    if c.is_ascii() {
        return c.to_ascii_lowercase() == l;
    }
    if c == l {
        return true;
    }
    if l == 's' && c == 'ſ' {
        return true;
    }
    let mut lower = c.to_lowercase();
    lower.next() == Some(l) && lower.next().is_none()
}

/// Where a house number may end: the ASCII word boundary (`(?-u:\b)`) at byte `p`.
fn ascii_boundary(b: &[u8], p: usize) -> bool {
    let word = |i: Option<&u8>| i.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    word(p.checked_sub(1).and_then(|i| b.get(i))) != word(b.get(p))
}

/// German street types that end a compound ("Bahnhofstrasse"), matched case-insensitively.
const DE_SUFFIXES: &[&str] = &[
    "strasse",
    "straße",
    "str.",
    "gasse",
    "gässli",
    "weg",
    "platz",
    "allee",
    "ring",
    "damm",
    "ufer",
    "graben",
    "steig",
    "rain",
    "halde",
    "matte",
    "hof",
    "markt",
    "feld",
    "acker",
    "hang",
    "zeile",
    "promenade",
    "quai",
    "berg",
];

/// German street types written as their own word after the name ("Alte Landstrasse" is the
/// compound form; "Zürcher Strasse" this one).
const DE_WORDS: &[&str] = &["Strasse", "Straße", "Gasse", "Weg", "Platz", "Allee", "Ring", "Markt", "Quai", "Graben"];

/// Adjectives and places before a German street name ("Obere Bahnhofstrasse", "Zürcher Strasse").
const ADJECTIVES: &[&str] = &[
    "Alte", "Alter", "Obere", "Oberer", "Untere", "Unterer", "Neue", "Neuer", "Hintere", "Vordere", "Innere",
    "Äussere", "Äußere", "Kleine", "Grosse", "Große", "Lange", "Hohe", "Mittlere", "Zürcher", "Berner", "Basler",
    "Luzerner", "Badener", "Sankt", "St.", "Bad",
];

/// French and Italian street types written before the name (Faker's it_IT list included:
/// Borgo, Rotonda, Incrocio, Stretto, Canale), matched case-insensitively.
const FR_IT_TYPES: &[&str] = &[
    "rue",
    "avenue",
    "av.",
    "boulevard",
    "bd",
    "chemin",
    "ch.",
    "route",
    "rte",
    "place",
    "pl.",
    "quai",
    "impasse",
    "allée",
    "promenade",
    "ruelle",
    "sentier",
    "via",
    "viale",
    "piazza",
    "piazzale",
    "corso",
    "vicolo",
    "largo",
    "strada",
    "contrada",
    "lungolago",
    "salita",
    "borgo",
    "rotonda",
    "incrocio",
    "stretto",
    "canale",
    "vico",
    "calle",
    "traversa",
    "località",
    "frazione",
];

/// Words matched in any case, indexed by their first letter (each starts with an ASCII
/// lower-case letter): an ASCII char at the start is compared only with the words that begin
/// with it, in their order.
struct Folded {
    words: &'static [&'static str],
    /// For each letter a-z, the indices of the words that start with it, as bits.
    by_first: [u64; 26],
    /// For each ASCII char, the indices of the words whose second char it is (every word has
    /// two or more chars).
    by_second: [u64; 128],
}

impl Folded {
    const fn new(words: &'static [&'static str]) -> Folded {
        assert!(words.len() <= 64);
        let (mut by_first, mut by_second) = ([0u64; 26], [0u64; 128]);
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_bytes();
            assert!(w[0].is_ascii_lowercase() && w.len() >= 2 && !w[1].is_ascii_uppercase());
            by_first[(w[0] - b'a') as usize] |= 1 << i;
            // A word whose second char is not ASCII ("gässli") cannot match an ASCII one there.
            if w[1].is_ascii() {
                by_second[w[1] as usize] |= 1 << i;
            }
            i += 1;
        }
        Folded { words, by_first, by_second }
    }

    /// The indices of the words that may match at the start of `text`, as bits: an ASCII char
    /// folds only to its own lower case, so with an ASCII first (and second) char only the
    /// words that start with those letters; with another char (`ſ`, the Kelvin sign) all.
    fn candidates(&self, text: &[u8]) -> u64 {
        let all = u64::MAX >> (64 - self.words.len());
        let Some(&first) = text.first() else { return 0 };
        if !first.is_ascii() {
            return all;
        }
        let lower = first.to_ascii_lowercase();
        if !lower.is_ascii_lowercase() {
            return 0;
        }
        let second = match text.get(1) {
            None => 0,
            Some(b) if b.is_ascii() => self.by_second[usize::from(b.to_ascii_lowercase())],
            Some(_) => all,
        };
        self.by_first[usize::from(lower - b'a')] & second
    }
}

/// Words matched as written, each starting with an ASCII capital, indexed by that capital (the
/// English street types: ~190 of them were compared one by one after every street word).
struct Capitalised {
    words: &'static [&'static str],
    /// For each capital A-Z, the indices of the words that start with it, as 256 bits.
    by_first: [[u64; 4]; 26],
}

impl Capitalised {
    const fn new(words: &'static [&'static str]) -> Capitalised {
        assert!(words.len() <= 256);
        let mut by_first = [[0u64; 4]; 26];
        let mut i = 0;
        while i < words.len() {
            let b = words[i].as_bytes()[0];
            assert!(b.is_ascii_uppercase());
            by_first[(b - b'A') as usize][i / 64] |= 1 << (i % 64);
            i += 1;
        }
        Capitalised { words, by_first }
    }
}

const EN_SUFFIX_WORDS: Capitalised = Capitalised::new(EN_SUFFIXES);
const EN_COMMON_SUFFIX_WORDS: Capitalised = Capitalised::new(EN_COMMON_SUFFIXES);
const EN_STREET_TYPE_WORDS: Capitalised = Capitalised::new(EN_STREET_TYPES);

const DE_SUFFIX_WORDS: Folded = Folded::new(DE_SUFFIXES);
const FR_IT_WORDS: Folded = Folded::new(FR_IT_TYPES);
const FR_NUMBER_FIRST_WORDS: Folded = Folded::new(FR_NUMBER_FIRST);

/// French street types after a house number ("12 rue de la Paix"), matched case-insensitively.
const FR_NUMBER_FIRST: &[&str] =
    &["rue", "avenue", "av.", "boulevard", "bd", "chemin", "route", "place", "quai", "impasse", "allée", "promenade"];

/// Particles before a French or Italian street name ("Via della Posta", "Rue de l'Église").
const PARTICLES: &[&str] = &[
    "de la", "de l'", "de l’", "du", "des", "de", "d'", "d’", "della", "dell'", "dello", "del", "dei", "delle",
    "degli", "di", "da", "San", "Santa", "Sant'", "Saint", "Sainte", "St.", "St", "Ste", "la", "le", "les", "alla",
    "al", "ai", "am", "an der", "in der", "im", "auf der", "zum", "zur",
];

/// Particles between the words of a French or Italian street name after its type.
const INNER_PARTICLES: &[&str] = &["de", "du", "des", "di", "del", "della", "la", "le"];

/// The same after a house number (the French form).
const INNER_PARTICLES_FR: &[&str] = &["de", "du", "des", "la", "le"];

/// A flat, floor or staircase after the house number (`Appartamento 84`, `Scala B`, `Piano 2`).
const UNITS: &[&str] = &[
    "Appartamento",
    "App.",
    "Piano",
    "Scala",
    "Interno",
    "Int.",
    "Apt.",
    "Suite",
    "Unit",
    "Flat",
    "Étage",
    "étage",
    "Wohnung",
    "Top",
];

/// English street types ending a street written alone (`74 Elm Street`).
const EN_STREET_TYPES: &[&str] = &[
    "Street", "St.", "Road", "Rd.", "Avenue", "Ave.", "Lane", "Drive", "Way", "Close", "Square", "Terrace", "Crescent",
    "Gardens", "Court",
];

/// Street types of English addresses (the USPS Publication 28 suffixes in their long form, which
/// are also the suffixes of UK addresses).
const EN_SUFFIXES: &[&str] = &[
    "Alley",
    "Avenue",
    "Bank",
    "Boulevard",
    "Branch",
    "Bridge",
    "Brook",
    "Brooks",
    "Burg",
    "Burgs",
    "Bypass",
    "Camp",
    "Canyon",
    "Cape",
    "Causeway",
    "Center",
    "Centers",
    "Circle",
    "Circles",
    "Cliff",
    "Cliffs",
    "Close",
    "Club",
    "Common",
    "Corner",
    "Corners",
    "Course",
    "Court",
    "Courts",
    "Cove",
    "Coves",
    "Creek",
    "Crescent",
    "Crest",
    "Crossing",
    "Crossroad",
    "Curve",
    "Dale",
    "Dam",
    "Divide",
    "Drive",
    "Drives",
    "Estate",
    "Estates",
    "Expressway",
    "Extension",
    "Extensions",
    "Fall",
    "Falls",
    "Ferry",
    "Field",
    "Fields",
    "Flat",
    "Flats",
    "Ford",
    "Fords",
    "Forest",
    "Forge",
    "Forges",
    "Fork",
    "Forks",
    "Fort",
    "Freeway",
    "Garden",
    "Gardens",
    "Gate",
    "Gateway",
    "Glen",
    "Glens",
    "Green",
    "Greens",
    "Grove",
    "Groves",
    "Harbor",
    "Harbors",
    "Haven",
    "Heights",
    "Highway",
    "Hill",
    "Hills",
    "Hollow",
    "Inlet",
    "Island",
    "Islands",
    "Isle",
    "Junction",
    "Junctions",
    "Key",
    "Keys",
    "Knoll",
    "Knolls",
    "Lake",
    "Lakes",
    "Land",
    "Landing",
    "Lane",
    "Light",
    "Lights",
    "Loaf",
    "Lock",
    "Locks",
    "Lodge",
    "Loop",
    "Mall",
    "Manor",
    "Manors",
    "Meadow",
    "Meadows",
    "Mews",
    "Mill",
    "Mills",
    "Mission",
    "Motorway",
    "Mount",
    "Mountain",
    "Mountains",
    "Neck",
    "Orchard",
    "Oval",
    "Overpass",
    "Parade",
    "Park",
    "Parks",
    "Parkway",
    "Parkways",
    "Pass",
    "Passage",
    "Path",
    "Pike",
    "Pine",
    "Pines",
    "Place",
    "Plain",
    "Plains",
    "Plaza",
    "Point",
    "Points",
    "Port",
    "Ports",
    "Prairie",
    "Radial",
    "Ramp",
    "Ranch",
    "Rapid",
    "Rapids",
    "Rest",
    "Ridge",
    "Ridges",
    "River",
    "Road",
    "Roads",
    "Route",
    "Row",
    "Rue",
    "Run",
    "Shoal",
    "Shoals",
    "Shore",
    "Shores",
    "Skyway",
    "Spring",
    "Springs",
    "Spur",
    "Spurs",
    "Square",
    "Squares",
    "Station",
    "Stravenue",
    "Stream",
    "Street",
    "Streets",
    "Summit",
    "Terrace",
    "Throughway",
    "Trace",
    "Track",
    "Trafficway",
    "Trail",
    "Tunnel",
    "Turnpike",
    "Underpass",
    "Union",
    "Unions",
    "Valley",
    "Valleys",
    "Via",
    "Viaduct",
    "View",
    "Views",
    "Village",
    "Villages",
    "Ville",
    "Vista",
    "Walk",
    "Walks",
    "Wall",
    "Way",
    "Ways",
    "Well",
    "Wells",
    "Wharf",
    "Yard",
    "St.",
    "Rd.",
    "Ave.",
    "Dr.",
    "Ln.",
    "Blvd.",
];

/// The common ones, enough for a street written alone (`74 Elm Street`); the others need the
/// town and postcode after them.
const EN_COMMON_SUFFIXES: &[&str] = &[
    "Street",
    "Road",
    "Avenue",
    "Lane",
    "Drive",
    "Way",
    "Close",
    "Court",
    "Place",
    "Square",
    "Terrace",
    "Crescent",
    "Gardens",
    "Boulevard",
    "Grove",
    "Row",
    "Mews",
    "Walk",
    "Parade",
    "Hill",
    "Park",
    "St.",
    "Rd.",
    "Ave.",
    "Blvd.",
];

/// A flat or suite after an English street.
const EN_UNITS: &[&str] = &["Apt.", "Suite", "Unit", "Ste.", "#"];

/// US state and territory codes.
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
];

/// Streets with a house number in `window`, leftmost first and not overlapping, as byte spans:
/// a German compound or "Name Strasse" with its number, a French or Italian type, name and
/// number (with a flat or floor), a French number-first street, an English number-first street.
pub fn streets(window: &str) -> Vec<(usize, usize)> {
    let r = Reader::new(window);
    let mut out = Vec::new();
    let mut p = 0;
    while p < window.len() {
        match r.street_at(p) {
            Some(end) => {
                out.push((p, end));
                p = end;
            }
            None => p += r.char_len(p),
        }
    }
    out
}

/// The end of an English address starting with the house number at the start of `text`: a US
/// one (street, `City, ST 12345(-6789)`), a UK one (street, town, postcode on lines or after
/// commas) or a common street alone; the first of these forms that fits, as the regex did.
pub fn english_address(text: &str) -> Option<usize> {
    could_be_english_address(text.as_bytes()).then(|| Reader::new(text).english_at(0)).flatten()
}

/// Every form starts with a house number of at most five digits, an optional letter, a space,
/// `, `, `,\n` or `\n`, and a capital: false when the text does not (most digits in a text are
/// no house number, and this is read at every one).
fn could_be_english_address(b: &[u8]) -> bool {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(1..=5).contains(&digits) {
        return false;
    }
    let mut i = digits + usize::from(b.get(digits).is_some_and(u8::is_ascii_alphabetic));
    match b.get(i) {
        Some(b' ' | b'\n') => i += 1,
        Some(b',') if matches!(b.get(i + 1), Some(b' ' | b'\n')) => i += 2,
        _ => return false,
    }
    b.get(i).is_some_and(u8::is_ascii_uppercase)
}

/// Where a French or Italian street without a house number starts that ends `text` (type,
/// name of one to three words, then `,`, `, `, a line break or a space): the leftmost start, as
/// the regex `(?i:{types})[ ](?:(?:de[ ]la|...)[ ]?)?{word}(?:[ ](?:(?:de|...)[ ])?{word}){0,2}(?:,[ ]?|\n|[ ])$` found it.
pub fn street_without_number(text: &str) -> Option<usize> {
    let r = Reader::new(text);
    let mut p = 0;
    while p < text.len() {
        if FR_IT_WORDS.candidates(&r.bytes[p..]) != 0 && r.street_without_number_at(p) {
            return Some(p);
        }
        p += r.char_len(p);
    }
    None
}

/// Particles before the name of a street without a house number.
const PARTICLES_WITHOUT_NUMBER: &[&str] = &["de la", "de l'", "du", "des", "de", "d'", "della", "del", "di"];

/// A text being read, with the pattern pieces as methods.
struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
}

impl<'t> Reader<'t> {
    fn new(text: &'t str) -> Self {
        Reader { text, bytes: text.as_bytes() }
    }

    /// The char at byte `p` and where it ends.
    fn char_at(&self, p: usize) -> Option<(char, usize)> {
        let b = *self.bytes.get(p)?;
        if b.is_ascii() {
            return Some((char::from(b), p + 1));
        }
        self.text[p..].chars().next().map(|c| (c, p + c.len_utf8()))
    }

    /// Length of the char at `p` (1 past the end).
    fn char_len(&self, p: usize) -> usize {
        self.char_at(p).map_or(1, |(_, e)| e - p)
    }

    fn byte_is(&self, p: usize, b: u8) -> bool {
        self.bytes.get(p) == Some(&b)
    }

    /// Runs `rest` at the end of the first of `words` written at `p` that lets it match.
    fn one_of(&self, p: usize, words: &[&str], rest: Rest<'_>) -> bool {
        let here = &self.bytes[p.min(self.bytes.len())..];
        let Some(&first) = here.first() else { return false };
        words.iter().any(|w| w.as_bytes()[0] == first && here.starts_with(w.as_bytes()) && rest(p + w.len()))
    }

    /// [`Reader::one_of`] over words indexed by their capital, in their order.
    fn one_of_capitalised(&self, p: usize, words: &Capitalised, rest: Rest<'_>) -> bool {
        let here = &self.bytes[p.min(self.bytes.len())..];
        let Some(first) = here.first().filter(|b| b.is_ascii_uppercase()) else { return false };
        for (block, bits) in words.by_first[usize::from(first - b'A')].iter().enumerate() {
            let mut left = *bits;
            while left != 0 {
                let w = words.words[block * 64 + left.trailing_zeros() as usize];
                left &= left - 1;
                if here.starts_with(w.as_bytes()) && rest(p + w.len()) {
                    return true;
                }
            }
        }
        false
    }

    /// Where the lower-case `word` ends when written at `p` in any case.
    fn folded_end(&self, p: usize, word: &str) -> Option<usize> {
        let mut q = p;
        for l in word.chars() {
            let (c, e) = self.char_at(q)?;
            if !folds_to(c, l) {
                return None;
            }
            q = e;
        }
        Some(q)
    }

    /// [`Reader::one_of`] with the words matched in any case.
    fn one_of_folded(&self, p: usize, words: &Folded, rest: Rest<'_>) -> bool {
        let mut left = words.candidates(self.bytes.get(p..).unwrap_or(&[]));
        while left != 0 {
            let w = words.words[left.trailing_zeros() as usize];
            left &= left - 1;
            if self.folded_end(p, w).is_some_and(&mut *rest) {
                return true;
            }
        }
        false
    }

    /// `[ ]` then `rest`.
    fn space(&self, p: usize, rest: Rest<'_>) -> bool {
        self.byte_is(p, b' ') && rest(p + 1)
    }

    /// `[ ]?` (greedy) then `rest`.
    fn opt_space(&self, p: usize, rest: Rest<'_>) -> bool {
        (self.byte_is(p, b' ') && rest(p + 1)) || rest(p)
    }

    /// `,?[ ]` then `rest`.
    fn opt_comma_space(&self, p: usize, rest: Rest<'_>) -> bool {
        (self.byte_is(p, b',') && self.space(p + 1, rest)) || self.space(p, rest)
    }

    /// A capital (`capital`) then at least `min_more` and as many name chars as can be, giving
    /// back one at a time (`[UP][\p{L}'’\-]{min_more,}`), then `rest`.
    fn word(&self, p: usize, capital: fn(char) -> bool, min_more: usize, rest: Rest<'_>) -> bool {
        let Some((_, mut end)) = self.char_at(p).filter(|(c, _)| capital(*c)) else { return false };
        let mut more = 0;
        while let Some((_, e)) = self.char_at(end).filter(|(c, _)| is_name_char(*c)) {
            end = e;
            more += 1;
        }
        while more >= min_more {
            if rest(end) {
                return true;
            }
            if more == 0 {
                break;
            }
            more -= 1;
            end -= 1;
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
        }
        false
    }

    /// `[0-9]{min,max}` (greedy) then `rest`.
    fn digits(&self, p: usize, min: usize, max: usize, rest: Rest<'_>) -> bool {
        let run = self.bytes.get(p..).unwrap_or(&[]).iter().take(max).take_while(|b| b.is_ascii_digit()).count();
        (min..=run).rev().any(|n| rest(p + n))
    }

    /// `\s?` (greedy): the positions after an optional white-space char at `p`, with it first.
    fn opt_white(&self, p: usize) -> impl Iterator<Item = usize> {
        let after = self.char_at(p).filter(|(c, _)| c.is_whitespace()).map(|(_, e)| e);
        after.into_iter().chain(std::iter::once(p))
    }

    /// A house number: up to four digits, a range or a sub-number (`7-9`, `34/15`), a letter
    /// or bis/ter before an ASCII word boundary
    /// (`[0-9]{1,4}(?:[-/][0-9]{1,4})?(?:\s?[a-hA-H]\b|\s?(?:bis|ter)\b)?`), then `rest`.
    fn number(&self, p: usize, rest: Rest<'_>) -> bool {
        self.digits(p, 1, 4, &mut |e| {
            let range = matches!(self.bytes.get(e), Some(b'-' | b'/'))
                && self.digits(e + 1, 1, 4, &mut |e2| self.number_suffix(e2, rest));
            range || self.number_suffix(e, rest)
        })
    }

    /// The optional letter or bis/ter after a house number, then `rest`.
    fn number_suffix(&self, p: usize, rest: Rest<'_>) -> bool {
        let b = self.bytes;
        for q in self.opt_white(p) {
            if matches!(b.get(q), Some(b'a'..=b'h' | b'A'..=b'H')) && ascii_boundary(b, q + 1) && rest(q + 1) {
                return true;
            }
        }
        for q in self.opt_white(p) {
            for w in ["bis", "ter"] {
                if b.get(q..).is_some_and(|s| s.starts_with(w.as_bytes())) && ascii_boundary(b, q + 3) && rest(q + 3) {
                    return true;
                }
            }
        }
        rest(p)
    }

    /// The first street alternative matching at `p`, as its end.
    fn street_at(&self, p: usize) -> Option<usize> {
        let mut end = None;
        let mut done = |e: usize| {
            end = Some(e);
            true
        };
        let first = self.bytes[p];
        // Each form is tried only where its first char may stand: a digit, a capital (the German
        // forms, adjectives included), the first letter of a French or Italian street type.
        let found = if first.is_ascii_digit() {
            self.fr_number_first(p, &mut done) || self.en_number_first(p, &mut done)
        } else {
            let capital = self.char_at(p).is_some_and(|(c, _)| is_street_capital(c));
            let fr_it = FR_IT_WORDS.candidates(&self.bytes[p..]) != 0;
            (capital && (self.de_compound(p, &mut done) || self.de_name_then_type(p, &mut done)))
                || (fr_it && self.fr_it(p, &mut done))
        };
        found.then_some(end).flatten()
    }

    /// `{adjective}{stem}{de_suffix}[ ]?{num}`: "Obere Bahnhofstrasse 12", "Seeweg 4".
    fn de_compound(&self, p: usize, rest: Rest<'_>) -> bool {
        let stem_more = super::context::MIN_STEM_CHARS - 1;
        let after_adjective = &mut |q: usize| {
            self.number_after_name(q)
                && self.word(q, is_street_capital, stem_more, &mut |e| {
                    self.one_of_folded(e, &DE_SUFFIX_WORDS, &mut |e2| {
                        self.opt_space(e2, &mut |e3| self.number(e3, rest))
                    })
                })
        };
        self.one_of(p, ADJECTIVES, &mut |e| self.space(e, after_adjective)) || after_adjective(p)
    }

    /// Whether a house number can follow the suffix of a compound starting at `q`: all of
    /// `stem` and `suffix` are name chars but the "." of "str.", so the suffix ends where the
    /// word's name chars end (or one "." after), and `[ ]?{num}` needs a digit, after a space or
    /// not. False tells that the compound cannot match, before any suffix is tried.
    fn number_after_name(&self, q: usize) -> bool {
        let mut end = q;
        while let Some((_, e)) = self.char_at(end).filter(|(c, _)| is_name_char(*c)) {
            end = e;
        }
        let b = self.bytes;
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let number_at = |i: usize| digit(i) || (b.get(i) == Some(&b' ') && digit(i + 1));
        number_at(end) || (b.get(end) == Some(&b'.') && number_at(end + 1))
    }

    /// The street without a house number at `p` runs to the end of the text.
    fn street_without_number_at(&self, p: usize) -> bool {
        let len = self.bytes.len();
        let at_end = &mut |e: usize| {
            (self.byte_is(e, b',') && ((self.byte_is(e + 1, b' ') && e + 2 == len) || e + 1 == len))
                || ((self.byte_is(e, b'\n') || self.byte_is(e, b' ')) && e + 1 == len)
        };
        self.one_of_folded(p, &FR_IT_WORDS, &mut |e| {
            self.space(e, &mut |e2| {
                let name = &mut |q: usize| {
                    self.word(q, is_street_capital, 0, &mut |e3| self.more_words(e3, 2, INNER_PARTICLES, at_end))
                };
                self.one_of(e2, PARTICLES_WITHOUT_NUMBER, &mut |e3| self.opt_space(e3, name)) || name(e2)
            })
        })
    }

    /// `{word}[ ]{de_word}[ ]{num}`: "Zürcher Strasse 5".
    fn de_name_then_type(&self, p: usize, rest: Rest<'_>) -> bool {
        self.word(p, is_street_capital, 0, &mut |e| {
            self.space(e, &mut |e2| {
                self.one_of(e2, DE_WORDS, &mut |e3| self.space(e3, &mut |e4| self.number(e4, rest)))
            })
        })
    }

    /// `{fr_it}[ ]{particles}{word}(?:[ ](?:(?:de|...)[ ])?{word}){0,3},?[ ]{num}{unit}`:
    /// "Via Nassa 5", "rue de la Paix 12, Appartamento 3".
    fn fr_it(&self, p: usize, rest: Rest<'_>) -> bool {
        self.one_of_folded(p, &FR_IT_WORDS, &mut |e| {
            self.space(e, &mut |e2| {
                self.particles(e2, &mut |e3| {
                    self.word(e3, is_street_capital, 0, &mut |e4| {
                        self.more_words(e4, 3, INNER_PARTICLES, &mut |e5| {
                            self.opt_comma_space(e5, &mut |e6| self.number(e6, &mut |e7| self.unit(e7, rest)))
                        })
                    })
                })
            })
        })
    }

    /// `{num},?[ ]{fr_num_first}[ ]{particles}{word}(?:[ ](?:(?:de|...)[ ])?{word}){0,3}`:
    /// "12 rue de la Paix".
    fn fr_number_first(&self, p: usize, rest: Rest<'_>) -> bool {
        self.number(p, &mut |e| {
            self.opt_comma_space(e, &mut |e2| {
                self.one_of_folded(e2, &FR_NUMBER_FIRST_WORDS, &mut |e3| {
                    self.space(e3, &mut |e4| {
                        self.particles(e4, &mut |e5| {
                            self.word(e5, is_street_capital, 0, &mut |e6| {
                                self.more_words(e6, 3, INNER_PARTICLES_FR, rest)
                            })
                        })
                    })
                })
            })
        })
    }

    /// `{num}[ ](?:{word}[ ]){1,3}{en}`: "74 Elm Street".
    fn en_number_first(&self, p: usize, rest: Rest<'_>) -> bool {
        self.number(p, &mut |e| {
            self.space(e, &mut |e2| self.words_then(e2, 1, 3, is_street_capital, &EN_STREET_TYPE_WORDS, rest))
        })
    }

    /// `(?:(?:{PARTICLES})[ ]?)*` (greedy) then `rest`.
    fn particles(&self, p: usize, rest: Rest<'_>) -> bool {
        self.one_of(p, PARTICLES, &mut |e| self.opt_space(e, &mut |e2| self.particles(e2, rest))) || rest(p)
    }

    /// `(?:[ ](?:(?:{inner})[ ])?{word}){0,left}` (greedy) then `rest`.
    fn more_words(&self, p: usize, left: usize, inner: &[&str], rest: Rest<'_>) -> bool {
        let another = left > 0
            && self.space(p, &mut |q| {
                let next = &mut |q2: usize| {
                    self.word(q2, is_street_capital, 0, &mut |e| self.more_words(e, left - 1, inner, rest))
                };
                self.one_of(q, inner, &mut |e| self.space(e, next)) || next(q)
            });
        another || rest(p)
    }

    /// `(?:{word}[ ]){min,max}` (greedy) then one of `last`, then `rest`.
    fn words_then(
        &self,
        p: usize,
        min: usize,
        max: usize,
        capital: fn(char) -> bool,
        last: &Capitalised,
        rest: Rest<'_>,
    ) -> bool {
        let another = max > 0
            && self.word(p, capital, 0, &mut |e| {
                self.space(e, &mut |e2| self.words_then(e2, min.saturating_sub(1), max - 1, capital, last, rest))
            });
        another || (min == 0 && self.one_of_capitalised(p, last, rest))
    }

    /// `(?:,?[ ](?:{UNITS})[ ][0-9A-Za-z]{1,4})?` (greedy) then `rest`.
    fn unit(&self, p: usize, rest: Rest<'_>) -> bool {
        let with = self.opt_comma_space(p, &mut |e| {
            self.one_of(e, UNITS, &mut |e2| {
                self.space(e2, &mut |e3| {
                    let run = self.bytes[e3..].iter().take(4).take_while(|b| b.is_ascii_alphanumeric()).count();
                    (1..=run).rev().any(|n| rest(e3 + n))
                })
            })
        });
        with || rest(p)
    }

    /// The English address starting at `p` (`^[0-9]{1,5}[A-Za-z]?(?:[ ]|{sep})(?:us|uk|street)`).
    fn english_at(&self, p: usize) -> Option<usize> {
        let mut end = None;
        let mut done = |e: usize| {
            end = Some(e);
            true
        };
        let found = self.digits(p, 1, 5, &mut |e| {
            let letter =
                matches!(self.bytes.get(e), Some(b'A'..=b'Z' | b'a'..=b'z')) && self.en_after_number(e + 1, &mut done);
            letter || self.en_after_number(e, &mut done)
        });
        found.then_some(end).flatten()
    }

    /// `(?:[ ]|{sep})` after the house number, then the three forms in order.
    fn en_after_number(&self, p: usize, rest: Rest<'_>) -> bool {
        let forms = &mut |q: usize| self.en_us(q, rest) || self.en_uk(q, rest) || self.en_street_alone(q, rest);
        self.space(p, forms) || self.en_sep(p, forms)
    }

    /// `{street}{sep}{town},[ ](?:{US_STATES})[ ][0-9]{5}(?:-[0-9]{4})?`.
    fn en_us(&self, p: usize, rest: Rest<'_>) -> bool {
        self.en_street(p, &mut |e| {
            self.en_sep(e, &mut |e2| {
                self.en_town(e2, &mut |e3| {
                    self.byte_is(e3, b',')
                        && self.space(e3 + 1, &mut |e4| {
                            self.one_of(e4, US_STATES, &mut |e5| {
                                self.space(e5, &mut |e6| {
                                    self.digits(e6, 5, 5, &mut |e7| {
                                        let plus4 = self.byte_is(e7, b'-') && self.digits(e7 + 1, 4, 4, rest);
                                        plus4 || rest(e7)
                                    })
                                })
                            })
                        })
                })
            })
        })
    }

    /// `{street}{sep}{town}{sep}{uk_pc}`.
    fn en_uk(&self, p: usize, rest: Rest<'_>) -> bool {
        self.en_street(p, &mut |e| {
            self.en_sep(e, &mut |e2| self.en_town(e2, &mut |e3| self.en_sep(e3, &mut |e4| self.uk_postcode(e4, rest))))
        })
    }

    /// `(?:{word}[ ]){1,3}(?:{EN_COMMON_SUFFIXES})(?:[ ](?:Apt\.|Suite)[ ][0-9]{1,5})?`.
    fn en_street_alone(&self, p: usize, rest: Rest<'_>) -> bool {
        self.words_then(p, 1, 3, is_ascii_capital, &EN_COMMON_SUFFIX_WORDS, &mut |e| {
            let unit = self.space(e, &mut |e2| {
                self.one_of(e2, &["Apt.", "Suite"], &mut |e3| self.space(e3, &mut |e4| self.digits(e4, 1, 5, rest)))
            });
            unit || rest(e)
        })
    }

    /// `(?:{word}[ ]){1,3}(?:{EN_SUFFIXES})(?:[ ](?:Apt\.|Suite|Unit|Ste\.|\#)[ ]?[0-9]{1,5}[A-Z]?)?`.
    fn en_street(&self, p: usize, rest: Rest<'_>) -> bool {
        self.words_then(p, 1, 3, is_ascii_capital, &EN_SUFFIX_WORDS, &mut |e| {
            let unit = self.space(e, &mut |e2| {
                self.one_of(e2, EN_UNITS, &mut |e3| {
                    self.opt_space(e3, &mut |e4| {
                        self.digits(e4, 1, 5, &mut |e5| {
                            (matches!(self.bytes.get(e5), Some(b'A'..=b'Z')) && rest(e5 + 1)) || rest(e5)
                        })
                    })
                })
            });
            unit || rest(e)
        })
    }

    /// `{word}(?:[ ]{word}){0,2}`.
    fn en_town(&self, p: usize, rest: Rest<'_>) -> bool {
        self.word(p, is_ascii_capital, 0, &mut |e| self.town_words(e, 2, rest))
    }

    fn town_words(&self, p: usize, left: usize, rest: Rest<'_>) -> bool {
        let another = left > 0
            && self.space(p, &mut |q| self.word(q, is_ascii_capital, 0, &mut |e| self.town_words(e, left - 1, rest)));
        another || rest(p)
    }

    /// `(?:,[ ]|,?\n)`.
    fn en_sep(&self, p: usize, rest: Rest<'_>) -> bool {
        let comma = self.byte_is(p, b',');
        (comma && self.space(p + 1, rest))
            || (comma && self.byte_is(p + 1, b'\n') && rest(p + 2))
            || (self.byte_is(p, b'\n') && rest(p + 1))
    }

    /// `[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}`: "SW1A 1AA", "M1 1AE".
    fn uk_postcode(&self, p: usize, rest: Rest<'_>) -> bool {
        let b = self.bytes;
        let upper = |i: usize| b.get(i).is_some_and(u8::is_ascii_uppercase);
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let letters = (0..2).take_while(|&k| upper(p + k)).count();
        (1..=letters).rev().any(|n| {
            let q = p + n;
            digit(q) && {
                let mut inward =
                    |r: usize| b.get(r) == Some(&b' ') && digit(r + 1) && upper(r + 2) && upper(r + 3) && rest(r + 4);
                ((upper(q + 1) || digit(q + 1)) && inward(q + 2)) || inward(q + 1)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    //! The readers against the two regexes they replace (kept here, as they were, as the
    //! reference): the same spans on every street window and at every digit of the labeled
    //! corpora, in their own case and upper- and lower-cased, and on hand-made edge cases.

    use super::*;
    use crate::pii::context::Context;

    const FR_IT_TYPE_LIST: &[&str] = super::FR_IT_TYPES;
    use regex::{Regex, RegexBuilder};
    use std::sync::LazyLock;

    const UP: &str = "A-ZÄÖÜÉÈÀÂÊÎÔÛÇ";
    const FR_IT_TYPES: &str = "rue|avenue|av\\.|boulevard|bd|chemin|ch\\.|route|rte|place|pl\\.|quai|impasse|allée|promenade|ruelle|sentier|via|viale|piazza|piazzale|corso|vicolo|largo|strada|contrada|lungolago|salita|borgo|rotonda|incrocio|stretto|canale|vico|calle|traversa|località|frazione";
    const NUMBER: &str = r"[0-9]{1,4}(?:[-/][0-9]{1,4})?(?:\s?[a-hA-H](?-u:\b)|\s?(?:bis|ter)(?-u:\b))?";
    const UNIT: &str = r"(?:,?[ ](?:Appartamento|App\.|Piano|Scala|Interno|Int\.|Apt\.|Suite|Unit|Flat|Étage|étage|Wohnung|Top)[ ][0-9A-Za-z]{1,4})?";
    const EN_SUFFIXES: &str = "Alley|Avenue|Bank|Boulevard|Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|Centers|Circle|Circles|Cliff|Cliffs|Close|Club|Common|Corner|Corners|Course|Court|Courts|Cove|Coves|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drive|Drives|Estate|Estates|Expressway|Extension|Extensions|Fall|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Gate|Gateway|Glen|Glens|Green|Greens|Grove|Groves|Harbor|Harbors|Haven|Heights|Highway|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Lane|Light|Lights|Loaf|Lock|Locks|Lodge|Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Parade|Park|Parks|Parkway|Parkways|Pass|Passage|Path|Pike|Pine|Pines|Place|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|River|Road|Roads|Route|Row|Rue|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Square|Squares|Station|Stravenue|Stream|Street|Streets|Summit|Terrace|Throughway|Trace|Track|Trafficway|Trail|Tunnel|Turnpike|Underpass|Union|Unions|Valley|Valleys|Via|Viaduct|View|Views|Village|Villages|Ville|Vista|Walk|Walks|Wall|Way|Ways|Well|Wells|Wharf|Yard|St\\.|Rd\\.|Ave\\.|Dr\\.|Ln\\.|Blvd\\.";
    const EN_COMMON_SUFFIXES: &str = "Street|Road|Avenue|Lane|Drive|Way|Close|Court|Place|Square|Terrace|Crescent|Gardens|Boulevard|Grove|Row|Mews|Walk|Parade|Hill|Park|St\\.|Rd\\.|Ave\\.|Blvd\\.";
    const US_STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP";

    fn big(pattern: &str) -> Regex {
        RegexBuilder::new(pattern).dfa_size_limit(64 << 20).build().expect("static regex")
    }

    static STREETS: LazyLock<Regex> = LazyLock::new(|| {
        let word = format!("[{UP}][\\p{{L}}'’\\-]*");
        // Before a German street suffix the same minimum stem as for the context hits: so "Anhang 3"
        // and "During 3" are not read as "An-hang" and "Du-ring" streets.
        let stem = format!("[{UP}][\\p{{L}}'’\\-]{{{},}}", crate::pii::context::MIN_STEM_CHARS - 1);
        let particles = r"(?:(?:de[ ]la|de[ ]l'|de[ ]l’|du|des|de|d'|d’|della|dell'|dello|del|dei|delle|degli|di|da|San|Santa|Sant'|Saint|Sainte|St\.?|Ste|la|le|les|alla|al|ai|am|an[ ]der|in[ ]der|im|auf[ ]der|zum|zur)[ ]?)*";
        let de_suffix = r"(?i:strasse|straße|str\.|gasse|gässli|weg|platz|allee|ring|damm|ufer|graben|steig|rain|halde|matte|hof|markt|feld|acker|hang|zeile|promenade|quai|berg)";
        let de_word = r"(?:Strasse|Straße|Gasse|Weg|Platz|Allee|Ring|Markt|Quai|Graben)";
        let adjective = r"(?:(?:Alte|Alter|Obere|Oberer|Untere|Unterer|Neue|Neuer|Hintere|Vordere|Innere|Äussere|Äußere|Kleine|Grosse|Große|Lange|Hohe|Mittlere|Zürcher|Berner|Basler|Luzerner|Badener|Sankt|St\.|Bad)[ ])?";
        let fr_it = format!("(?i:{FR_IT_TYPES})");
        let fr_num_first = r"(?i:rue|avenue|av\.|boulevard|bd|chemin|route|place|quai|impasse|allée|promenade)";
        let en = r"(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Way|Close|Square|Terrace|Crescent|Gardens|Court)";
        let num = NUMBER;
        let unit = UNIT;
        let pattern = format!(
            r"{adjective}{stem}{de_suffix}[ ]?{num}|{word}[ ]{de_word}[ ]{num}|{fr_it}[ ]{particles}{word}(?:[ ](?:(?:de|du|des|di|del|della|la|le)[ ])?{word}){{0,3}},?[ ]{num}{unit}|{num},?[ ]{fr_num_first}[ ]{particles}{word}(?:[ ](?:(?:de|du|des|la|le)[ ])?{word}){{0,3}}|{num}[ ](?:{word}[ ]){{1,3}}{en}"
        );
        big(&pattern)
    });

    static EN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
        let word = r"[A-Z][\p{L}'’\-]*";
        let sep = r"(?:,[ ]|,?\n)";
        let street = format!(
            r"(?:{word}[ ]){{1,3}}(?:{EN_SUFFIXES})(?:[ ](?:Apt\.|Suite|Unit|Ste\.|\#)[ ]?[0-9]{{1,5}}[A-Z]?)?"
        );
        let town = format!(r"{word}(?:[ ]{word}){{0,2}}");
        let uk_pc = r"[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}";
        let pattern = format!(
            r"^(?:[0-9]{{1,5}}[A-Za-z]?(?:[ ]|{sep})(?:{street}{sep}{town},[ ](?:{US_STATES})[ ][0-9]{{5}}(?:-[0-9]{{4}})?|{street}{sep}{town}{sep}{uk_pc}|(?:{word}[ ]){{1,3}}(?:{EN_COMMON_SUFFIXES})(?:[ ](?:Apt\.|Suite)[ ][0-9]{{1,5}})?))"
        );
        big(&pattern)
    });

    /// Every char, in order, as one string.
    fn all_chars() -> String {
        (0..=0x10_FFFFu32).filter_map(char::from_u32).collect()
    }

    /// The chars of `all` that `pattern` matches alone.
    fn matched(all: &str, pattern: &str) -> Vec<char> {
        let re = Regex::new(pattern).expect("test regex");
        re.find_iter(all).flat_map(|m| m.as_str().chars()).collect()
    }

    #[test]
    fn letters_white_space_and_folding_are_the_regexes_own() {
        let all = all_chars();
        assert_eq!(matched(&all, r"\p{L}"), all.chars().filter(|&c| is_letter(c)).collect::<Vec<_>>());
        assert_eq!(matched(&all, r"\s"), all.chars().filter(|c| c.is_whitespace()).collect::<Vec<_>>());
        let folded: std::collections::BTreeSet<char> = DE_SUFFIXES
            .iter()
            .chain(FR_IT_TYPES.split('|').collect::<Vec<_>>().iter())
            .flat_map(|w| w.chars())
            .collect();
        // `one_of_folded` compares an ASCII char with the first letter before reading the word.
        for w in DE_SUFFIXES.iter().chain(FR_IT_TYPE_LIST).chain(FR_NUMBER_FIRST) {
            assert!(w.as_bytes()[0].is_ascii_lowercase(), "{w:?}");
        }
        for l in folded.into_iter().filter(|c| *c != '\\') {
            let pattern = format!("(?i:{})", regex::escape(&l.to_string()));
            assert_eq!(matched(&all, &pattern), all.chars().filter(|&c| folds_to(c, l)).collect::<Vec<_>>(), "{l:?}");
        }
    }

    /// The labeled corpora's texts, each also upper- and lower-cased, and hand-made edge cases.
    fn texts() -> Vec<String> {
        let corpora = [
            include_str!("../../tests/pii_corpus/corpus.jsonl"),
            include_str!("../../tests/pii_corpus/heldout.jsonl"),
            include_str!("../../tests/pii_corpus/faker_dev.jsonl"),
            include_str!("../../tests/pii_corpus/faker_heldout.jsonl"),
            include_str!("../../tests/pii_corpus/faker_train.jsonl"),
        ];
        let mut out: Vec<String> = corpora
            .iter()
            .flat_map(|c| c.lines())
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["text"].as_str().map(str::to_string))
            .flat_map(|t| [t.to_uppercase(), t.to_lowercase(), t])
            .collect();
        out.extend(
            [
                "Bahnhofstrasse 12, Seeweg 4a, Obere Zäune 7 bis, Zürcher Strasse 5, Alte Landstr. 3-5b",
                "STRAſſE 5, Marktgasse 3 ter, BAHNHOFSTRASSE 7\u{a0}b, Hauptstraße 34/15, Feld 12abc Weg",
                "Via della Posta 5, Scala B; rue de l’Église 4, Appartamento 12; 12, rue de la Paix; 3 avenue des Champs Élysées",
                "VIA  Nassa 5, viale San Salvatore 1, Corso Sant'Anna di Sopra Alta Bassa 7, Piazza Grande, 5, Étage 2",
                "74 Elm Street, 12 Old Mill Road Rd. 9 Baker St. 221B, 5 A B C D Street, Fernstrasse 3",
                "742 Evergreen Terrace\nSpringfield, OR 97403-1234 and 10 Downing Street, London\nSW1A 2AA",
                "Flat 7\n32 Simpson Rapids\nNew Kelly\nM1 1AE, 1600 Pennsylvania Avenue Suite 5A, Washington, DC 20500",
                "Anhang 3 zur Bahnhofstrasse 12. During 3 weeks. Marktplatz 1-2 D, route de Genève 27, Rte du Lac 3",
            ]
            .map(str::to_string),
        );
        out
    }

    #[test]
    fn same_streets_as_the_regex_on_every_window() {
        let mut compared = 0;
        for text in texts() {
            let ctx = Context::new(&text);
            let mut windows = crate::pii::location::street_windows(&ctx);
            windows.push((0, text.len()));
            for (s, e) in windows {
                let window = &text[s..e];
                let want: Vec<(usize, usize)> = STREETS.find_iter(window).map(|m| (m.start(), m.end())).collect();
                assert_eq!(streets(window), want, "{window:?}");
                compared += want.len();
            }
        }
        assert!(compared > 1000, "only {compared} streets compared");
    }

    static STREET_WITHOUT_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        let word = format!("[{UP}][\\p{{L}}'’\\-]*");
        Regex::new(&format!(
            r"(?i:{FR_IT_TYPES})[ ](?:(?:de[ ]la|de[ ]l'|du|des|de|d'|della|del|di)[ ]?)?{word}(?:[ ](?:(?:de|du|des|di|del|della|la|le)[ ])?{word}){{0,2}}(?:,[ ]?|\n|[ ])$"
        ))
        .expect("static regex")
    });

    #[test]
    fn same_streets_without_number_as_the_regex_before_every_digit() {
        let mut compared = 0;
        for text in texts() {
            for p in crate::pii::scanner::digit_starts(&text) {
                let mut lo = p.saturating_sub(90);
                while !text.is_char_boundary(lo) {
                    lo += 1;
                }
                let hay = &text[lo..p];
                let want = STREET_WITHOUT_NUMBER.find(hay).map(|m| m.start());
                assert_eq!(street_without_number(hay), want, "{hay:?}");
                compared += usize::from(want.is_some());
            }
        }
        assert!(compared > 30, "only {compared} streets compared");
    }

    #[test]
    fn same_english_addresses_as_the_regex_at_every_digit() {
        let mut compared = 0;
        for text in texts() {
            for p in crate::pii::scanner::digit_starts(&text) {
                let mut end = (p + 512).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let hay = &text[p..end];
                let want = EN_ADDRESS.find(hay).map(|m| m.end());
                assert_eq!(english_address(hay), want, "{hay:?}");
                compared += usize::from(want.is_some());
            }
        }
        assert!(compared > 100, "only {compared} addresses compared");
    }
}
