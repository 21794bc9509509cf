//! The fixed vocabularies a policy file may use (levels, actions, operators, endpoints, regions,
//! countries, entity types) and the "did you mean ...?" hints for misspellings.
//!
//! Region tags are a closed list on purpose: a typo such as `cn` for `ch` must be an error at load
//! time, never a silently empty allow-list at request time.

use crate::pii::{Level, ENTITY_TYPES};

/// Region tags a policy may name. Providers carry one of these in their profile (`region`).
/// `eea` in a policy also admits providers tagged `eu` (every EU state is in the EEA); `eu` does
/// not admit `eea` (Norway, Iceland and Liechtenstein are not in the EU).
pub const REGIONS: &[&str] =
    &["ch", "eu", "eea", "uk", "us", "ca", "au", "nz", "jp", "kr", "sg", "in", "br", "apac", "global"];

/// ISO 3166-1 alpha-2 country codes (upper case), for `countries = [...]`.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ \
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW \
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB \
LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC \
NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC \
SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ \
UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

pub const LEVELS: &[&str] = &["none", "personal", "sensitive", "special"];
pub const ACTIONS: &[&str] = &["allow", "deny", "redact"];
pub const OPERATORS: &[&str] = &["replace", "mask", "hash", "pseudonymize"];
pub const ENDPOINTS: &[&str] = &["chat", "embeddings"];
pub const EXPECTATIONS: &[&str] = &["allow", "deny", "redact"];

/// Whether a provider tagged `provider_region` is inside the policy region `allowed`.
pub fn region_covers(allowed: &str, provider_region: &str) -> bool {
    allowed == provider_region || (allowed == "eea" && provider_region == "eu")
}

pub fn parse_level(s: &str) -> Option<Level> {
    match s {
        "none" => Some(Level::None),
        "personal" => Some(Level::Personal),
        "sensitive" => Some(Level::Sensitive),
        "special" => Some(Level::Special),
        _ => None,
    }
}

pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split_whitespace().any(|c| c == code)
}

pub fn is_entity_type(name: &str) -> bool {
    ENTITY_TYPES.contains(&name)
}

/// A hint for an unknown country code: case, common non-ISO codes, then spelling.
pub fn country_hint(code: &str) -> Option<String> {
    let upper = code.to_ascii_uppercase();
    match upper.as_str() {
        "UK" => return Some("GB".into()),
        "EL" => return Some("GR".into()),
        _ => {}
    }
    if is_country(&upper) {
        return Some(upper);
    }
    None
}

pub fn entity_hint(name: &str) -> Option<String> {
    suggest(name, ENTITY_TYPES.iter().copied(), true)
}

/// The closest known word, if it is close enough to be a plausible typo.
///
/// Comparison is case-insensitive; a candidate that contains the input (`AHV` -> `CH_AHV`,
/// `IBAN` -> `IBAN_CODE`) also counts as close.
pub fn suggest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>, upper: bool) -> Option<String> {
    let needle = if upper { input.to_ascii_uppercase() } else { input.to_ascii_lowercase() };
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        let dist = if needle.len() >= 3 && cand.contains(needle.as_str()) { 1 } else { levenshtein(&needle, cand) };
        if best.is_none_or(|(d, _)| dist < d) {
            best = Some((dist, cand));
        }
    }
    let limit = (needle.chars().count() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c.to_string())
}

/// Classic edit distance (insert, delete, substitute), over chars.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// "unknown X `v`: did you mean `w`? (known: ...)" with the hint only when there is one.
pub fn unknown_msg(what: &str, value: &str, hint: Option<String>, known: &[&str]) -> String {
    let mut msg = format!("unknown {what} `{value}`");
    match hint {
        Some(h) => msg.push_str(&format!(": did you mean {h}?")),
        None if known.len() <= 16 => msg.push_str(&format!(" (known: {})", known.join(", "))),
        None => {}
    }
    msg
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "ab"), 2);
        assert_eq!(levenshtein("ch", "ch"), 0);
    }

    #[test]
    fn entity_hints() {
        assert_eq!(entity_hint("CH_AVH").as_deref(), Some("CH_AHV"));
        assert_eq!(entity_hint("ahv").as_deref(), Some("CH_AHV"));
        assert_eq!(entity_hint("iban").as_deref(), Some("IBAN_CODE"));
        assert_eq!(entity_hint("EMAIL").as_deref(), Some("EMAIL_ADDRESS"));
        assert_eq!(entity_hint("COMPLETELY_DIFFERENT"), None);
    }

    #[test]
    fn region_and_country_hints() {
        assert_eq!(suggest("cj", REGIONS.iter().copied(), false).as_deref(), Some("ch"));
        assert_eq!(suggest("europe", REGIONS.iter().copied(), false), None);
        assert_eq!(country_hint("ch").as_deref(), Some("CH"));
        assert_eq!(country_hint("UK").as_deref(), Some("GB"));
        assert!(is_country("CH") && is_country("US") && !is_country("XX"));
        assert_eq!(COUNTRIES.split_whitespace().count(), 249);
    }

    #[test]
    fn eea_covers_eu_not_the_reverse() {
        assert!(region_covers("eea", "eu"));
        assert!(!region_covers("eu", "eea"));
        assert!(region_covers("ch", "ch"));
        assert!(!region_covers("ch", "eu"));
    }
}
