//! End-to-end tests: one binary, each module one area. Every test of the
//! server starts the real `carechat` with its own temporary database; the
//! WordPress plugin's tests run the plugin's PHP instead.

mod accounts;
mod browser;
mod cli;
mod cluster;
mod crash;
mod data;
mod emergency;
mod files;
mod flow;
mod http;
mod load;
mod multilingual;
mod notify;
mod push;
mod shutdown;
mod sso;
mod tls;
mod translation;
mod wordpress;
mod workbench;
