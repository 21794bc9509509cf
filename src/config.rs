//! gateway.toml: listen address, data directory, providers, models and prices, limits.
