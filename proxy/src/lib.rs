//! Reference token-scoped proxy for gu1-kyc-web, with a built-in gu1 simulator.
//!
//! The integrator's backend mints a short-lived token with [`token::mint`] (or the
//! `gu1-kyc-proxy token` subcommand) for one entity; the page polls `GET /kyc/status` with it.

pub mod server;
pub mod sim;
pub mod token;
pub mod upstream;
