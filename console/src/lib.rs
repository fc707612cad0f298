//! `carechat`: the Carechat server and the commands a clinic runs, as the
//! library the `carechat` binary (`main.rs`) is a thin command line over.
//!
//! With `model-pull`, this is the only shipped crate that does I/O: HTTP and
//! WebSocket (axum), storage (sqlx), the embedded web assets, accounts, and
//! the JSON-lines filters (`redact`, `classify`). The decisions themselves
//! live in the pure crates: `redaction`, `bot-engine` and `router`.
//!
//! It is a library so that the lab (`lab/`, binary `carechat-lab`, not
//! shipped) measures the bot started exactly as the server starts it. What is
//! public is what the binary and the lab use: the configuration, start-up
//! (`engine`), the embedding cache, the clinic's commands (`cli`, `tune`) and
//! [`serve`]; the server's insides, the store and auth stay private.

mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod engine;
mod server;
mod store;
pub mod tune;

pub use server::serve;
