//! The planner: filters candidates by the client's provider preferences and orders them.
//!
//! Steps, in order:
//! 1. Filters (each exclusion is reported with its reason): duplicates (same provider and
//!    upstream model), `only`, `ignore`, `zdr`, `data_collection: deny`, `require_parameters`,
//!    `max_price` (a candidate with an unparsable price never passes a ceiling).
//! 2. Order: providers named in `order` first, in that order. The rest follow, sorted by the
//!    sort in force (the `:nitro`/`:floor` override, else `provider.sort`): price ascending,
//!    throughput descending or latency ascending, providers without measurements last. Without
//!    a sort the default is OpenRouter's price-weighted load balancing: providers that are
//!    stable (breaker closed, no failure in the last `stable_after`) are drawn at random with
//!    weight 1 / price^2 (a provider half the price gets four times the traffic), each next pick
//!    among those left; unstable providers follow, cheapest first.
//! 3. Providers whose breaker is open are moved to the end (stable order), in every mode: they
//!    would be refused now, but stay as a last resort in case their cool-down ends during the
//!    request. They are not excluded: with one provider, excluding it would turn a cool-down into
//!    a certain failure without a probe ever being sent. The gateway still calls
//!    [`Health::allows`] before each attempt and skips a provider it refuses.
//! 4. `allow_fallbacks: false`: with `order`, only the providers named in `order` remain (this
//!    is OpenRouter's documented meaning); without `order`, only the first choice remains.
//!
//! The planner never adds a candidate: its output is a subset of its input, so it cannot widen
//! what the policy allowed. It does no I/O and allocates a handful of small vectors.

use crate::offer::Candidate;
use crate::routing::health::{BreakerState, Health};
use crate::routing::prefs::PassedOver;
use crate::routing::prefs::{ProviderPrefs, Sort, SortPref};
use rand::Rng;
use serde::Serialize;
use std::cmp::Ordering;
use std::time::Instant;

/// The result of planning one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Candidates to try, first choice first.
    pub ordered: Vec<Candidate>,
    /// Candidates removed by preferences: (provider name, reason).
    pub excluded: Vec<(String, PassedOver)>,
    /// Preferences accepted but without effect (for the audit entry).
    pub notes: Vec<String>,
}

impl Plan {
    /// No candidate left: the gateway answers 503 (no provider meets the routing requirements),
    /// or tries the next model of a `models` list.
    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }
}

/// Plans with the current time; see [`plan_at`].
pub fn plan(
    candidates: Vec<Candidate>,
    prefs: &ProviderPrefs,
    sort_override: Option<Sort>,
    request_params: &[String],
    health: &Health,
    rng: &mut impl Rng,
) -> Plan {
    plan_at(candidates, prefs, sort_override, request_params, health, rng, Instant::now())
}

/// Filters and orders `candidates` (already restricted by policy) as the module docs describe.
pub fn plan_at(
    candidates: Vec<Candidate>,
    prefs: &ProviderPrefs,
    sort_override: Option<Sort>,
    request_params: &[String],
    health: &Health,
    rng: &mut impl Rng,
    now: Instant,
) -> Plan {
    let mut excluded = Vec::new();
    let kept = filter(candidates, prefs, request_params, &mut excluded);
    let (mut head, rest) = split_by_order(kept, prefs);
    let sort = sort_override.or(prefs.sort.as_ref().map(SortPref::by));
    head.extend(match sort {
        Some(by) => sorted(rest, by, health),
        None => load_balanced(rest, health, now, rng),
    });
    let mut ordered = demote_open(head, health, now);
    if !prefs.fallbacks_allowed() {
        ordered = without_fallbacks(ordered, prefs, &mut excluded);
    }
    Plan { ordered, excluded, notes: prefs.notes() }
}

fn filter(
    candidates: Vec<Candidate>,
    prefs: &ProviderPrefs,
    request_params: &[String],
    excluded: &mut Vec<(String, PassedOver)>,
) -> Vec<Candidate> {
    let mut kept: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for c in candidates {
        let duplicate = kept.iter().any(|k| k.provider.name == c.provider.name && k.upstream_model == c.upstream_model);
        let verdict = if duplicate { Err(PassedOver::Duplicate) } else { admit(&c, prefs, request_params) };
        match verdict {
            Ok(()) => kept.push(c),
            Err(reason) => excluded.push((c.provider.name.clone(), reason)),
        }
    }
    kept
}

/// Ok when the candidate satisfies every filtering preference, else the first reason it fails.
fn admit(c: &Candidate, prefs: &ProviderPrefs, request_params: &[String]) -> Result<(), PassedOver> {
    prefs.name_filter(&c.provider.name)?;
    if prefs.zdr_required() && !c.provider.zdr {
        return Err(PassedOver::RetainsData);
    }
    if prefs.deny_data_collection() && c.provider.data_collection {
        return Err(PassedOver::CollectsData);
    }
    if prefs.parameters_required() && !c.supports_all(request_params) {
        let missing = request_params.iter().filter(|p| !c.supported_parameters.contains(p)).cloned().collect();
        return Err(PassedOver::UnsupportedParameters { missing });
    }
    check_max_price(c, prefs)
}

fn check_max_price(c: &Candidate, prefs: &ProviderPrefs) -> Result<(), PassedOver> {
    let Some(max) = prefs.max_price else {
        return Ok(());
    };
    let checks =
        [("prompt", max.prompt, c.price.prompt_per_mtok), ("completion", max.completion, c.price.completion_per_mtok)];
    for (part, ceiling, price) in checks {
        // A NaN price (broken configuration) fails every ceiling instead of slipping through.
        if let Some(ceiling) = ceiling.filter(|ceiling| price.is_nan() || price > *ceiling) {
            return Err(PassedOver::OverMaxPrice { part, price, ceiling });
        }
    }
    Ok(())
}

/// Candidates named in `order` (sorted by their position) and the rest (input order).
fn split_by_order(kept: Vec<Candidate>, prefs: &ProviderPrefs) -> (Vec<Candidate>, Vec<Candidate>) {
    let mut head: Vec<(usize, Candidate)> = Vec::new();
    let mut rest = Vec::new();
    for c in kept {
        match prefs.order_position(&c.provider.name) {
            Some(pos) => head.push((pos, c)),
            None => rest.push(c),
        }
    }
    head.sort_by_key(|(pos, _)| *pos);
    (head.into_iter().map(|(_, c)| c).collect(), rest)
}

/// Stable sort by the requested attribute; unknown health figures sort last.
fn sorted(cands: Vec<Candidate>, by: Sort, health: &Health) -> Vec<Candidate> {
    let key = |c: &Candidate| -> Option<f64> {
        match by {
            Sort::Price => Some(c.price.blended()),
            // Negated so that ascending order means fastest first.
            Sort::Throughput => health.throughput_tps(c.provider_name()).map(|t| -t),
            Sort::Latency => health.latency_ms(c.provider_name()),
        }
    };
    let mut keyed: Vec<(Option<f64>, Candidate)> = cands.into_iter().map(|c| (key(&c), c)).collect();
    keyed.sort_by(|(a, _), (b, _)| known_first(*a, *b));
    keyed.into_iter().map(|(_, c)| c).collect()
}

fn known_first(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// OpenRouter's default: stable providers in a random order weighted by 1 / price^2, then the
/// unstable ones cheapest first.
///
/// The weighted order is a weighted sampling without replacement (Efraimidis-Spirakis): each
/// candidate draws an exponential "arrival time" -ln(u) / w and the earliest goes first. That is
/// one pass and one sort, and the first pick has probability w_i / sum(w).
fn load_balanced(cands: Vec<Candidate>, health: &Health, now: Instant, rng: &mut impl Rng) -> Vec<Candidate> {
    let (stable, unstable): (Vec<Candidate>, Vec<Candidate>) =
        cands.into_iter().partition(|c| health.is_stable(c.provider_name(), now));
    let mut drawn: Vec<(f64, Candidate)> = stable
        .into_iter()
        .map(|c| {
            let u: f64 = 1.0 - rng.gen::<f64>(); // in (0, 1], so ln(u) is finite
            (-u.ln() / price_weight(c.price.blended()), c)
        })
        .collect();
    drawn.sort_by(|(a, _), (b, _)| a.total_cmp(b));
    let mut out: Vec<Candidate> = drawn.into_iter().map(|(_, c)| c).collect();
    out.extend(sorted(unstable, Sort::Price, health));
    out
}

/// Inverse square of the price. Free providers (price 0) get the weight of a price of 1e-6 USD
/// per million tokens, i.e. practically always first, without dividing by zero.
fn price_weight(blended: f64) -> f64 {
    let p = blended.max(1e-6);
    1.0 / (p * p)
}

fn demote_open(cands: Vec<Candidate>, health: &Health, now: Instant) -> Vec<Candidate> {
    let (mut usable, open): (Vec<Candidate>, Vec<Candidate>) =
        cands.into_iter().partition(|c| health.state(c.provider_name(), now) != BreakerState::Open);
    usable.extend(open);
    usable
}

fn without_fallbacks(
    ordered: Vec<Candidate>,
    prefs: &ProviderPrefs,
    excluded: &mut Vec<(String, PassedOver)>,
) -> Vec<Candidate> {
    let has_order = prefs.order_list().is_some();
    let mut kept = Vec::new();
    for c in ordered {
        let keep = if has_order { prefs.order_position(&c.provider.name).is_some() } else { kept.is_empty() };
        if keep {
            kept.push(c);
        } else {
            excluded.push((c.provider.name.clone(), PassedOver::NoFallbacks));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{Price, ProviderProfile};
    use crate::routing::ErrorKind;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use serde_json::json;
    use std::time::Duration;

    fn cand(name: &str, price: f64) -> Candidate {
        Candidate {
            provider: ProviderProfile {
                name: name.into(),
                region: "ch".into(),
                country: "CH".into(),
                zdr: true,
                data_collection: false,
            }
            .into(),
            public_model: "demo/echo".into(),
            upstream_model: "echo".into(),
            price: Price { prompt_per_mtok: price, completion_per_mtok: price, cached_prompt_per_mtok: None },
            supported_parameters: vec!["temperature".into()].into(),
            limits: crate::offer::Limits { context_length: Some(8192), ..Default::default() },
        }
    }

    fn prefs(v: serde_json::Value) -> ProviderPrefs {
        serde_json::from_value(v).expect("valid prefs")
    }

    fn names(p: &Plan) -> Vec<&str> {
        p.ordered.iter().map(|c| c.provider.name.as_str()).collect()
    }

    fn run(cands: Vec<Candidate>, p: &ProviderPrefs, health: &Health) -> Plan {
        let mut rng = StdRng::seed_from_u64(1);
        plan_at(cands, p, None, &[], health, &mut rng, Instant::now())
    }

    fn abc() -> Vec<Candidate> {
        vec![cand("a", 1.0), cand("b", 2.0), cand("c", 3.0)]
    }

    fn reason<'a>(p: &'a Plan, name: &str) -> Option<&'a PassedOver> {
        p.excluded.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    fn over_price(p: &Plan, name: &str) -> Option<&'static str> {
        match reason(p, name) {
            Some(PassedOver::OverMaxPrice { part, .. }) => Some(part),
            _ => None,
        }
    }

    #[test]
    fn only_and_ignore() {
        let h = Health::default();
        let p = run(abc(), &prefs(json!({"only": ["A", "b"], "ignore": ["B"], "sort": "price"})), &h);
        assert_eq!(names(&p), ["a"]);
        assert_eq!(reason(&p, "b"), Some(&PassedOver::Ignored));
        assert_eq!(reason(&p, "c"), Some(&PassedOver::NotInOnly));
    }

    #[test]
    fn zdr_and_data_collection() {
        let mut cands = abc();
        std::sync::Arc::make_mut(&mut cands[0].provider).zdr = false;
        std::sync::Arc::make_mut(&mut cands[1].provider).data_collection = true;
        let h = Health::default();
        let p = run(cands, &prefs(json!({"zdr": true, "data_collection": "deny"})), &h);
        assert_eq!(names(&p), ["c"]);
        assert_eq!(reason(&p, "a"), Some(&PassedOver::RetainsData));
        assert_eq!(reason(&p, "b"), Some(&PassedOver::CollectsData));
    }

    #[test]
    fn require_parameters() {
        let mut cands = abc();
        cands[2].supported_parameters = vec!["temperature".into(), "tools".into()].into();
        let h = Health::default();
        let params = vec!["tools".to_string(), "temperature".to_string()];
        let mut rng = StdRng::seed_from_u64(1);
        let strict = prefs(json!({"require_parameters": true}));
        let p = plan_at(cands.clone(), &strict, None, &params, &h, &mut rng, Instant::now());
        assert_eq!(names(&p), ["c"]);
        assert_eq!(reason(&p, "a"), Some(&PassedOver::UnsupportedParameters { missing: vec!["tools".into()] }));
        assert_eq!(reason(&p, "a").unwrap().to_string(), "provider.require_parameters: unsupported tools");
        let lax = plan_at(cands, &prefs(json!({})), None, &params, &h, &mut rng, Instant::now());
        assert_eq!(lax.ordered.len(), 3, "without require_parameters nothing is filtered");
    }

    #[test]
    fn max_price_in_usd_per_million() {
        let mut cands = abc();
        cands[1].price.prompt_per_mtok = f64::NAN;
        let h = Health::default();
        let p = run(cands, &prefs(json!({"max_price": {"prompt": 2.5, "completion": "1.5"}})), &h);
        assert_eq!(names(&p), ["a"]);
        assert_eq!(over_price(&p, "b"), Some("prompt"), "NaN never passes");
        assert_eq!(over_price(&p, "c"), Some("prompt"));
        let p = run(abc(), &prefs(json!({"max_price": {"completion": 2}})), &h);
        assert_eq!(p.ordered.len(), 2);
        assert_eq!(over_price(&p, "c"), Some("completion"));
    }

    #[test]
    fn duplicates_are_dropped() {
        let h = Health::default();
        let p = run(vec![cand("a", 1.0), cand("a", 1.0)], &prefs(json!({})), &h);
        assert_eq!(names(&p), ["a"]);
        assert_eq!(reason(&p, "a"), Some(&PassedOver::Duplicate));
    }

    #[test]
    fn order_first_then_the_rest() {
        let h = Health::default();
        let p = run(abc(), &prefs(json!({"order": ["C", "b"], "sort": "price"})), &h);
        assert_eq!(names(&p), ["c", "b", "a"]);
    }

    #[test]
    fn no_fallbacks_with_order_keeps_the_order_list() {
        let h = Health::default();
        let p = run(abc(), &prefs(json!({"order": ["c", "b", "zz"], "allow_fallbacks": false})), &h);
        assert_eq!(names(&p), ["c", "b"]);
        assert_eq!(reason(&p, "a"), Some(&PassedOver::NoFallbacks));
    }

    #[test]
    fn no_fallbacks_without_order_keeps_first_choice() {
        let h = Health::default();
        let p = run(abc(), &prefs(json!({"sort": "price", "allow_fallbacks": false})), &h);
        assert_eq!(names(&p), ["a"]);
        assert_eq!(p.excluded.len(), 2);
    }

    #[test]
    fn sort_by_price_and_override() {
        let h = Health::default();
        let cands = vec![cand("c", 3.0), cand("a", 1.0), cand("b", 2.0)];
        assert_eq!(names(&run(cands.clone(), &prefs(json!({"sort": "price"})), &h)), ["a", "b", "c"]);
        let t = Instant::now();
        h.record_success("c", t, Duration::from_secs(1), 300);
        h.record_success("b", t, Duration::from_secs(1), 100);
        let mut rng = StdRng::seed_from_u64(1);
        let p = plan_at(cands, &prefs(json!({"sort": "price"})), Some(Sort::Throughput), &[], &h, &mut rng, t);
        assert_eq!(names(&p), ["c", "b", "a"], "override wins; unmeasured a last");
    }

    #[test]
    fn sort_by_latency_unknown_last() {
        let h = Health::default();
        let t = Instant::now();
        h.record_success("b", t, Duration::from_millis(900), 1);
        h.record_success("c", t, Duration::from_millis(100), 1);
        let p = run(abc(), &prefs(json!({"sort": {"by": "latency", "partition": "none"}})), &h);
        assert_eq!(names(&p), ["c", "b", "a"]);
        assert_eq!(p.notes.len(), 1);
    }

    #[test]
    fn default_balancing_weights_by_inverse_square_price() {
        // OpenRouter's example: A at $1 and C at $3 per 1M tokens: A first 9 times as often.
        let h = Health::default();
        let cands = vec![cand("a", 1.0), cand("c", 3.0)];
        let mut rng = StdRng::seed_from_u64(42);
        let t = Instant::now();
        let runs = 4000;
        let a_first = (0..runs)
            .filter(|_| {
                let p = plan_at(cands.clone(), &ProviderPrefs::default(), None, &[], &h, &mut rng, t);
                p.ordered[0].provider.name == "a"
            })
            .count();
        let share = a_first as f64 / runs as f64;
        assert!((0.88..0.92).contains(&share), "expected ~0.9, got {share}");
    }

    #[test]
    fn unstable_providers_go_last() {
        // OpenRouter's example: B saw recent outages, so the order is A or C, then B.
        let h = Health::default();
        let t = Instant::now();
        h.record_failure("b", t, Some(502), ErrorKind::Status);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let p = plan_at(abc(), &ProviderPrefs::default(), None, &[], &h, &mut rng, t);
            assert_eq!(names(&p)[2], "b");
        }
        // After the stability window b competes again.
        let later = t + Duration::from_secs(31);
        let seen_b_first = (0..200).any(|_| {
            let p = plan_at(abc(), &ProviderPrefs::default(), None, &[], &h, &mut rng, later);
            names(&p)[0] == "b"
        });
        assert!(seen_b_first);
    }

    #[test]
    fn open_circuits_are_demoted_not_removed() {
        let h = Health::new(crate::routing::HealthConfig { consecutive_failures: 1, ..Default::default() });
        let t = Instant::now();
        h.record_failure("c", t, None, ErrorKind::Timeout);
        let mut rng = StdRng::seed_from_u64(1);
        let p = plan_at(abc(), &prefs(json!({"order": ["c", "a"]})), None, &[], &h, &mut rng, t);
        assert_eq!(names(&p)[0], "a");
        assert_eq!(names(&p)[2], "c", "open circuit last, still present");
        let single = plan_at(abc(), &prefs(json!({"allow_fallbacks": false})), None, &[], &h, &mut rng, t);
        assert_ne!(names(&single), ["c"], "the first choice is a usable provider");
    }

    #[test]
    fn free_and_broken_prices_do_not_panic() {
        let h = Health::default();
        let cands = vec![cand("free", 0.0), cand("nan", f64::NAN), cand("a", 1.0)];
        let p = run(cands, &ProviderPrefs::default(), &h);
        assert_eq!(names(&p)[0], "free");
        assert_eq!(p.ordered.len(), 3);
    }

    #[test]
    fn empty_input_gives_empty_plan() {
        let p = run(vec![], &ProviderPrefs::default(), &Health::default());
        assert!(p.is_empty() && p.excluded.is_empty());
    }
}
