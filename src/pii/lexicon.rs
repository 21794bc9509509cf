//! The word lists the scanner reads, as data files under `src/pii/lexicon/` (issue 21): cue
//! words per entity type, titles, greetings, sign-offs, name labels and cues, street types,
//! stop words, the GDPR art. 9 keywords per category, given names, surnames and towns.
//!
//! Format of every file: one entry per line; blank lines and lines starting with `#` are skipped;
//! spaces around an entry are not part of it (a `#` inside an entry, as in "ssn#", is kept).
//! The files are compiled into the binary with `include_str!`, so a list cannot go missing at run
//! time, and each is parsed once, into the structure that uses it (the keyword tries in
//! `context.rs`, the town set in `location.rs`).

/// The entries of a lexicon file, in file order.
pub fn entries(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// A lexicon file compiled in, by its name under `src/pii/lexicon/`.
macro_rules! lexicon_file {
    ($name:literal) => {
        include_str!(concat!("lexicon/", $name, ".txt"))
    };
}

pub const PHONE: &str = lexicon_file!("phone");
pub const IBAN: &str = lexicon_file!("iban");
pub const CARD: &str = lexicon_file!("card");
pub const AHV: &str = lexicon_file!("ahv");
pub const VAT: &str = lexicon_file!("vat");
pub const TAX: &str = lexicon_file!("tax");
pub const NIR: &str = lexicon_file!("nir");
pub const FISCAL: &str = lexicon_file!("fiscal");
pub const NINO: &str = lexicon_file!("nino");
pub const NHS: &str = lexicon_file!("nhs");
pub const SSN: &str = lexicon_file!("ssn");
pub const IP: &str = lexicon_file!("ip");
pub const BIRTH: &str = lexicon_file!("birth");
pub const PASSPORT: &str = lexicon_file!("passport");
pub const ID_CARD: &str = lexicon_file!("id_card");
pub const NEGATIVE: &str = lexicon_file!("negative");
pub const EMAIL: &str = lexicon_file!("email");
pub const TITLES: &str = lexicon_file!("titles");
pub const GREETINGS: &str = lexicon_file!("greetings");
pub const SIGNATURES: &str = lexicon_file!("signatures");
pub const NAME_LABELS: &str = lexicon_file!("name_labels");
pub const NAME_CUES: &str = lexicon_file!("name_cues");
pub const STREET_SUFFIXES: &str = lexicon_file!("street_suffixes");
pub const STREET_WORDS: &str = lexicon_file!("street_words");
pub const STOPWORDS: &str = lexicon_file!("stopwords");
pub const GIVEN_NAMES: &str = lexicon_file!("given_names");
pub const SURNAMES: &str = lexicon_file!("surnames");
pub const TOWNS: &str = lexicon_file!("towns");

/// The GDPR art. 9 keywords, in the order of `context::SPECIAL_CATEGORIES` (file
/// `special_<category>.txt`).
pub const SPECIAL: [&str; 8] = [
    lexicon_file!("special_health"),
    lexicon_file!("special_religion"),
    lexicon_file!("special_trade_union"),
    lexicon_file!("special_political_opinion"),
    lexicon_file!("special_sexual_orientation"),
    lexicon_file!("special_ethnic_origin"),
    lexicon_file!("special_biometric"),
    lexicon_file!("special_genetic"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines_are_skipped_and_a_hash_inside_an_entry_is_kept() {
        let text = "# a comment\n\nssn#\n  social security  \n# another\r\nss#\r\n";
        assert_eq!(entries(text).collect::<Vec<_>>(), vec!["ssn#", "social security", "ss#"]);
    }

    #[test]
    fn every_file_has_entries() {
        let files = [
            PHONE,
            IBAN,
            CARD,
            AHV,
            VAT,
            TAX,
            NIR,
            FISCAL,
            NINO,
            NHS,
            SSN,
            IP,
            BIRTH,
            PASSPORT,
            ID_CARD,
            NEGATIVE,
            EMAIL,
            TITLES,
            GREETINGS,
            SIGNATURES,
            NAME_LABELS,
            NAME_CUES,
            STREET_SUFFIXES,
            STREET_WORDS,
            STOPWORDS,
            GIVEN_NAMES,
            SURNAMES,
            TOWNS,
        ];
        for text in files.iter().chain(SPECIAL.iter()) {
            assert!(entries(text).next().is_some(), "an empty lexicon file: {}", text.lines().next().unwrap_or(""));
        }
        assert!(entries(SSN).any(|e| e == "ss#"));
        assert!(entries(TOWNS).any(|e| e == "St. Gallen"));
    }
}
