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

pub mod config;
pub mod engine;
pub mod frontend;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
pub mod listener;
pub mod message;
pub mod net;
pub mod rules;
pub mod runs;
#[cfg(test)]
mod testing;
pub mod verdict;
pub mod wordhash;

pub use config::Config;
pub use engine::{Engine, EngineBuilder, EngineError};
pub use message::{Channel, Message};
pub use verdict::{Action, Hit, Record, Thresholds, Verdict};
pub mod bayes;
pub mod behaviour;
pub mod corpus;
pub mod eval;
pub mod milter;
pub mod policy;
pub mod reputation;
pub mod rspamd;
pub mod server;
pub mod spamd;
