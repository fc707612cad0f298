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
pub mod clamd;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod data;
pub mod engine;
pub mod master;
pub mod notify;
pub mod push;
mod server;
mod sso;
pub mod tune;
pub mod webhook;

pub use server::serve;

/// Logs to stderr, filtered by `CARECHAT_LOG` (default `info`): in colour
/// for a person at a terminal, plain text for a file, a pipe or the
/// journal, which would keep the escape codes. Both binaries call it first.
pub fn init_logging() {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CARECHAT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

/// The database and the server's key, as `serve` and the clinic's commands
/// open them: the key beside the database (created on first use), the
/// audit trail sealed under a key derived from it, and the vault of data
/// keys under the master keys (`master`).
pub(crate) async fn open_store(
    config: &config::Config,
) -> anyhow::Result<(store::SqlStore, auth::ServerKey)> {
    let key = match config.key_path() {
        Some(path) => auth::ServerKey::load_or_create(&path)?,
        None if config.postgres() => anyhow::bail!(
            "with a PostgreSQL database, set key_file (CARECHAT_KEY_FILE): every node of the \
             clinic must use the same server key (docs/deploy.md)"
        ),
        None => auth::ServerKey::random(),
    };
    let keyring = master::Source::of(config).load()?;
    let store = store::SqlStore::open_with_vault(&config.db, key.audit_key(), keyring).await?;
    Ok((store, key))
}

/// Staff accounts over `store`, with two-factor sign-in as configured.
pub(crate) fn staff(
    config: &config::Config,
    store: std::sync::Arc<dyn store::Store>,
    key: &auth::ServerKey,
) -> service::accounts::Staff {
    service::accounts::Staff::new(store).with_mfa(key.mfa_key(), config.mfa.required_roles.clone())
}

/// The multi-threaded runtime a command runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
}
