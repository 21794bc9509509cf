//! The control audit: every documented policy field and configuration field has an effect.
//!
//! A field that is accepted and ignored is worse than a missing one. So each field documented in
//! docs/policy.md or docs/configuration.md, and each field the parsers declare (the policy schema
//! in src/policy/format.rs, the configuration structs in src/config.rs), must be named in
//! [`POLICY_EFFECTS`] or [`CONFIG_EFFECTS`] together with the test that changes it and observes
//! the difference. The registry holds the test functions themselves, so a name cannot point at a
//! test that does not exist; the tests run on their own like any other.

use crate::audit_gateway;
use crate::common::*;
use crate::policy_support::{keyword_classifier, profile, repo_path};
use crate::{audit_timestamp, audit_witness, gateway_api, pg_gateway, policy_controls, request_shapes};
use auditgate::pii::Level;
use auditgate::policy::{run_tests, Outcome, Policy, RequestFacts};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

type Effect = (&'static str, fn());

/// Policy fields (`section.field`, sections as in docs/policy.md) and the test showing each.
const POLICY_EFFECTS: &[Effect] = &[
    ("policy.name", policy_name_and_description_are_printed_by_check),
    ("policy.description", policy_name_and_description_are_printed_by_check),
    ("rule.id", rule_id_and_description_name_the_decision),
    ("rule.description", rule_id_and_description_name_the_decision),
    ("rule.match", rule_match_restricts_the_rule),
    ("rule.action", rule_action_decides_allow_deny_or_redact),
    ("rule.reason", rule_action_decides_allow_deny_or_redact),
    ("rule.redact", redact_entities_and_operator_change_what_leaves),
    ("rule.route", route_fields_exclude_providers),
    ("rule.max_cost_usd", policy_controls::a_cost_ceiling_no_call_fits_under_is_refused_before_anything_leaves),
    ("rule.body_hold_years", audit_gateway::a_rules_own_hold_decides_when_its_bodies_may_be_erased),
    ("match.keys", match_fields_each_restrict_the_rule),
    ("match.teams", match_fields_each_restrict_the_rule),
    ("match.models", match_fields_each_restrict_the_rule),
    ("match.level", match_fields_each_restrict_the_rule),
    ("match.min_level", match_fields_each_restrict_the_rule),
    ("match.max_level", match_fields_each_restrict_the_rule),
    ("match.entities", match_fields_each_restrict_the_rule),
    ("match.client_label", match_fields_each_restrict_the_rule),
    ("match.stream", match_fields_each_restrict_the_rule),
    ("match.endpoint", match_fields_each_restrict_the_rule),
    ("match.unscannable", match_fields_each_restrict_the_rule),
    ("redact.entities", redact_entities_and_operator_change_what_leaves),
    ("redact.operator", redact_entities_and_operator_change_what_leaves),
    ("route.regions", route_fields_exclude_providers),
    ("route.countries", route_fields_exclude_providers),
    ("route.providers", route_fields_exclude_providers),
    ("route.require_zdr", route_fields_exclude_providers),
    ("route.deny_data_collection", route_fields_exclude_providers),
    ("test.name", officer_test_fields_each_change_the_verdict),
    ("test.input", officer_test_fields_each_change_the_verdict),
    ("test.request", officer_test_fields_each_change_the_verdict),
    ("test.key", officer_test_fields_each_change_the_verdict),
    ("test.team", officer_test_fields_each_change_the_verdict),
    ("test.model", officer_test_fields_each_change_the_verdict),
    ("test.client_label", officer_test_fields_each_change_the_verdict),
    ("test.stream", officer_test_fields_each_change_the_verdict),
    ("test.endpoint", officer_test_fields_each_change_the_verdict),
    ("test.unscannable", officer_test_fields_each_change_the_verdict),
    ("test.expect", officer_test_fields_each_change_the_verdict),
    ("test.expect_rule", officer_test_fields_each_change_the_verdict),
    ("test.expect_regions", officer_test_fields_each_change_the_verdict),
];

/// Configuration fields (`table.field`, top level without a table) and the test showing each.
const CONFIG_EFFECTS: &[Effect] = &[
    ("listen", listen_is_where_the_gateway_answers),
    ("data_dir", data_and_policy_dirs_are_where_the_gateway_keeps_and_reads),
    ("policy_dir", data_and_policy_dirs_are_where_the_gateway_keeps_and_reads),
    ("max_body_bytes", gateway_api::body_over_limit_is_413),
    ("upstream_timeout_secs", upstream_timeout_bounds_the_whole_request),
    ("connect_timeout_ms", connect_timeout_bounds_a_connection_that_never_opens),
    ("policy_poll_ms", policy_poll_picks_up_changes_and_zero_waits_for_sighup),
    ("audit.origin", checkpoints_follow_origin_interval_and_entry_count),
    ("audit.checkpoint_interval_ms", checkpoints_follow_origin_interval_and_entry_count),
    ("audit.checkpoint_every_entries", checkpoints_follow_origin_interval_and_entry_count),
    ("audit.store_bodies", audit_gateway::redacted_bodies_are_kept_sealed_beside_the_chain_and_can_be_erased),
    ("audit.body_key_file", body_key_file_and_hold_years_govern_stored_bodies),
    ("audit.body_hold_years", body_key_file_and_hold_years_govern_stored_bodies),
    ("audit.witness_quorum", audit_witness::a_witness_cosigns_a_growing_log_and_refuses_it_rolled_back),
    ("audit.witness_quorum", witness_quorum_above_the_witnesses_configured_stops_serve),
    ("audit.witnesses.url", audit_witness::a_witness_cosigns_a_growing_log_and_refuses_it_rolled_back),
    ("audit.witnesses.public_key", audit_witness::a_witness_refuses_a_log_rewritten_with_the_stolen_key),
    (
        "audit.timestamp_interval_ms",
        audit_timestamp::a_gateway_stamps_its_checkpoints_and_verify_log_proves_when_entries_existed,
    ),
    (
        "audit.timestamp_authorities.url",
        audit_timestamp::a_gateway_stamps_its_checkpoints_and_verify_log_proves_when_entries_existed,
    ),
    (
        "audit.timestamp_authorities.certificate",
        audit_timestamp::a_token_that_does_not_chain_to_the_configured_certificate_is_refused_and_not_stored,
    ),
    ("state.backend", pg_gateway::a_gateway_on_postgres_records_each_exchange_in_its_nodes_rows_and_they_verify),
    ("state.url", pg_gateway::a_gateway_on_postgres_records_each_exchange_in_its_nodes_rows_and_they_verify),
    ("state.node", pg_gateway::a_gateway_on_postgres_records_each_exchange_in_its_nodes_rows_and_they_verify),
    ("request.unknown_fields", request_shapes::unknown_fields_are_scanned_by_default_and_refused_when_configured),
    ("request.unsupported", policy_controls::openrouter_extras_are_honoured_refused_or_named_never_dropped_silently),
    ("routing.attempt_timeout_secs", attempt_timeout_moves_on_to_the_next_provider),
    ("routing.max_attempts_per_provider", max_attempts_per_provider_counts_the_tries),
    ("routing.retry_base_backoff_ms", retry_backoff_waits_between_tries_up_to_its_cap),
    ("routing.retry_max_backoff_ms", retry_backoff_waits_between_tries_up_to_its_cap),
    ("providers.name", provider_name_kind_and_base_url_say_who_serves),
    ("providers.kind", provider_name_kind_and_base_url_say_who_serves),
    ("providers.base_url", provider_name_kind_and_base_url_say_who_serves),
    ("providers.api_key_env", api_key_env_enables_and_authorises_and_headers_are_sent),
    ("providers.headers", api_key_env_enables_and_authorises_and_headers_are_sent),
    ("providers.region", provider_region_country_zdr_and_collection_are_what_policy_routes_by),
    ("providers.country", provider_region_country_zdr_and_collection_are_what_policy_routes_by),
    ("providers.zdr", provider_region_country_zdr_and_collection_are_what_policy_routes_by),
    ("providers.data_collection", provider_region_country_zdr_and_collection_are_what_policy_routes_by),
    ("providers.models.id", model_entries_are_what_clients_see_and_pay),
    ("providers.models.upstream", model_entries_are_what_clients_see_and_pay),
    ("providers.models.name", model_entries_are_what_clients_see_and_pay),
    ("providers.models.prompt", model_entries_are_what_clients_see_and_pay),
    ("providers.models.completion", model_entries_are_what_clients_see_and_pay),
    ("providers.models.cached_prompt", model_entries_are_what_clients_see_and_pay),
    ("providers.models.created", model_entries_are_what_clients_see_and_pay),
    ("providers.models.context_length", model_limits_route_around_providers_that_cannot_take_the_request),
    ("providers.models.max_completion_tokens", model_limits_route_around_providers_that_cannot_take_the_request),
    ("providers.models.input_modalities", model_limits_route_around_providers_that_cannot_take_the_request),
    ("teams.name", team_credentials_bill_the_teams_own_account),
    ("teams.credentials.provider", team_credentials_bill_the_teams_own_account),
    ("teams.credentials.api_key_env", team_credentials_bill_the_teams_own_account),
    ("teams.credentials.api_key_file", team_credentials_bill_the_teams_own_account),
    ("presets.name", presets_fill_models_provider_system_and_parameters),
    ("presets.models", presets_fill_models_provider_system_and_parameters),
    ("presets.provider", presets_fill_models_provider_system_and_parameters),
    ("presets.system", presets_fill_models_provider_system_and_parameters),
    ("presets.parameters", presets_fill_models_provider_system_and_parameters),
    (
        "providers.models.supported_parameters",
        policy_controls::require_parameters_keeps_providers_that_take_structured_outputs_and_reasoning,
    ),
];

// ---- the registry against the documents and the parsers ------------------------------------------

/// `section.field` for every row of a `| field | ...` table in a Markdown reference, the section
/// taken from the nearest heading's `code` (brackets dropped; no code = top level).
fn documented_fields(doc: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_path(doc)).unwrap();
    let (mut section, mut in_field_table, mut fields) = (String::new(), false, BTreeSet::new());
    for line in text.lines() {
        if line.starts_with('#') {
            section = line.split('`').nth(1).unwrap_or("").trim_matches(['[', ']']).to_string();
            in_field_table = false;
        } else if line.starts_with("| field |") {
            in_field_table = true;
        } else if !line.starts_with('|') {
            in_field_table = false;
        } else if in_field_table {
            if let Some(name) = line.split('|').nth(1).and_then(|c| c.trim().strip_prefix('`')) {
                let name = name.trim_end_matches('`');
                fields.insert(if section.is_empty() { name.to_string() } else { format!("{section}.{name}") });
            }
        }
    }
    fields
}

/// The policy schema's fields from src/policy/format.rs: `Schema { name: "...", keys: &[...] }`.
fn declared_policy_fields() -> BTreeSet<String> {
    let source = std::fs::read_to_string(repo_path("src/policy/format.rs")).unwrap();
    let mut fields = BTreeSet::new();
    for schema in source.split("Schema {").skip(1) {
        let Some(name) = schema.split('"').nth(1) else { continue };
        let section = name.trim_matches(['[', ']']);
        let keys = schema.split("keys: &[").nth(1).and_then(|k| k.split("],\n}").next()).unwrap_or("");
        if section == "the file" {
            continue;
        }
        for key in keys.split("(\"").skip(1) {
            fields.insert(format!("{section}.{}", key.split('"').next().unwrap()));
        }
    }
    // `match`, `redact` and `route` are tables of a rule, documented with their own sections.
    fields
}

/// Each configuration struct, the file declaring it, and the table it is read from.
const CONFIG_TABLES: &[(&str, &str, &str)] = &[
    ("Config", "src/config.rs", ""),
    ("AuditConfig", "src/config.rs", "audit"),
    ("WitnessConfig", "src/config.rs", "audit.witnesses"),
    ("TimestampAuthorityConfig", "src/config.rs", "audit.timestamp_authorities"),
    ("StateConfig", "src/config.rs", "state"),
    ("RequestConfig", "src/config.rs", "request"),
    ("RoutingConfig", "src/config.rs", "routing"),
    ("ProviderConfig", "src/config.rs", "providers"),
    ("ModelConfig", "src/config.rs", "providers.models"),
    ("PresetConfig", "src/presets.rs", "presets"),
    ("TeamConfig", "src/config.rs", "teams"),
    ("TeamCredential", "src/config.rs", "teams.credentials"),
];

/// The configuration's fields: each `pub field:` of the structs above that is not
/// `#[serde(skip)]` and is not itself one of the tables.
fn declared_config_fields() -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    for (name, file, table) in CONFIG_TABLES {
        let source = std::fs::read_to_string(repo_path(file)).unwrap();
        let body = source.split(&format!("pub struct {name} {{\n")).nth(1).expect(name).split("\n}\n").next().unwrap();
        let mut skipped = false;
        for line in body.lines().map(str::trim) {
            if line.starts_with("#[serde(skip") {
                skipped = true;
            }
            let Some((field, ty)) = line.strip_prefix("pub ").and_then(|l| l.split_once(':')) else { continue };
            let is_table = CONFIG_TABLES.iter().any(|(s, _, _)| ty.contains(s));
            if !std::mem::take(&mut skipped) && !is_table {
                fields.insert(if table.is_empty() { field.to_string() } else { format!("{table}.{field}") });
            }
        }
    }
    fields
}

fn registry(effects: &[Effect]) -> BTreeSet<String> {
    effects.iter().map(|(f, _)| f.to_string()).collect()
}

fn assert_same(what: &str, left: (&str, &BTreeSet<String>), right: (&str, &BTreeSet<String>)) {
    let only_left: Vec<_> = left.1.difference(right.1).collect();
    let only_right: Vec<_> = right.1.difference(left.1).collect();
    assert!(
        only_left.is_empty() && only_right.is_empty(),
        "{what}: only in {}: {only_left:?}; only in {}: {only_right:?}",
        left.0,
        right.0
    );
}

#[test]
fn every_policy_field_is_documented_and_has_an_effect_test() {
    let documented = documented_fields("docs/policy.md");
    assert!(documented.len() > 30, "the parser found the tables: {documented:?}");
    let declared = declared_policy_fields();
    assert_same("policy fields", ("docs/policy.md", &documented), ("src/policy/format.rs", &declared));
    assert_same("policy fields", ("docs/policy.md", &documented), ("POLICY_EFFECTS", &registry(POLICY_EFFECTS)));
}

#[test]
fn every_config_field_is_documented_and_has_an_effect_test() {
    let documented = documented_fields("docs/configuration.md");
    assert!(documented.len() > 40, "the parser found the tables: {documented:?}");
    let declared = declared_config_fields();
    assert_same("config fields", ("docs/configuration.md", &documented), ("src/config.rs", &declared));
    assert_same("config fields", ("docs/configuration.md", &documented), ("CONFIG_EFFECTS", &registry(CONFIG_EFFECTS)));
    // And the shipped gateway.toml uses no field the reference does not describe.
    for line in std::fs::read_to_string(repo_path("gateway.toml")).unwrap().lines() {
        let line = line.trim_start_matches("# ").trim();
        if let Some((key, _)) =
            line.split_once(" = ").filter(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        {
            assert!(documented.iter().any(|f| f.rsplit('.').next() == Some(key)), "gateway.toml: {key} undocumented");
        }
    }
}

// ---- policy fields ---------------------------------------------------------------------------------

fn policy(text: &str) -> Policy {
    Policy::from_str_named("p.toml", text).unwrap_or_else(|d| panic!("{text}: {d:?}"))
}

fn facts() -> RequestFacts {
    RequestFacts {
        key_name: "alice".into(),
        team: "payroll".into(),
        model: "demo/echo".into(),
        endpoint: "chat".into(),
        ..RequestFacts::default()
    }
}

/// Writes `text` as a policy file and runs `auditgate policy <args> FILE`; (exit code, stdout).
fn policy_cli(text: &str, args: &[&str], request: Option<&Value>) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, text).unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("policy").args(args);
    if let Some(body) = request {
        let path = dir.path().join("request.json");
        std::fs::write(&path, body.to_string()).unwrap();
        cmd.arg("--request").arg(path).arg("--policy");
    }
    let out = cmd.arg(&file).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn policy_name_and_description_are_printed_by_check() {
    let rule = "[[rule]]\nid = \"r\"\naction = \"allow\"\n";
    let (code, plain) = policy_cli(rule, &["check"], None);
    assert_eq!(code, 0);
    let named = format!("[policy]\nname = \"Payroll rules\"\ndescription = \"Salaries stay in CH.\"\n{rule}");
    let (code, shown) = policy_cli(&named, &["check"], None);
    assert_eq!(code, 0);
    assert!(!plain.contains("Payroll rules"));
    assert!(shown.contains("Payroll rules: Salaries stay in CH."), "{shown}");
}

#[test]
fn rule_id_and_description_name_the_decision() {
    let rule = "[[rule]]\nid = \"payroll-in-ch\"\ndescription = \"Salaries stay in CH.\"\naction = \"allow\"\n";
    assert_eq!(policy(rule).decide(&facts()).rule_id, "payroll-in-ch");
    let request = json!({"model": "demo/echo", "messages": [{"role": "user", "content": "hi"}]});
    let (code, explained) = policy_cli(rule, &["explain"], Some(&request));
    assert_eq!(code, 0, "{explained}");
    assert!(explained.contains("payroll-in-ch") && explained.contains("Salaries stay in CH."), "{explained}");
    let (_, undescribed) =
        policy_cli("[[rule]]\nid = \"payroll-in-ch\"\naction = \"allow\"\n", &["explain"], Some(&request));
    assert!(!undescribed.contains("Salaries"), "{undescribed}");
}

#[test]
fn rule_match_restricts_the_rule() {
    let everyone = policy("[[rule]]\nid = \"r\"\naction = \"allow\"\n");
    let some = policy("[[rule]]\nid = \"r\"\nmatch = { teams = [\"legal\"] }\naction = \"allow\"\n");
    assert_eq!(everyone.decide(&facts()).rule_id, "r");
    assert!(some.decide(&facts()).is_denied(), "payroll is not legal: default deny");
}

#[test]
fn rule_action_decides_allow_deny_or_redact() {
    let rule = |action: &str| policy(&format!("[[rule]]\nid = \"r\"\n{action}\n"));
    assert_eq!(rule("action = \"allow\"").decide(&facts()).outcome, Outcome::Allow);
    let denied = rule("action = \"deny\"\nreason = \"Not for payroll.\"").decide(&facts());
    assert_eq!(denied.outcome, Outcome::Deny { reason: "Not for payroll.".into() });
    assert!(denied.deny_message().unwrap().contains("Not for payroll."));
    let other = rule("action = \"deny\"\nreason = \"Ask legal.\"").decide(&facts());
    assert!(other.deny_message().unwrap().contains("Ask legal."));
    let redacted = rule("action = \"redact\"\nredact = { operator = \"mask\" }").decide(&facts());
    assert!(redacted.redact.is_some());
}

#[test]
fn match_fields_each_restrict_the_rule() {
    // (condition, facts it holds for, facts it does not hold for)
    type Edit = fn(&mut RequestFacts);
    let cases: &[(&str, Edit, Edit)] = &[
        ("keys = [\"alice\"]", |_| {}, |f| f.key_name = "bob".into()),
        ("teams = [\"payroll\"]", |_| {}, |f| f.team = "legal".into()),
        ("models = [\"demo/*\"]", |_| {}, |f| f.model = "openai/gpt-4o".into()),
        ("level = [\"personal\"]", |f| f.level = Level::Personal, |f| f.level = Level::Sensitive),
        ("min_level = \"sensitive\"", |f| f.level = Level::Special, |f| f.level = Level::Personal),
        ("max_level = \"personal\"", |f| f.level = Level::Personal, |f| f.level = Level::Sensitive),
        ("entities = [\"IBAN_CODE\"]", |f| f.entity_types = ["IBAN_CODE".to_string()].into(), |_| {}),
        ("client_label = [\"secret\"]", |f| f.client_label = Some("secret".into()), |_| {}),
        ("stream = true", |f| f.stream = true, |_| {}),
        ("endpoint = \"embeddings\"", |f| f.endpoint = "embeddings".into(), |_| {}),
        ("unscannable = true", |f| f.has_unscannable = true, |_| {}),
    ];
    for (condition, holds, fails) in cases {
        let p = policy(&format!("[[rule]]\nid = \"r\"\nmatch = {{ {condition} }}\naction = \"allow\"\n"));
        let (mut yes, mut no) = (facts(), facts());
        holds(&mut yes);
        fails(&mut no);
        assert_eq!(p.decide(&yes).rule_id, "r", "{condition} should hold for {yes:?}");
        assert!(p.decide(&no).is_denied(), "{condition} should not hold for {no:?}");
    }
}

#[test]
fn route_fields_exclude_providers() {
    let eu = profile("eu-one", "eu", "FR", true);
    let collecting = auditgate::offer::ProviderProfile { data_collection: true, ..eu.clone() };
    let retaining = profile("eu-one", "eu", "FR", false);
    let cases: &[(&str, &auditgate::offer::ProviderProfile)] = &[
        ("regions = [\"ch\"]", &eu),
        ("countries = [\"DE\"]", &eu),
        ("providers = [\"ch-one\"]", &eu),
        ("require_zdr = true", &retaining),
        ("deny_data_collection = true", &collecting),
    ];
    let free = policy("[[rule]]\nid = \"r\"\naction = \"allow\"\n").decide(&facts());
    for (constraint, excluded) in cases {
        assert_eq!(free.check_provider(excluded), Ok(()), "no route: {constraint}");
        let d =
            policy(&format!("[[rule]]\nid = \"r\"\naction = \"allow\"\nroute = {{ {constraint} }}\n")).decide(&facts());
        assert!(d.check_provider(excluded).is_err(), "{constraint} should exclude {excluded:?}");
    }
}

/// The texts the fake upstream received for one user message under a redact rule.
async fn upstream_text(redact: &str, text: &str) -> String {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let policy = format!("[[rule]]\nid = \"r\"\naction = \"redact\"\nredact = {{ {redact} }}\n");
    let gw =
        GatewayBuilder::default().policy(&policy).provider(ProviderSpec::new("eu", &fake.base_url, "eu", "FR")).start();
    let (status, _, body) = gw.chat(user(text)).await;
    assert_eq!(status, 200, "{body}");
    fake.bodies()[0]["messages"][0]["content"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn redact_entities_and_operator_change_what_leaves() {
    let text = "Pay CH93 0076 2011 6238 5295 7, mail anna.keller@example.ch";
    let (iban, mail) = ("CH93 0076 2011 6238 5295 7", "anna.keller@example.ch");
    let mut seen = BTreeSet::new();
    for operator in ["replace", "mask", "hash", "pseudonymize"] {
        let sent = upstream_text(&format!("operator = \"{operator}\""), text).await;
        assert!(!sent.contains(iban) && !sent.contains(mail), "{operator}: {sent}");
        assert!(seen.insert(sent.clone()), "{operator} sends what another operator sent: {sent}");
    }
    let only_iban = upstream_text("entities = [\"IBAN_CODE\"], operator = \"replace\"", text).await;
    assert!(!only_iban.contains(iban) && only_iban.contains(mail), "{only_iban}");
}

#[test]
fn officer_test_fields_each_change_the_verdict() {
    let rules = r#"
[[rule]]
id = "legal-stream"
match = { keys = ["k"], teams = ["legal"], models = ["m/*"], client_label = ["secret"], endpoint = "embeddings", unscannable = true }
action = "allow"
route = { regions = ["ch"] }

[[rule]]
id = "streams"
match = { stream = true }
action = "allow"

[[rule]]
id = "iban"
match = { entities = ["IBAN_CODE"] }
action = "redact"
redact = { operator = "mask" }
"#;
    let passes = |test: &str| {
        let p = policy(&format!("{rules}\n[[test]]\n{test}\n"));
        let report = run_tests(&p, &keyword_classifier);
        (report.all_passed(), report.to_string())
    };
    let full = "key = \"k\"\nteam = \"legal\"\nmodel = \"m/x\"\nclient_label = \"secret\"\n\
                endpoint = \"embeddings\"\nunscannable = true\ninput = \"hello\"\nexpect = \"allow\"\n\
                expect_rule = \"legal-stream\"\nexpect_regions = [\"ch\"]";
    let (ok, report) = passes(&format!("name = \"the legal stream\"\n{full}"));
    assert!(ok, "{report}");
    assert!(report.contains("the legal stream"), "{report}");
    // Each facts field dropped: the first rule no longer matches, so the expectation fails.
    for field in ["key", "team", "model", "client_label", "endpoint", "unscannable"] {
        let without: String =
            full.lines().filter(|l| !l.starts_with(&format!("{field} ="))).collect::<Vec<_>>().join("\n");
        assert!(!passes(&format!("name = \"t\"\n{without}")).0, "{field} has no effect on the test");
    }
    for (field, other) in [
        ("expect", "expect = \"redact\""),
        ("expect_rule", "expect_rule = \"iban\""),
        ("expect_regions", "expect_regions = [\"eu\"]"),
    ] {
        let changed = full.replace(full.lines().find(|l| l.starts_with(&format!("{field} ="))).unwrap(), other);
        assert!(!passes(&format!("name = \"t\"\n{changed}")).0, "{field} has no effect on the test");
    }
    let streams = "name = \"t\"\ninput = \"hello\"\nstream = true\nexpect = \"allow\"\nexpect_rule = \"streams\"";
    assert!(passes(streams).0, "{}", passes(streams).1);
    assert!(!passes(&streams.replace("stream = true\n", "")).0, "stream has no effect on the test");
    // `input` is what is classified: an IBAN makes the redact rule decide.
    let iban = "name = \"t\"\ninput = \"Pay CH93 0076 2011 6238 5295 7\"\nexpect = \"redact\"\nexpect_rule = \"iban\"";
    assert!(passes(iban).0);
    assert!(!passes(&iban.replace("Pay CH93 0076 2011 6238 5295 7", "hello")).0);
    // `request` is a whole body: its model and stream are read.
    let request = "name = \"t\"\nrequest = '{\"model\": \"m/x\", \"input\": [\"hello\"]}'\nkey = \"k\"\n\
                   team = \"legal\"\nclient_label = \"secret\"\nunscannable = true\nexpect = \"allow\"";
    assert!(passes(request).0, "{}", passes(request).1);
    assert!(!passes(&request.replace("m/x", "other/x")).0);
}

// ---- configuration fields --------------------------------------------------------------------------

/// A gateway run on this configuration text (after `data_dir` and `policy_dir`) and policy.
struct Setup {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Setup {
    fn new(config: &str, policy: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies).unwrap();
        std::fs::write(policies.join("p.toml"), policy).unwrap();
        let text = format!(
            "data_dir = {:?}\npolicy_dir = {:?}\n{config}\n",
            dir.path().join("data").display().to_string(),
            policies.display().to_string()
        );
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, text).unwrap();
        Setup { dir, config: path }
    }

    fn start(self) -> Gateway {
        self.start_with(Some("127.0.0.1:0"), &[])
    }

    fn start_with(self, listen: Option<&str>, env: &[(&str, &str)]) -> Gateway {
        let key = create_key(&self.dir.path().join("data"), "tester", "testers", None);
        Gateway::spawn_with(self.dir, &self.config, key, listen, env)
    }
}

/// A `[[providers]]` entry serving `test/model` with extra provider and model lines.
fn provider(name: &str, base_url: &str, region: &str, extra: &str, model_extra: &str) -> String {
    format!(
        "[[providers]]\nname = {name:?}\nkind = \"openai\"\nbase_url = {base_url:?}\nregion = {region:?}\n\
         country = \"FR\"\nzdr = true\n{extra}\n[[providers.models]]\nid = \"test/model\"\nupstream = \"up\"\n\
         prompt = 1.0\ncompletion = 2.0\n{model_extra}\n"
    )
}

#[tokio::test]
async fn listen_is_where_the_gateway_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gw = Setup::new(&format!("listen = \"127.0.0.1:{port}\""), ALLOW_ALL_POLICY).start_with(None, &[]);
    assert!(gw.url.ends_with(&format!(":{port}")), "{}", gw.url);
    let health = gw.client().get(format!("http://127.0.0.1:{port}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn data_and_policy_dirs_are_where_the_gateway_keeps_and_reads() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let deny = "[[rule]]\nid = \"nothing-today\"\naction = \"deny\"\nreason = \"closed\"\n";
    let gw = Setup::new(&provider("eu", &fake.base_url, "eu", "", ""), deny).start();
    assert!(gw.dir.path().join("data/log.db").exists(), "the log is in data_dir");
    let (status, _, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 403, "the policy in policy_dir decides: {body}");
    assert!(body.to_string().contains("nothing-today"), "{body}");
}

#[tokio::test]
async fn upstream_timeout_bounds_the_whole_request() {
    let fake = FakeUpstream::start(Behavior::Slow(Duration::from_secs(2))).await;
    let config =
        |secs: u64| format!("upstream_timeout_secs = {secs}\n{}", provider("eu", &fake.base_url, "eu", "", ""));
    let gw = Setup::new(&config(1), ALLOW_ALL_POLICY).start();
    let (status, _, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 504, "{body}");
    let gw = Setup::new(&config(10), ALLOW_ALL_POLICY).start();
    let (status, _, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 200, "{body}");
}

/// A loopback port that never completes a handshake: its listener's accept queue is full and
/// nothing accepts, so the kernel drops further SYNs. The connections must stay open.
fn port_that_never_connects() -> (std::net::TcpListener, Vec<std::net::TcpStream>, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        held.push(s);
        assert!(held.len() < 10_000, "the accept queue never filled");
    }
    (listener, held, addr.port())
}

#[tokio::test]
async fn connect_timeout_bounds_a_connection_that_never_opens() {
    let (_listener, _held, port) = port_that_never_connects();
    let base = format!("http://127.0.0.1:{port}/v1");
    let elapsed = |ms: u64| {
        let config = format!(
            "connect_timeout_ms = {ms}\n[routing]\nmax_attempts_per_provider = 1\n{}",
            provider("eu", &base, "eu", "", "")
        );
        async move {
            let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
            let start = Instant::now();
            let (status, _, body) = gw.chat(user("hello")).await;
            assert_ne!(status, 200, "{body}");
            start.elapsed()
        }
    };
    let short = elapsed(200).await;
    let long = elapsed(3_000).await;
    assert!(long >= Duration::from_millis(2_500), "the 3 s connect timeout was not waited for: {long:?}");
    assert!(short + Duration::from_secs(1) < long, "200 ms {short:?} vs 3 s {long:?}");
}

#[tokio::test]
async fn policy_poll_picks_up_changes_and_zero_waits_for_sighup() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let deny = "[[rule]]\nid = \"closed\"\naction = \"deny\"\nreason = \"closed\"\n";
    for poll in [100, 0] {
        let setup = Setup::new(
            &format!("policy_poll_ms = {poll}\n{}", provider("eu", &fake.base_url, "eu", "", "")),
            ALLOW_ALL_POLICY,
        );
        let policy_file = setup.dir.path().join("policies/p.toml");
        let gw = setup.start();
        assert_eq!(gw.chat(user("hello")).await.0, 200);
        std::fs::write(&policy_file, deny).unwrap();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let status = gw.chat(user("hello")).await.0;
        if poll == 0 {
            assert_eq!(status, 200, "policy_poll_ms = 0 never polls");
            let _ = std::process::Command::new("kill").args(["-HUP", &gw.child.id().to_string()]).status();
            let start = Instant::now();
            while gw.chat(user("hello")).await.0 != 403 {
                assert!(start.elapsed() < Duration::from_secs(10), "SIGHUP did not reload");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } else {
            assert_eq!(status, 403, "a change is picked up within the poll interval");
        }
    }
}

fn checkpoint_sizes(data: &Path) -> Vec<(u64, String)> {
    let c = rusqlite::Connection::open(data.join("log.db")).unwrap();
    let mut stmt = c.prepare("SELECT tree_size, note FROM checkpoints ORDER BY tree_size").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

fn entry_count(data: &Path) -> u64 {
    let c = rusqlite::Connection::open(data.join("log.db")).unwrap();
    c.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

#[tokio::test]
async fn checkpoints_follow_origin_interval_and_entry_count() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let run = |audit: &str| {
        Setup::new(&format!("[audit]\n{audit}\n{}", provider("eu", &fake.base_url, "eu", "", "")), ALLOW_ALL_POLICY)
    };
    // A short interval signs the tail soon; the origin names the log in every checkpoint.
    let gw =
        run("origin = \"example.org/control-audit\"\ncheckpoint_interval_ms = 100\ncheckpoint_every_entries = 1000000")
            .start();
    assert_eq!(gw.chat(user("hello")).await.0, 200);
    let data = gw.data_dir();
    let start = Instant::now();
    while checkpoint_sizes(&data).last().map(|c| c.0) != Some(entry_count(&data)) {
        assert!(start.elapsed() < Duration::from_secs(10), "no checkpoint after 100 ms: {:?}", checkpoint_sizes(&data));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(checkpoint_sizes(&data).iter().all(|(_, note)| note.starts_with("example.org/control-audit\n")));
    // A long interval leaves the tail unsigned ... unless enough entries wait.
    for (every, signed) in [(1_000_000, false), (2, true)] {
        let gw = run(&format!("checkpoint_interval_ms = 600000\ncheckpoint_every_entries = {every}")).start();
        let data = gw.data_dir();
        let before = checkpoint_sizes(&data).last().map(|c| c.0);
        for _ in 0..3 {
            assert_eq!(gw.chat(user("hello")).await.0, 200);
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let after = checkpoint_sizes(&data).last().map(|c| c.0);
        assert!(checkpoint_sizes(&data).iter().all(|(_, note)| note.starts_with("auditgate.local/log\n")));
        assert_eq!(after > before, signed, "checkpoint_every_entries = {every}: {before:?} -> {after:?}");
    }
}

fn audit_cli(data: &Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(bin()).arg("audit").args(args).arg("--data-dir").arg(data).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn body_key_file_and_hold_years_govern_stored_bodies() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("elsewhere.key");
    for hold in [0, 10] {
        let audit = format!(
            "[audit]\nstore_bodies = \"full\"\nbody_hold_years = {hold}\nbody_key_file = {:?}\n",
            key_file.display().to_string()
        );
        let mut gw =
            Setup::new(&format!("{audit}{}", provider("eu", &fake.base_url, "eu", "", "")), ALLOW_ALL_POLICY).start();
        let (status, headers, _) = gw.chat(user("a note")).await;
        assert_eq!(status, 200);
        let seq = headers["x-auditgate-entry"].to_str().unwrap().to_string();
        gw.stop();
        let data = gw.data_dir();
        assert!(
            key_file.exists() && !data.join("body-master.key").exists(),
            "the master key is where body_key_file says"
        );
        let key = key_file.display().to_string();
        let (code, err) = audit_cli(&data, &["show-body", "--entry", &seq, "--reason", "check", "--body-key", &key]);
        assert_eq!(code, 0, "the body opens with the key from body_key_file: {err}");
        let (code, _) = audit_cli(&data, &["show-body", "--entry", &seq, "--reason", "check"]);
        assert_ne!(code, 0, "and not without it");
        let (code, err) = audit_cli(&data, &["erase", "--entry", &seq, "--reason", "done"]);
        assert_eq!(code == 0, hold == 0, "body_hold_years = {hold}: exit {code}: {err}");
    }
}

#[tokio::test]
async fn witness_quorum_above_the_witnesses_configured_stops_serve() {
    let witness_dir = tempfile::tempdir().unwrap();
    let witness = audit_witness::Witness::start(witness_dir.path());
    let witnesses = |quorum: usize| {
        format!(
            "[audit]\nwitness_quorum = {quorum}\n[[audit.witnesses]]\nurl = {:?}\npublic_key = {:?}\n",
            witness.url,
            witness.public_key()
        )
    };
    // Two cosignatures asked of one witness: refused at start, not a quorum never reached.
    let setup = Setup::new(&witnesses(2), ALLOW_ALL_POLICY);
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&setup.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("witness_quorum"), "{stderr}");
    let gw = Setup::new(&witnesses(1), ALLOW_ALL_POLICY).start();
    assert_eq!(gw.get("/health", None).await.1["witnesses"]["quorum"], 1);
}

#[tokio::test]
async fn attempt_timeout_moves_on_to_the_next_provider() {
    let slow = FakeUpstream::start(Behavior::Slow(Duration::from_secs(3))).await;
    let fast = FakeUpstream::start(Behavior::Echo).await;
    for (secs, served_by) in [(1, "fast"), (10, "slow")] {
        let config = format!(
            "[routing]\nattempt_timeout_secs = {secs}\nmax_attempts_per_provider = 1\n{}{}",
            provider("slow", &slow.base_url, "eu", "", ""),
            provider("fast", &fast.base_url, "eu", "", "")
        );
        let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
        let mut ask = user("hello");
        ask["provider"] = json!({"order": ["slow", "fast"]});
        let (status, _, body) = gw.chat(ask).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["provider"], served_by, "attempt_timeout_secs = {secs}: {body}");
    }
}

#[tokio::test]
async fn max_attempts_per_provider_counts_the_tries() {
    for tries in [1, 3] {
        let fake = FakeUpstream::start(Behavior::Status(500, "{\"error\": {\"message\": \"down\"}}".into())).await;
        let config = format!(
            "[routing]\nmax_attempts_per_provider = {tries}\nretry_base_backoff_ms = 1\nretry_max_backoff_ms = 1\n{}",
            provider("eu", &fake.base_url, "eu", "", "")
        );
        let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
        assert_ne!(gw.chat(user("hello")).await.0, 200);
        assert_eq!(fake.hits(), tries);
    }
}

#[tokio::test]
async fn retry_backoff_waits_between_tries_up_to_its_cap() {
    // Four retries (five failures in a row open the provider's breaker), each waiting uniformly
    // up to min(max, base * 2^(n-1)): with base = max = 800 ms about 1.6 s in all (under 250 ms
    // with probability 0.0004); capped at 1 ms, next to nothing.
    let fake = FakeUpstream::start(Behavior::Status(500, "{\"error\": {\"message\": \"down\"}}".into())).await;
    let mut took = Vec::new();
    for (base, max) in [(800, 800), (1, 1), (800, 1)] {
        let config = format!(
            "[routing]\nmax_attempts_per_provider = 5\nretry_base_backoff_ms = {base}\nretry_max_backoff_ms = {max}\n{}",
            provider("eu", &fake.base_url, "eu", "", "")
        );
        let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
        let start = Instant::now();
        assert_ne!(gw.chat(user("hello")).await.0, 200);
        took.push(start.elapsed());
    }
    assert_eq!(fake.hits(), 15);
    let margin = Duration::from_millis(250);
    assert!(took[0] > took[1] + margin, "base 800 ms waited no longer than base 1 ms: {took:?}");
    assert!(took[0] > took[2] + margin, "retry_max_backoff_ms = 1 did not cap base 800 ms: {took:?}");
}

#[tokio::test]
async fn provider_name_kind_and_base_url_say_who_serves() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let unused = FakeUpstream::start(Behavior::Echo).await;
    let gw = Setup::new(&provider("named-eu-1", &fake.base_url, "eu", "", ""), ALLOW_ALL_POLICY).start();
    let (status, headers, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "named-eu-1");
    assert!(headers.get("x-auditgate-entry").is_some());
    assert_eq!((fake.hits(), unused.hits()), (1, 0), "base_url is where the call went");
    assert!(fake.record.anthropic_versions.lock().unwrap().is_empty());
    let anthropic = provider("named-eu-1", fake.base_url.trim_end_matches("/v1"), "eu", "", "")
        .replace("\"openai\"", "\"anthropic\"");
    let gw = Setup::new(&anthropic, ALLOW_ALL_POLICY).start();
    assert_eq!(gw.chat(user("hello")).await.0, 200);
    assert_eq!(fake.record.anthropic_versions.lock().unwrap().len(), 1, "kind = anthropic speaks the Messages API");
}

#[tokio::test]
async fn api_key_env_enables_and_authorises_and_headers_are_sent() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let extra = "api_key_env = \"AUDITGATE_CONTROL_AUDIT_KEY\"\nheaders = { \"x-tenant\" = \"fiduciary-7\" }";
    let config = provider("eu", &fake.base_url, "eu", extra, "");
    let without = Setup::new(&config, ALLOW_ALL_POLICY).start();
    assert_eq!(without.chat(user("hello")).await.0, 404, "without its key variable the provider is off");
    let with = Setup::new(&config, ALLOW_ALL_POLICY)
        .start_with(Some("127.0.0.1:0"), &[("AUDITGATE_CONTROL_AUDIT_KEY", "sk-test-7")]);
    assert_eq!(with.chat(user("hello")).await.0, 200);
    let headers = fake.record.chat_headers.lock().unwrap()[0].clone();
    assert_eq!(headers["authorization"], "Bearer sk-test-7");
    assert_eq!(headers["x-tenant"], "fiduciary-7");
}

#[tokio::test]
async fn provider_region_country_zdr_and_collection_are_what_policy_routes_by() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    // (route constraint, provider lines that satisfy it, provider lines that do not)
    let cases = [
        ("regions = [\"ch\"]", ("ch", ""), ("eu", "")),
        ("countries = [\"FR\"]", ("eu", ""), ("eu", "#de")),
        ("require_zdr = true", ("eu", ""), ("eu", "zdr = false")),
        ("deny_data_collection = true", ("eu", "data_collection = false"), ("eu", "data_collection = true")),
    ];
    for (route, (ok_region, ok_extra), (bad_region, bad_extra)) in cases {
        let policy = format!("[[rule]]\nid = \"r\"\naction = \"allow\"\nroute = {{ {route} }}\n");
        let lines = |region: &str, extra: &str| {
            let p = provider("p", &fake.base_url, region, "", "");
            match extra {
                "#de" => p.replace("country = \"FR\"", "country = \"DE\""),
                "zdr = false" => p.replace("zdr = true", "zdr = false"),
                e => p.replace("zdr = true\n", &format!("zdr = true\n{e}\n")),
            }
        };
        let gw = Setup::new(&lines(ok_region, ok_extra), &policy).start();
        assert_eq!(gw.chat(user("hello")).await.0, 200, "{route} admits it");
        let gw = Setup::new(&lines(bad_region, bad_extra), &policy).start();
        let (status, _, body) = gw.chat(user("hello")).await;
        assert_eq!(status, 503, "{route} excludes it: {body}");
    }
}

#[tokio::test]
async fn model_entries_are_what_clients_see_and_pay() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let model = "name = \"Test model\"\ncached_prompt = 0.5\ncreated = \"2026-01-15\"";
    let config = provider("eu", &fake.base_url, "eu", "", model)
        .replace("prompt = 1.0\ncompletion = 2.0", "prompt = 3.0\ncompletion = 7.0");
    let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
    let models = gw.get("/v1/models", None).await.1;
    let m = &models["data"][0];
    assert_eq!(m["id"], "test/model");
    assert_eq!(m["name"], "Test model");
    assert_eq!(m["created"], 1_768_435_200, "2026-01-15T00:00:00Z");
    assert_eq!(m["pricing"]["input_cache_read"], "0.0000005");
    let (status, _, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.bodies()[0]["model"], "up", "upstream is the id sent to the provider");
    // The fake reports 10 prompt and 5 completion tokens: 10 * 3 + 5 * 7 = 65 per million.
    assert_eq!(body["usage"]["cost"].as_f64(), Some(0.000065), "{body}");
    assert_eq!(gw.chat(json!({"model": "other/model", "messages": [{"role": "user", "content": "x"}]})).await.0, 404);
    let plain = Setup::new(&provider("eu", &fake.base_url, "eu", "", ""), ALLOW_ALL_POLICY).start();
    let m = plain.get("/v1/models", None).await.1["data"][0].clone();
    assert!(m["pricing"].get("input_cache_read").is_none(), "{m}");
    assert_eq!(m["name"], "test/model");
}

#[tokio::test]
async fn model_limits_route_around_providers_that_cannot_take_the_request() {
    let small = FakeUpstream::start(Behavior::Echo).await;
    let large = FakeUpstream::start(Behavior::Echo).await;
    let limits = "context_length = 100\nmax_completion_tokens = 50\ninput_modalities = [\"text\"]";
    let config = format!(
        "{}{}",
        provider("small", &small.base_url, "eu", "", limits),
        provider("large", &large.base_url, "eu", "", "input_modalities = [\"text\", \"image\"]")
    );
    let gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
    let first_small = |mut body: Value| {
        body["provider"] = json!({"order": ["small", "large"]});
        body
    };
    let (_, _, fits) = gw.chat(first_small(user("short"))).await;
    assert_eq!(fits["provider"], "small", "{fits}");
    let (_, _, long) = gw.chat(first_small(user(&"word ".repeat(200)))).await;
    assert_eq!(long["provider"], "large", "context_length: {long}");
    let mut ask = user("short");
    ask["max_tokens"] = json!(80);
    let (_, _, many) = gw.chat(first_small(ask)).await;
    assert_eq!(many["provider"], "large", "max_completion_tokens: {many}");
    let image = json!({"model": "test/model", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]});
    let (_, _, seen) = gw.chat(first_small(image)).await;
    assert_eq!(seen["provider"], "large", "input_modalities: {seen}");
    // With only the small provider the request is refused as too large, naming why.
    let gw = Setup::new(&provider("small", &small.base_url, "eu", "", limits), ALLOW_ALL_POLICY).start();
    let (status, _, body) = gw.chat(user(&"word ".repeat(200))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "exceeds_model_limits");
    assert!(body["error"]["message"].as_str().unwrap().contains("context length of 100"), "{body}");
}

#[tokio::test]
async fn presets_fill_models_provider_system_and_parameters() {
    let a = FakeUpstream::start(Behavior::Echo).await;
    let b = FakeUpstream::start(Behavior::Echo).await;
    let preset = "[[presets]]\nname = \"brief-b\"\nmodels = [\"nobody/model\", \"test/model\"]\n\
                  provider = { only = [\"b\"] }\nsystem = \"Be brief.\"\nparameters = { temperature = 0.3 }\n";
    let config =
        format!("{preset}{}{}", provider("a", &a.base_url, "eu", "", ""), provider("b", &b.base_url, "eu", "", ""));
    let mut gw = Setup::new(&config, ALLOW_ALL_POLICY).start();
    let ask = json!({"model": "@preset/brief-b", "messages": [{"role": "user", "content": "Hallo"}]});
    let (status, _, body) = gw.chat(ask).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"], "b", "the preset's provider preferences");
    assert_eq!(body["model"], "test/model", "the preset's models, the unknown first one passed over");
    let sent = b.bodies().remove(0);
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert_eq!(sent["temperature"], 0.3);
    assert!(sent.get("preset").is_none() && a.hits() == 0);
    let (status, _, body) = gw.chat(json!({"model": "@preset/none", "messages": []})).await;
    assert_eq!(status, 400, "{body}");
    gw.stop();
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let bytes: Vec<u8> = conn
        .query_row("SELECT bytes FROM entries WHERE kind = 'request' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let entry: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(entry["payload"]["preset"]["name"], "brief-b");
    assert_eq!(entry["payload"]["preset"]["version"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn team_credentials_bill_the_teams_own_account() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let other = FakeUpstream::start(Behavior::Echo).await;
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("legal.key");
    std::fs::write(&file, "sk-legal-file\n").unwrap();
    let teams = format!(
        "[[teams]]\nname = \"payroll\"\n[[teams.credentials]]\nprovider = \"eu\"\napi_key_env = \"AUDITGATE_PAYROLL_KEY\"\n\
         [[teams]]\nname = \"legal\"\n[[teams.credentials]]\nprovider = \"eu\"\napi_key_file = {:?}\n",
        file.display().to_string()
    );
    let config = format!(
        "{teams}{}{}",
        provider("eu", &fake.base_url, "eu", "api_key_env = \"AUDITGATE_OPERATOR_KEY\"", ""),
        provider("other", &other.base_url, "eu", "", "").replace("test/model", "other/model")
    );
    let setup = Setup::new(&config, ALLOW_ALL_POLICY);
    let data = setup.dir.path().join("data");
    let payroll = create_key(&data, "payroll-1", "payroll", None);
    let legal = create_key(&data, "legal-1", "legal", None);
    let env = [("AUDITGATE_OPERATOR_KEY", "sk-operator"), ("AUDITGATE_PAYROLL_KEY", "sk-payroll-env")];
    let mut gw = setup.start_with(Some("127.0.0.1:0"), &env);
    for secret in [&gw.key, &payroll, &legal] {
        let resp =
            gw.client().post(format!("{}/v1/chat/completions", gw.url)).bearer_auth(secret).json(&user("hi")).send();
        assert_eq!(resp.await.unwrap().status(), 200);
    }
    let sent: Vec<String> = fake
        .record
        .chat_headers
        .lock()
        .unwrap()
        .iter()
        .map(|h| h["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(sent, ["Bearer sk-operator", "Bearer sk-payroll-env", "Bearer sk-legal-file"]);
    gw.stop();
    let conn = rusqlite::Connection::open(data.join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT bytes FROM entries WHERE kind = 'response' ORDER BY seq").unwrap();
    let billed: Vec<Value> = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| serde_json::from_slice::<Value>(&b.unwrap()).unwrap()["payload"]["attempts"][0]["billed_to"].clone())
        .collect();
    assert_eq!(billed, [Value::Null, json!("team:payroll"), json!("team:legal")]);
    let log = std::fs::read(data.join("log.db")).unwrap();
    assert!(!log.windows(13).any(|w| w == b"sk-payroll-en"), "no team key in the log");
    let list = std::process::Command::new(bin()).args(["keys", "list", "--data-dir"]).arg(&data).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("spend by team") && listed.contains("payroll"), "{listed}");
    // A team credential that cannot be used stops the gateway at start.
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(gw.dir.path().join("gateway.toml"))
        .env("AUDITGATE_OPERATOR_KEY", "sk-operator")
        .env_remove("AUDITGATE_PAYROLL_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AUDITGATE_PAYROLL_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
