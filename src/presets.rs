//! Presets: named request defaults an operator configures (`[[presets]]` in gateway.toml) and a
//! client selects with `model: "@preset/NAME"` or `preset: "NAME"`, as on OpenRouter. A preset
//! gives the models to try, `provider` preferences, a system prompt and other parameters; what
//! the request sets itself wins. It is applied before anything else reads the request, so its
//! system prompt is classified and decided like the client's own text, and the request entry
//! names the preset with its version (the SHA-256 of its definition).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One `[[presets]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetConfig {
    pub name: String,
    /// The models to try in order: the first is `model`, the list is `models` (fallbacks).
    #[serde(default)]
    pub models: Vec<String>,
    /// OpenRouter `provider` preferences, used when the request gives none.
    #[serde(default)]
    pub provider: Option<Value>,
    /// A system message put first, before the request's own messages.
    #[serde(default)]
    pub system: Option<String>,
    /// Other request parameters (`temperature`, `max_tokens`, ...), used where the request has none.
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
}

/// The preset a request used, for its audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub name: String,
    /// Hex SHA-256 of the preset's definition as JSON.
    pub version: String,
}

/// Why a preset could not be applied; the client gets a 400 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresetError {
    #[error("no preset named {0:?} is configured")]
    Unknown(String),
    #[error("'preset' must be a preset name")]
    NotAName,
}

const MODEL_PREFIX: &str = "@preset/";

impl PresetConfig {
    pub fn version(&self) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }
}

/// Whether `request` names a preset (`preset`, or a `model` of `@preset/NAME`).
pub fn names_one(request: &Value) -> bool {
    request.get("preset").is_some()
        || request.get("model").and_then(Value::as_str).is_some_and(|m| m.starts_with(MODEL_PREFIX))
}

/// Apply the preset `request` names, if it names one: fill what the request leaves unset and
/// drop the `preset` member (a gateway field, never sent upstream).
pub fn apply(presets: &[PresetConfig], request: &mut Value) -> Result<Option<Applied>, PresetError> {
    let Some(obj) = request.as_object_mut() else {
        return Ok(None);
    };
    let Some(name) = named(obj)? else {
        return Ok(None);
    };
    let preset = presets.iter().find(|p| p.name == name).ok_or(PresetError::Unknown(name))?;
    fill(preset, obj);
    Ok(Some(Applied { name: preset.name.clone(), version: preset.version() }))
}

/// The preset's name from `preset` or from a `model` of `@preset/NAME` (then `model` is removed,
/// for the preset's models to take its place).
fn named(obj: &mut Map<String, Value>) -> Result<Option<String>, PresetError> {
    if let Some(v) = obj.shift_remove("preset") {
        return v.as_str().map(|s| Some(s.to_string())).ok_or(PresetError::NotAName);
    }
    let from_model = obj.get("model").and_then(Value::as_str).and_then(|m| m.strip_prefix(MODEL_PREFIX));
    let Some(name) = from_model.map(str::to_string) else {
        return Ok(None);
    };
    obj.shift_remove("model");
    Ok(Some(name))
}

fn fill(preset: &PresetConfig, obj: &mut Map<String, Value>) {
    if !preset.models.is_empty() {
        if !obj.contains_key("model") {
            obj.insert("model".into(), Value::String(preset.models[0].clone()));
        }
        if !obj.contains_key("models") && preset.models.len() > 1 {
            obj.insert("models".into(), Value::from(preset.models.clone()));
        }
    }
    if let Some(provider) = &preset.provider {
        obj.entry("provider").or_insert_with(|| provider.clone());
    }
    for (k, v) in &preset.parameters {
        obj.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if let (Some(system), Some(Value::Array(messages))) = (&preset.system, obj.get_mut("messages")) {
        messages.insert(0, serde_json::json!({"role": "system", "content": system}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn preset() -> PresetConfig {
        PresetConfig {
            name: "ch-only".into(),
            models: vec!["demo/echo".into(), "other/model".into()],
            provider: Some(json!({"only": ["demo-ch"]})),
            system: Some("Answer in German.".into()),
            parameters: [("temperature".to_string(), json!(0.2))].into(),
        }
    }

    #[test]
    fn a_preset_fills_what_the_request_leaves_unset() {
        let mut req = json!({"model": "@preset/ch-only", "temperature": 0.9,
                             "messages": [{"role": "user", "content": "Hallo"}]});
        let applied = apply(&[preset()], &mut req).unwrap().unwrap();
        assert_eq!(applied.name, "ch-only");
        assert_eq!(applied.version, preset().version());
        assert_eq!(req["model"], "demo/echo");
        assert_eq!(req["models"], json!(["demo/echo", "other/model"]));
        assert_eq!(req["provider"], json!({"only": ["demo-ch"]}));
        assert_eq!(req["temperature"], 0.9, "the request's own value wins");
        assert_eq!(req["messages"][0], json!({"role": "system", "content": "Answer in German."}));
        assert_eq!(req["messages"][1]["content"], "Hallo");
    }

    #[test]
    fn the_preset_field_names_one_too_and_unknown_names_are_errors() {
        let mut req = json!({"preset": "ch-only", "model": "demo/echo", "messages": []});
        assert!(apply(&[preset()], &mut req).unwrap().is_some());
        assert!(req.get("preset").is_none(), "never sent upstream");
        let mut unknown = json!({"model": "@preset/nope", "messages": []});
        assert_eq!(apply(&[preset()], &mut unknown), Err(PresetError::Unknown("nope".into())));
        let mut none = json!({"model": "demo/echo", "messages": []});
        assert!(!names_one(&none) && names_one(&json!({"model": "@preset/x"})));
        assert_eq!(apply(&[preset()], &mut none), Ok(None));
        let mut changed = preset();
        changed.system = Some("Answer in French.".into());
        assert_ne!(changed.version(), preset().version(), "a changed preset is a new version");
    }
}
