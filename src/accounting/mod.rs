//! Accounting: API keys, prices, cost per call, credit and rate limits, generations.
