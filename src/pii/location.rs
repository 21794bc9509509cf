//! Postal addresses: a street with a house number (German-style compounds like Bahnhofstrasse,
//! French/Italian street types before the name, French number-first and English forms) and a
//! CH/LI/AT (4-digit) or DE/FR/IT (5-digit) postcode with its town. Street and town written
//! together become one LOCATION span. A bare "postcode town" needs a country prefix (CH-8001)
//! or a town from the bundled list, so "2024 Umsatz" stays unflagged.

use super::context::{char_before, flag, Context};
use super::lexicon::{self, entries};
use super::scanner::{Candidate, Kind};
use regex::{Regex, RegexBuilder};
use std::collections::HashSet;
use std::sync::LazyLock;

const UP: &str = "A-ZÄÖÜÉÈÀÂÊÎÔÛÇ";

static STREETS: LazyLock<Regex> = LazyLock::new(|| {
    let word = format!("[{UP}][\\p{{L}}'’\\-]*");
    // Before a German street suffix the same minimum stem as for the context hits: so "Anhang 3"
    // and "During 3" are not read as "An-hang" and "Du-ring" streets.
    let stem = format!("[{UP}][\\p{{L}}'’\\-]{{{},}}", super::context::MIN_STEM_CHARS - 1);
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
    big_dfa(&pattern)
});

/// A regex whose lazy DFA gets a cache large enough for its many alternatives and Unicode
/// classes. With the default (2 MB) the street regex's DFA cache was cleared so often on
/// address-dense text that the search gave up and fell back to the bounded backtracker, which
/// then took ~40 % of `auditgate pii scan` on the corpora (perf, 2026-12-03).
fn big_dfa(pattern: &str) -> Regex {
    RegexBuilder::new(pattern).dfa_size_limit(64 << 20).build().expect("static regex")
}

/// `text[start..]`, cut after at most `max` bytes (at a char boundary): anchored regexes that
/// can match only a short span need not be handed the rest of a megabyte (a capture search on a
/// long haystack runs the PikeVM instead of the backtracker).
fn bounded(text: &str, start: usize, max: usize) -> &str {
    let mut end = (start + max).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}

/// French and Italian street types written before the name (Faker's it_IT list included:
/// Borgo, Rotonda, Incrocio, Stretto, Canale).
const FR_IT_TYPES: &str = "rue|avenue|av\\.|boulevard|bd|chemin|ch\\.|route|rte|place|pl\\.|quai|impasse|allée|promenade|ruelle|sentier|via|viale|piazza|piazzale|corso|vicolo|largo|strada|contrada|lungolago|salita|borgo|rotonda|incrocio|stretto|canale|vico|calle|traversa|località|frazione";

/// A house number: up to four digits, a range or a sub-number (`7-9`, `34/15`), a letter or
/// bis/ter. The word boundary is the ASCII one: the lazy DFA cannot follow a Unicode `\b` past
/// a non-ASCII byte and gives up to a slower engine on every umlaut; a letter glued to the
/// suffix is trimmed by the caller anyway ("Weg 12abc").
const NUMBER: &str = r"[0-9]{1,4}(?:[-/][0-9]{1,4})?(?:\s?[a-hA-H](?-u:\b)|\s?(?:bis|ter)(?-u:\b))?";

/// A flat, floor or staircase after the house number (`Appartamento 84`, `Scala B`, `Piano 2`).
const UNIT: &str = r"(?:,?[ ](?:Appartamento|App\.|Piano|Scala|Interno|Int\.|Apt\.|Suite|Unit|Flat|Étage|étage|Wohnung|Top)[ ][0-9A-Za-z]{1,4})?";

static POSTCODE_TOWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:(?P<cc>CH|D|DE|A|AT|F|FR|I|IT|FL|LI)[\-\s])?(?P<pc>[0-9]{{4,5}}),?\s(?P<town>(?:St\.\s?|Saint-|Sankt\s|San\s|Bad\s)?[{UP}][\p{{L}}'\-]+(?:/[{UP}][\p{{L}}\-]+)?)"
    ))
    .expect("static regex")
});

/// Longest text a postcode and town can match: the prefix, five digits, and a town of at most
/// ~60 words' worth of letters (no real town comes near).
const POSTCODE_TOWN_MAX: usize = 256;

/// Street types of English addresses (the USPS Publication 28 suffixes in their long form, which
/// are also the suffixes of UK addresses).
const EN_SUFFIXES: &str = "Alley|Avenue|Bank|Boulevard|Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|Centers|Circle|Circles|Cliff|Cliffs|Close|Club|Common|Corner|Corners|Course|Court|Courts|Cove|Coves|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drive|Drives|Estate|Estates|Expressway|Extension|Extensions|Fall|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|Forge|Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Gate|Gateway|Glen|Glens|Green|Greens|Grove|Groves|Harbor|Harbors|Haven|Heights|Highway|Hill|Hills|Hollow|Inlet|Island|Islands|Isle|Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|Lakes|Land|Landing|Lane|Light|Lights|Loaf|Lock|Locks|Lodge|Loop|Mall|Manor|Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Parade|Park|Parks|Parkway|Parkways|Pass|Passage|Path|Pike|Pine|Pines|Place|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|River|Road|Roads|Route|Row|Rue|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Square|Squares|Station|Stravenue|Stream|Street|Streets|Summit|Terrace|Throughway|Trace|Track|Trafficway|Trail|Tunnel|Turnpike|Underpass|Union|Unions|Valley|Valleys|Via|Viaduct|View|Views|Village|Villages|Ville|Vista|Walk|Walks|Wall|Way|Ways|Well|Wells|Wharf|Yard|St\\.|Rd\\.|Ave\\.|Dr\\.|Ln\\.|Blvd\\.";

/// The common ones, enough for a street written alone (`74 Elm Street`); the others need the
/// town and postcode after them.
const EN_COMMON_SUFFIXES: &str = "Street|Road|Avenue|Lane|Drive|Way|Close|Court|Place|Square|Terrace|Crescent|Gardens|Boulevard|Grove|Row|Mews|Walk|Parade|Hill|Park|St\\.|Rd\\.|Ave\\.|Blvd\\.";

/// US state and territory codes.
const US_STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP";

/// English addresses read from their house or flat number: a UK address (street, town, postcode
/// on lines or after commas) or a US one (street, `City, ST 12345(-6789)`), or a street alone.
static EN_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let word = r"[A-Z][\p{L}'’\-]*";
    let sep = r"(?:,[ ]|,?\n)";
    let street =
        format!(r"(?:{word}[ ]){{1,3}}(?:{EN_SUFFIXES})(?:[ ](?:Apt\.|Suite|Unit|Ste\.|\#)[ ]?[0-9]{{1,5}}[A-Z]?)?");
    let town = format!(r"{word}(?:[ ]{word}){{0,2}}");
    let uk_pc = r"[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}";
    let pattern = format!(
        r"^(?:[0-9]{{1,5}}[A-Za-z]?(?:[ ]|{sep})(?:{street}{sep}{town},[ ](?:{US_STATES})[ ][0-9]{{5}}(?:-[0-9]{{4}})?|{street}{sep}{town}{sep}{uk_pc}|(?:{word}[ ]){{1,3}}(?:{EN_COMMON_SUFFIXES})(?:[ ](?:Apt\.|Suite)[ ][0-9]{{1,5}})?))"
    );
    big_dfa(&pattern)
});

/// Longest text an English address can match (number, three lines of at most four words, a
/// postcode or state and ZIP+4).
const EN_ADDRESS_MAX: usize = 512;

/// A flat or studio line before an English street ("Flat 7\nSimpson Rapids").
const EN_UNITS: &[&str] = &["Flat ", "Studio ", "Apartment ", "Unit ", "Suite ", "Apt. "];

/// French and Italian streets without a house number, taken only when a postcode and town follow.
static STREET_WITHOUT_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    let word = format!("[{UP}][\\p{{L}}'’\\-]*");
    Regex::new(&format!(
        r"(?i:{FR_IT_TYPES})[ ](?:(?:de[ ]la|de[ ]l'|du|des|de|d'|della|del|di)[ ]?)?{word}(?:[ ](?:(?:de|du|des|di|del|della|la|le)[ ])?{word}){{0,2}}(?:,[ ]?|\n|[ ])$"
    ))
    .expect("static regex")
});

/// English addresses starting at the digit runs `starts`.
fn scan_english(text: &str, starts: &[usize], out: &mut Vec<Candidate>) {
    let mut last_end = 0;
    for &p in starts {
        if p < last_end || char_before(text, p).is_some_and(char::is_alphanumeric) {
            continue;
        }
        let Some(m) = EN_ADDRESS.find(bounded(text, p, EN_ADDRESS_MAX)) else { continue };
        let end = p + m.end();
        if text[end..].chars().next().is_some_and(char::is_alphanumeric) {
            continue;
        }
        let start = EN_UNITS.iter().find_map(|u| text[..p].strip_suffix(u).map(|h| h.len())).unwrap_or(p);
        let full = m.as_str().contains(['\n', ',']);
        out.push(Candidate::new(Kind::Location, start, end, if full { 0.9 } else { 0.7 }, false));
        last_end = end;
    }
}

static TOWN_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| entries(lexicon::TOWNS).collect());

/// Words after a town that belong to it ("Frankfurt am Main", "Thonon les Bains").
const TOWN_LINKS: &[&str] = &["am ", "an der ", "im ", "in ", "bei ", "ob ", "sur ", "sous ", "en ", "lès ", "sul "];

/// Extend a town over "am Main"-style tails and accept two-word towns from the list.
fn extend_town(text: &str, end: usize) -> usize {
    let rest = &text[end..];
    let Some(after_space) = rest.strip_prefix(' ') else {
        return end;
    };
    for link in TOWN_LINKS {
        if let Some(tail) = after_space.strip_prefix(link) {
            let word_len = tail.find(|c: char| !(c.is_alphabetic() || c == '-')).unwrap_or(tail.len());
            if word_len > 1 && tail.chars().next().is_some_and(char::is_uppercase) {
                return end + 1 + link.len() + word_len;
            }
        }
    }
    end
}

/// First words of towns that go on with another word ("Saint Henri", "San Vito", "Port Talbot").
const TOWN_PREFIXES: &[&str] = &[
    "Saint", "Sainte", "St.", "Ste", "San", "Santa", "Santo", "Sankt", "Bad", "Port", "Lake", "East", "West", "North",
    "South", "New", "Ober", "Unter", "Nieder", "La", "Le", "Les", "Il", "Lo",
];

/// Lower-case or particle words inside a town name ("Bevera Di Sirtori", "Sesto San Giovanni").
const TOWN_PARTICLES: &[&str] =
    &["di", "del", "della", "dei", "de", "des", "du", "la", "le", "les", "sur", "sous", "sul", "al", "in", "im"];

/// A province or canton code in brackets right after the town: ` (BS)`, ` (VS)`.
fn province_at(text: &str, end: usize) -> Option<usize> {
    let b = text.as_bytes().get(end..end + 5)?;
    (b[0] == b' ' && b[1] == b'(' && b[2].is_ascii_uppercase() && b[3].is_ascii_uppercase() && b[4] == b')')
        .then_some(end + 5)
}

/// The town's end over further words when the town is evidently longer than one word: it starts
/// with a prefix such as "Saint" or "San", or a province code follows the longer form. Returns
/// the end and whether a province code closed it.
fn extend_town_words(text: &str, start: usize, end: usize) -> (usize, bool) {
    let first = &text[start..end];
    let mut ends = Vec::new();
    let mut e = end;
    for _ in 0..3 {
        let Some(rest) = text[e..].strip_prefix(' ') else { break };
        let len = rest.find(|c: char| !(c.is_alphabetic() || c == '-' || c == '\'' || c == '’')).unwrap_or(rest.len());
        let word = &rest[..len];
        let capital = word.chars().next().is_some_and(char::is_uppercase) && word.chars().count() >= 2;
        if !(capital || TOWN_PARTICLES.contains(&word.to_lowercase().as_str())) {
            break;
        }
        e += 1 + len;
        ends.push(e);
    }
    for &cand in ends.iter().rev() {
        if let Some(p) = province_at(text, cand) {
            return (p, true);
        }
    }
    if let Some(p) = province_at(text, end) {
        return (p, true);
    }
    if TOWN_PREFIXES.contains(&first)
        || TOWN_PREFIXES.iter().any(|p| first.strip_prefix(p).is_some_and(|r| r.starts_with('-')))
    {
        if let Some(&e1) = ends.first() {
            return (e1, false);
        }
    }
    (end, false)
}

fn postcode_ok(cc: Option<&str>, pc: &str) -> bool {
    let four = pc.len() == 4 && !pc.starts_with('0');
    let five = pc.len() == 5;
    match cc {
        Some("CH" | "A" | "AT" | "FL" | "LI") => four,
        Some(_) => five,
        None => four || five,
    }
}

/// The previous word allows a bare "postcode town" (line start, punctuation, a preposition).
fn bare_context_ok(text: &str, start: usize) -> bool {
    let head = text[..start].trim_end_matches([' ', '\t']);
    let Some(c) = head.chars().next_back() else {
        return true;
    };
    if !c.is_alphanumeric() {
        return c != '.' || head.ends_with("..");
    }
    let word = head.rsplit(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
    matches!(
        word,
        "in" | "à" | "a" | "nach" | "bei" | "at" | "to" | "von" | "de" | "da" | "aus" | "per" | "from" | "zu" | "di"
    )
}

/// Byte windows around street-type keywords (merged when they overlap), widened to word
/// starts so that the street regex never sees half a street name.
fn street_windows(ctx: &Context<'_>) -> Vec<(usize, usize)> {
    let text = ctx.text;
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for h in ctx.hits.iter().filter(|h| h.entry.flags & flag::STREET != 0) {
        let mut s = h.start.saturating_sub(64);
        let floor = s.saturating_sub(48);
        while s > floor && !text.as_bytes()[s - 1].is_ascii_whitespace() {
            s -= 1;
        }
        while !text.is_char_boundary(s) {
            s -= 1;
        }
        let mut e = (h.end + 100).min(text.len());
        while !text.is_char_boundary(e) {
            e += 1;
        }
        match windows.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => windows.push((s, e)),
        }
    }
    windows
}

/// Start of a "postcode town" at the digits `p`: with a country prefix (`CH-8001`, `D 10115`)
/// when there is one. Only 4- and 5-digit runs followed by a space qualify.
fn postcode_start(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    let len = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    if !(4..=5).contains(&len) || !matches!(b.get(p + len), Some(b' ' | b',')) {
        return None;
    }
    for cc in ["CH", "DE", "AT", "FR", "IT", "FL", "LI", "D", "A", "F", "I"] {
        for sep in [b'-', b' '] {
            let s = p.checked_sub(cc.len() + 1);
            if let Some(s) = s.filter(|&s| &b[s..s + cc.len()] == cc.as_bytes() && b[p - 1] == sep) {
                return Some(s);
            }
        }
    }
    Some(p)
}

/// Scan for postal addresses.
pub fn scan(ctx: &Context<'_>, starts: &[usize], out: &mut Vec<Candidate>) {
    let text = ctx.text;
    let mut streets: Vec<(usize, usize)> = Vec::new();
    let matches = street_windows(ctx)
        .into_iter()
        .flat_map(|(ws, we)| STREETS.find_iter(&text[ws..we]).map(move |m| (ws + m.start(), ws + m.end())));
    for (ms, me) in matches {
        if char_before(text, ms).is_some_and(char::is_alphanumeric) || streets.last().is_some_and(|l| l.1 > ms) {
            continue;
        }
        let m_start = ms;
        let mut e = me;
        if text[e..].chars().next().is_some_and(char::is_alphanumeric) {
            // "Weg 12abc": a letter glued to more letters is not a house-number suffix.
            let trimmed = text[m_start..e].trim_end_matches(|c: char| c.is_alphabetic()).trim_end();
            e = m_start + trimmed.len();
            if !text[..e].ends_with(|c: char| c.is_ascii_digit()) || text[e..].starts_with(|c: char| c.is_ascii_digit())
            {
                continue;
            }
        }
        streets.push((m_start, e));
    }
    scan_english(text, starts, out);
    let mut used = vec![false; streets.len()];
    let postcodes = starts
        .iter()
        .filter_map(|&p| postcode_start(text, p))
        .filter_map(|s| POSTCODE_TOWN.captures(bounded(text, s, POSTCODE_TOWN_MAX)).map(|c| (s, c)));
    for (base, caps) in postcodes {
        let (Some(all), Some(pc), Some(town)) = (caps.get(0), caps.name("pc"), caps.name("town")) else {
            continue;
        };
        let cc = caps.name("cc").map(|m| m.as_str());
        let all_start = base + all.start();
        if !postcode_ok(cc, pc.as_str()) || char_before(text, all_start).is_some_and(char::is_alphanumeric) {
            continue;
        }
        let town_start = base + town.start();
        let (words_end, province) = extend_town_words(text, town_start, base + town.end());
        let town_end = if words_end > base + town.end() { words_end } else { extend_town(text, words_end) };
        let town_name = &text[town_start..town_end];
        // Street right before (", ", newline, or a single space) makes it one address.
        let street = streets.iter().position(|&(_, se)| {
            se <= all_start && all_start - se <= 4 && text[se..all_start].chars().all(|c| c == ',' || c.is_whitespace())
        });
        if let Some(i) = street {
            used[i] = true;
            out.push(Candidate::new(Kind::Location, streets[i].0, town_end, 0.9, false));
            continue;
        }
        let lo = all_start.saturating_sub(90);
        let lo = (lo..all_start).find(|&i| text.is_char_boundary(i)).unwrap_or(all_start);
        if let Some(m) = STREET_WITHOUT_NUMBER.find(&text[lo..all_start]) {
            if !char_before(text, lo + m.start()).is_some_and(char::is_alphanumeric) {
                out.push(Candidate::new(Kind::Location, lo + m.start(), town_end, 0.85, false));
                continue;
            }
        }
        let listed = TOWN_SET.contains(town_name) || TOWN_SET.contains(town.as_str());
        let neg = ctx.cue_before(all_start, 24, flag::NEG);
        if (cc.is_some() || province || (listed && bare_context_ok(text, all_start))) && !neg {
            out.push(Candidate::new(Kind::Location, all_start, town_end, 0.75, false));
        }
    }
    for (i, &(s, e)) in streets.iter().enumerate() {
        if !used[i] {
            out.push(Candidate::new(Kind::Location, s, e, 0.7, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pii::scan_text;

    fn locs(t: &str) -> Vec<String> {
        scan_text(t).into_iter().filter(|f| f.entity_type == "LOCATION").map(|f| f.text).collect()
    }

    #[test]
    fn finds_addresses() {
        assert_eq!(locs("wohnhaft an der Bahnhofstrasse 12, 8001 Zürich."), vec!["Bahnhofstrasse 12, 8001 Zürich"]);
        assert_eq!(locs("12 rue de la Paix\n75002 Paris"), vec!["12 rue de la Paix\n75002 Paris"]);
        assert_eq!(locs("Via Nassa 5, 6900 Lugano"), vec!["Via Nassa 5, 6900 Lugano"]);
        assert_eq!(locs("Frankfurt: D-60311 Frankfurt am Main"), vec!["D-60311 Frankfurt am Main"]);
        assert!(locs("Im Jahr 2024 Umsatz von 3 Mio.").is_empty());
        assert_eq!(locs("Seeweg 4, 8001 Zürich"), vec!["Seeweg 4, 8001 Zürich"]);
    }

    #[test]
    fn short_stem_before_a_suffix_is_no_street() {
        assert!(locs("Siehe Anhang 3 zur Bahnhofstrasse 12.").iter().all(|l| !l.contains("Anhang")));
        assert!(locs("During 3 weeks we met at the usual place.").is_empty());
    }
}
