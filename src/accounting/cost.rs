//! Cost of one call from the provider's prices (USD per million tokens) and the upstream usage.

use crate::offer::{Price, Usage};

/// USD cost; cached prompt tokens are billed at the cached price when the provider has one.
pub fn cost_usd(price: &Price, usage: &Usage) -> f64 {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let cached_rate = price.cached_prompt_per_mtok.unwrap_or(price.prompt_per_mtok);
    let prompt = (usage.prompt_tokens - cached) as f64 * price.prompt_per_mtok + cached as f64 * cached_rate;
    let completion = usage.completion_tokens as f64 * price.completion_per_mtok;
    // Rounded to a millionth of a micro-dollar: the sum of products is exact to far less than that,
    // and clients (and the activity export) then read 4.5e-7, not 4.5000000000000003e-7.
    ((prompt + completion) * 1e6).round() / 1e12
}

/// Usage read from an OpenAI-shaped `usage` object.
pub fn usage_from_json(v: &serde_json::Value) -> Option<Usage> {
    let prompt = v.get("prompt_tokens")?.as_u64()?;
    let completion = v.get("completion_tokens").and_then(|c| c.as_u64()).unwrap_or(0);
    let total = v.get("total_tokens").and_then(|c| c.as_u64()).unwrap_or(prompt + completion);
    let cached = v
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    Some(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, cached_tokens: cached })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_carry_no_float_noise() {
        let price = Price { prompt_per_mtok: 0.15, completion_per_mtok: 0.6, cached_prompt_per_mtok: None };
        let usage = Usage { prompt_tokens: 3, completion_tokens: 0, total_tokens: 3, cached_tokens: 0 };
        assert_eq!(serde_json::to_string(&cost_usd(&price, &usage)).unwrap(), "4.5e-7");
        let usage = Usage { prompt_tokens: 7, completion_tokens: 11, total_tokens: 18, cached_tokens: 0 };
        assert_eq!(serde_json::to_string(&cost_usd(&price, &usage)).unwrap(), "7.65e-6");
    }

    #[test]
    fn cached_tokens_use_cached_price() {
        let price = Price { prompt_per_mtok: 2.0, completion_per_mtok: 8.0, cached_prompt_per_mtok: Some(0.5) };
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            total_tokens: 1_500_000,
            cached_tokens: 400_000,
        };
        let expected = 0.6 * 2.0 + 0.4 * 0.5 + 0.5 * 8.0;
        assert!((cost_usd(&price, &usage) - expected).abs() < 1e-9);
    }

    #[test]
    fn reads_openai_usage() {
        let v = serde_json::json!({"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 2}});
        let u = usage_from_json(&v).unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cached_tokens), (10, 5, 15, 2));
    }
}
