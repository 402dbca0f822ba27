//! User-specified rules per recipient (ITU-T X.1242): block and allow lists
//! of senders (exact or prefix), keyword rules and quiet hours, each with an
//! action. Evaluated before content scoring; an allow-list match wins.
//!
//! ```toml
//! # policies/+447700900456.toml — the file name is the recipient
//! [[allow]]
//! sender = "+447700900123"          # exact
//! [[block]]
//! sender = "+44906*"                # prefix
//! action = "discard"                # deliver | spambox | discard (default spambox)
//! [[keyword]]
//! phrases = ["loan", "casino"]
//! action = "spambox"
//! [[quiet_hours]]
//! start = "22:00"
//! end = "07:00"                     # may cross midnight
//! timezone = "Europe/London"        # IANA name or +HH:MM
//! action = "spambox"                # everything not on the allow list is held
//! ```

use crate::message::Message;
use arc_swap::ArcSwap;
use chrono::{DateTime, FixedOffset, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What a policy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    /// Deliver to the inbox.
    Deliver,
    /// Deliver to the spam box.
    #[default]
    Spambox,
    /// Drop the message.
    Discard,
}

/// A sender pattern: exact, or a prefix when it ends in `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderRule {
    /// Sender number or account, `*` at the end for a prefix.
    pub sender: String,
    /// Action for block rules.
    #[serde(default)]
    pub action: PolicyAction,
}

/// Keywords that trigger an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Case-insensitive phrases.
    pub phrases: Vec<String>,
    /// Action on a match.
    #[serde(default)]
    pub action: PolicyAction,
}

/// Hold everything not on the allow list between `start` and `end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `HH:MM` local time.
    pub start: String,
    /// End, `HH:MM` local time (may be earlier than start: crosses midnight).
    pub end: String,
    /// IANA time zone (`Europe/London`) or offset (`+01:00`); UTC when omitted.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Action in the window.
    #[serde(default)]
    pub action: PolicyAction,
}

/// One recipient's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Senders always delivered.
    #[serde(default)]
    pub allow: Vec<SenderRule>,
    /// Senders blocked.
    #[serde(default)]
    pub block: Vec<SenderRule>,
    /// Keyword rules.
    #[serde(default)]
    pub keyword: Vec<KeywordRule>,
    /// Quiet hours.
    #[serde(default)]
    pub quiet_hours: Vec<QuietHours>,
}

/// A policy decision with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Hit id (`POLICY_ALLOW`, `POLICY_BLOCK`, `POLICY_KEYWORD`, `POLICY_QUIET_HOURS`).
    pub id: &'static str,
    /// What to do.
    pub action: PolicyAction,
    /// Why, for people.
    pub reason: String,
}

fn sender_matches(pattern: &str, sender: &str) -> bool {
    fn trim(s: &str) -> &str {
        s.trim().trim_start_matches('@')
    }
    let (pattern, sender) = (trim(pattern), trim(sender));
    let (want, prefix) = match pattern.strip_suffix('*') {
        Some(p) => (trim(p), true),
        None => (pattern, false),
    };
    if want.is_ascii() && sender.is_ascii() {
        // No allocation for ASCII numbers and accounts (the common case).
        let head = if prefix {
            sender.get(..want.len())
        } else {
            Some(sender)
        };
        return head.is_some_and(|h| h.eq_ignore_ascii_case(want));
    }
    let (want, sender) = (want.to_lowercase(), sender.to_lowercase());
    if prefix {
        sender.starts_with(&want)
    } else {
        sender == want
    }
}

/// Whether `text` contains `phrase`, ignoring case; allocates only for
/// non-ASCII text.
fn contains_ignoring_case(text: &str, phrase: &str) -> bool {
    // An ASCII phrase is found in the bytes as they are (ASCII bytes never
    // occur inside a UTF-8 sequence): no lower-cased copy, even of a text
    // with a `£` in it. Only two non-ASCII letters lower-case to ASCII ones
    // (KELVIN SIGN to `k`, DOTTED CAPITAL I to `i` and a combining dot);
    // a text holding one takes the general path.
    if phrase.is_ascii() && (text.is_ascii() || !text.contains(['\u{212A}', '\u{130}'])) {
        crate::message::html::find_ascii_ci(text.as_bytes(), phrase.as_bytes()).is_some()
    } else {
        text.to_lowercase().contains(&phrase.to_lowercase())
    }
}

fn parse_hhmm(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("invalid time {s:?} (expected HH:MM)"))
}

impl QuietHours {
    fn check(&self) -> Result<(), String> {
        parse_hhmm(&self.start)?;
        parse_hhmm(&self.end)?;
        if let Some(tz) = &self.timezone {
            local_time(Utc::now().fixed_offset(), tz)?;
        }
        Ok(())
    }

    /// Whether `at` falls in the window (local to the window's time zone).
    pub fn contains(&self, at: DateTime<FixedOffset>) -> bool {
        let (Ok(start), Ok(end)) = (parse_hhmm(&self.start), parse_hhmm(&self.end)) else {
            return false;
        };
        let Ok(local) = local_time(at, self.timezone.as_deref().unwrap_or("UTC")) else {
            return false;
        };
        let t = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or(local);
        if start <= end {
            t >= start && t < end
        } else {
            t >= start || t < end
        }
    }
}

fn local_time(at: DateTime<FixedOffset>, tz: &str) -> Result<NaiveTime, String> {
    if let Ok(zone) = tz.parse::<chrono_tz::Tz>() {
        return Ok(at.with_timezone(&zone).time());
    }
    let offset = DateTime::parse_from_str(&format!("2000-01-01 00:00 {tz}"), "%Y-%m-%d %H:%M %:z")
        .map_err(|_| {
            format!("unknown time zone {tz:?} (IANA name like Europe/London, or +HH:MM)")
        })?;
    Ok(at.with_timezone(offset.offset()).time())
}

impl Policy {
    /// Check the policy's times and zones.
    pub fn validate(&self) -> Result<(), String> {
        self.quiet_hours.iter().try_for_each(QuietHours::check)?;
        if self
            .keyword
            .iter()
            .any(|k| k.phrases.is_empty() || k.phrases.iter().any(|p| p.trim().is_empty()))
        {
            return Err("keyword rules need non-empty phrases".into());
        }
        Ok(())
    }

    /// Decide for a message sent at `at` (its own time, or now).
    pub fn decide(&self, msg: &Message, at: DateTime<FixedOffset>) -> Option<Decision> {
        if let Some(r) = self
            .allow
            .iter()
            .find(|r| sender_matches(&r.sender, &msg.sender))
        {
            return Some(Decision {
                id: "POLICY_ALLOW",
                action: PolicyAction::Deliver,
                reason: format!(
                    "sender {} on the recipient's allow list ({})",
                    msg.sender, r.sender
                ),
            });
        }
        if let Some(r) = self
            .block
            .iter()
            .find(|r| sender_matches(&r.sender, &msg.sender))
        {
            return Some(Decision {
                id: "POLICY_BLOCK",
                action: r.action,
                reason: format!(
                    "sender {} on the recipient's block list ({})",
                    msg.sender, r.sender
                ),
            });
        }
        for k in &self.keyword {
            if let Some(p) = k
                .phrases
                .iter()
                .find(|p| contains_ignoring_case(&msg.body, p))
            {
                return Some(Decision {
                    id: "POLICY_KEYWORD",
                    action: k.action,
                    reason: format!("contains the recipient's keyword {p:?}"),
                });
            }
        }
        if let Some(q) = self.quiet_hours.iter().find(|q| q.contains(at)) {
            return Some(Decision {
                id: "POLICY_QUIET_HOURS",
                action: q.action,
                reason: format!(
                    "quiet hours {}–{} {}",
                    q.start,
                    q.end,
                    q.timezone.as_deref().unwrap_or("UTC")
                ),
            });
        }
        None
    }
}

/// Why a policy could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PolicyError {
    /// File or recipient.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

/// Policies by recipient. Reads are lock-free snapshots; updates swap in a
/// new map, so classification never waits on a writer.
#[derive(Debug, Default)]
pub struct PolicyStore {
    map: ArcSwap<HashMap<String, Arc<Policy>>>,
    dir: Option<std::path::PathBuf>,
}

fn recipient_key(r: &str) -> std::borrow::Cow<'_, str> {
    let r = r.trim().trim_start_matches('@');
    if r.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        std::borrow::Cow::Owned(r.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(r)
    }
}

impl PolicyStore {
    /// An empty in-memory store.
    pub fn new() -> PolicyStore {
        PolicyStore::default()
    }

    /// Load every `RECIPIENT.toml` (or `.json`) of a folder; updates are written back there.
    pub fn load_dir(dir: &Path) -> Result<PolicyStore, PolicyError> {
        let err = |file: &Path, message: String| PolicyError {
            file: file.display().to_string(),
            message,
        };
        let mut map = HashMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e.to_string()))?;
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
            if !matches!(ext, "toml" | "json") {
                continue;
            }
            let text = std::fs::read_to_string(&p).map_err(|e| err(&p, e.to_string()))?;
            let policy: Policy = if ext == "toml" {
                toml::from_str(&text).map_err(|e| {
                    let line = e.span().map_or(0, |s| {
                        text[..s.start.min(text.len())].matches('\n').count() + 1
                    });
                    err(&p, format!("line {line}: {}", e.message().trim()))
                })?
            } else {
                serde_json::from_str(&text).map_err(|e| err(&p, e.to_string()))?
            };
            policy.validate().map_err(|m| err(&p, m))?;
            let recipient = p
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            map.insert(recipient_key(&recipient).into_owned(), Arc::new(policy));
        }
        Ok(PolicyStore {
            map: ArcSwap::from_pointee(map),
            dir: Some(dir.to_path_buf()),
        })
    }

    /// The policy of a recipient.
    pub fn get(&self, recipient: &str) -> Option<Arc<Policy>> {
        self.map
            .load()
            .get(recipient_key(recipient).as_ref())
            .cloned()
    }

    /// Set (or with `None` remove) a recipient's policy; written to the
    /// store's folder when it has one.
    pub fn put(&self, recipient: &str, policy: Option<Policy>) -> Result<(), PolicyError> {
        if let Some(p) = &policy {
            p.validate().map_err(|message| PolicyError {
                file: recipient.into(),
                message,
            })?;
        }
        let key = recipient_key(recipient).into_owned();
        if let Some(dir) = &self.dir {
            if key.is_empty() || key.contains(['/', '\\']) || key.starts_with('.') {
                return Err(PolicyError {
                    file: recipient.into(),
                    message: "invalid recipient id".into(),
                });
            }
            let path = dir.join(format!("{key}.toml"));
            let io = |e: std::io::Error| PolicyError {
                file: path.display().to_string(),
                message: e.to_string(),
            };
            match &policy {
                Some(p) => {
                    let text = toml::to_string(p).map_err(|e| PolicyError {
                        file: recipient.into(),
                        message: e.to_string(),
                    })?;
                    crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(io)?;
                }
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                },
            }
        }
        self.map.rcu(|m| {
            let mut m = HashMap::clone(m);
            match &policy {
                Some(p) => m.insert(key.clone(), Arc::new(p.clone())),
                None => m.remove(&key),
            };
            m
        });
        Ok(())
    }

    /// The first decision among the message's recipients' policies.
    pub fn decide(&self, msg: &Message) -> Option<Decision> {
        let map = self.map.load();
        if map.is_empty() {
            return None;
        }
        let at = msg.time.unwrap_or_else(|| Utc::now().fixed_offset());
        msg.recipients
            .iter()
            .filter_map(|r| map.get(recipient_key(r).as_ref()))
            .find_map(|p| p.decide(msg, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_patterns_ignore_case_and_at_signs() {
        assert!(sender_matches("+44906*", " +449061234"));
        assert!(!sender_matches("+44906*", "+4490"));
        assert!(sender_matches("@Alice", "alice"));
        assert!(sender_matches("Promo*", "@PROMOTIONS"));
        assert!(sender_matches("Ärger*", "ärgerlich"));
        assert!(!sender_matches("bob", "bobby"));
        assert!(contains_ignoring_case("You WON a Prize", "won a prize"));
        assert!(contains_ignoring_case("ВЫ ВЫИГРАЛИ приз", "выиграли"));
        assert!(!contains_ignoring_case("nothing here", "prize"));
        assert!(contains_ignoring_case("Win £500: call NOW", "call now"));
        assert!(
            contains_ignoring_case("5 \u{212A}M away", "5 km"),
            "KELVIN SIGN is a k"
        );
        assert!(!contains_ignoring_case("caf\u{e9} ok", "cafe"));
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn quiet_hours_across_midnight_and_zones() {
        let q = QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            timezone: Some("Europe/London".into()),
            action: PolicyAction::Spambox,
        };
        // 23:30 London time in summer is 22:30 UTC
        assert!(q.contains(at("2024-07-01T22:30:00Z")));
        assert!(q.contains(at("2024-07-02T05:59:00Z"))); // 06:59 BST
        assert!(!q.contains(at("2024-07-02T06:00:00Z"))); // 07:00 BST
        assert!(!q.contains(at("2024-07-01T12:00:00Z")));
        // winter: London = UTC
        assert!(q.contains(at("2024-01-15T22:00:00Z")));
        let fixed = QuietHours {
            timezone: Some("+09:00".into()),
            ..q.clone()
        };
        assert!(fixed.contains(at("2024-01-15T14:00:00Z"))); // 23:00 in +09:00
        let day = QuietHours {
            start: "09:00".into(),
            end: "17:00".into(),
            timezone: None,
            action: PolicyAction::Discard,
        };
        assert!(
            day.contains(at("2024-01-15T16:59:00Z")) && !day.contains(at("2024-01-15T17:00:00Z"))
        );
        assert!(
            QuietHours {
                timezone: Some("Mars/Olympus".into()),
                ..q
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn senders_exact_and_prefix() {
        assert!(sender_matches("+44906*", "+449061234567"));
        assert!(!sender_matches("+44906*", "+447700900123"));
        assert!(sender_matches("@Spam_Bot", "spam_bot"));
    }
}
