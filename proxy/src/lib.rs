//! Reference token-scoped proxy for gu1-kyc-web, with a built-in gu1 simulator.
//!
//! The integrator's backend mints a short-lived token with [`token::mint`] (or the
//! `gu1-kyc-proxy token` subcommand) for one entity; the page polls `GET /kyc/status` with it.
//!
//! Production code: [`state`] (what the handlers share), [`routes`] (how the routes are put
//! together), [`api`] (the browser endpoints), [`session`] (the session look-ups they share),
//! [`view`] (what the browser sees of a session), [`auth`] (tokens in requests), [`limit`]
//! (token buckets), [`webhooks`], [`fresh`] (what webhooks leave behind), [`middleware`]
//! (CORS, `no-store`, request ids, access log), [`logs`] (the log), [`errors`], [`gu1`] (what the proxy needs from gu1),
//! [`upstream`] (the real gu1 API), [`token`], [`wait`] (held status requests), [`cluster`]
//! (what instances share through Redis), [`serve`] (connections: timeouts, cap, open-file
//! limit), [`telemetry`] (Prometheus metrics); [`check`] tests an implementation of the browser endpoints from outside.
//! Everything that exists only in simulate mode is in [`sim`], which production modules never
//! import.

#![forbid(unsafe_code)]
#![deny(missing_debug_implementations, missing_docs)]

pub mod api;
pub mod auth;
pub mod check;
pub mod cluster;
pub mod errors;
pub mod fresh;
pub mod gu1;
pub mod limit;
pub mod logs;
pub mod middleware;
pub mod routes;
pub mod serve;
pub mod session;
pub mod sim;
pub mod state;
pub mod telemetry;
pub mod token;
pub mod upstream;
pub mod view;
pub mod wait;
pub mod webhooks;
