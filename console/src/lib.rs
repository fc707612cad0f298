//! `carechat`: the Carechat server and the commands a clinic runs, as the
//! library the `carechat` binary (`main.rs`) is a thin command line over.
//!
//! It is the HTTP edge in front of the conversation core (`service`): the
//! routes and handlers, the WebSocket pumps, the error type clients see,
//! sessions and passwords, the embedded web assets, configuration and
//! start-up, and the JSON-lines filters (`redact`, `classify`). Storage is
//! the `store` crate's, model downloads `model-pull`'s; the decisions live in
//! `service`, `bot-engine`, `router` and `redaction`.
//!
//! It is a library so that the lab (`lab/`, binary `carechat-lab`, not
//! shipped) measures the bot started exactly as the server starts it. What is
//! public is what the binary and the lab use: the configuration, start-up
//! (`engine`), the embedding cache, the clinic's commands (`cli`, `tune`) and
//! [`serve`]; the server's insides and auth stay private.

mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod engine;
mod server;
pub mod tune;

pub use server::serve;
