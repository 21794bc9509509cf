//! Routing: which providers, in which order, may serve a request (always inside what policy allows).
