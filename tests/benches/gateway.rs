//! Criterion micro-benchmarks of the per-request hot pieces of the gateway that the audit and
//! routing benches do not cover: parsing a typical 2 KB chat body, the policy decision with the
//! shipped default policy, serializing the upstream body, stamping the upstream's answer, and the
//! SSE relay's per-chunk work.
//! Figures go to docs/performance.md (`## Gateway hot path`).

use auditgate::api::bench::{
    parse_object, stamp_chunk_raw, stamp_value, upstream_body, RawAnswer, SseEvent, SseParser, Stamp,
};
use auditgate::offer::Price;
use auditgate::pii::Level;
use auditgate::policy::{Policy, RequestFacts};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::Value;
use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;

/// The load benchmark's request: a 2,048-byte chat body with a system prompt and three turns.
fn request_bytes() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/load/request.json");
    let text = std::fs::read_to_string(path).expect("tests/load/request.json");
    text.replace("\"MODEL\"", "\"bench/json\"").into_bytes()
}

/// One typical streamed chunk as an OpenAI-compatible upstream sends it.
const CHUNK: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1763900000,\
\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"consulting \"},\"finish_reason\":null}]}\n\n";

fn bench_parse(c: &mut Criterion) {
    let body = request_bytes();
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse_2kb_chat_body", |b| b.iter(|| parse_object(black_box(&body))));
    let template = match parse_object(&body) {
        Ok(Value::Object(mut obj)) => {
            obj.remove("model");
            Value::Object(obj)
        }
        _ => panic!("the benchmark body must parse"),
    };
    g.bench_function("upstream_body_serialize", |b| {
        b.iter(|| upstream_body(black_box(&template), "gpt-4o-mini", false))
    });
    g.bench_function("upstream_body_serialize_stream", |b| {
        b.iter(|| upstream_body(black_box(&template), "gpt-4o-mini", true))
    });
    g.finish();
}

/// The gateway's fields written into the load benchmark's canned answer: as a tree (parse, set,
/// serialize; pseudonyms and Anthropic clients) and split into raw members (everything else).
fn bench_answer(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/load/completion.json");
    let answer = bytes::Bytes::from(std::fs::read(path).expect("tests/load/completion.json"));
    let stamp = Stamp { id: "gen-01a20a1e392c7f4b936c893f280bd94e", model: "bench/json", provider: "bench-json" };
    let price = Price { prompt_per_mtok: 0.15, completion_per_mtok: 0.6, cached_prompt_per_mtok: None };
    let mut g = c.benchmark_group("answer");
    g.throughput(Throughput::Bytes(answer.len() as u64));
    g.bench_function("stamp_as_tree", |b| {
        b.iter(|| {
            let mut json: Value = serde_json::from_slice(black_box(&answer)).unwrap();
            let facts = stamp_value(&mut json, &stamp, &price);
            let mut out = Vec::with_capacity(1024);
            serde_json::to_writer(&mut out, &json).unwrap();
            (out, facts)
        })
    });
    g.bench_function("stamp_raw_members", |b| {
        b.iter(|| RawAnswer::parse(black_box(answer.clone())).map(|raw| raw.stamp(&stamp, &price)))
    });
    g.finish();
}

fn facts(level: Level, entities: &[&str], label: Option<&str>) -> RequestFacts {
    RequestFacts {
        key_name: "bench".into(),
        team: "default".into(),
        model: "bench/json".into(),
        level,
        entity_types: entities.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(),
        client_label: label.map(str::to_string),
        stream: false,
        endpoint: "chat".into(),
        has_unscannable: false,
    }
}

fn bench_policy(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let policy = Policy::load_dir(&dir).unwrap_or_else(|e| panic!("shipped policy must load: {e:?}"));
    let mut g = c.benchmark_group("policy");
    // The common case falls through every rule to the last one ("no personal data").
    let none = facts(Level::None, &[], None);
    g.bench_function("decide_default_no_pii", |b| b.iter(|| policy.decide(black_box(&none))));
    let personal = facts(Level::Personal, &["IBAN_CODE", "PERSON"], None);
    g.bench_function("decide_default_personal", |b| b.iter(|| policy.decide(black_box(&personal))));
    let special = facts(Level::Special, &["HEALTH", "PERSON"], Some("confidential"));
    g.bench_function("decide_default_special_first_rule", |b| b.iter(|| policy.decide(black_box(&special))));
    g.finish();
}

/// What the relay does per upstream chunk: split the SSE event off the byte stream, parse its
/// JSON, stamp id/model/provider, re-serialize and frame it. The parser is the gateway's own;
/// the JSON step mirrors `Relay::emit` (private) for a chunk without pseudonyms.
fn bench_sse(c: &mut Criterion) {
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_one_chunk", |b| {
        b.iter_batched_ref(
            SseParser::default,
            |p| {
                p.push(black_box(CHUNK.as_bytes()));
                black_box(p.next_event())
            },
            BatchSize::SmallInput,
        )
    });
    // The tree way, which the relay still takes for pseudonyms and Anthropic clients.
    g.bench_function("relay_one_chunk", |b| {
        b.iter_batched_ref(
            SseParser::default,
            |p| {
                p.push(black_box(CHUNK.as_bytes()));
                let Some(SseEvent::Data(data)) = p.next_event() else { return None };
                let mut chunk: Value = serde_json::from_str(&data).ok()?;
                chunk["id"] = Value::String("gen-0123456789abcdef0123456789abcdef".into());
                chunk["model"] = Value::String("bench/sse".into());
                chunk["provider"] = Value::String("bench-sse".into());
                let text = chunk.to_string();
                let mut out = String::with_capacity(text.len() + 8);
                out.push_str("data: ");
                out.push_str(&text);
                out.push_str("\n\n");
                Some(bytes::Bytes::from(out))
            },
            BatchSize::SmallInput,
        )
    });
    // What the relay does now for an OpenAI client with nothing to restore (`stamp_chunk_raw`).
    let stamp = Stamp { id: "gen-0123456789abcdef0123456789abcdef", model: "bench/sse", provider: "bench-sse" };
    let price = Price { prompt_per_mtok: 0.15, completion_per_mtok: 0.6, cached_prompt_per_mtok: None };
    g.bench_function("relay_one_chunk_raw", |b| {
        b.iter_batched_ref(
            SseParser::default,
            |p| {
                p.push(black_box(CHUNK.as_bytes()));
                let Some(SseEvent::Data(data)) = p.next_event() else { return None };
                stamp_chunk_raw(&data, &stamp, &price, false).map(|(frame, _)| bytes::Bytes::from(frame))
            },
            BatchSize::SmallInput,
        )
    });
    // 64 chunks arriving in one read (a fast upstream): the parser must stay linear.
    let burst: Vec<u8> = CHUNK.repeat(64).into_bytes();
    g.throughput(Throughput::Elements(64));
    g.bench_function("parse_64_chunk_burst", |b| {
        b.iter_batched_ref(
            SseParser::default,
            |p| {
                p.push(black_box(&burst));
                let mut n = 0;
                while p.next_event().is_some() {
                    n += 1;
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Authentication of a cached key: the secret hashed, the key epoch read from `gateway.db` (what
/// makes a key change count from the next request), the cache hit.
fn bench_auth(c: &mut Criterion) {
    use auditgate::accounting::{AccountStore, NewKey, SqliteAccountStore};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = std::sync::Arc::new(SqliteAccountStore::open(dir.path()).expect("store"));
    let new = NewKey { name: "bench".into(), team: "bench".into(), ..NewKey::default() };
    let (_, secret) = store.create_key(&new).expect("key");
    let cache = auditgate::api::KeyCache::new(store);
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {secret}").parse().expect("header"));
    cache.authenticate(&headers).expect("authenticates");
    let mut g = c.benchmark_group("auth");
    g.bench_function("cached_key_with_epoch_check", |b| b.iter(|| cache.authenticate(black_box(&headers))));
    g.finish();
}

criterion_group!(benches, bench_parse, bench_answer, bench_policy, bench_sse, bench_auth);
criterion_main!(benches);
