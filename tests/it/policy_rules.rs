//! Rule matching for every match field, default deny, traces, explain and the test report.

use crate::policy_support;

use auditgate::pii::Level;
use auditgate::policy::{
    explain, run_tests, Exclusion, Outcome, Policy, RedactOperator, RequestFacts, DEFAULT_DENY_RULE,
};
use policy_support::{demo_providers, keyword_classifier, profile};

/// A policy with one rule `hit` (allow) matching `cond`, and nothing else (default deny).
fn one_rule(cond: &str) -> Policy {
    let text = format!("[[rule]]\nid = \"hit\"\nmatch = {{ {cond} }}\naction = \"allow\"\n");
    Policy::from_str_named("p.toml", &text).unwrap_or_else(|d| panic!("{cond}: {d:?}"))
}

fn base() -> RequestFacts {
    RequestFacts {
        key_name: "alice".into(),
        team: "accounting".into(),
        model: "openai/gpt-4o".into(),
        endpoint: "chat".into(),
        ..RequestFacts::default()
    }
}

/// The rule matches `yes` and not `no`, which falls through to the default deny.
fn check(cond: &str, yes: impl Fn(&mut RequestFacts), no: impl Fn(&mut RequestFacts)) {
    let p = one_rule(cond);
    let mut f = base();
    yes(&mut f);
    assert_eq!(p.decide(&f).rule_id, "hit", "{cond} should match {f:?}");
    let mut f = base();
    no(&mut f);
    let d = p.decide(&f);
    assert_eq!(d.rule_id, DEFAULT_DENY_RULE, "{cond} should not match {f:?}");
    assert!(d.is_denied());
}

#[test]
fn keys_and_teams() {
    check("keys = [\"alice\", \"bob\"]", |_| {}, |f| f.key_name = "carol".into());
    check("teams = \"accounting\"", |_| {}, |f| f.team = "legal".into());
}

#[test]
fn model_globs() {
    check("models = [\"openai/*\"]", |_| {}, |f| f.model = "mistral/large".into());
    check("models = [\"*/gpt-*-mini\"]", |f| f.model = "openai/gpt-4o-mini".into(), |_| {});
    let any = one_rule("models = \"*\"");
    for model in ["openai/gpt-4o", "demo/echo", ""] {
        let f = RequestFacts { model: model.into(), ..base() };
        assert_eq!(any.decide(&f).rule_id, "hit", "{model}");
    }
}

#[test]
fn levels() {
    check("level = [\"personal\", \"special\"]", |f| f.level = Level::Special, |f| f.level = Level::Sensitive);
    check("min_level = \"sensitive\"", |f| f.level = Level::Special, |f| f.level = Level::Personal);
    check("max_level = \"personal\"", |f| f.level = Level::Personal, |f| f.level = Level::Sensitive);
}

#[test]
fn entities_any_of() {
    check(
        "entities = [\"IBAN_CODE\", \"CH_AHV\"]",
        |f| f.entity_types = ["PERSON".to_string(), "CH_AHV".to_string()].into(),
        |f| f.entity_types = ["PERSON".to_string()].into(),
    );
}

#[test]
fn client_label_is_case_insensitive_in_the_file() {
    check(
        "client_label = [\"Confidential\"]",
        |f| f.client_label = Some("confidential".into()),
        |f| f.client_label = None,
    );
}

#[test]
fn stream_endpoint_unscannable() {
    check("stream = true", |f| f.stream = true, |f| f.stream = false);
    check("endpoint = \"embeddings\"", |f| f.endpoint = "embeddings".into(), |_| {});
    check("unscannable = false", |_| {}, |f| f.has_unscannable = true);
}

#[test]
fn all_conditions_must_hold() {
    let p = one_rule("min_level = \"personal\", teams = [\"accounting\"]");
    let mut f = base();
    f.level = Level::Personal;
    assert_eq!(p.decide(&f).rule_id, "hit");
    f.team = "legal".into();
    assert_eq!(p.decide(&f).rule_id, DEFAULT_DENY_RULE);
}

const LAYERED: &str = r#"
[[rule]]
id = "deny-stream-special"
match = { level = "special", stream = true }
action = "deny"
reason = "no streaming of special categories"

[[rule]]
id = "special"
match = { level = "special" }
action = "redact"
redact = { entities = ["PERSON"], operator = "pseudonymize" }
route = { regions = ["ch", "eu"], require_zdr = true }
max_cost_usd = 0.25
body_hold_years = 11

[[rule]]
id = "eea-only"
match = { min_level = "personal" }
action = "allow"
route = { regions = ["eea"], countries = ["DE", "NO"], providers = ["mistral", "ionos"] }
"#;

#[test]
fn first_match_decides_and_carries_its_action() {
    let p = Policy::from_str_named("p.toml", LAYERED).expect("valid");
    let mut f = base();
    f.level = Level::Special;
    let d = p.decide(&f);
    assert_eq!(d.rule_id, "special");
    assert_eq!(d.action(), "redact");
    let r = d.redact.as_ref().expect("redact");
    assert_eq!(r.operator, RedactOperator::Pseudonymize);
    assert!(r.operator.reversible());
    assert_eq!(d.max_cost_usd, Some(0.25));
    assert_eq!(d.body_hold_years, Some(11));
    f.stream = true;
    let d = p.decide(&f);
    assert_eq!(d.outcome, Outcome::Deny { reason: "no streaming of special categories".into() });
    assert!(d.constraints.is_unconstrained());
    f.level = Level::None;
    assert_eq!(p.decide(&f).rule_id, DEFAULT_DENY_RULE);
}

#[test]
fn route_constraints_exclude_providers_with_reasons() {
    let p = Policy::from_str_named("p.toml", LAYERED).expect("valid");
    let mut f = base();
    f.level = Level::Personal;
    let d = p.decide(&f);
    let mistral = profile("mistral", "eu", "FR", true);
    let ionos = profile("ionos", "eu", "DE", false);
    let mut collector = profile("ionos", "eea", "NO", false);
    let allowed = ["DE".to_string(), "NO".to_string()].into();
    assert_eq!(d.check_provider(&mistral), Err(Exclusion::Country { country: "FR".into(), allowed }));
    let words = d.check_provider(&mistral).unwrap_err().to_string();
    assert_eq!(words, "country FR not in allowed countries [DE, NO]", "the audit entry's words");
    assert_eq!(d.check_provider(&ionos), Ok(()), "eea admits providers tagged eu");
    assert_eq!(d.check_provider(&collector), Ok(()));
    collector.name = "other".into();
    assert!(matches!(d.check_provider(&collector), Err(Exclusion::Provider { provider, .. }) if provider == "other"));
    let us = profile("ionos", "us", "US", true);
    assert!(matches!(d.check_provider(&us), Err(Exclusion::Region { region, .. }) if region == "us"));

    f.level = Level::Special;
    let d = p.decide(&f);
    assert_eq!(d.check_provider(&ionos), Err(Exclusion::RetainsData));
}

#[test]
fn trace_lists_every_condition_of_every_rule_tried() {
    let p = Policy::from_str_named("p.toml", LAYERED).expect("valid");
    let mut f = base();
    f.level = Level::Personal;
    let t = p.decide_traced(&f);
    assert_eq!(t.decision, p.decide(&f));
    let ids: Vec<(&str, bool)> = t.trace.iter().map(|r| (r.rule_id.as_str(), r.matched)).collect();
    assert_eq!(ids, [("deny-stream-special", false), ("special", false), ("eea-only", true)]);
    assert_eq!(t.trace[0].conditions.len(), 2);
    assert_eq!(t.trace[0].conditions[0].detail, "level personal; rule wants one of [special]");
    assert_eq!(t.trace[0].source, "p.toml:2:1");
}

#[test]
fn explain_names_rules_and_providers() {
    let p = Policy::load(&[policy_support::repo_path("policies")]).expect("default policy");
    let c = keyword_classifier("Pay to CH93 0076 2011 6238 5295 7");
    let f = RequestFacts {
        level: c.level,
        entity_types: c.entity_types(),
        model: "demo/echo".into(),
        endpoint: "chat".into(),
        ..RequestFacts::default()
    };
    let e = explain(&p, &f, &demo_providers());
    assert_eq!(e.decision.rule_id, "personal-data-ch-eu");
    assert_eq!(e.action, "allow");
    assert!(e.providers[0].allowed);
    assert_eq!(e.providers[1].reason.as_deref(), Some("region us not in allowed regions [ch, eu]"));
    let text = e.to_string();
    assert!(text.contains("level personal, entities [IBAN_CODE]"), "{text}");
    assert!(text.contains("special-categories (") && text.contains("no match"), "{text}");
    assert!(text.contains("decision: allow by rule personal-data-ch-eu"), "{text}");
    assert!(text.contains("demo-us (us, US): excluded: region us not in allowed regions [ch, eu]"), "{text}");
    let json = serde_json::to_value(&e).expect("json");
    assert_eq!(json["decision"]["rule_id"], "personal-data-ch-eu");
    assert_eq!(json["providers"][0]["allowed"], true);
    assert_eq!(json["rules"][3]["matched"], true);
}

#[test]
fn explain_of_a_deny_excludes_every_provider() {
    let p = one_rule("stream = true");
    let e = explain(&p, &base(), &demo_providers());
    assert_eq!(e.decision.rule_id, DEFAULT_DENY_RULE);
    assert!(e.providers.iter().all(|v| !v.allowed));
    assert!(e.to_string().contains("no rule matched: default deny"));
}

#[test]
fn failing_officer_test_is_reported_with_rule() {
    let text = "[[rule]]\nid = \"all\"\naction = \"allow\"\n\
                [[test]]\nname = \"iban denied\"\ninput = \"CH93 0076\"\nexpect = \"deny\"\n\
                [[test]]\nname = \"ok\"\ninput = \"hi\"\nexpect = \"allow\"\n\
                [[test]]\nname = \"regions\"\ninput = \"hi\"\nexpect = \"allow\"\nexpect_regions = [\"ch\"]\n";
    let p = Policy::from_str_named("p.toml", text).expect("valid");
    let report = run_tests(&p, &keyword_classifier);
    assert_eq!((report.passed, report.failed), (1, 2));
    let out = report.to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "FAIL iban denied: expected deny, got allow (rule all) (p.toml:4:1)");
    assert_eq!(lines[1], "PASS ok");
    assert_eq!(lines[2], "FAIL regions: expected regions [ch], got regions any (rule all) (p.toml:12:1)");
    assert_eq!(lines[3], "1 passed, 2 failed");
}

#[test]
fn facts_for_request_reads_the_body() {
    let body = serde_json::json!({"models": ["demo/echo", "openai/gpt-4o"], "stream": true,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Pay CH93 0076 2011 6238 5295 7"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
    let c = keyword_classifier("Pay CH93 0076 2011 6238 5295 7");
    let f = auditgate::policy::facts_for_request(&body, &c, "alice", "accounting", Some(" Confidential"));
    assert_eq!(f.model, "demo/echo");
    assert!(f.stream && f.has_unscannable);
    assert_eq!(f.endpoint, "chat");
    assert_eq!(f.client_label.as_deref(), Some("confidential"));
    assert_eq!(f.level, Level::Personal);
    let emb = serde_json::json!({"model": "demo/embed", "input": ["x"]});
    let f = auditgate::policy::facts_for_request(&emb, &c, "", "", None);
    assert_eq!((f.endpoint.as_str(), f.stream, f.has_unscannable), ("embeddings", false, false));
}

#[test]
fn client_messages_name_rule_and_reasons() {
    let p = Policy::from_str_named("p.toml", LAYERED).expect("valid");
    let mut f = base();
    f.level = Level::Special;
    f.stream = true;
    let d = p.decide(&f);
    let msg = "request denied by policy rule `deny-stream-special`: no streaming of special categories";
    assert_eq!(d.deny_message().as_deref(), Some(msg));
    assert_eq!(d.nothing_allowed_message(&demo_providers()), msg);
    f.stream = false;
    let d = p.decide(&f);
    assert_eq!(d.deny_message(), None);
    let providers = [
        profile("demo-ch", "ch", "CH", true),
        profile("demo-us", "us", "US", false),
        profile("retains", "eu", "DE", false),
    ];
    let (allowed, excluded) = d.partition(&providers);
    assert_eq!(allowed, [&providers[0]]);
    assert_eq!(excluded.len(), 2);
    assert_eq!(
        d.nothing_allowed_message(&providers[1..]),
        "policy rule `special` allows none of the providers for this model \
         (demo-us: region us not in allowed regions [ch, eu]; \
         retains: zero data retention required, provider retains data)"
    );
}

mod default_policy_properties {
    use super::*;
    use auditgate::offer::ProviderProfile;
    use proptest::prelude::*;

    fn level() -> impl Strategy<Value = Level> {
        prop_oneof![Just(Level::None), Just(Level::Personal), Just(Level::Sensitive), Just(Level::Special)]
    }

    fn facts() -> impl Strategy<Value = RequestFacts> {
        (
            level(),
            proptest::sample::subsequence(vec!["IBAN_CODE", "CH_AHV", "PERSON"], 0..3),
            prop_oneof![Just(None), Just(Some("confidential")), Just(Some("public"))],
            any::<bool>(),
            prop_oneof![Just("chat"), Just("embeddings")],
            any::<bool>(),
            prop_oneof![Just("demo/echo"), Just("openai/gpt-4o"), Just("mistral/large")],
        )
            .prop_map(|(level, ents, label, stream, endpoint, unscannable, model)| RequestFacts {
                key_name: "k".into(),
                team: "t".into(),
                model: model.into(),
                level,
                entity_types: ents.into_iter().map(String::from).collect(),
                client_label: label.map(String::from),
                stream,
                endpoint: endpoint.into(),
                has_unscannable: unscannable,
            })
    }

    fn providers() -> impl Strategy<Value = Vec<ProviderProfile>> {
        let one = (
            proptest::sample::select(auditgate::policy::vocab::REGIONS),
            proptest::sample::select(vec!["CH", "DE", "US", "FR"]),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(region, country, zdr, collects)| {
                let mut p = profile(&format!("{region}-{country}"), region, country, zdr);
                p.data_collection = collects;
                p
            });
        proptest::collection::vec(one, 1..6)
    }

    fn default_policy() -> &'static Policy {
        static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        POLICY.get_or_init(|| Policy::load(&[policy_support::repo_path("policies")]).expect("default policy"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Personal data, unscannable parts and the confidential label never reach a provider
        /// outside CH/EU zero retention (CH for confidential) under the shipped default policy.
        #[test]
        fn default_policy_keeps_personal_data_home(f in facts(), ps in providers()) {
            let policy = default_policy();
            let d = policy.decide(&f);
            prop_assert_eq!(&d, &policy.decide_traced(&f).decision);
            prop_assert!(!d.is_denied(), "the default policy covers every request");
            let sensitive = f.level >= Level::Personal || f.has_unscannable;
            let confidential = f.client_label.as_deref() == Some("confidential");
            for p in d.allowed_providers(&ps) {
                if sensitive || confidential {
                    prop_assert!(p.zdr && !p.data_collection, "{:?} for {:?}", p, f);
                    prop_assert!(p.region == "ch" || p.region == "eu", "{:?} for {:?}", p, f);
                }
                if confidential {
                    prop_assert_eq!(p.region.as_str(), "ch");
                }
            }
            if f.level == Level::Special {
                prop_assert_eq!(d.action(), "redact");
            }
        }
    }
}
