//! Accounting: API keys (stored hashed), cost per call from prices and usage, and the generation
//! records behind `GET /api/v1/generation`, and per-key credit and rate limits. Storage sits behind the [`store::AccountStore`] trait;
//! SQLite (`gateway.db` in the data directory) is the embedded default.

pub mod activity;
pub mod cli;
pub mod cost;
pub mod limits;
pub mod reconcile;
pub mod recorder;
pub mod store;

pub use limits::{LimitError, Limits, Reservation};
pub use recorder::GenerationRecorder;
pub use store::{AccountStore, ApiKey, Generation, KeyPatch, NewKey, SqliteAccountStore, StoreError};
