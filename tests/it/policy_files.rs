//! Shipped policies, directory loading, versions and `policy check` exit codes.

use crate::policy_support;

use auditgate::pii::Level;
use auditgate::policy::{check_main, run_tests, test_main, Policy, RequestFacts};
use policy_support::{demo_providers, keyword_classifier, repo_path};
use std::path::PathBuf;

fn load(rel: &str) -> Policy {
    Policy::load(&[repo_path(rel)]).unwrap_or_else(|d| {
        let lines: Vec<String> = d.iter().map(ToString::to_string).collect();
        panic!("{rel} does not load:\n{}", lines.join("\n"))
    })
}

fn assert_tests_pass(rel: &str, min_tests: usize) {
    let policy = load(rel);
    let report = run_tests(&policy, &keyword_classifier);
    assert!(report.all_passed(), "{rel}:\n{report}");
    assert!(report.passed >= min_tests, "{rel}: only {} tests", report.passed);
}

#[test]
fn default_policy_tests_pass() {
    assert_tests_pass("policies/default.toml", 6);
}

#[test]
fn example_policies_tests_pass() {
    assert_tests_pass("policies/examples/law-firm.toml", 4);
    assert_tests_pass("policies/examples/medical-practice.toml", 5);
    assert_tests_pass("policies/examples/research-team.toml", 4);
}

#[test]
fn policies_dir_excludes_examples() {
    let policy = load("policies");
    assert_eq!(policy.files.len(), 1);
    assert!(policy.files[0].0.ends_with("default.toml"));
    assert!(policy.rules.iter().all(|r| r.source.file.ends_with("default.toml")));
}

fn facts(text: &str) -> RequestFacts {
    let c = keyword_classifier(text);
    RequestFacts {
        key_name: "alice".into(),
        model: "demo/echo".into(),
        endpoint: "chat".into(),
        level: c.level,
        entity_types: c.entity_types(),
        ..RequestFacts::default()
    }
}

fn allowed_names(policy: &Policy, f: &RequestFacts) -> Vec<String> {
    let providers = demo_providers();
    policy.decide(f).allowed_providers(&providers).iter().map(|p| p.name.clone()).collect()
}

#[test]
fn default_policy_routes_demo_providers() {
    let policy = load("policies");
    assert_eq!(allowed_names(&policy, &facts("What is 2 + 2?")), ["demo-ch", "demo-us"]);
    let iban = facts("Pay to CH93 0076 2011 6238 5295 7");
    assert_eq!(iban.level, Level::Personal);
    assert_eq!(allowed_names(&policy, &iban), ["demo-ch"]);
    let mut confidential = facts("Hello");
    confidential.client_label = Some("confidential".into());
    assert_eq!(allowed_names(&policy, &confidential), ["demo-ch"]);
    let special = facts("Hans Muster has diabetes");
    let d = policy.decide(&special);
    assert_eq!(d.action(), "redact");
    assert_eq!(allowed_names(&policy, &special), ["demo-ch"]);
}

#[test]
fn version_is_independent_of_the_path_spelling() {
    let a = load("policies");
    let b = Policy::load(&[repo_path("policies/default.toml")]).map(|p| p.version);
    assert_eq!(Ok(a.version.clone()), b);
    assert_eq!(a.version.len(), 64);
    assert_eq!(a.decide(&facts("x")).policy_version, a.version);
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp policy");
    path
}

#[test]
fn files_are_concatenated_in_name_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "20-allow.toml", "[[rule]]\nid = \"allow-all\"\naction = \"allow\"\n");
    write(
        dir.path(),
        "10-deny-stream.toml",
        "[[rule]]\nid = \"no-stream\"\nmatch = { stream = true }\naction = \"deny\"\nreason = \"no streaming\"\n",
    );
    write(dir.path(), "notes.txt", "not a policy");
    write(dir.path(), ".00-editor-backup.toml", "broken [[");
    std::fs::create_dir(dir.path().join("examples")).expect("mkdir");
    write(&dir.path().join("examples"), "00-first.toml", "broken [[");
    let policy = Policy::load_dir(dir.path()).expect("valid");
    let ids: Vec<&str> = policy.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["no-stream", "allow-all"]);
    let mut f = facts("x");
    f.stream = true;
    assert_eq!(policy.decide(&f).rule_id, "no-stream");
}

#[test]
fn errors_across_files_are_all_collected() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.toml", "[[rule]]\nid = \"x\"\naction = \"allow\"\nmatch = { entities = [\"CH_AVH\"] }\n");
    write(dir.path(), "b.toml", "[[rule]]\nid = \"x\"\naction = \"allow\"\nroute = { regions = [\"chh\"] }\n");
    let errs: Vec<String> =
        Policy::load_dir(dir.path()).expect_err("invalid").iter().map(ToString::to_string).collect();
    let a = dir.path().join("a.toml").display().to_string();
    let b = dir.path().join("b.toml").display().to_string();
    assert_eq!(
        errs,
        [
            format!("{a}:4:23: unknown entity type `CH_AVH`: did you mean CH_AHV?"),
            format!("{b}:4:22: unknown region `chh`: did you mean ch?"),
        ]
    );
}

#[test]
fn check_main_exit_codes() {
    assert_eq!(check_main(&[repo_path("policies")]), 0);
    assert_eq!(check_main(&[repo_path("policies/examples")]), 1, "duplicate ids across examples");
    assert_eq!(check_main(&[repo_path("policies/examples/law-firm.toml")]), 0);
    assert_eq!(check_main(&[repo_path("no/such/dir")]), 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(dir.path(), "bad.toml", "[[rule]\nid = 1\n");
    assert_eq!(check_main(&[bad]), 1);
}

#[test]
fn test_main_exit_codes() {
    assert_eq!(test_main(&[repo_path("policies")], &keyword_classifier), 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let failing = write(
        dir.path(),
        "p.toml",
        "[[rule]]\nid = \"all\"\naction = \"allow\"\n[[test]]\nname = \"t\"\ninput = \"x\"\nexpect = \"deny\"\n",
    );
    assert_eq!(test_main(&[failing], &keyword_classifier), 1);
}

#[test]
fn explain_main_exit_codes() {
    use auditgate::policy::{explain_main, ExplainArgs};
    let dir = tempfile::tempdir().expect("tempdir");
    let request = write(
        dir.path(),
        "req.json",
        r#"{"model": "demo/echo", "messages": [{"role": "user", "content": "CH93 0076"}]}"#,
    );
    let classify = |body: &serde_json::Value| keyword_classifier(&body.to_string());
    let mut args = ExplainArgs {
        policy_paths: vec![repo_path("policies")],
        request,
        key_name: Some("alice".into()),
        json: true,
        ..ExplainArgs::default()
    };
    assert_eq!(explain_main(&args, &demo_providers(), &classify), 0);
    args.json = false;
    assert_eq!(explain_main(&args, &demo_providers(), &classify), 0);
    args.policy_paths = vec![write(dir.path(), "bad.toml", "[[rule]]\nid = \"x\"\n")];
    assert_eq!(explain_main(&args, &demo_providers(), &classify), 1);
    args.request = write(dir.path(), "notjson.json", "{oops");
    assert_eq!(explain_main(&args, &demo_providers(), &classify), 2);
    args.request = dir.path().join("missing.json");
    assert_eq!(explain_main(&args, &demo_providers(), &classify), 2);
}

#[test]
fn same_file_name_twice_is_an_error() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let rule = "[[rule]]\nid = \"x\"\naction = \"allow\"\n";
    write(a.path(), "p.toml", rule);
    let second = write(b.path(), "p.toml", rule.replace('x', "y").as_str());
    let errs = Policy::load(&[a.path().to_path_buf(), b.path().to_path_buf()]).expect_err("dup");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].file, second);
    assert!(errs[0].message.contains("same file name"));
}
