//! End-to-end tests: one binary, each module one area. Every test starts the
//! real `carechat` with its own temporary database.

mod accounts;
mod browser;
mod cli;
mod data;
mod emergency;
mod flow;
mod http;
mod multilingual;
mod sso;
mod tls;
mod translation;
mod workbench;
