//! Postal addresses: a street with a house number (German-style compounds like Bahnhofstrasse,
//! French/Italian street types before the name, French number-first and English forms) and a
//! CH/LI/AT (4-digit) or DE/FR/IT (5-digit) postcode with its town. Street and town written
//! together become one LOCATION span. A bare "postcode town" needs a country prefix (CH-8001)
//! or a town from the bundled list, so "2024 Umsatz" stays unflagged.

use super::context::{char_before, flag, Context};
use super::lexicon::{self, entries};
use super::scanner::{Candidate, Kind};
use super::street;
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

const UP: &str = "A-ZÄÖÜÉÈÀÂÊÎÔÛÇ";

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

static POSTCODE_TOWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:(?P<cc>CH|D|DE|A|AT|F|FR|I|IT|FL|LI)[\-\s])?(?P<pc>[0-9]{{4,5}}),?\s(?P<town>(?:St\.\s?|Saint-|Sankt\s|San\s|Bad\s)?[{UP}][\p{{L}}'\-]+(?:/[{UP}][\p{{L}}\-]+)?)"
    ))
    .expect("static regex")
});

/// Longest text a postcode and town can match: the prefix, five digits, and a town of at most
/// ~60 words' worth of letters (no real town comes near).
const POSTCODE_TOWN_MAX: usize = 256;

/// Longest text an English address can match (number, three lines of at most four words, a
/// postcode or state and ZIP+4).
const EN_ADDRESS_MAX: usize = 512;

/// A flat or studio line before an English street ("Flat 7\nSimpson Rapids").
const EN_UNITS: &[&str] = &["Flat ", "Studio ", "Apartment ", "Unit ", "Suite ", "Apt. "];

/// English addresses starting at the digit runs `starts`.
fn scan_english(text: &str, starts: &[usize], out: &mut Vec<Candidate>) {
    let mut last_end = 0;
    for &p in starts {
        if p < last_end || char_before(text, p).is_some_and(char::is_alphanumeric) {
            continue;
        }
        let address = bounded(text, p, EN_ADDRESS_MAX);
        let Some(len) = street::english_address(address) else { continue };
        let end = p + len;
        if text[end..].chars().next().is_some_and(char::is_alphanumeric) {
            continue;
        }
        let start = EN_UNITS.iter().find_map(|u| text[..p].strip_suffix(u).map(|h| h.len())).unwrap_or(p);
        let full = address[..len].contains(['\n', ',']);
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
pub(super) fn street_windows(ctx: &Context<'_>) -> Vec<(usize, usize)> {
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
        .flat_map(|(ws, we)| street::streets(&text[ws..we]).into_iter().map(move |(s, e)| (ws + s, ws + e)));
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
        // A French or Italian street without a house number right before ("Via Nassa, 6900 Lugano").
        if let Some(s) = street::street_without_number(&text[lo..all_start]) {
            if !char_before(text, lo + s).is_some_and(char::is_alphanumeric) {
                out.push(Candidate::new(Kind::Location, lo + s, town_end, 0.85, false));
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
