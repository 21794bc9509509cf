//! Provider preferences: OpenRouter's `provider` request object and the `:nitro` / `:floor`
//! model suffixes.
//!
//! Field semantics follow openrouter.ai/docs (provider routing). Unknown fields are accepted and
//! ignored so that clients written for OpenRouter keep working when it adds fields. A malformed
//! known field (e.g. `sort: "fastest"`) is a deserialization error: the gateway should answer 400.
//!
//! `max_price` is in USD per one million tokens, as OpenRouter documents it for `prompt` and
//! `completion` (its other keys, `request`, `image`, `audio`, have no counterpart in our price
//! table and are ignored). Prices may be given as JSON numbers or as decimal strings.

use crate::routing::RoutingError;
use serde::{Deserialize, Deserializer, Serialize};

/// Why the client's provider preferences pass over a candidate. Its words are what the audit
/// entry's exclusion list and a dry run read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PassedOver {
    #[error("duplicate candidate")]
    Duplicate,
    #[error("not in provider.only")]
    NotInOnly,
    #[error("in provider.ignore")]
    Ignored,
    #[error("provider.zdr: provider retains data")]
    RetainsData,
    #[error("provider.data_collection=deny: provider may collect data")]
    CollectsData,
    #[error("provider.require_parameters: unsupported {}", .missing.join(", "))]
    UnsupportedParameters { missing: Vec<String> },
    #[error("provider.max_price.{part}: {price} > {ceiling} USD per 1M tokens")]
    OverMaxPrice { part: &'static str, price: f64, ceiling: f64 },
    #[error("provider.allow_fallbacks=false")]
    NoFallbacks,
}

impl Serialize for PassedOver {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What to order candidates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Cheapest first (blended prompt + completion price).
    Price,
    /// Highest observed tokens per second first.
    Throughput,
    /// Lowest observed latency first.
    Latency,
}

/// `sort` accepts a bare string or `{ "by": ..., "partition": ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortPref {
    Simple(Sort),
    Detailed {
        by: Sort,
        /// OpenRouter's `partition` (`model` | `none`) controls whether endpoints of a `models`
        /// list are sorted together. auditgate plans one model at a time, so it is recorded and
        /// otherwise ignored (reported in [`ProviderPrefs::notes`]).
        #[serde(default)]
        partition: Option<String>,
    },
}

impl SortPref {
    pub fn by(&self) -> Sort {
        match self {
            SortPref::Simple(s) => *s,
            SortPref::Detailed { by, .. } => *by,
        }
    }
}

/// `data_collection`: `allow` (default) or `deny` providers that may keep or train on data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataCollection {
    #[default]
    Allow,
    Deny,
}

/// Price ceilings in USD per one million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MaxPrice {
    #[serde(default, deserialize_with = "de_price")]
    pub prompt: Option<f64>,
    #[serde(default, deserialize_with = "de_price")]
    pub completion: Option<f64>,
}

/// OpenRouter's `provider` request object. Every field is optional; `null` means "not set".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderPrefs {
    /// Providers to try first, in this order (names compared case-insensitively).
    pub order: Option<Vec<String>>,
    /// Allow-list of providers (case-insensitive). An empty list counts as "not set".
    pub only: Option<Vec<String>>,
    /// Providers never to use (case-insensitive).
    pub ignore: Option<Vec<String>>,
    /// Default true. See [`ProviderPrefs::fallbacks_allowed`].
    pub allow_fallbacks: Option<bool>,
    /// Only providers supporting every parameter of the request.
    pub require_parameters: Option<bool>,
    pub data_collection: Option<DataCollection>,
    /// Only zero-data-retention providers when true.
    pub zdr: Option<bool>,
    pub sort: Option<SortPref>,
    pub max_price: Option<MaxPrice>,
    /// Accepted for compatibility and ignored: auditgate's catalogue has no quantization data.
    pub quantizations: Option<Vec<String>>,
}

impl ProviderPrefs {
    /// Parses the request's `provider` value: absent or `null` gives the defaults.
    pub fn from_request(value: Option<&serde_json::Value>) -> Result<ProviderPrefs, RoutingError> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(ProviderPrefs::default()),
            Some(v) => ProviderPrefs::deserialize(v).map_err(|e| RoutingError::InvalidProviderPrefs(e.to_string())),
        }
    }

    /// `allow_fallbacks`, default true. When false, only `order` providers are used if `order`
    /// is given (OpenRouter semantics), otherwise only the first choice.
    pub fn fallbacks_allowed(&self) -> bool {
        self.allow_fallbacks.unwrap_or(true)
    }

    pub fn parameters_required(&self) -> bool {
        self.require_parameters.unwrap_or(false)
    }

    pub fn zdr_required(&self) -> bool {
        self.zdr.unwrap_or(false)
    }

    pub fn deny_data_collection(&self) -> bool {
        self.data_collection == Some(DataCollection::Deny)
    }

    /// The `order` list when non-empty.
    pub fn order_list(&self) -> Option<&[String]> {
        non_empty(&self.order)
    }

    /// Position of `provider` in `order`, case-insensitively.
    pub fn order_position(&self, provider: &str) -> Option<usize> {
        self.order_list()?.iter().position(|o| o.eq_ignore_ascii_case(provider))
    }

    /// Why `only`/`ignore` reject `provider`, if they do.
    pub fn name_filter(&self, provider: &str) -> Result<(), PassedOver> {
        if let Some(only) = non_empty(&self.only) {
            if !contains_ci(only, provider) {
                return Err(PassedOver::NotInOnly);
            }
        }
        if let Some(ignore) = non_empty(&self.ignore) {
            if contains_ci(ignore, provider) {
                return Err(PassedOver::Ignored);
            }
        }
        Ok(())
    }

    /// Settings that were accepted but have no effect, for the audit entry and debugging.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if non_empty(&self.quantizations).is_some() {
            notes.push("provider.quantizations ignored: no quantization data in catalogue".into());
        }
        if let Some(SortPref::Detailed { partition: Some(p), .. }) = &self.sort {
            notes.push(format!("provider.sort.partition={p} ignored: models are planned one at a time"));
        }
        notes
    }
}

fn non_empty(list: &Option<Vec<String>>) -> Option<&[String]> {
    list.as_deref().filter(|l| !l.is_empty())
}

fn contains_ci(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Accepts `1.5`, `"1.5"` or `null`; rejects negative, non-finite and unparsable values.
fn de_price<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Text(String),
    }
    let value = match Option::<Raw>::deserialize(d)? {
        None => return Ok(None),
        Some(Raw::Num(n)) => n,
        Some(Raw::Text(s)) => {
            s.trim().parse::<f64>().map_err(|_| serde::de::Error::custom(format!("invalid price {s:?}")))?
        }
    };
    if value.is_finite() && value >= 0.0 {
        Ok(Some(value))
    } else {
        Err(serde::de::Error::custom("price must be a finite number >= 0"))
    }
}

/// Splits OpenRouter's routing shortcuts off a model name: `:nitro` means sort by throughput,
/// `:floor` means sort by price. Any other suffix (`:free`, `:online`, a tag such as `llama3:8b`)
/// is left in place for the caller.
pub fn split_model_suffix(model: &str) -> (&str, Option<Sort>) {
    if let Some(base) = model.strip_suffix(":nitro") {
        return (base, Some(Sort::Throughput));
    }
    if let Some(base) = model.strip_suffix(":floor") {
        return (base, Some(Sort::Price));
    }
    (model, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> ProviderPrefs {
        serde_json::from_value(v).expect("valid prefs")
    }

    #[test]
    fn empty_object_gives_defaults() {
        let p = parse(json!({}));
        assert!(p.fallbacks_allowed());
        assert!(!p.parameters_required());
        assert!(!p.zdr_required());
        assert!(!p.deny_data_collection());
        assert!(p.sort.is_none() && p.order_list().is_none());
    }

    #[test]
    fn nulls_mean_not_set() {
        let p = parse(json!({"allow_fallbacks": null, "order": null, "sort": null, "zdr": null}));
        assert!(p.fallbacks_allowed());
        assert!(p.order_list().is_none());
    }

    #[test]
    fn full_object_parses() {
        let p = parse(json!({
            "order": ["Mistral", "demo-ch"], "only": ["mistral"], "ignore": ["x"],
            "allow_fallbacks": false, "require_parameters": true, "data_collection": "deny",
            "zdr": true, "sort": "latency", "max_price": {"prompt": 1, "completion": "2.5"},
            "quantizations": ["int4"], "preferred_min_throughput": 50, "some_future_field": {}
        }));
        assert!(!p.fallbacks_allowed());
        assert!(p.parameters_required() && p.zdr_required() && p.deny_data_collection());
        assert_eq!(p.sort.as_ref().map(SortPref::by), Some(Sort::Latency));
        assert_eq!(p.max_price, Some(MaxPrice { prompt: Some(1.0), completion: Some(2.5) }));
        assert_eq!(p.order_position("MISTRAL"), Some(0));
        assert_eq!(p.notes().len(), 1);
    }

    #[test]
    fn sort_object_form() {
        let p = parse(json!({"sort": {"by": "throughput", "partition": "none"}}));
        assert_eq!(p.sort.as_ref().map(SortPref::by), Some(Sort::Throughput));
        assert!(p.notes()[0].contains("partition"));
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in [
            json!({"sort": "fastest"}),
            json!({"data_collection": "maybe"}),
            json!({"max_price": {"prompt": -1}}),
            json!({"max_price": {"prompt": "cheap"}}),
            json!({"allow_fallbacks": "yes"}),
        ] {
            assert!(serde_json::from_value::<ProviderPrefs>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_and_ignore_are_case_insensitive() {
        let p = parse(json!({"only": ["Demo-CH", "b"], "ignore": ["B"]}));
        assert!(p.name_filter("demo-ch").is_ok());
        assert_eq!(p.name_filter("b").unwrap_err(), PassedOver::Ignored);
        assert_eq!(p.name_filter("c").unwrap_err(), PassedOver::NotInOnly);
    }

    #[test]
    fn empty_only_is_unset() {
        assert!(parse(json!({"only": []})).name_filter("any").is_ok());
    }

    #[test]
    fn from_request_value() {
        assert_eq!(ProviderPrefs::from_request(None), Ok(ProviderPrefs::default()));
        assert_eq!(ProviderPrefs::from_request(Some(&json!(null))), Ok(ProviderPrefs::default()));
        let p = ProviderPrefs::from_request(Some(&json!({"zdr": true}))).expect("valid");
        assert!(p.zdr_required());
        let err = ProviderPrefs::from_request(Some(&json!({"sort": 3})));
        assert!(matches!(err, Err(RoutingError::InvalidProviderPrefs(_))));
        assert!(ProviderPrefs::from_request(Some(&json!("price"))).is_err());
    }

    #[test]
    fn suffixes() {
        assert_eq!(split_model_suffix("demo/echo:nitro"), ("demo/echo", Some(Sort::Throughput)));
        assert_eq!(split_model_suffix("demo/echo:floor"), ("demo/echo", Some(Sort::Price)));
        assert_eq!(split_model_suffix("demo/echo:free"), ("demo/echo:free", None));
        assert_eq!(split_model_suffix("llama3:8b"), ("llama3:8b", None));
        assert_eq!(split_model_suffix(":nitro"), ("", Some(Sort::Throughput)));
    }
}
