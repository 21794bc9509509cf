//! Whether a request fits what a candidate can take: its context length, its completion limit and
//! its input modalities (the configured `context_length`, `max_completion_tokens` and
//! `input_modalities` of the model at that provider). OpenRouter routes around a provider that
//! cannot take the request rather than letting it fail upstream; so does the gateway, and the
//! audit entry names each candidate passed over and why.

use crate::offer::{Candidate, Modalities};
use serde_json::Value;

/// What a request needs of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Estimated prompt tokens: one token per four bytes of text (OpenAI's rule of thumb for
    /// English), images and other media not counted.
    pub prompt_tokens: u64,
    /// The completion limit the client asked for (`max_completion_tokens`, else `max_tokens`).
    pub max_tokens: Option<u64>,
    pub modalities: Modalities,
}

/// Why a candidate cannot take the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Misfit {
    #[error("about {needed} prompt tokens exceed the context length of {limit}")]
    ContextLength { needed: u64, limit: u64 },
    #[error("max_tokens {asked} exceeds the completion limit of {limit}")]
    CompletionLimit { asked: u64, limit: u64 },
    #[error("takes no {} input", .missing.join(" or "))]
    Modality { missing: Vec<&'static str> },
}

impl Needs {
    /// Reads a chat, Messages or embeddings request body.
    pub fn of(body: &Value) -> Needs {
        let mut needs = Needs { prompt_tokens: 0, max_tokens: max_tokens(body), modalities: Modalities::TEXT };
        let mut text_bytes = 0;
        walk(body, &mut text_bytes, &mut needs.modalities);
        needs.prompt_tokens = (text_bytes as u64).div_ceil(4);
        needs
    }
}

/// Ok when `c` can take a request with these needs, else the first limit it exceeds.
pub fn check(c: &Candidate, needs: &Needs) -> Result<(), Misfit> {
    let limits = &c.limits;
    if let Some(limit) = limits.context_length {
        if needs.prompt_tokens > limit {
            return Err(Misfit::ContextLength { needed: needs.prompt_tokens, limit });
        }
    }
    if let (Some(asked), Some(limit)) = (needs.max_tokens, limits.max_completion_tokens) {
        if asked > limit {
            return Err(Misfit::CompletionLimit { asked, limit });
        }
    }
    let missing = needs.modalities.missing_from(limits.input_modalities);
    if !missing.is_empty() {
        return Err(Misfit::Modality { missing });
    }
    Ok(())
}

fn max_tokens(body: &Value) -> Option<u64> {
    ["max_completion_tokens", "max_tokens"].iter().find_map(|k| body.get(*k).and_then(Value::as_u64))
}

/// The modality of a content part by its `type` (OpenAI chat, Anthropic Messages and the
/// Responses API spell them differently); `None` for text and for what is not a part.
fn part_modality(part: &serde_json::Map<String, Value>) -> Option<Modalities> {
    let name = match part.get("type").and_then(Value::as_str)? {
        "image_url" | "image" | "input_image" => "image",
        "file" | "document" | "input_file" => "file",
        "input_audio" | "audio" => "audio",
        _ => return None,
    };
    Modalities::one(name)
}

/// Adds up the bytes of text and collects the modalities of media parts; a media part's own
/// strings (base64 data, URLs) are not text the model reads as tokens.
fn walk(v: &Value, text_bytes: &mut usize, modalities: &mut Modalities) {
    match v {
        Value::String(s) => *text_bytes += s.len(),
        Value::Array(items) => items.iter().for_each(|i| walk(i, text_bytes, modalities)),
        Value::Object(map) => match part_modality(map) {
            Some(m) => modalities.insert(m),
            None => map.values().for_each(|i| walk(i, text_bytes, modalities)),
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{Limits, Price, ProviderProfile};
    use serde_json::json;

    fn candidate(limits: Limits) -> Candidate {
        let provider = ProviderProfile {
            name: "p".into(),
            region: "eu".into(),
            country: "FR".into(),
            zdr: true,
            data_collection: false,
        };
        Candidate {
            provider: provider.into(),
            public_model: "m/x".into(),
            upstream_model: "x".into(),
            price: Price::default(),
            supported_parameters: Vec::new().into(),
            limits,
        }
    }

    #[test]
    fn needs_count_text_not_media_and_take_the_completion_limit() {
        let body = json!({"model": "m/x", "max_tokens": 50, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "a".repeat(400)},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", "A".repeat(100_000))}}
        ]}]});
        let needs = Needs::of(&body);
        assert!((100..110).contains(&needs.prompt_tokens), "{needs:?}");
        assert_eq!(needs.max_tokens, Some(50));
        assert!(needs.modalities.contains(Modalities::one("image").unwrap()));
        let both = json!({"max_tokens": 50, "max_completion_tokens": 70});
        assert_eq!(Needs::of(&both).max_tokens, Some(70));
    }

    #[test]
    fn each_limit_excludes_and_unset_limits_do_not() {
        let needs = Needs { prompt_tokens: 1000, max_tokens: Some(500), modalities: Modalities::TEXT };
        assert_eq!(check(&candidate(Limits::default()), &needs), Ok(()));
        let short = Limits { context_length: Some(999), ..Default::default() };
        assert_eq!(check(&candidate(short), &needs), Err(Misfit::ContextLength { needed: 1000, limit: 999 }));
        let terse = Limits { max_completion_tokens: Some(100), ..Default::default() };
        assert_eq!(check(&candidate(terse), &needs), Err(Misfit::CompletionLimit { asked: 500, limit: 100 }));
        let mut image = needs;
        image.modalities.insert(Modalities::one("image").unwrap());
        assert_eq!(check(&candidate(Limits::default()), &image), Err(Misfit::Modality { missing: vec!["image"] }));
        let sees = Limits { input_modalities: Modalities::parse(["text", "image"]).unwrap(), ..Default::default() };
        assert_eq!(check(&candidate(sees), &image), Ok(()));
    }

    #[test]
    fn modality_names_are_checked() {
        assert_eq!(Modalities::parse(["text", "video"]), Err("video"));
        assert_eq!(Modalities::parse(["audio", "file"]).unwrap().missing_from(Modalities::TEXT), ["file", "audio"]);
    }
}
