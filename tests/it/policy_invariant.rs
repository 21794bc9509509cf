//! The region invariant, as a property: with the shipped default policy, a request carrying personal
//! data never reaches an upstream outside Switzerland/EU zero-retention providers, whatever the
//! provider set does (answers, 500s, 429s, malformed bodies, broken streams, refused connections)
//! and whatever the client asks for (a `models` fallback list, `provider` order / only / ignore /
//! sort / allow_fallbacks, streaming, embeddings, the `confidential` label).
//!
//! One gateway runs in-process with eight recording fake upstreams covering every combination of
//! region and retention that matters; each generated case sets every upstream's behaviour, sends one
//! request, then checks which upstreams received a body. CI runs 10,000 cases
//! (`AUDITGATE_INVARIANT_CASES` overrides).

use crate::common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use common::{Behavior, FakeUpstream};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::OnceLock;
use tower::ServiceExt;

use auditgate::accounting::{AccountStore, NewKey, SqliteAccountStore};
use auditgate::api::{router, AppState};
use auditgate::config::Config;
use auditgate::server::build_state;

/// name, region, country, zdr, data_collection
pub(crate) const PROVIDERS: &[(&str, &str, &str, bool, bool)] = &[
    ("ch-zdr", "ch", "CH", true, false),
    ("ch-keeps", "ch", "CH", false, false),
    ("eu-zdr", "eu", "DE", true, false),
    ("eu-collects", "eu", "FR", true, true),
    ("eu-zdr-2", "eu", "IT", true, false),
    ("us-zdr", "us", "US", true, false),
    ("us-keeps", "us", "US", false, true),
    ("uk-zdr", "uk", "GB", true, false),
];

pub(crate) const MODELS: &[&str] = &["m/alpha", "m/beta", "m/gamma"];

/// Which models each provider serves (by index into MODELS), so fallbacks cross provider sets.
fn serves(provider: usize) -> Vec<usize> {
    match provider % 3 {
        0 => vec![0, 1, 2],
        1 => vec![0, 2],
        _ => vec![1, 2],
    }
}

pub(crate) struct World {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) fakes: Vec<FakeUpstream>,
    pub(crate) state: AppState,
    pub(crate) key: String,
    /// Cases mutate the shared fakes: one at a time.
    pub(crate) serial: std::sync::Mutex<()>,
    _dir: tempfile::TempDir,
}

fn config_toml(fakes: &[FakeUpstream], dir: &std::path::Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut s = format!(
        "policy_dir = {:?}\ndata_dir = {:?}\nupstream_timeout_secs = 5\n\
         [routing]\nattempt_timeout_secs = 2\nretry_base_backoff_ms = 1\nretry_max_backoff_ms = 2\n",
        format!("{root}/policies"),
        dir.join("data").display().to_string()
    );
    for (i, (name, region, country, zdr, collects)) in PROVIDERS.iter().enumerate() {
        s.push_str(&format!(
            "[[providers]]\nname = {name:?}\nkind = \"openai\"\nbase_url = {:?}\nregion = {region:?}\n\
             country = {country:?}\nzdr = {zdr}\ndata_collection = {collects}\n",
            fakes[i].base_url
        ));
        for m in serves(i) {
            s.push_str(&format!(
                "[[providers.models]]\nid = {:?}\nupstream = \"u-{}\"\nprompt = {}\ncompletion = 1.0\n",
                MODELS[m],
                m,
                1.0 + i as f64
            ));
        }
    }
    s
}

pub(crate) fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(new_world)
}

/// A gateway with its own upstreams and its own provider health, so that the circuits one test's
/// failures open do not decide another test.
pub(crate) fn new_world() -> World {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (fakes, state, key) = runtime.block_on(async {
        let mut fakes = Vec::new();
        for _ in PROVIDERS {
            fakes.push(FakeUpstream::start(Behavior::Echo).await);
        }
        let config: Config = toml::from_str(&config_toml(&fakes, dir.path())).unwrap();
        let accounts = SqliteAccountStore::open(&dir.path().join("data")).unwrap();
        let new = NewKey { name: "prop".into(), team: "qa".into(), ..Default::default() };
        let (_, key) = accounts.create_key(&new).unwrap();
        let state = build_state(config).await.expect("gateway state");
        (fakes, state, key)
    });
    World { runtime, fakes, state, key, serial: std::sync::Mutex::new(()), _dir: dir }
}

/// A request text and whether it carries personal data (ground truth of the generator).
#[derive(Debug, Clone)]
struct Text {
    text: &'static str,
    personal: bool,
}

const TEXTS: &[Text] = &[
    Text { text: "What is the standard VAT rate for consulting services in Switzerland?", personal: false },
    Text { text: "Summarise the attached policy on remote work in three bullet points.", personal: false },
    Text { text: "Bitte überweisen Sie den Betrag auf CH93 0076 2011 6238 5295 7.", personal: true },
    Text { text: "Die AHV-Nummer von Herrn Peter Müller ist 756.1234.5678.97.", personal: true },
    Text { text: "Please email the statement to anna.keller@example.ch today.", personal: true },
    Text { text: "Mme Claire Dubois habite 12 rue du Rhône, 1204 Genève.", personal: true },
    Text { text: "Il paziente Marco Rossi ha il diabete e prende insulina.", personal: true },
];

#[derive(Debug, Clone)]
struct Case {
    behaviors: Vec<u8>,
    text: usize,
    model: usize,
    fallbacks: Vec<usize>,
    prefs: Value,
    stream: bool,
    embeddings: bool,
    confidential: bool,
    image: bool,
}

fn behavior(code: u8) -> Behavior {
    match code {
        0..=3 => Behavior::Echo,
        4 => Behavior::Status(500, "{\"error\":{\"message\":\"boom\"}}".into()),
        5 => Behavior::Status(429, "{\"error\":{\"message\":\"slow down\"}}".into()),
        6 => Behavior::Status(503, "overloaded".into()),
        7 => Behavior::Malformed,
        _ => Behavior::BrokenStream,
    }
}

fn prefs_strategy() -> impl Strategy<Value = Value> {
    let names = || proptest::sample::subsequence(PROVIDERS.iter().map(|p| p.0).collect::<Vec<_>>(), 0..4);
    (
        proptest::option::of(names()),
        proptest::option::of(names()),
        proptest::option::of(names()),
        proptest::option::of(prop_oneof![Just("price"), Just("throughput"), Just("latency")]),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(order, only, ignore, sort, allow_fallbacks, zdr)| {
            let mut p = serde_json::Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    p.insert(k.into(), v);
                }
            };
            put("order", order.map(|o| json!(o)));
            put("only", only.map(|o| json!(o)));
            put("ignore", ignore.map(|o| json!(o)));
            put("sort", sort.map(|s| json!(s)));
            put("allow_fallbacks", allow_fallbacks.map(Value::Bool));
            put("zdr", zdr.map(Value::Bool));
            Value::Object(p)
        })
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(0u8..9, PROVIDERS.len()),
        0..TEXTS.len(),
        0..MODELS.len(),
        proptest::collection::vec(0..MODELS.len(), 0..3),
        prefs_strategy(),
        any::<bool>(),
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(behaviors, text, model, fallbacks, prefs, stream, embeddings, confidential, image)| Case {
            behaviors,
            text,
            model,
            fallbacks,
            prefs,
            stream,
            embeddings,
            confidential,
            image,
        })
}

fn request_body(case: &Case) -> (String, Value) {
    let text = TEXTS[case.text].text;
    let models: Vec<&str> = case.fallbacks.iter().map(|m| MODELS[*m]).collect();
    if case.embeddings {
        let body = json!({"model": MODELS[case.model], "models": models, "provider": case.prefs, "input": [text]});
        return ("/v1/embeddings".into(), body);
    }
    let content = if case.image {
        json!([{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}])
    } else {
        json!(text)
    };
    let body = json!({"model": MODELS[case.model], "models": models, "provider": case.prefs, "stream": case.stream,
                      "messages": [{"role": "user", "content": content}]});
    ("/v1/chat/completions".into(), body)
}

/// Where the default policy lets this request go.
fn allowed(case: &Case, provider: &(&str, &str, &str, bool, bool)) -> bool {
    let (_, region, _, zdr, collects) = *provider;
    let sensitive = TEXTS[case.text].personal || (case.image && !case.embeddings);
    if case.confidential {
        return region == "ch" && zdr && !collects;
    }
    if sensitive {
        return matches!(region, "ch" | "eu") && zdr && !collects;
    }
    true
}

async fn run_case(w: &World, case: &Case) -> (u16, String) {
    for (fake, code) in w.fakes.iter().zip(&case.behaviors) {
        fake.set(behavior(*code));
        fake.record.bodies.lock().unwrap().clear();
    }
    let (path, body) = request_body(case);
    let mut req = Request::post(path)
        .header("authorization", format!("Bearer {}", w.key))
        .header("content-type", "application/json");
    if case.confidential {
        req = req.header("x-data-classification", "confidential");
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let resp = router(w.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    // Drain the body (streams included) so every attempt and relay has finished.
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).chars().take(300).collect())
}

fn cases() -> u32 {
    std::env::var("AUDITGATE_INVARIANT_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn personal_data_never_leaves_its_allowed_regions(case in case_strategy()) {
        let w = world();
        let _one_at_a_time = w.serial.lock().unwrap_or_else(|e| e.into_inner());
        let (status, body) = w.runtime.block_on(run_case(w, &case));
        for (i, provider) in PROVIDERS.iter().enumerate() {
            let hits = w.fakes[i].hits();
            prop_assert!(
                hits == 0 || allowed(&case, provider),
                "{} ({}) received {} request(s) it must not: status {}, {}", provider.0, provider.1, hits, status, body
            );
        }
        prop_assert!(status != 500, "internal error: {}", body);
    }
}

/// The property would hold trivially if nothing were ever forwarded: personal data must still be
/// served, by an allowed provider, and a harmless request may go anywhere.
#[test]
fn personal_data_is_still_served_inside_its_regions() {
    let w = &new_world();
    for (text, stream) in [(2, false), (3, true), (0, false)] {
        let case = Case {
            behaviors: vec![0; PROVIDERS.len()],
            text,
            model: 0,
            fallbacks: vec![],
            prefs: json!({}),
            stream,
            embeddings: false,
            confidential: false,
            image: false,
        };
        let (status, body) = w.runtime.block_on(run_case(w, &case));
        assert_eq!(status, 200, "{body}");
        let served: Vec<&str> =
            PROVIDERS.iter().enumerate().filter(|(i, _)| w.fakes[*i].hits() > 0).map(|(_, p)| p.0).collect();
        assert_eq!(served.len(), 1, "{served:?}");
        let provider = PROVIDERS.iter().find(|p| p.0 == served[0]).unwrap();
        assert!(allowed(&case, provider), "{served:?}");
    }
}
