//! Reference token-scoped proxy for gu1-kyc-web, with a built-in gu1 simulator.
//!
//! The integrator's backend mints a short-lived token with [`token::mint`] (or the
//! `gu1-kyc-proxy token` subcommand) for one entity; the page polls `GET /kyc/status` with it.
//!
//! Production code: [`app`] (shared state, routes), [`api`] (the browser endpoints), [`auth`]
//! (tokens in requests, rate limit), [`webhooks`], [`middleware`] (CORS, `no-store`, access log),
//! [`errors`], [`gu1`] (what the proxy needs from gu1), [`upstream`] (the real gu1 API),
//! [`token`], [`wait`] (held status requests), [`cluster`] (what instances share through Redis),
//! [`serve`] (connections: timeouts, cap, open-file limit); [`check`] tests an implementation of the browser endpoints from outside.
//! Everything that exists only in simulate mode is in [`sim`], which production modules never
//! import.

pub mod api;
pub mod app;
pub mod auth;
pub mod check;
pub mod cluster;
pub mod errors;
pub mod gu1;
pub mod middleware;
pub mod serve;
pub mod sim;
pub mod token;
pub mod upstream;
pub mod wait;
pub mod webhooks;
