//! Sender reputation: Bloom filters of known spam sources (IPs, domains, URL
//! hosts, email addresses, phone numbers, IM accounts) that operators build
//! from their lists, merge, share with each other and query (ITU-T X.1241,
//! X.1243: sharing spam-source information between operators), and the
//! reputation the filter learns from its own verdicts ([`counters`]).

pub mod counters;
pub mod filter;
pub mod identity;

pub use counters::{Reputation, ReputationSettings, ReputationStore};
pub use filter::{FilterBuilder, FilterError, FilterInfo, Lookup, ReputationFilter};
pub use identity::{Kind, normalise_item};
