//! HTTP surface: OpenAI/OpenRouter-compatible routes, authentication, error shape, SSE relay.
