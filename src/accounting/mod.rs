//! Accounting: API keys (stored hashed), cost per call from prices and usage, and the generation
//! records behind `GET /api/v1/generation`. Storage sits behind the [`store::AccountStore`] trait;
//! SQLite (`gateway.db` in the data directory) is the embedded default.

pub mod cost;
pub mod store;

pub use store::{AccountStore, ApiKey, Generation, SqliteAccountStore, StoreError};
