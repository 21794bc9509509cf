//! Audit log benchmarks (criterion): durable appends with 32 concurrent writers, append latency
//! at low load (p50/p99 printed after the criterion runs), verification speed, and the cost of
//! opening a large log (the writer verifies before it signs).
//! Logs are written under `target/audit-bench` (the real disk, so every fsync is real).

use auditgate::audit::{verify_log, AuditLog, AuditOptions, PiiSummary, Record, RequestRecord, VerifyLogArgs};
use criterion::{criterion_group, Criterion, Throughput};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn bench_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/audit-bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// A request record of realistic size (~700 bytes encoded). Denied, so it needs no response entry:
/// otherwise the shutdown would append an outcome entry for each one.
fn record(i: u64) -> Record {
    let mut entities = std::collections::BTreeMap::new();
    entities.insert("EMAIL_ADDRESS".to_string(), 1);
    entities.insert("CH_AHV".to_string(), 2);
    Record::Request(RequestRecord {
        generation_id: format!("gen-{i:016x}"),
        endpoint: "/v1/chat/completions".into(),
        key_id: "key_7f3a9c".into(),
        key_name: "accounting-team".into(),
        team: "fiduciary".into(),
        client_addr: "10.0.0.12:53211".into(),
        models: vec!["demo/echo".into(), "openai/gpt-4o-mini".into()],
        stream: i.is_multiple_of(2),
        policy_version: "9f2c1e0b7d6a5f4e3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0918273645".into(),
        policy_rule: "ch-personal-data-stays-in-ch".into(),
        decision: "deny".into(),
        pii: PiiSummary {
            level: "personal".into(),
            entities,
            paths: vec!["messages[0].content".into(), "messages[2].content".into()],
            unscannable: vec![],
            special_categories: vec![],
        },
        candidates: vec!["demo-ch@ch".into()],
        provider: Some("demo-ch".into()),
        region: Some("ch".into()),
        body_sha256: format!("{:064x}", i),
        upstream_body_sha256: Some(format!("{:064x}", i + 1)),
        cost_ceiling: None,
        excluded: Vec::new(),
        preset: None,
        route: Some("/v1/chat/completions".into()),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// 32 tasks append concurrently; each iteration is 32 x 64 durable appends.
fn concurrent_appends(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir("concurrent");
    let log = AuditLog::open(&dir, AuditOptions::default()).expect("open");
    let mut g = c.benchmark_group("audit_append");
    g.throughput(Throughput::Elements(32 * 64));
    g.sample_size(20);
    g.bench_function("32_writers_durable", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..32u64)
                        .map(|t| {
                            let log = log.clone();
                            tokio::spawn(async move {
                                for i in 0..64 {
                                    log.append(record(t * 64 + i)).await.expect("append");
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("task");
                    }
                });
            }
            start.elapsed()
        })
    });
    g.finish();
    rt.block_on(log.shutdown()).expect("shutdown");
}

/// One writer at a time: the cost an append adds to a request at low load.
fn single_append(c: &mut Criterion) {
    let rt = runtime();
    let dir = bench_dir("single");
    let log = AuditLog::open(&dir, AuditOptions::default()).expect("open");
    let mut g = c.benchmark_group("audit_append");
    g.sample_size(50);
    g.bench_function("single_writer_durable", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            rt.block_on(log.append(record(i))).expect("append")
        })
    });
    g.finish();
    rt.block_on(log.shutdown()).expect("shutdown");
}

/// verify-log over a 200,000-entry log.
fn verification(c: &mut Criterion) {
    const N: u64 = 200_000;
    let rt = runtime();
    let dir = bench_dir("verify");
    rt.block_on(async {
        let log = AuditLog::open(&dir, AuditOptions::default()).expect("open");
        let tasks: Vec<_> = (0..32u64)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..N / 32 {
                        log.append(record(t * N + i)).await.expect("append");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        log.shutdown().await.expect("shutdown");
    });
    let args =
        VerifyLogArgs { data_dir: Some(dir.clone()), public_key: Some(dir.join("signing.pub")), ..Default::default() };
    let mut g = c.benchmark_group("verify_log");
    g.throughput(Throughput::Elements(N + 2));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("200k_entries", |b| {
        b.iter(|| {
            let report = verify_log(&args).expect("verify");
            assert!(report.ok, "{:?}", report.failure);
        })
    });
    g.finish();
    reopening(c, &rt, &dir);
}

/// Opening the 200,000-entry log and closing it again: what a gateway start costs. `warm` keeps
/// the writer's verified-state record, so only the entries since the last start are re-read;
/// `cold` removes it first, so the writer re-verifies the whole log before it signs anything.
fn reopening(c: &mut Criterion, rt: &tokio::runtime::Runtime, dir: &std::path::Path) {
    let mut g = c.benchmark_group("audit_open");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    for (name, cold) in [("warm_200k", false), ("cold_200k", true)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                if cold {
                    let _ = std::fs::remove_file(dir.join("verified-state"));
                }
                let log = AuditLog::open(dir, AuditOptions::default()).expect("open");
                rt.block_on(log.shutdown()).expect("shutdown");
            })
        });
    }
    g.finish();
}

/// Latency percentiles at low load: sequential appends, one every 2 ms.
fn latency_percentiles() {
    let rt = runtime();
    let dir = bench_dir("latency");
    let log = AuditLog::open(&dir, AuditOptions::default()).expect("open");
    let mut samples: Vec<Duration> = (0..2000u64)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(2));
            let start = Instant::now();
            rt.block_on(log.append(record(i))).expect("append");
            start.elapsed()
        })
        .collect();
    rt.block_on(log.shutdown()).expect("shutdown");
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "audit_append/low_load_latency: n={} p50={:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        samples[samples.len() - 1]
    );
}

criterion_group!(benches, concurrent_appends, single_append, verification);

fn main() {
    benches();
    latency_percentiles();
    Criterion::default().configure_from_args().final_summary();
}
