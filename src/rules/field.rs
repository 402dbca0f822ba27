//! The fields of a [`Message`] that phrase and regex rules read.

use crate::message::Message;
use std::fmt;

/// A readable part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// Subject line (email).
    Subject,
    /// Decoded body text (all channels).
    Body,
    /// Raw HTML markup (email).
    Html,
    /// Content-Type of each MIME part (email).
    PartType,
    /// The file name of each attachment, lower-case (email).
    Attachment,
    /// Each URI.
    Uri,
    /// Each URI host.
    UriHost,
    /// The From header as `Name <address>` (email).
    From,
    /// The From display name (email).
    FromName,
    /// The sender identity: From address, SMS number, IM account.
    Sender,
    /// Every header value.
    Headers,
    /// The values of one header, name lower-case.
    Header(String),
}

impl Field {
    /// Parse a field name as written in rule files.
    pub fn parse(s: &str) -> Result<Field, String> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("header:") {
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("invalid header name in field {s:?}"));
            }
            return Ok(Field::Header(name.to_ascii_lowercase()));
        }
        Ok(match s {
            "subject" => Field::Subject,
            "body" => Field::Body,
            "html" => Field::Html,
            "part_type" => Field::PartType,
            "attachment" => Field::Attachment,
            "uri" => Field::Uri,
            "uri_host" => Field::UriHost,
            "from" => Field::From,
            "from_name" => Field::FromName,
            "sender" => Field::Sender,
            "headers" => Field::Headers,
            other => {
                return Err(format!(
                    "unknown field {other:?} (expected subject, body, html, part_type, attachment, \
                     uri, uri_host, from, from_name, sender, headers or header:NAME)"
                ));
            }
        })
    }

    /// Whether the field is one long text (body, HTML) rather than many
    /// short values.
    pub fn is_long_text(&self) -> bool {
        matches!(self, Field::Body | Field::Html)
    }

    /// Call `f` with each value of this field in `msg`; stops when `f` returns false.
    pub fn for_each_value(&self, msg: &Message, mut f: impl FnMut(&str) -> bool) {
        match self {
            Field::Subject => {
                f(&msg.subject);
            }
            Field::Body => {
                f(&msg.body);
            }
            Field::Html => {
                f(&msg.html);
            }
            Field::PartType => {
                for t in &msg.part_types {
                    if !f(t) {
                        return;
                    }
                }
            }
            Field::Attachment => {
                for a in &msg.attachments {
                    if !f(a) {
                        return;
                    }
                }
            }
            Field::Uri => {
                for u in &msg.uris {
                    if !f(&u.url) {
                        return;
                    }
                }
            }
            Field::UriHost => {
                for u in &msg.uris {
                    if !f(&u.host) {
                        return;
                    }
                }
            }
            Field::From | Field::Headers | Field::Header(_) => {
                let wanted = match self {
                    Field::From => Some("from"),
                    Field::Header(n) => Some(n.as_str()),
                    _ => None,
                };
                for h in &msg.headers {
                    if wanted.is_none_or(|w| h.name.eq_ignore_ascii_case(w)) && !f(&h.value) {
                        return;
                    }
                }
            }
            Field::FromName => {
                if let Some(name) = msg.from_name() {
                    f(name);
                }
            }
            Field::Sender => {
                f(&msg.sender);
            }
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Subject => f.write_str("subject"),
            Field::Body => f.write_str("body"),
            Field::Html => f.write_str("html"),
            Field::PartType => f.write_str("part_type"),
            Field::Attachment => f.write_str("attachment"),
            Field::Uri => f.write_str("uri"),
            Field::UriHost => f.write_str("uri_host"),
            Field::From => f.write_str("from"),
            Field::FromName => f.write_str("from_name"),
            Field::Sender => f.write_str("sender"),
            Field::Headers => f.write_str("headers"),
            Field::Header(n) => write!(f, "header:{n}"),
        }
    }
}
