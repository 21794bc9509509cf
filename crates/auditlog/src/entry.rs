//! Entry encoding: the exact bytes that are hashed are the bytes stored.
//!
//! An entry is one compact JSON object with the members in this order and no whitespace:
//! `{"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.ffffffZ","kind":"...","prev":"<64 hex>","payload":{...}}`.
//! `prev` is the leaf hash of the previous entry (all zeros for entry 0), `payload` the serialized
//! [`Record`]. Decoding borrows the payload as raw JSON, so verification never re-serializes it.

use super::merkle::Hash;
use super::record::{Record, SystemRecord};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why bytes are not a well-formed entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("not a valid entry object: {0}")]
    Json(#[from] serde_json::Error),
    #[error("prev is not 64 lowercase hex digits")]
    BadPrev,
    #[error("time {0:?} is not RFC 3339 UTC with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ)")]
    BadTime(String),
    #[error("payload type does not match kind {0:?}")]
    KindMismatch(String),
}

/// The entry's `kind` member: the record type, or the event name for system records.
pub fn kind_of(record: &Record) -> &'static str {
    match record {
        Record::Request(_) => "request",
        Record::Response(_) => "response",
        Record::System(s) => match s {
            SystemRecord::Genesis { .. } => "genesis",
            SystemRecord::GatewayStart { .. } => "gateway_start",
            SystemRecord::GatewayStop { .. } => "gateway_stop",
            SystemRecord::PolicyLoaded { .. } => "policy_loaded",
            SystemRecord::PolicyRejected { .. } => "policy_rejected",
            SystemRecord::KeyRotated { .. } => "key_rotated",
            SystemRecord::Recovered { .. } => "recovered",
            SystemRecord::Outcome { .. } => "outcome",
            SystemRecord::WitnessRefused { .. } => "witness_refused",
            SystemRecord::TimestampRefused { .. } => "timestamp_refused",
            SystemRecord::BodyStored { .. } => "body_stored",
            SystemRecord::BodyErased { .. } => "body_erased",
            SystemRecord::Access { .. } => "access",
            SystemRecord::KeyChanged { .. } => "key_changed",
        },
    }
}

/// Entry times: RFC 3339, UTC, exactly six fractional digits, so that byte order is time order.
/// (chrono's fixed RFC 3339 writer; a `format` string would be parsed again on every call.)
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Shape check for [`format_time`] output (27 bytes, digits and separators in place).
pub fn valid_time(s: &str) -> bool {
    const SHAPE: &[u8; 27] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    let b = s.as_bytes();
    b.len() == SHAPE.len()
        && b.iter().zip(SHAPE.iter()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// Encode an entry; the result is what gets hashed and stored.
pub fn encode(seq: u64, time: &str, prev: &Hash, record: &Record) -> Result<Vec<u8>, serde_json::Error> {
    // One buffer, sized for a typical entry (800-900 bytes), with the payload serialized into
    // place: no separate payload buffer growing from 128 bytes and copied afterwards.
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",\"kind\":\"");
    out.extend_from_slice(kind_of(record).as_bytes());
    out.extend_from_slice(b"\",\"prev\":\"");
    out.extend_from_slice(hex::encode(prev).as_bytes());
    out.extend_from_slice(b"\",\"payload\":");
    serde_json::to_writer(&mut out, record)?;
    out.push(b'}');
    Ok(out)
}

/// A decoded entry borrowing from its stored bytes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryView<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub kind: &'a str,
    pub prev: &'a str,
    #[serde(borrow)]
    pub payload: &'a RawValue,
}

impl EntryView<'_> {
    /// The previous entry's leaf hash named by this entry.
    pub fn prev_hash(&self) -> Result<Hash, EntryError> {
        let mut out = [0u8; 32];
        let lower = self.prev.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !lower {
            return Err(EntryError::BadPrev);
        }
        hex::decode_to_slice(self.prev, &mut out).map_err(|_| EntryError::BadPrev)?;
        Ok(out)
    }

    /// Parse the payload into a [`Record`] (only needed for system entries when verifying).
    pub fn record(&self) -> Result<Record, serde_json::Error> {
        serde_json::from_str(self.payload.get())
    }
}

/// Decode and check the shape of an entry (not its links: that is the verifier's job).
pub fn decode(bytes: &[u8]) -> Result<EntryView<'_>, EntryError> {
    let view: EntryView = serde_json::from_slice(bytes)?;
    view.prev_hash()?;
    if !valid_time(view.time) {
        return Err(EntryError::BadTime(view.time.to_string()));
    }
    if !payload_matches_kind(view.kind, view.payload.get()) {
        return Err(EntryError::KindMismatch(view.kind.to_string()));
    }
    Ok(view)
}

/// Cheap check that the payload's tag agrees with `kind` (serde writes the tags first).
fn payload_matches_kind(kind: &str, payload: &str) -> bool {
    match kind {
        "request" | "response" => {
            payload.strip_prefix("{\"type\":\"").and_then(|p| p.strip_prefix(kind)).is_some_and(|p| p.starts_with('"'))
        }
        _ => payload
            .strip_prefix("{\"type\":\"system\",\"event\":\"")
            .and_then(|p| p.strip_prefix(kind))
            .is_some_and(|p| p.starts_with('"')),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_times_have_the_documented_27_byte_form() {
        use chrono::TimeZone;
        let mut rng = rand::thread_rng();
        for _ in 0..10_000 {
            let secs = rand::Rng::gen_range(&mut rng, 0..253_402_300_799i64); // years 1970-9999
            let nanos = rand::Rng::gen_range(&mut rng, 0..1_000_000_000u32);
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            let formatted = format_time(t);
            assert_eq!(formatted, t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            assert!(valid_time(&formatted), "{formatted}");
        }
        assert_eq!(format_time(Utc.timestamp_opt(0, 999).unwrap()), "1970-01-01T00:00:00.000000Z");
    }

    use super::*;
    use crate::record::RequestRecord;

    #[test]
    fn encode_is_compact_ordered_and_round_trips() {
        let rec = Record::Request(RequestRecord { key_id: "k1".into(), ..Default::default() });
        let time = "2026-11-23T11:00:00.000001Z";
        let bytes = encode(7, time, &[0xab; 32], &rec).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with(&format!(
            "{{\"seq\":7,\"time\":\"{time}\",\"kind\":\"request\",\"prev\":\"{}\",\"payload\":{{\"type\":\"request\",",
            "ab".repeat(32)
        )));
        let view = decode(&bytes).unwrap();
        assert_eq!(view.seq, 7);
        assert_eq!(view.prev_hash().unwrap(), [0xab; 32]);
        assert_eq!(view.record().unwrap(), rec);
    }

    #[test]
    fn system_kinds_match_payload() {
        let rec = Record::System(SystemRecord::GatewayStop { reason: "x".into() });
        let bytes = encode(1, "2026-11-23T11:00:00.000001Z", &[0; 32], &rec).unwrap();
        assert_eq!(decode(&bytes).unwrap().kind, "gateway_stop");
        let forged = String::from_utf8(bytes).unwrap().replace("\"kind\":\"gateway_stop\"", "\"kind\":\"genesis\"");
        assert!(matches!(decode(forged.as_bytes()), Err(EntryError::KindMismatch(_))));
    }

    #[test]
    fn time_format_is_fixed_width() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        assert_eq!(format_time(t), "2026-01-02T03:04:05.000000Z");
        assert!(valid_time("2026-01-02T03:04:05.000000Z"));
        assert!(!valid_time("2026-01-02T03:04:05Z"));
        assert!(!valid_time("2026-01-02T03:04:05.000000+01:00"));
    }

    #[test]
    fn rejects_unknown_members_and_bad_prev() {
        let bad = br#"{"seq":1,"time":"2026-01-02T03:04:05.000000Z","kind":"request","prev":"00","payload":{"type":"request"}}"#;
        assert!(matches!(decode(bad), Err(EntryError::BadPrev)));
        let extra = br#"{"seq":1,"x":1}"#;
        assert!(decode(extra).is_err());
    }
}
