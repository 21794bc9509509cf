//! Operator metrics for `GET /metrics`, in the OpenMetrics text format that Prometheus scrapes
//! (built with `prometheus-client`, the Prometheus project's own Rust client, rather than our own
//! encoder). A leaf module: the request path and the audit writer report into it; it imports
//! nothing of theirs. Labels carry names the operator configured (routes, models, providers,
//! rules, entity types) and status codes, never request content, key names or client addresses.
//!
//! One set per process ([`global`]): a gateway is one process, and a Prometheus client keeps its
//! registry for the process's life.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    model: String,
    provider: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamErrorLabels {
    provider: String,
    /// The upstream's HTTP status, or `transport` for a connection error or timeout.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    rule: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntityLabels {
    entity: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.1 ms to ~3.3 min (factor 2): gateway overhead and slow model calls alike.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 22))
}

/// Batch sizes 1 to 4,096 entries.
fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    request_seconds: Histograms<RouteOnly>,
    responses: Family<ResponseLabels, Counter>,
    upstream_seconds: Histograms<ProviderLabels>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    breaker_state: Family<ProviderLabels, Gauge>,
    decisions: Family<DecisionLabels, Counter>,
    pii_findings: Family<EntityLabels, Counter>,
    audit_append_seconds: Histogram,
    audit_batch_entries: Histogram,
    audit_unsigned_entries: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("auditgate"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            responses: Family::default(),
            upstream_seconds: Family::new_with_constructor(latency_histogram),
            upstream_errors: Family::default(),
            breaker_state: Family::default(),
            decisions: Family::default(),
            pii_findings: Family::default(),
            audit_append_seconds: latency_histogram(),
            audit_batch_entries: batch_histogram(),
            audit_unsigned_entries: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register("http_requests", "Calls to the model routes, by route and HTTP status", m.requests.clone());
        r.register(
            "http_request_duration_seconds",
            "Time from the request to the response headers (streams: to the first byte)",
            m.request_seconds.clone(),
        );
        r.register(
            "responses",
            "Response entries written, by model, provider (none: not forwarded) and status",
            m.responses.clone(),
        );
        r.register("upstream_duration_seconds", "Upstream attempts by provider", m.upstream_seconds.clone());
        r.register("upstream_errors", "Failed upstream attempts by provider and status", m.upstream_errors.clone());
        r.register("circuit_breaker_state", "Per provider: 0 closed, 1 half-open, 2 open", m.breaker_state.clone());
        r.register("policy_decisions", "Request entries by deciding rule and action", m.decisions.clone());
        r.register("pii_findings", "Personal data found in requests, by entity type", m.pii_findings.clone());
        r.register(
            "audit_append_duration_seconds",
            "Time from handing an entry to the audit writer to its durable acknowledgement",
            m.audit_append_seconds.clone(),
        );
        r.register("audit_batch_entries", "Entries per group commit", m.audit_batch_entries.clone());
        r.register(
            "audit_unsigned_entries",
            "Entries appended since the last signed checkpoint (checkpoint lag)",
            m.audit_unsigned_entries.clone(),
        );
        m
    }

    /// One call to a model route has been answered (or refused) with `status`.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        let labels = RouteLabels { route: route.to_string(), status: status.to_string() };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&RouteOnly { route: route.to_string() }).observe(took.as_secs_f64());
    }

    /// A request entry's decision and findings.
    pub fn decision(&self, rule: &str, action: &str, entities: impl IntoIterator<Item = (String, usize)>) {
        let labels = DecisionLabels { rule: rule.to_string(), action: action.to_string() };
        self.decisions.get_or_create(&labels).inc();
        for (entity, n) in entities {
            self.pii_findings.get_or_create(&EntityLabels { entity }).inc_by(n as u64);
        }
    }

    /// A response entry: which provider answered (if any) and how.
    pub fn response(&self, model: Option<&str>, provider: Option<&str>, status: u16) {
        let labels = ResponseLabels {
            model: model.unwrap_or("none").to_string(),
            provider: provider.unwrap_or("none").to_string(),
            status: status.to_string(),
        };
        self.responses.get_or_create(&labels).inc();
    }

    /// One upstream attempt; `status` None for a transport failure.
    pub fn upstream_attempt(&self, provider: &str, status: Option<u16>, took: Duration) {
        let p = ProviderLabels { provider: provider.to_string() };
        self.upstream_seconds.get_or_create(&p).observe(took.as_secs_f64());
        if status.is_none_or(|s| !(200..300).contains(&s)) {
            let status = status.map_or_else(|| "transport".to_string(), |s| s.to_string());
            self.upstream_errors.get_or_create(&UpstreamErrorLabels { provider: provider.to_string(), status }).inc();
        }
    }

    /// The breaker state of `provider`: 0 closed, 1 half-open, 2 open.
    pub fn breaker(&self, provider: &str, state: i64) {
        self.breaker_state.get_or_create(&ProviderLabels { provider: provider.to_string() }).set(state);
    }

    pub fn audit_append(&self, took: Duration) {
        self.audit_append_seconds.observe(took.as_secs_f64());
    }

    pub fn audit_batch(&self, entries: usize, unsigned: u64) {
        self.audit_batch_entries.observe(entries as f64);
        self.audit_unsigned_entries.set(unsigned as i64);
    }

    pub fn audit_unsigned(&self, unsigned: u64) {
        self.audit_unsigned_entries.set(unsigned as i64);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
