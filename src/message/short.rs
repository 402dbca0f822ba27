//! SMS and IM: one JSON object per message.
//!
//! ```json
//! {"channel":"sms","from":"+447700900123","to":"+447700900456","text":"...","time":"2024-05-01T10:00:00Z"}
//! ```

use super::uri::find_in_text;
use super::{Channel, Message};
use serde::Deserialize;

/// Why a JSON message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShortMessageError {
    /// Not valid JSON or not the expected shape.
    #[error("invalid message JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `time` is not RFC 3339.
    #[error("invalid time {0:?}: expected RFC 3339, e.g. 2024-05-01T10:00:00Z")]
    Time(String),
    /// The object names a channel other than the one expected.
    #[error("expected a {expected} message, got channel {got}")]
    WrongChannel {
        /// Channel the caller asked for.
        expected: Channel,
        /// Channel the object named.
        got: Channel,
    },
    /// Email cannot come as JSON.
    #[error("channel email cannot be read from JSON; pass the raw message")]
    EmailAsJson,
}

/// The JSON shape of an SMS or IM message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortMessage {
    /// `sms` or `im`; defaults to the channel the caller expects.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Sender: phone number (SMS) or account id (IM).
    #[serde(default)]
    pub from: String,
    /// Recipient: a number, account or room, or a list of them.
    #[serde(default)]
    pub to: Recipients,
    /// The message text.
    #[serde(default)]
    pub text: String,
    /// Send time, RFC 3339.
    #[serde(default)]
    pub time: Option<String>,
    /// Optional label for corpora (`spam` / `ham`); ignored by the filter.
    #[serde(default)]
    pub label: Option<String>,
    /// Optional identifier echoed by stream front ends.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
}

/// One recipient or several.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    /// None given.
    #[default]
    None,
    /// A single recipient.
    One(String),
    /// Several recipients.
    Many(Vec<String>),
}

/// Parse one JSON object. `expected` is the channel the caller reads (the
/// object's `channel`, if present, must agree); without it the object must
/// name its channel or it is taken as SMS.
pub fn parse(json: &str, expected: Option<Channel>) -> Result<Message, ShortMessageError> {
    let short: ShortMessage = serde_json::from_str(json)?;
    let size = json.len();
    into_message(short, expected, size)
}

/// Turn a deserialised [`ShortMessage`] into a [`Message`].
pub fn into_message(
    short: ShortMessage,
    expected: Option<Channel>,
    size: usize,
) -> Result<Message, ShortMessageError> {
    let channel = match (short.channel, expected) {
        (Some(got), Some(expected)) if got != expected => {
            return Err(ShortMessageError::WrongChannel { expected, got });
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => Channel::Sms,
    };
    if channel == Channel::Email {
        return Err(ShortMessageError::EmailAsJson);
    }
    let time = match short.time.as_deref() {
        Some(t) if !t.is_empty() => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| ShortMessageError::Time(t.into()))?,
        ),
        _ => None,
    };
    let recipients = match short.to {
        Recipients::None => Vec::new(),
        Recipients::One(r) => vec![r],
        Recipients::Many(v) => v,
    };
    // A text to one recipient is that user's (per-user Bayes).
    let user = match recipients.as_slice() {
        [only] if !only.trim().is_empty() => Some(only.trim().to_string()),
        _ => None,
    };
    let mut msg = Message {
        channel,
        sender: short.from.trim().to_string(),
        recipients,
        user,
        body: short.text,
        time,
        size,
        ..Message::default()
    };
    find_in_text(&msg.body, &mut msg.uris);
    Ok(msg)
}

/// Build an SMS or IM [`Message`] from its text and sender.
pub fn from_text(channel: Channel, from: &str, text: &str) -> Message {
    let mut msg = Message {
        channel,
        sender: from.trim().to_string(),
        body: text.to_string(),
        size: text.len(),
        ..Message::default()
    };
    find_in_text(&msg.body, &mut msg.uris);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sms() {
        let m = parse(
            r#"{"channel":"sms","from":"+447700900123","to":"+447700900456","text":"Win! www.x.example","time":"2024-05-01T10:00:00+01:00"}"#,
            None,
        )
        .expect("valid message JSON");
        assert_eq!(m.channel, Channel::Sms);
        assert_eq!(m.sender, "+447700900123");
        assert_eq!(m.uris[0].host, "www.x.example");
        assert!(m.time.is_some());
    }

    #[test]
    fn clear_errors() {
        assert!(matches!(parse("{", None), Err(ShortMessageError::Json(_))));
        assert!(matches!(
            parse(r#"{"channel":"im","text":"x"}"#, Some(Channel::Sms)),
            Err(ShortMessageError::WrongChannel { .. })
        ));
        assert!(matches!(
            parse(r#"{"text":"x","time":"yesterday"}"#, None),
            Err(ShortMessageError::Time(_))
        ));
        let e = parse(r#"{"text":"x","colour":"red"}"#, None).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }
}
