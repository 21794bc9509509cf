//! The activity log users download (`auditgate activity export`): one row per finished call with
//! model, provider, tokens, cost and timings, as CSV or JSON lines.

use std::io::Write;

use super::store::{AccountStore, Generation, StoreError};

/// Output formats of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

const CSV_HEADER: &str = "created_at,generation_id,key_id,model,provider_name,tokens_prompt,tokens_completion,\
total_cost,latency_ms,generation_time_ms,finish_reason,streamed,cancelled,audit_request_entry,audit_response_entry";

/// Quote a CSV field when it needs it (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_row(g: &Generation) -> String {
    let fields = [
        csv_field(&g.created_at),
        csv_field(&g.id),
        csv_field(&g.key_id),
        csv_field(&g.model),
        csv_field(g.provider_name.as_deref().unwrap_or("")),
        g.tokens_prompt.to_string(),
        g.tokens_completion.to_string(),
        format!("{:.10}", g.total_cost),
        format!("{:.3}", g.latency),
        format!("{:.3}", g.generation_time),
        csv_field(g.finish_reason.as_deref().unwrap_or("")),
        g.streamed.to_string(),
        g.cancelled.to_string(),
        g.request_entry.to_string(),
        g.response_entry.map(|e| e.to_string()).unwrap_or_default(),
    ];
    fields.join(",")
}

/// Write every call created in `[from, to)` to `out`; returns the number of rows.
pub fn export(
    store: &dyn AccountStore,
    from: &str,
    to: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<usize, ExportError> {
    let rows = store.generations_between(from, to)?;
    if format == Format::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    for g in &rows {
        match format {
            Format::Csv => writeln!(out, "{}", csv_row(g))?,
            Format::Jsonl => writeln!(out, "{}", serde_json::to_string(g).unwrap_or_default())?,
        }
    }
    Ok(rows.len())
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Accept a date (`2026-11-01`, meaning its midnight UTC) or a full RFC 3339 time.
pub fn normalize_time(input: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    if let Ok(t) = DateTime::parse_from_rfc3339(input) {
        return Some(t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Millis, true));
    }
    let day = NaiveDate::parse_from_str(input, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::SqliteAccountStore;

    fn generation(id: &str, created_at: &str) -> Generation {
        Generation {
            id: id.into(),
            key_id: "key_1".into(),
            model: "demo/echo".into(),
            provider_name: Some("demo-ch".into()),
            created_at: created_at.into(),
            tokens_prompt: 3,
            tokens_completion: 4,
            total_cost: 0.5,
            latency: 12.0,
            generation_time: 10.0,
            finish_reason: Some("stop, with \"quotes\"".into()),
            streamed: true,
            cancelled: false,
            request_entry: 7,
            response_entry: Some(8),
        }
    }

    #[test]
    fn exports_the_time_range_as_csv_and_jsonl() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccountStore::open(dir.path()).unwrap();
        store.record_generation(&generation("gen-a", "2026-11-01T10:00:00.000Z")).unwrap();
        store.record_generation(&generation("gen-b", "2026-11-02T10:00:00.000Z")).unwrap();
        let from = normalize_time("2026-11-01").unwrap();
        let to = normalize_time("2026-11-02").unwrap();
        let mut csv = Vec::new();
        assert_eq!(export(&store, &from, &to, Format::Csv, &mut csv).unwrap(), 1);
        let csv = String::from_utf8(csv).unwrap();
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("2026-11-01T10:00:00.000Z,gen-a,key_1,demo/echo,demo-ch,3,4,"));
        assert!(lines[1].contains("\"stop, with \"\"quotes\"\"\""));
        let mut jsonl = Vec::new();
        export(&store, &from, &to, Format::Jsonl, &mut jsonl).unwrap();
        let row: serde_json::Value = serde_json::from_slice(jsonl.split(|b| *b == b'\n').next().unwrap()).unwrap();
        assert_eq!(row["id"], "gen-a");
        assert_eq!(row["request_entry"], 7);
    }

    #[test]
    fn times_accept_dates_and_rfc3339() {
        assert_eq!(normalize_time("2026-11-23").unwrap(), "2026-11-23T00:00:00.000Z");
        assert_eq!(normalize_time("2026-11-23T01:02:03+01:00").unwrap(), "2026-11-23T00:02:03.000Z");
        assert!(normalize_time("yesterday").is_none());
    }
}
