//! `auditgate pii scan [--json]` and `auditgate pii redact` for officers and scripts.
//!
//! `scan --json` prints exactly one JSON array, as fixed in contracts.md:
//! `[{"entity_type": "IBAN_CODE", "start": 12, "end": 38, "score": 0.95, "text": "..."}]`
//! with char offsets (Python str indices). Without `--json` a readable table is printed.
//! Exit codes: 0 success, 2 usage or input error (unreadable or non-UTF-8 stdin, bad JSON).

use super::redact::{redact_chat, redact_embeddings, redact_text, Operator, Pseudonyms};
use super::{classify_chat, classify_embeddings, classify_text, ENTITY_TYPES};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};

/// The `pii` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PiiCommand {
    /// Scan UTF-8 text from stdin and list the personal data found.
    Scan {
        /// Print one JSON array of {entity_type, start, end, score, text}.
        #[arg(long)]
        json: bool,
    },
    /// Redact stdin: a chat or embeddings request body (JSON with `messages` or `input`) is
    /// redacted in place and printed as JSON; anything else is treated as plain text.
    Redact {
        /// replace (<IBAN_CODE>), mask (****), hash (<IBAN_CODE:3f9a..>) or pseudonymize (<PERSON_1>).
        #[arg(long, value_enum, default_value_t = Operator::Replace)]
        operator: Operator,
        /// Entity types to redact, comma separated (default: all).
        #[arg(long, value_delimiter = ',')]
        entities: Vec<String>,
    },
}

/// Typed errors of the command line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read stdin: {0}")]
    Read(#[from] std::io::Error),
    #[error("stdin is not valid UTF-8")]
    Utf8,
    #[error("unknown entity type {0:?} (known: {1})")]
    UnknownEntity(String, String),
    #[error("cannot encode output: {0}")]
    Json(#[from] serde_json::Error),
}

fn read_stdin() -> Result<String, CliError> {
    // Sized from the input file when stdin is one: growing the buffer by doubling copied and
    // page-faulted in ~3 MB for a 1 MiB input (~30 % of a prose scan's page faults, perf 2026-12-04).
    let size = std::fs::metadata("/dev/stdin").ok().filter(std::fs::Metadata::is_file).map_or(0, |m| m.len());
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    std::io::stdin().read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|_| CliError::Utf8)
}

/// Run a `pii` subcommand; returns the process exit code.
pub fn pii_main(cmd: PiiCommand) -> i32 {
    let result = match cmd {
        PiiCommand::Scan { json } => read_stdin().and_then(|t| scan_output(&t, json)),
        PiiCommand::Redact { operator, entities } => read_stdin().and_then(|t| redact_output(&t, operator, &entities)),
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a non-zero exit.
            let _ = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush());
            0
        }
        Err(e) => {
            eprintln!("auditgate pii: {e}");
            2
        }
    }
}

/// Scores as two-decimal f64, so that JSON shows `0.95` and not the f32 widening `0.949999988`.
fn score(s: f32) -> f64 {
    (f64::from(s) * 100.0).round() / 100.0
}

/// The output of `pii scan` for a text.
pub fn scan_output(text: &str, as_json: bool) -> Result<String, CliError> {
    let cls = classify_text(text);
    if as_json {
        // Serialised straight from borrowed fields: building a `Value` map per finding was ~8 % of
        // `pii scan --json` on PII-dense text (perf, 2026-12-03).
        #[derive(serde::Serialize)]
        struct Item<'a> {
            entity_type: &'a str,
            start: usize,
            end: usize,
            score: f64,
            text: &'a str,
        }
        let items: Vec<Item<'_>> = cls
            .findings
            .iter()
            .map(|f| Item {
                entity_type: &f.entity_type,
                start: f.start,
                end: f.end,
                score: score(f.score),
                text: &f.text,
            })
            .collect();
        return Ok(serde_json::to_string(&items)? + "\n");
    }
    let mut out = String::new();
    out.push_str(&format!("{:<16} {:>7} {:>7} {:>5}  {:<9} TEXT\n", "ENTITY", "START", "END", "SCORE", "VALIDATED"));
    for f in &cls.findings {
        let shown = f.text.replace('\n', "\\n");
        out.push_str(&format!(
            "{:<16} {:>7} {:>7} {:>5.2}  {:<9} {}\n",
            f.entity_type,
            f.start,
            f.end,
            f.score,
            if f.validated { "yes" } else { "no" },
            shown
        ));
    }
    out.push_str(&format!("{} finding(s); level: {}", cls.findings.len(), cls.level.as_str()));
    if !cls.special_categories.is_empty() {
        out.push_str(&format!("; special categories: {}", cls.special_categories.join(", ")));
    }
    out.push('\n');
    Ok(out)
}

/// The output of `pii redact` for an input.
pub fn redact_output(input: &str, op: Operator, entities: &[String]) -> Result<String, CliError> {
    let set: BTreeSet<String> = entities.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    if let Some(bad) = set.iter().find(|e| !ENTITY_TYPES.contains(&e.as_str())) {
        return Err(CliError::UnknownEntity(bad.clone(), ENTITY_TYPES.join(", ")));
    }
    let (out, pseudonyms) = match serde_json::from_str::<Value>(input) {
        Ok(mut body) if body.get("messages").is_some() => {
            let cls = classify_chat(&body);
            let p = redact_chat(&mut body, &cls, &set, op);
            (serde_json::to_string_pretty(&body)? + "\n", p)
        }
        Ok(mut body) if body.get("input").is_some() => {
            let cls = classify_embeddings(&body);
            let p = redact_embeddings(&mut body, &cls, &set, op);
            (serde_json::to_string_pretty(&body)? + "\n", p)
        }
        _ => {
            let cls = classify_text(input);
            let mut p = Pseudonyms::default();
            (redact_text(input, &cls.findings, &set, op, &mut p), p)
        }
    };
    if !pseudonyms.is_empty() {
        // The mapping goes to stderr so stdout stays the redacted document.
        eprintln!("{}", serde_json::to_string_pretty(&pseudonyms.mapping())?);
    }
    Ok(out)
}
