//! Property tests of the routing planner: for random candidate sets, preferences, health
//! histories and random seeds, the plan never widens its input, never violates a filtering
//! preference, never drops an eligible candidate, and honours `order` and `allow_fallbacks`.

use auditgate::offer::{Candidate, Price, ProviderProfile};
use auditgate::routing::{
    plan_at, BreakerState, DataCollection, ErrorKind, Health, HealthConfig, MaxPrice, Plan, ProviderPrefs, Sort,
    SortPref,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::{Duration, Instant};

const NAMES: [&str; 6] = ["alpha", "beta", "gamma", "delta", "eps", "zeta"];
const PARAMS: [&str; 3] = ["tools", "temperature", "top_p"];

fn name() -> impl Strategy<Value = String> {
    proptest::sample::select(&NAMES[..]).prop_map(str::to_owned)
}

/// A provider name as a client may type it (random upper-casing).
fn typed_name() -> impl Strategy<Value = String> {
    (name(), any::<bool>()).prop_map(|(n, upper)| if upper { n.to_uppercase() } else { n })
}

fn price() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => proptest::sample::select(vec![0.0, 0.25, 1.0, 2.0, 3.0, 10.0]),
        1 => Just(f64::NAN),
        1 => 0.0..20.0f64,
    ]
}

fn params() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(&PARAMS[..], 0..=PARAMS.len())
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn candidate() -> impl Strategy<Value = Candidate> {
    let profile = (name(), any::<bool>(), any::<bool>());
    let model = proptest::sample::select(vec!["m1", "m2"]);
    (profile, model, price(), price(), params()).prop_map(|((name, zdr, dc), model, p, c, sp)| Candidate {
        provider: ProviderProfile { name, region: "ch".into(), country: "CH".into(), zdr, data_collection: dc }.into(),
        public_model: "demo/echo".into(),
        upstream_model: model.into(),
        price: Price { prompt_per_mtok: p, completion_per_mtok: c, cached_prompt_per_mtok: None },
        supported_parameters: sp.into(),
        limits: Default::default(),
    })
}

fn sort() -> impl Strategy<Value = Sort> {
    prop_oneof![Just(Sort::Price), Just(Sort::Throughput), Just(Sort::Latency)]
}

fn names_list() -> impl Strategy<Value = Option<Vec<String>>> {
    proptest::option::of(proptest::collection::vec(typed_name(), 0..4))
}

fn ceiling() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(proptest::sample::select(vec![0.0, 1.0, 2.5, 5.0]))
}

fn prefs() -> impl Strategy<Value = ProviderPrefs> {
    let lists = (names_list(), names_list(), names_list());
    let flags = (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    );
    let max = proptest::option::of((ceiling(), ceiling()));
    (lists, flags, proptest::option::of(sort()), max).prop_map(
        |((order, only, ignore), (fallbacks, require, deny, zdr), sort, max)| ProviderPrefs {
            order,
            only,
            ignore,
            allow_fallbacks: fallbacks,
            require_parameters: require,
            data_collection: deny.map(|d| if d { DataCollection::Deny } else { DataCollection::Allow }),
            zdr,
            sort: sort.map(SortPref::Simple),
            max_price: max.map(|(prompt, completion)| MaxPrice { prompt, completion }),
            quantizations: None,
        },
    )
}

/// One health event: (provider, success?, seconds after the start).
fn events() -> impl Strategy<Value = Vec<(String, bool, u64)>> {
    proptest::collection::vec((name(), any::<bool>(), 0..60u64), 0..12)
}

fn health_from(events: &[(String, bool, u64)], t0: Instant) -> Health {
    let health = Health::new(HealthConfig { consecutive_failures: 2, ..HealthConfig::default() });
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| e.2);
    for (name, ok, at) in sorted {
        let now = t0 + Duration::from_secs(at);
        if ok {
            health.record_success(&name, now, Duration::from_millis(50 + at * 10), at * 7);
        } else {
            health.record_failure(&name, now, Some(503), ErrorKind::Status);
        }
    }
    health
}

fn in_list(list: &Option<Vec<String>>, name: &str) -> Option<bool> {
    let list = list.as_ref().filter(|l| !l.is_empty())?;
    Some(list.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// Independent statement of the filters (duplicates aside), to check nothing eligible is lost.
fn eligible(c: &Candidate, p: &ProviderPrefs, request: &[String]) -> bool {
    let name = c.provider.name.as_str();
    let price_ok = |ceiling: Option<f64>, price: f64| ceiling.is_none_or(|m| price <= m);
    let max = p.max_price.unwrap_or_default();
    let zdr_ok = p.zdr != Some(true) || c.provider.zdr;
    let collection_ok = p.data_collection != Some(DataCollection::Deny) || !c.provider.data_collection;
    let params_ok = p.require_parameters != Some(true) || request.iter().all(|r| c.supported_parameters.contains(r));
    in_list(&p.only, name) != Some(false)
        && in_list(&p.ignore, name) != Some(true)
        && zdr_ok
        && collection_ok
        && params_ok
        && price_ok(max.prompt, c.price.prompt_per_mtok)
        && price_ok(max.completion, c.price.completion_per_mtok)
}

fn key(c: &Candidate) -> (String, String) {
    (c.provider.name.clone(), c.upstream_model.clone())
}

fn check_invariants(
    input: &[Candidate],
    p: &ProviderPrefs,
    request: &[String],
    plan: &Plan,
) -> Result<(), TestCaseError> {
    // Never widens: every planned candidate is one of the input, at most once.
    let mut seen = std::collections::HashSet::new();
    for c in &plan.ordered {
        // Compared through Debug because NaN prices are never `==` to themselves.
        let same = |i: &Candidate| format!("{i:?}") == format!("{c:?}");
        prop_assert!(input.iter().any(same), "planned candidate not in input: {c:?}");
        prop_assert!(seen.insert(key(c)), "duplicate {:?}", key(c));
        prop_assert!(eligible(c, p, request), "preference violated by {c:?}");
    }
    // Nothing is silently lost: each input is planned or excluded with a reason.
    prop_assert_eq!(plan.ordered.len() + plan.excluded.len(), input.len());
    let order_given = p.order.as_ref().is_some_and(|o| !o.is_empty());
    if p.allow_fallbacks == Some(false) {
        if order_given {
            prop_assert!(plan.ordered.iter().all(|c| in_list(&p.order, &c.provider.name) == Some(true)));
        } else {
            prop_assert!(plan.ordered.len() <= 1);
        }
    } else {
        // With fallbacks, every eligible distinct candidate is planned.
        let mut distinct: Vec<&Candidate> = Vec::new();
        for c in input.iter().filter(|c| eligible(c, p, request)) {
            if !distinct.iter().any(|d| key(d) == key(c)) {
                distinct.push(c);
            }
        }
        prop_assert_eq!(plan.ordered.len(), distinct.len());
    }
    Ok(())
}

/// Among providers whose breaker is not open, `order` providers come first, by position.
fn check_order(p: &ProviderPrefs, plan: &Plan, health: &Health, now: Instant) -> Result<(), TestCaseError> {
    let position = |name: &str| {
        p.order.as_ref().and_then(|o| o.iter().position(|n| n.eq_ignore_ascii_case(name))).unwrap_or(usize::MAX)
    };
    let usable: Vec<usize> = plan
        .ordered
        .iter()
        .filter(|c| health.state(&c.provider.name, now) != BreakerState::Open)
        .map(|c| position(&c.provider.name))
        .collect();
    prop_assert!(usable.windows(2).all(|w| w[0] <= w[1]), "order not respected: {usable:?}");
    // Open breakers only at the end.
    let open_from = plan.ordered.iter().position(|c| health.state(&c.provider.name, now) == BreakerState::Open);
    if let Some(i) = open_from {
        prop_assert!(plan.ordered[i..].iter().all(|c| health.state(&c.provider.name, now) == BreakerState::Open));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plan_stays_inside_its_input_and_preferences(
        input in proptest::collection::vec(candidate(), 0..9),
        p in prefs(),
        sort_override in proptest::option::of(sort()),
        request in params(),
        history in events(),
        plan_at_secs in 0..120u64,
        seed in any::<u64>(),
    ) {
        let t0 = Instant::now();
        let health = health_from(&history, t0);
        let now = t0 + Duration::from_secs(plan_at_secs);
        let mut rng = StdRng::seed_from_u64(seed);
        let plan = plan_at(input.clone(), &p, sort_override, &request, &health, &mut rng, now);
        check_invariants(&input, &p, &request, &plan)?;
        check_order(&p, &plan, &health, now)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// With a price sort and no `order`, usable candidates come cheapest first.
    #[test]
    fn price_sort_is_monotone(
        input in proptest::collection::vec(candidate(), 0..9),
        history in events(),
        seed in any::<u64>(),
    ) {
        let t0 = Instant::now();
        let health = health_from(&history, t0);
        let now = t0 + Duration::from_secs(60);
        let p = ProviderPrefs { sort: Some(SortPref::Simple(Sort::Price)), ..ProviderPrefs::default() };
        let mut rng = StdRng::seed_from_u64(seed);
        let plan = plan_at(input, &p, None, &[], &health, &mut rng, now);
        let prices: Vec<f64> = plan
            .ordered
            .iter()
            .filter(|c| health.state(&c.provider.name, now) != BreakerState::Open)
            .map(|c| c.price.blended())
            .collect();
        prop_assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    }
}
