//! The one normalised view of a message, whatever its channel.
//!
//! Email is parsed by [`mail-parser`](mail_parser) in [`email`]; SMS and IM
//! arrive as JSON objects and are read in [`short`]. Everything downstream
//! (rules, reputation, statistics) sees only [`Message`].

pub mod email;
pub mod host;
pub mod html;
pub mod identity;
mod paragraphs;
pub mod short;
pub mod uri;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use email::EmailOptions;
pub use short::ShortMessageError;
pub use uri::Uri;

/// The channel a message came in on.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Internet mail (RFC 5322).
    #[default]
    Email,
    /// Mobile short message.
    Sms,
    /// Instant message (chat, group, comment).
    Im,
}

impl Channel {
    /// All channels, in a fixed order.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Im];

    /// The lower-case name used in rule files, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Im => "im",
        }
    }

    /// Index into per-channel arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Compared without a lower-case copy: each rule of every rule
        // file names its channels, at every start of `spamsift check`.
        let is = |name: &str| s.eq_ignore_ascii_case(name);
        if is("email") || is("mail") {
            Ok(Channel::Email)
        } else if is("sms") {
            Ok(Channel::Sms)
        } else if is("im") {
            Ok(Channel::Im)
        } else {
            Err(format!(
                "unknown channel {:?} (expected email, sms or im)",
                s.to_ascii_lowercase()
            ))
        }
    }
}

/// One header field, decoded (RFC 2047 words, folding removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Field name: the registered spelling for fields mail-parser knows
    /// (`Subject`, `Message-ID`), else as it appeared.
    pub name: std::borrow::Cow<'static, str>,
    /// Decoded, unfolded value.
    pub value: String,
}

/// An anchor in HTML: the text a reader sees and where it really goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Visible anchor text, whitespace collapsed.
    pub text: String,
    /// The `href` target.
    pub href: String,
}

/// A mailbox: optional display name and address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Display name, if any.
    pub name: Option<String>,
    /// Address (`local@domain`), lower-cased domain.
    pub address: Option<String>,
}

impl Mailbox {
    /// The domain part of the address, lower-case.
    pub fn domain(&self) -> Option<&str> {
        self.address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty())
    }
}

/// The normalised message every check reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Message {
    /// Channel it came in on.
    pub channel: Channel,
    /// Sender identity: email From address, SMS number, IM account.
    pub sender: String,
    /// Recipients: envelope or To/Cc addresses, SMS number, IM account or room.
    pub recipients: Vec<String>,
    /// All header fields in order (email only).
    pub headers: Vec<Header>,
    /// Subject (email only).
    pub subject: String,
    /// Decoded text of every text part, HTML converted to text; the SMS/IM text.
    pub body: String,
    /// Raw HTML of the text/html parts (bounded), for rules on markup.
    pub html: String,
    /// Content-Type of every MIME part, lower-case (`text/html; charset=big5`).
    pub part_types: Vec<String>,
    /// File names of the attachments (email), lower-case, at most 64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// URIs found in text and HTML.
    pub uris: Vec<Uri>,
    /// HTML anchors (text and target), for link-mismatch tests.
    pub links: Vec<Link>,
    /// From mailbox (email).
    pub from: Option<Mailbox>,
    /// Reply-To mailbox (email).
    pub reply_to: Option<Mailbox>,
    /// Return-Path address (email).
    pub return_path: Option<String>,
    /// Message-ID (email), without angle brackets.
    pub message_id: Option<String>,
    /// Client IP of the first untrusted Received hop (email), or the
    /// connecting address when a front end (milter) knows it.
    pub client_ip: Option<IpAddr>,
    /// Send time, when known (RFC 3339 for SMS/IM, Date header for email).
    /// For email this is the sender's own claim: rules may read it, but
    /// clocks (rate windows, quiet hours) use [`Message::clock`].
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// When the front end received the message (its envelope's clock),
    /// never taken from the message itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Email: when the newest Received header says the message arrived,
    /// the stamp the receiving system itself put on it (`DATE_AFTER_RECEIVED`
    /// compares the sender's `Date` with it, else with [`received`](Self::received)).
    /// The sender's `Date` never stands in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamped: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The hosts the message names (From, Reply-To, Return-Path domains),
    /// each with its organisation; computed once at parse.
    #[serde(skip)]
    pub hosts: host::Hosts,
    /// Sender authentication results, when the front end authenticated
    /// the message (`[dns]` configured); `None`: not checked.
    #[serde(skip)]
    pub auth: Option<crate::auth::AuthResults>,
    /// The DNS-list rules whose lists answered "listed" for this message
    /// (asked by the front end before classifying).
    #[serde(skip)]
    pub dns_listed: Vec<std::sync::Arc<str>>,
    /// The local user the message is delivered to, whose own Bayes model
    /// applies (`[state] per_user`): the envelope's `Deliver-To`, else its
    /// only recipient, else the protocol's user; `None` for a message to
    /// several recipients or without an envelope.
    #[serde(skip)]
    pub user: Option<String>,
    /// Size of the raw input in bytes.
    pub size: usize,
    /// Facts about the structure of the message that eval tests read.
    pub facts: Facts,
}

/// Structural facts gathered while parsing, for built-in eval tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Number of text/plain parts.
    pub text_parts: u32,
    /// Number of text/html parts.
    pub html_parts: u32,
    /// Number of attachments.
    pub attachments: u32,
    /// A Date header is present.
    pub has_date: bool,
    /// The Date header is present but could not be parsed.
    pub bad_date: bool,
    /// A Message-ID header is present.
    pub has_message_id: bool,
    /// The Message-ID is present but not of the form `<left@right>`.
    pub bad_message_id: bool,
    /// mail-parser could not parse the message; what is here was salvaged.
    pub parse_failed: bool,
    /// A body part had an encoding problem.
    pub encoding_problem: bool,
    /// Number of images referenced in HTML.
    pub html_images: u32,
    /// Bytes of raw HTML across html parts.
    pub html_bytes: u64,
}

impl Message {
    /// The From display name (email), when there is one.
    pub fn from_name(&self) -> Option<&str> {
        self.from.as_ref().and_then(|f| f.name.as_deref())
    }

    /// The time checks count this message at: when the front end received
    /// it; else, for SMS and IM, the time the gateway gave; else now. An
    /// email's own `Date` is never used: a sender could move itself out
    /// of rate windows and quiet hours with it.
    pub fn clock(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.received
            .or(if self.channel == Channel::Email {
                None
            } else {
                self.time
            })
            .unwrap_or_else(|| chrono::Utc::now().fixed_offset())
    }

    /// Parse a raw email with default options.
    pub fn from_email(raw: &[u8]) -> Message {
        email::parse(raw, &EmailOptions::default())
    }

    /// Parse one SMS or IM JSON object.
    pub fn from_json(json: &str) -> Result<Message, ShortMessageError> {
        short::parse(json, None)
    }

    /// All values of the header fields named `name` (case-insensitive).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The first value of the header field `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The domain of the sender identity (email From domain).
    pub fn sender_domain(&self) -> Option<&str> {
        self.from.as_ref().and_then(Mailbox::domain)
    }
}
