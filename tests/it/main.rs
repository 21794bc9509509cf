//! Every integration test in one crate: one binary to compile and link instead of one per file.
//! Each file is a module named for its concern; the support modules are shared.

mod audit_support;
mod common;
mod pg_support;
mod policy_support;

mod admin_keys;
mod anthropic_translation;
mod anthropic_upstream;
mod audit_crate;
mod audit_gateway;
mod audit_log;
mod audit_recovery;
mod audit_tamper;
mod audit_timestamp;
mod audit_witness;
mod control_audit;
mod gateway_api;
mod gateway_dialects;
mod gateway_props;
mod layering;
mod metrics;
mod openrouter_surface;
mod pg_gateway;
mod pii_cli;
mod pii_dialects;
mod pii_disguise;
mod pii_gateway;
mod pii_props;
mod pii_quality;
mod pii_request;
mod pii_train;
mod policy_controls;
mod policy_explain;
mod policy_files;
mod policy_invariant;
mod policy_reload;
mod policy_reload_gateway;
mod policy_rules;
mod request_shapes;
mod routing_attempts;
mod routing_flow;
mod routing_props;
