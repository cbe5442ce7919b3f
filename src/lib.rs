//! rmail: a mailx-compatible mail user agent and small-host mail server in one crate.
//!
//! Layers import downward only: `message` (pure mail model) ← `store` (mail files) ←
//! `mda` (local delivery) ← `send` (transports) ← `mua` (the `&` prompt and send mode). `cli` holds the clap definition that renders `--help`, `man/`
//! and `completions/`.

pub mod cli;
pub mod config;
pub mod error;
pub mod mda;
pub mod message;
pub mod mua;
pub mod proto;
pub mod queue;
pub mod remote;
pub mod send;
pub mod server;
pub mod store;
#[cfg(test)]
pub(crate) mod testutil;
