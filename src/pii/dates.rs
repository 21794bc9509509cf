//! Birth dates: a date is reported only when a birth cue (geboren, né le, nato il, date of
//! birth, ...) precedes it closely; the span covers the date alone. Other dates (invoices,
//! deadlines, meetings) are not personal data on their own and are never reported.

use super::context::{flag, Context};
use super::scanner::{word_bounded, Candidate, Kind};
use super::validators::birth_date;
use regex::Regex;
use std::sync::LazyLock;

const MONTHS: &[(&str, u32)] = &[
    ("januar", 1),
    ("jänner", 1),
    ("janvier", 1),
    ("gennaio", 1),
    ("january", 1),
    ("jan", 1),
    ("februar", 2),
    ("février", 2),
    ("febbraio", 2),
    ("february", 2),
    ("feb", 2),
    ("fév", 2),
    ("märz", 3),
    ("mars", 3),
    ("marzo", 3),
    ("march", 3),
    ("mar", 3),
    ("mär", 3),
    ("april", 4),
    ("avril", 4),
    ("aprile", 4),
    ("apr", 4),
    ("avr", 4),
    ("mai", 5),
    ("maggio", 5),
    ("may", 5),
    ("mag", 5),
    ("juni", 6),
    ("juin", 6),
    ("giugno", 6),
    ("june", 6),
    ("jun", 6),
    ("giu", 6),
    ("juli", 7),
    ("juillet", 7),
    ("luglio", 7),
    ("july", 7),
    ("jul", 7),
    ("lug", 7),
    ("juil", 7),
    ("august", 8),
    ("août", 8),
    ("agosto", 8),
    ("aug", 8),
    ("ago", 8),
    ("september", 9),
    ("septembre", 9),
    ("settembre", 9),
    ("sep", 9),
    ("sept", 9),
    ("set", 9),
    ("oktober", 10),
    ("octobre", 10),
    ("ottobre", 10),
    ("october", 10),
    ("okt", 10),
    ("oct", 10),
    ("ott", 10),
    ("november", 11),
    ("novembre", 11),
    ("nov", 11),
    ("dezember", 12),
    ("décembre", 12),
    ("dicembre", 12),
    ("december", 12),
    ("dez", 12),
    ("dec", 12),
    ("déc", 12),
    ("dic", 12),
];

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<String> = MONTHS.iter().map(|(m, _)| regex::escape(m)).collect();
    let month = format!("(?i:{})\\.?", names.join("|"));
    Regex::new(&format!(
        r"(?P<d1>[0-9]{{1,2}})\.\s?(?P<m1>[0-9]{{1,2}})\.\s?(?P<y1>[0-9]{{4}})|(?P<d2>[0-9]{{1,2}})/(?P<m2>[0-9]{{1,2}})/(?P<y2>[0-9]{{4}})|(?P<y3>[0-9]{{4}})-(?P<m3>[0-9]{{2}})-(?P<d3>[0-9]{{2}})|(?P<d4>[0-9]{{1,2}})(?:\.|er|st|nd|rd|th)?\s(?P<m4>{month})\s(?P<y4>[0-9]{{4}})|(?P<m5>{month})\s(?P<d5>[0-9]{{1,2}})(?:st|nd|rd|th)?,?\s(?P<y5>[0-9]{{4}})"
    ))
    .expect("static regex")
});

fn month_number(name: &str) -> Option<u32> {
    let name = name.trim_end_matches('.').to_lowercase();
    MONTHS.iter().find(|(m, _)| *m == name).map(|(_, n)| *n)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Birth dates within 40 bytes after a birth cue, or ending within 40 bytes before one
/// ("wurde am 7. Oktober 1984 in Luzern geboren").
pub fn scan(ctx: &Context<'_>, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    for h in ctx.hits.iter().filter(|h| h.entry.flags & flag::BIRTH != 0) {
        let we = floor_boundary(text, (h.end + 80).min(text.len()));
        let after = DATE.captures(&text[h.end..we]).filter(|c| c.get(0).is_some_and(|m| m.start() <= 40));
        let ws = floor_boundary(text, h.start.saturating_sub(80));
        let before = || {
            DATE.captures_iter(&text[ws..h.start])
                .last()
                .filter(|c| c.get(0).is_some_and(|m| h.start - (ws + m.end()) <= 40))
        };
        let (base, caps) = match after {
            Some(c) => (h.end, c),
            None => match before() {
                Some(c) => (ws, c),
                None => continue,
            },
        };
        let Some(m) = caps.get(0) else { continue };
        let (s, e) = (base + m.start(), base + m.end());
        if !word_bounded(text, s, e) {
            continue;
        }
        let get = |names: [&str; 3]| names.iter().find_map(|n| caps.name(n)).map(|m| m.as_str());
        let day = get(["d1", "d2", "d3"]).or_else(|| get(["d4", "d5", "d5"])).and_then(|d| d.parse().ok());
        let year = get(["y1", "y2", "y3"]).or_else(|| get(["y4", "y5", "y5"])).and_then(|y| y.parse().ok());
        let month = get(["m1", "m2", "m3"])
            .and_then(|m| m.parse().ok())
            .or_else(|| get(["m4", "m5", "m5"]).and_then(month_number));
        if let (Some(d), Some(mo), Some(y)) = (day, month, year) {
            if birth_date(d, mo, y) {
                out.push(Candidate::new(Kind::DateTime, s, e, 0.85, true));
            }
        }
    }
}
