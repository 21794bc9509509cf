//! The region invariant for text written the way real documents and evasive clients write it,
//! and for every field of the body: a generated personal value (a valid IBAN, AHV number, card,
//! e-mail address, phone number or name) in a random disguise (no-break, narrow or thin spaces,
//! dashes or dots between groups, zero-width characters and soft hyphens inside, full-width
//! forms, Arabic-Indic or Devanagari digits, Cyrillic look-alike capitals, lower case) is put in
//! a random place (message text, text parts, tool and schema descriptions, enums, examples,
//! defaults, `response_format`, `prediction`, `stop`, `metadata` values and keys, unknown keys,
//! tool-call arguments, split across two parts or two messages; Anthropic `system`, tool
//! schemas and tool results; embeddings inputs). Each case asserts that the request is not
//! classified `none`, and that no upstream outside the allowed regions received a body, whatever
//! the upstreams do and whatever routing the client asks for.
//!
//! The second property is the other half: benign text with the same Unicode habits (amounts with
//! no-break thousands separators, article numbers, versions, product codes) is still `none`, so
//! it may be served anywhere.
//!
//! CI runs 10,000 disguised cases (`AUDITGATE_DISGUISE_CASES` overrides).

use crate::policy_invariant::{new_world, World, MODELS, PROVIDERS};
use std::sync::OnceLock;

use auditgate::pii::{classify_chat, classify_embeddings, Level};
use auditgate::providers::anthropic::messages_to_openai;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

/// A personal value as groups of characters and the separator it is normally written with.
#[derive(Debug, Clone)]
struct Value_ {
    groups: Vec<String>,
    sep: &'static str,
    /// Separators it may also be written with.
    seps: &'static [&'static str],
    /// The cue written before it (not disguised): a name needs its title.
    prefix: &'static str,
}

const SPACES: &[&str] = &[" ", "\u{a0}", "\u{202f}", "\u{2009}"];
const NUMBER_SEPS: &[&str] = &[" ", "\u{a0}", "\u{202f}", "\u{2009}", "-", ".", "\u{2011}", ""];

fn digits(rng: &mut impl FnMut(u32) -> u32, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng(10) as u8)).collect()
}

fn mod97(s: &str) -> u32 {
    s.chars().fold(0u32, |acc, c| {
        let v = c.to_digit(36).unwrap_or(0);
        if v >= 10 {
            (acc * 100 + v) % 97
        } else {
            (acc * 10 + v) % 97
        }
    })
}

fn iban(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let bban = digits(rng, 17);
    let check = 98 - mod97(&format!("{bban}CH00"));
    let compact = format!("CH{check:02}{bban}");
    let groups = compact.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    Value_ { groups, sep: " ", seps: NUMBER_SEPS, prefix: "" }
}

fn ahv(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let body = format!("756{}", digits(rng, 9));
    let sum: u32 =
        body.chars().enumerate().map(|(i, c)| c.to_digit(10).unwrap_or(0) * if i % 2 == 0 { 1 } else { 3 }).sum();
    let full = format!("{body}{}", (10 - sum % 10) % 10);
    let groups = vec![full[..3].to_string(), full[3..7].to_string(), full[7..11].to_string(), full[11..].to_string()];
    Value_ { groups, sep: ".", seps: NUMBER_SEPS, prefix: "" }
}

fn card(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let body = format!("4{}", digits(rng, 14));
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap_or(0);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    let full = format!("{body}{}", (10 - sum % 10) % 10);
    let groups = full.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    Value_ { groups, sep: " ", seps: &[" ", "\u{a0}", "\u{202f}", "\u{2009}", "-", ".", ""], prefix: "" }
}

const FIRST: &[&str] = &["Peter", "Anna", "Claire", "Marco", "Sandra", "Reto", "Laura", "Thomas"];
const LAST: &[&str] = &["Müller", "Keller", "Dubois", "Rossi", "Meier", "Brändli", "Schmid", "Weber"];

fn email(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let (f, l) = (FIRST[rng(8) as usize].to_lowercase(), LAST[rng(8) as usize].to_lowercase().replace(['ü', 'ä'], "u"));
    Value_ { groups: vec![format!("{f}.{l}@example.ch")], sep: "", seps: &[""], prefix: "" }
}

fn phone(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let groups = vec!["+41".into(), format!("7{}", rng(10)), digits(rng, 3), digits(rng, 2), digits(rng, 2)];
    Value_ { groups, sep: " ", seps: SPACES, prefix: "Tel. " }
}

fn name(rng: &mut impl FnMut(u32) -> u32) -> Value_ {
    let groups = vec![FIRST[rng(8) as usize].to_string(), LAST[rng(8) as usize].to_string()];
    Value_ { groups, sep: " ", seps: SPACES, prefix: "Herr " }
}

/// Look-alike capitals from Cyrillic and Greek.
fn look_alike(c: char) -> Option<char> {
    Some(match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        'a' => 'а',
        'e' => 'е',
        'o' => 'о',
        'p' => 'р',
        'c' => 'с',
        _ => return None,
    })
}

/// Write the value in one disguise.
fn disguise(v: &Value_, kind: u32, sep_pick: u32, pos: u32, rng: &mut impl FnMut(u32) -> u32) -> String {
    let sep = if sep_pick == 0 { v.sep } else { v.seps[sep_pick as usize % v.seps.len()] };
    let plain = v.groups.join(sep);
    let mapped: String = match kind {
        // full-width letters, digits and @ .
        0 => plain
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
                _ => c,
            })
            .collect(),
        1 => plain.chars().map(|c| c.to_digit(10).map_or(c, |d| char::from_u32(0x0660 + d).unwrap_or(c))).collect(),
        2 => plain.chars().map(|c| c.to_digit(10).map_or(c, |d| char::from_u32(0x0966 + d).unwrap_or(c))).collect(),
        3 => plain.chars().map(|c| look_alike(c).unwrap_or(c)).collect(),
        4 if v.prefix.is_empty() => plain.to_lowercase(),
        _ => plain,
    };
    // Zero-width characters, soft hyphens, word joiners, bidi marks inside (kinds 5 and up).
    let mut chars: Vec<char> = mapped.chars().collect();
    if kind >= 5 && chars.len() > 2 {
        const INVISIBLE: &[char] = &['\u{200b}', '\u{ad}', '\u{200d}', '\u{feff}', '\u{2060}', '\u{200e}'];
        for _ in 0..=(kind - 5) {
            let at = 1 + (pos + rng(1000)) as usize % (chars.len() - 1);
            chars.insert(at, INVISIBLE[rng(INVISIBLE.len() as u32) as usize]);
        }
    }
    format!("{}{}", v.prefix, chars.into_iter().collect::<String>())
}

#[derive(Debug, Clone)]
struct Case {
    entity: u32,
    disguise: u32,
    sep: u32,
    pos: u32,
    place: u32,
    seed: u64,
    behaviors: Vec<u8>,
    model: usize,
    sort: Option<&'static str>,
    only_us: bool,
    stream: bool,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        (0u32..6, 0u32..9, 0u32..8, 0u32..64, 0u32..PLACES),
        any::<u64>(),
        proptest::collection::vec(0u8..9, PROVIDERS.len()),
        0..MODELS.len(),
        proptest::option::of(prop_oneof![Just("price"), Just("throughput"), Just("latency")]),
        proptest::bool::weighted(0.3),
        any::<bool>(),
    )
        .prop_map(|((entity, disguise, sep, pos, place), seed, behaviors, model, sort, only_us, stream)| Case {
            entity,
            disguise,
            sep,
            pos,
            place,
            seed,
            behaviors,
            model,
            sort,
            only_us,
            stream,
        })
}

/// A small deterministic generator from the case's seed (proptest shrinks the seed).
fn rng_from(seed: u64) -> impl FnMut(u32) -> u32 {
    let mut state = seed | 1;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % u64::from(n.max(1))) as u32
    }
}

fn value_text(case: &Case) -> String {
    let mut rng = rng_from(case.seed);
    let v = match case.entity {
        0 => iban(&mut rng),
        1 => ahv(&mut rng),
        2 => card(&mut rng),
        3 => email(&mut rng),
        4 => phone(&mut rng),
        _ => name(&mut rng),
    };
    disguise(&v, case.disguise, case.sep, case.pos, &mut rng)
}

/// Where in a request the value goes: chat places, then Anthropic, then embeddings.
const PLACES: u32 = 26;
const ANTHROPIC_FROM: u32 = 19;
const EMBEDDINGS_FROM: u32 = 24;

/// Split a text in two at a character position inside it.
fn split(text: &str, pos: u32) -> (String, String) {
    let chars: Vec<char> = text.chars().collect();
    let at = 1 + pos as usize % (chars.len().max(2) - 1);
    (chars[..at].iter().collect(), chars[at..].iter().collect())
}

fn chat_body(case: &Case, v: &str) -> Value {
    let say = |t: &str| json!([{"role": "user", "content": t}]);
    let mut body = json!({"model": MODELS[case.model], "stream": case.stream, "messages": say("Bitte prüfen.")});
    let schema = |field: &str, x: Value| {
        let mut prop = json!({"type": "string"});
        prop[field] = x;
        json!([{"type": "function", "function": {"name": "pay", "description": "Pay an invoice",
                "parameters": {"type": "object", "properties": {"to": prop}}}}])
    };
    match case.place {
        0 => body["messages"] = say(&format!("Bitte prüfen: {v}")),
        1 => {
            body["messages"] =
                json!([{"role": "user", "content": [{"type": "text", "text": "Daten:"}, {"type": "text", "text": v}]}])
        }
        2 => body["messages"] = json!([{"role": "user", "name": v, "content": "Hallo"}]),
        3 => {
            body["tools"] =
                json!([{"type": "function", "function": {"name": "pay", "description": format!("Pay {v}")}}])
        }
        4 => body["tools"] = schema("description", json!(format!("Always {v}"))),
        5 => body["tools"] = schema("enum", json!([v])),
        6 => body["tools"] = schema("examples", json!([v])),
        7 => body["tools"] = schema("default", json!(v)),
        8 => {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "r", "schema":
                {"type": "object", "description": format!("for {v}")}}})
        }
        9 => body["prediction"] = json!({"type": "content", "content": v}),
        10 => body["stop"] = json!([v]),
        11 => body["metadata"] = json!({"note": v}),
        12 => body["x_note"] = json!(v),
        13 => body["extra"] = json!({"deep": [{"x": v}]}),
        14 => {
            let args = json!({"memo": v}).to_string();
            body["messages"] = json!([{"role": "user", "content": "Zahle."},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                 "function": {"name": "pay", "arguments": args}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]);
        }
        15 => {
            let (a, b) = split(v, case.pos);
            body["messages"] =
                json!([{"role": "user", "content": [{"type": "text", "text": a}, {"type": "text", "text": b}]}]);
        }
        16 => {
            let (a, b) = split(v, case.pos);
            body["messages"] = json!([{"role": "user", "content": a}, {"role": "user", "content": b}]);
        }
        17 => body["functions"] = json!([{"name": "pay", "description": v}]),
        _ => body["metadata"] = json!({ v: "1" }),
    }
    body
}

fn anthropic_body(case: &Case, v: &str) -> Value {
    let mut body = json!({"model": MODELS[case.model], "max_tokens": 64, "stream": case.stream,
                          "messages": [{"role": "user", "content": "Bitte prüfen."}]});
    match case.place - ANTHROPIC_FROM {
        0 => body["system"] = json!(format!("Kunde: {v}")),
        1 => body["system"] = json!([{"type": "text", "text": v}]),
        2 => {
            body["tools"] = json!([{"name": "pay", "description": "Pay", "input_schema": {"type": "object",
                "properties": {"to": {"type": "string", "description": format!("always {v}")}}}}])
        }
        3 => {
            body["messages"] = json!([
                {"role": "user", "content": "Zahle."},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "pay", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": v}]}])
        }
        _ => body["messages"] = json!([{"role": "user", "content": [{"type": "text", "text": v}]}]),
    }
    body
}

fn request_for(case: &Case) -> (&'static str, Value, Value) {
    let v = value_text(case);
    let mut provider = json!({});
    if let Some(sort) = case.sort {
        provider["sort"] = json!(sort);
    }
    if case.only_us {
        provider["order"] = json!(["us-zdr", "us-keeps"]);
    }
    if case.place >= EMBEDDINGS_FROM {
        let input = if case.place == EMBEDDINGS_FROM { json!(v) } else { json!(["Rechnung", v]) };
        let body = json!({"model": MODELS[case.model], "provider": provider, "input": input});
        return ("/v1/embeddings", body.clone(), body);
    }
    if case.place >= ANTHROPIC_FROM {
        let mut body = anthropic_body(case, &v);
        body["provider"] = provider;
        let openai = messages_to_openai(&body).expect("a valid Anthropic request");
        return ("/v1/messages", body, openai);
    }
    let mut body = chat_body(case, &v);
    body["provider"] = provider;
    ("/v1/chat/completions", body.clone(), body)
}

async fn send(w: &World, path: &str, body: &Value) -> (u16, String) {
    let mut req = Request::post(path)
        .header("authorization", format!("Bearer {}", w.key))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let resp = router(w).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
    (status, String::from_utf8_lossy(&bytes).chars().take(300).collect())
}

fn router(w: &World) -> axum::Router {
    auditgate::api::router(w.state.clone())
}

/// The default policy's rule for personal data: Switzerland or the EU, zero retention, no data
/// collection.
fn allowed_for_personal(provider: &(&str, &str, &str, bool, bool)) -> bool {
    let (_, region, _, zdr, collects) = *provider;
    matches!(region, "ch" | "eu") && zdr && !collects
}

/// This file's own gateway: the failures its cases inject open circuits that no other test shares.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(new_world)
}

fn cases() -> u32 {
    std::env::var("AUDITGATE_DISGUISE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

fn behavior(code: u8) -> crate::common::Behavior {
    use crate::common::Behavior;
    match code {
        0..=4 => Behavior::Echo,
        5 => Behavior::Status(500, "{\"error\":{\"message\":\"boom\"}}".into()),
        6 => Behavior::Status(429, "{\"error\":{\"message\":\"slow down\"}}".into()),
        7 => Behavior::Malformed,
        _ => Behavior::BrokenStream,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn disguised_personal_data_in_any_field_never_leaves_its_regions(case in case_strategy()) {
        let (path, body, openai_form) = request_for(&case);
        let cls = if path == "/v1/embeddings" { classify_embeddings(&openai_form) } else { classify_chat(&openai_form) };
        prop_assert!(cls.level != Level::None, "classified none: {}", openai_form);
        let w = world();
        let _one_at_a_time = w.serial.lock().unwrap_or_else(|e| e.into_inner());
        for (fake, code) in w.fakes.iter().zip(&case.behaviors) {
            fake.set(behavior(*code));
            fake.record.bodies.lock().unwrap().clear();
        }
        let (status, answer) = w.runtime.block_on(send(w, path, &body));
        for (i, provider) in PROVIDERS.iter().enumerate() {
            let hits = w.fakes[i].hits();
            prop_assert!(
                hits == 0 || allowed_for_personal(provider),
                "{} ({}) received {} request(s): status {}, {}; body {}", provider.0, provider.1, hits, status, answer, body
            );
        }
        prop_assert!(status != 500, "internal error: {}", answer);
        // Every generated shape is one the schemas allow: a 400 would be the gateway refusing a
        // request it should have classified and served.
        prop_assert!(status != 400, "refused: {}; body {}", answer, body);
    }

    #[test]
    fn benign_text_with_the_same_unicode_habits_stays_unclassified(
        words in proptest::collection::vec(0usize..BENIGN.len(), 1..6),
        sep in 0usize..SPACES.len(),
        invisible in any::<bool>(),
    ) {
        let text: Vec<String> = words.iter().map(|&i| {
            let t = BENIGN[i].replace(' ', SPACES[sep]);
            if invisible { t.replace("ung", "un\u{ad}g").replace("ik", "i\u{200b}k") } else { t }
        }).collect();
        let text = text.join(". ");
        let body = json!({"messages": [{"role": "user", "content": text}], "metadata": {"sku": BENIGN[words[0]]}});
        let cls = classify_chat(&body);
        prop_assert_eq!(cls.level, Level::None, "{:?} in {}", cls.findings, text);
    }
}

/// Benign phrases as offices and shops write them (the generator swaps their spaces for no-break,
/// narrow or thin ones and adds soft hyphens and zero-width spaces).
const BENIGN: &[&str] = &[
    "Total CHF 1 250.00 inkl. MWST",
    "Betrag EUR 12 500,00 fällig",
    "Art.-Nr. 4711-0815-22",
    "Version 2.13.4 released",
    "Produktcode ＳＫＵ-ＡＢ-１２３",
    "Lieferung von ٣ Paketen",
    "Menge १२ Stück",
    "Bestellung 2024-113 für die Buchhaltung",
    "Steuererklärung und Rechnungsprüfung",
    "Model ТХ-500 in stock",
    "Revision r1482, build 20240317",
    "Preis 3 999.– pro Einheit",
    "Raum 2.14, Stockwerk 3",
    "Привет, как дела",
];

/// The property would hold trivially if nothing were forwarded: benign disguised text is still
/// served by the upstream the client asks for, outside the personal-data regions too.
#[test]
fn benign_unicode_text_reaches_the_region_the_client_chose() {
    let w = &new_world();
    for (i, text) in BENIGN.iter().enumerate() {
        for fake in &w.fakes {
            fake.set(crate::common::Behavior::Echo);
            fake.record.bodies.lock().unwrap().clear();
        }
        let text = text.replace(' ', "\u{a0}");
        let body = json!({"model": MODELS[2], "provider": {"only": ["us-zdr"]},
                          "messages": [{"role": "user", "content": text}]});
        let (status, answer) = w.runtime.block_on(send(w, "/v1/chat/completions", &body));
        assert_eq!(status, 200, "{i}: {answer}");
        let us = PROVIDERS.iter().position(|p| p.0 == "us-zdr").unwrap();
        assert_eq!(w.fakes[us].hits(), 1, "{text}");
    }
}
