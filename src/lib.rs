//! spamsift: a high-throughput anti-spam engine for email, SMS and instant
//! messages.
//!
//! Build an [`Engine`] once, then classify [`Message`]s from any channel:
//!
//! ```
//! use spamsift::{Engine, Message};
//!
//! let engine = Engine::with_defaults().expect("default rules compile");
//! let sms = Message::from_json(
//!     r#"{"channel":"sms","from":"80082","text":"URGENT! You have WON a £1000 prize. Call 09061701461 to claim now"}"#,
//! ).expect("valid JSON");
//! let verdict = engine.classify(&sms);
//! assert!(verdict.is_spam());
//! ```
//!
//! Cargo features: `cli` (the default) builds the `spamsift` program with
//! every front end; `daemons` the milter, spamd, Rspamd and HTTP front ends
//! (tokio, axum, hyper); `plots` the SVG plots of evaluation reports. An
//! embedder that only classifies depends on the engine alone:
//! `spamsift = { version = "0.1", default-features = false }`.

pub mod config;
pub mod engine;
pub mod frontend;
pub mod fsutil;
#[cfg(feature = "daemons")]
#[doc(hidden)]
pub mod fuzzing;
pub mod greylist;
pub mod headers;
#[cfg(feature = "daemons")]
pub mod listener;
pub mod message;
pub mod net;
pub mod rules;
pub mod runs;
pub mod state;
#[cfg(test)]
mod testing;
pub mod verdict;
pub mod wordhash;

pub use config::Config;
pub use engine::{Engine, EngineBuilder, EngineError};
pub use message::{Channel, Message};
pub use verdict::{Action, Hit, Record, Thresholds, Verdict};
pub mod auth;
pub mod bayes;
pub mod behaviour;
pub mod corpus;
pub mod eval;
#[cfg(feature = "daemons")]
pub mod milter;
#[cfg(feature = "daemons")]
mod milter_wire;
pub mod policy;
pub mod reputation;
#[cfg(feature = "daemons")]
pub mod rspamd;
#[cfg(feature = "daemons")]
pub mod server;
#[cfg(feature = "daemons")]
pub mod spamd;
