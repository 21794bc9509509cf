//! `GET /metrics`: the Prometheus text exposition, read back with a Prometheus text parser
//! (`prometheus-parse`) and checked against the calls made and the audit log they wrote.

use crate::common::*;
use crate::pii_gateway::IBAN;
use prometheus_parse::{Sample, Scrape, Value as PromValue};

async fn scrape(gw: &Gateway) -> (String, Scrape) {
    let response = gw.client().get(format!("{}/metrics", gw.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format");
    (text, scrape)
}

fn value(s: &Sample) -> f64 {
    match &s.value {
        PromValue::Counter(v) | PromValue::Gauge(v) | PromValue::Untyped(v) => *v,
        PromValue::Histogram(_) | PromValue::Summary(_) => panic!("{} is not a number", s.metric),
    }
}

/// The sum over the samples of `metric` whose labels include every pair of `labels`.
fn sum(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(value)
        .sum()
}

fn request_entries(gw: &Gateway) -> f64 {
    let db = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    db.query_row("SELECT count(*) FROM entries WHERE kind = 'request'", [], |r| r.get::<_, i64>(0)).unwrap() as f64
}

#[tokio::test]
async fn metrics_count_calls_decisions_findings_upstream_errors_and_audit_appends() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    let plain = user("Summarise the quarterly report.");
    let personal = user(&format!("Bitte überweisen auf {IBAN}."));
    for body in [&plain, &personal, &plain] {
        let (status, _, answer) = gw.chat(body.clone()).await;
        assert_eq!(status, 200, "{answer}");
    }
    fake.set(Behavior::Status(500, r#"{"error":{"message":"down"}}"#.into()));
    let (status, _, _) = gw.chat(plain.clone()).await;
    assert!(status >= 500, "{status}");

    let (text, scrape) = scrape(&gw).await;
    let chat = [("route", "/v1/chat/completions")];
    assert_eq!(sum(&scrape, "auditgate_http_requests_total", &[chat[0], ("status", "200")]), 3.0, "{text}");
    assert_eq!(sum(&scrape, "auditgate_http_requests_total", &chat), 4.0, "{text}");
    // Every request entry in the log is one decision, labelled with its rule.
    let decisions = sum(&scrape, "auditgate_policy_decisions_total", &[]);
    assert_eq!(decisions, request_entries(&gw), "{text}");
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "auditgate_policy_decisions_total"
                && s.labels.get("rule").is_some_and(|r| !r.is_empty()))
    );
    assert_eq!(sum(&scrape, "auditgate_pii_findings_total", &[("entity", "IBAN_CODE")]), 1.0, "{text}");
    assert_eq!(sum(&scrape, "auditgate_responses_total", &[("provider", "fake-eu"), ("status", "200")]), 3.0, "{text}");
    assert!(sum(&scrape, "auditgate_upstream_errors_total", &[("provider", "fake-eu"), ("status", "500")]) >= 1.0);
    assert_eq!(sum(&scrape, "auditgate_upstream_duration_seconds_count", &[("provider", "fake-eu")]), {
        let attempts = sum(&scrape, "auditgate_upstream_errors_total", &[("provider", "fake-eu")]);
        3.0 + attempts
    });
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "auditgate_circuit_breaker_state" && s.labels.get("provider") == Some("fake-eu")));
    // Two durable appends per forwarded call at least (request and response entries).
    assert!(sum(&scrape, "auditgate_audit_append_duration_seconds_count", &[]) >= 8.0, "{text}");
    assert!(sum(&scrape, "auditgate_audit_batch_entries_count", &[]) >= 1.0, "{text}");
    assert!(scrape.samples.iter().any(|s| s.metric == "auditgate_audit_unsigned_entries"));
    // The request entries name the route the calls came in on.
    let db = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let bytes: Vec<u8> =
        db.query_row("SELECT bytes FROM entries WHERE kind = 'request' LIMIT 1", [], |r| r.get(0)).unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(entry["payload"]["route"], "/v1/chat/completions", "{entry}");
    // Names and numbers only: no request content, no key.
    for secret in ["6238", "überweisen", "quarterly", gw.key.as_str()] {
        assert!(!text.contains(secret), "{secret:?} in /metrics");
    }
}
