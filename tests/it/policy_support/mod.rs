//! Shared helpers for the policy integration tests: a keyword classifier standing in for the real
//! PII scanner (which is developed in parallel), and the gateway's two demo provider profiles.

#![allow(dead_code)]

use auditgate::offer::ProviderProfile;
use auditgate::pii::{Classification, Finding, Level};

/// (needle, entity type, level). Crude on purpose: it only has to recognise the test sentences.
const KEYWORDS: &[(&str, &str, Level)] = &[
    ("@", "EMAIL_ADDRESS", Level::Personal),
    ("CH93", "IBAN_CODE", Level::Personal),
    ("DE89", "IBAN_CODE", Level::Personal),
    ("756.", "CH_AHV", Level::Sensitive),
    ("Hans Muster", "PERSON", Level::Personal),
    ("Anna Keller", "PERSON", Level::Personal),
];

/// Words that flag a special category (health).
const SPECIAL: &[&str] = &["diabetes", "diagnos", "depression", "HIV"];

pub fn keyword_classifier(text: &str) -> Classification {
    let mut c = Classification::default();
    for (needle, entity, level) in KEYWORDS {
        if let Some(start) = text.find(needle) {
            c.findings.push(Finding {
                entity_type: entity.to_string(),
                path: String::new(),
                start,
                end: start + needle.len(),
                score: 0.9,
                validated: true,
                text: needle.to_string(),
            });
            c.level = c.level.max(*level);
        }
    }
    if SPECIAL.iter().any(|w| text.contains(w)) {
        c.special_categories.push("health".into());
        c.level = Level::Special;
    }
    c
}

pub fn profile(name: &str, region: &str, country: &str, zdr: bool) -> ProviderProfile {
    ProviderProfile { name: name.into(), region: region.into(), country: country.into(), zdr, data_collection: false }
}

/// The gateway's built-in demo upstreams.
pub fn demo_providers() -> Vec<ProviderProfile> {
    vec![profile("demo-ch", "ch", "CH", true), profile("demo-us", "us", "US", false)]
}

pub fn repo_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
