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
use chrono::{DateTime, FixedOffset, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

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
        QuietWindow::parse(self).map(|_| ())
    }

    /// Whether `at` falls in the window (local to the window's time zone).
    pub fn contains(&self, at: DateTime<FixedOffset>) -> bool {
        QuietWindow::parse(self).is_ok_and(|w| w.contains(at))
    }
}

/// A time zone as a quiet-hours window names it.
///
/// Named zones come from `jiff`: the system's tz database
/// (`/usr/share/zoneinfo`), else the copy bundled into the binary as one
/// compact blob. (chrono-tz, used before, compiled the whole database into
/// static structures holding pointers: 1 MB that the loader had to relocate
/// at the start of every process, 61% of the binary's relocated data, paid
/// by every `check` whether or not a policy named a zone.)
#[derive(Debug, Clone)]
enum Zone {
    Named(jiff::tz::TimeZone),
    Fixed(FixedOffset),
}

impl Zone {
    /// An IANA name (`Europe/London`) or an offset (`+01:00`).
    fn parse(tz: &str) -> Result<Zone, String> {
        if !tz.starts_with(['+', '-'])
            && let Ok(zone) = jiff::tz::TimeZone::get(tz)
        {
            return Ok(Zone::Named(zone));
        }
        DateTime::parse_from_str(&format!("2000-01-01 00:00 {tz}"), "%Y-%m-%d %H:%M %:z")
            .map(|d| Zone::Fixed(*d.offset()))
            .map_err(|_| {
                format!("unknown time zone {tz:?} (IANA name like Europe/London, or +HH:MM)")
            })
    }

    fn local_time(&self, at: DateTime<FixedOffset>) -> NaiveTime {
        match self {
            Zone::Named(z) => {
                let offset = jiff::Timestamp::from_second(at.timestamp())
                    .map(|t| z.to_offset(t).seconds())
                    .unwrap_or(0);
                FixedOffset::east_opt(offset)
                    .map_or_else(|| at.time(), |o| at.with_timezone(&o).time())
            }
            Zone::Fixed(o) => at.with_timezone(o).time(),
        }
    }
}

/// Quiet hours parsed once (a store keeps its policies' windows parsed, so
/// a message costs no string parsing).
#[derive(Debug, Clone)]
struct QuietWindow {
    start: NaiveTime,
    end: NaiveTime,
    zone: Zone,
}

impl QuietWindow {
    /// Parse the times and zone (UTC when none is named). Validation refuses
    /// a policy whose window does not parse; one that slips through never
    /// holds a message.
    fn parse(q: &QuietHours) -> Result<QuietWindow, String> {
        Ok(QuietWindow {
            start: parse_hhmm(&q.start)?,
            end: parse_hhmm(&q.end)?,
            zone: Zone::parse(q.timezone.as_deref().unwrap_or("UTC"))?,
        })
    }

    fn contains(&self, at: DateTime<FixedOffset>) -> bool {
        let local = self.zone.local_time(at);
        let t = NaiveTime::from_hms_opt(local.hour(), local.minute(), 0).unwrap_or(local);
        if self.start <= self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
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
        self.decide_with(msg, at, &self.quiet_windows())
    }

    /// The quiet hours parsed, one per `quiet_hours` entry.
    fn quiet_windows(&self) -> Vec<Option<QuietWindow>> {
        self.quiet_hours
            .iter()
            .map(|q| QuietWindow::parse(q).ok())
            .collect()
    }

    /// [`decide`](Self::decide) with the quiet hours already parsed.
    fn decide_with(
        &self,
        msg: &Message,
        at: DateTime<FixedOffset>,
        windows: &[Option<QuietWindow>],
    ) -> Option<Decision> {
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
        if let Some((q, _)) = self
            .quiet_hours
            .iter()
            .zip(windows)
            .find(|(_, w)| w.as_ref().is_some_and(|w| w.contains(at)))
        {
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
    /// The store itself failed (a file could not be written), rather
    /// than the request being wrong.
    pub internal: bool,
}

/// Most recipients a store holds; a `put` of a new one beyond is refused.
pub const MAX_POLICIES: usize = 1_000_000;
/// Largest policy, as TOML text.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Longest recipient id (an address is at most 254 characters).
pub const MAX_RECIPIENT_LEN: usize = 254;

/// Why a recipient id cannot name a policy: empty, too long, holding
/// control characters, whitespace or path separators, or starting with a dot.
pub fn check_recipient(recipient: &str) -> Result<(), String> {
    let r = recipient.trim();
    if r.is_empty() || r.len() > MAX_RECIPIENT_LEN {
        return Err(format!(
            "a recipient id has 1 to {MAX_RECIPIENT_LEN} characters"
        ));
    }
    if r.starts_with('.')
        || r.chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '\\'))
    {
        return Err(
            "a recipient id cannot hold control characters, spaces or slashes, or start with a dot"
                .into(),
        );
    }
    Ok(())
}

/// Policies by recipient, in shards: a lookup read-locks one shard (no
/// writer holds it for longer than one insert), and an update changes one
/// entry, however many recipients the store holds.
#[derive(Debug)]
pub struct PolicyStore {
    shards: Vec<RwLock<PolicyShard>>,
    /// Policies held (so a store without any costs a message nothing).
    len: AtomicUsize,
    dir: Option<std::path::PathBuf>,
}

/// One shard: recipient key to policy (Fx-hashed: the keys are the
/// operator's, only looked up with a message's recipients).
type PolicyShard = rustc_hash::FxHashMap<String, Arc<StoredPolicy>>;

/// A recipient's policy with its quiet hours parsed.
#[derive(Debug)]
struct StoredPolicy {
    policy: Arc<Policy>,
    windows: Vec<Option<QuietWindow>>,
}

impl StoredPolicy {
    fn new(policy: Policy) -> StoredPolicy {
        StoredPolicy {
            windows: policy.quiet_windows(),
            policy: Arc::new(policy),
        }
    }
}

/// Shards of a [`PolicyStore`].
const POLICY_SHARDS: usize = 64;

impl Default for PolicyStore {
    fn default() -> Self {
        PolicyStore {
            shards: (0..POLICY_SHARDS).map(|_| RwLock::default()).collect(),
            len: AtomicUsize::new(0),
            dir: None,
        }
    }
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
    fn shard(&self, key: &str) -> &RwLock<PolicyShard> {
        let h = xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as usize;
        &self.shards[h % POLICY_SHARDS]
    }

    /// Set or remove the policy of a recipient key; a poisoned shard (a
    /// writer panicked) is still used: every entry in it is whole.
    fn set(&self, key: String, policy: Option<Policy>) {
        let mut shard = self.shard(&key).write().unwrap_or_else(|e| e.into_inner());
        let before = shard.len();
        match policy {
            Some(p) => {
                shard.insert(key, Arc::new(StoredPolicy::new(p)));
            }
            None => {
                shard.remove(&key);
            }
        }
        let after = shard.len();
        if after > before {
            self.len.fetch_add(1, Ordering::Relaxed);
        } else if after < before {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// An empty in-memory store.
    pub fn new() -> PolicyStore {
        PolicyStore::default()
    }

    /// Load every `RECIPIENT.toml` (or `.json`) of a folder; updates are written back there.
    pub fn load_dir(dir: &Path) -> Result<PolicyStore, PolicyError> {
        let err = |file: &Path, message: String| PolicyError {
            file: file.display().to_string(),
            message,
            internal: false,
        };
        let store = PolicyStore {
            dir: Some(dir.to_path_buf()),
            ..PolicyStore::default()
        };
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
            store.set(recipient_key(&recipient).into_owned(), Some(policy));
        }
        Ok(store)
    }

    /// Number of recipients with a policy.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no recipient has a policy.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The policy of a recipient.
    pub fn get(&self, recipient: &str) -> Option<Arc<Policy>> {
        let key = recipient_key(recipient);
        let shard = self.shard(&key).read().unwrap_or_else(|e| e.into_inner());
        shard.get(key.as_ref()).map(|s| Arc::clone(&s.policy))
    }

    /// Set (or with `None` remove) a recipient's policy; written to the
    /// store's folder when it has one. The recipient id is checked
    /// ([`check_recipient`]), a policy may hold at most
    /// [`MAX_POLICY_BYTES`] as TOML, and a new recipient beyond
    /// [`MAX_POLICIES`] is refused.
    pub fn put(&self, recipient: &str, policy: Option<Policy>) -> Result<(), PolicyError> {
        let bad = |message: String| PolicyError {
            file: recipient.into(),
            message,
            internal: false,
        };
        check_recipient(recipient).map_err(bad)?;
        let key = recipient_key(recipient).into_owned();
        let text = match &policy {
            Some(p) => {
                p.validate().map_err(bad)?;
                let text = toml::to_string(p).map_err(|e| bad(e.to_string()))?;
                if text.len() > MAX_POLICY_BYTES {
                    return Err(bad(format!(
                        "policy of {} bytes; at most {MAX_POLICY_BYTES}",
                        text.len()
                    )));
                }
                if self.len.load(Ordering::Relaxed) >= MAX_POLICIES && self.get(&key).is_none() {
                    return Err(bad(format!(
                        "the store holds {MAX_POLICIES} policies already"
                    )));
                }
                Some(text)
            }
            None => None,
        };
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{key}.toml"));
            let io = |e: std::io::Error| PolicyError {
                file: path.display().to_string(),
                message: e.to_string(),
                internal: true,
            };
            match &text {
                Some(t) => crate::fsutil::write_atomic(&path, t.as_bytes()).map_err(io)?,
                None => match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(e)),
                },
            }
        }
        self.set(key, policy);
        Ok(())
    }

    /// The first decision among the message's recipients' policies.
    pub fn decide(&self, msg: &Message) -> Option<Decision> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let at = msg.clock();
        msg.recipients.iter().find_map(|r| {
            let key = recipient_key(r);
            let shard = self.shard(&key).read().unwrap_or_else(|e| e.into_inner());
            let stored = shard.get(key.as_ref())?;
            stored.policy.decide_with(msg, at, &stored.windows)
        })
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
        DateTime::parse_from_rfc3339(s).expect("valid time")
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
        // Named zones of every kind the tz database has: regions, and the
        // old single names ("Japan") and abbreviations ("UTC").
        for (zone, quiet_utc, awake_utc) in [
            ("Asia/Tokyo", "2024-01-15T14:00:00Z", "2024-01-15T23:00:00Z"),
            ("Japan", "2024-01-15T14:00:00Z", "2024-01-15T23:00:00Z"),
            (
                "America/New_York",
                "2024-07-02T03:00:00Z",
                "2024-07-02T12:00:00Z",
            ),
            ("UTC", "2024-07-01T23:00:00Z", "2024-07-01T12:00:00Z"),
        ] {
            let named = QuietHours {
                timezone: Some(zone.into()),
                ..q.clone()
            };
            assert!(named.check().is_ok(), "{zone}");
            assert!(named.contains(at(quiet_utc)), "{zone} at {quiet_utc}");
            assert!(!named.contains(at(awake_utc)), "{zone} at {awake_utc}");
        }
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
    fn a_store_decides_as_its_policies_do() {
        let store = PolicyStore::new();
        let night = Policy {
            quiet_hours: vec![QuietHours {
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: Some("Europe/London".into()),
                action: PolicyAction::Spambox,
            }],
            ..Policy::default()
        };
        let block = Policy {
            block: vec![SenderRule {
                sender: "+44906*".into(),
                action: PolicyAction::Discard,
            }],
            ..Policy::default()
        };
        // Many recipients, so every shard holds some.
        for i in 0..1000 {
            let p = if i % 2 == 0 { &night } else { &block };
            store
                .put(&format!("+4477{i:08}"), Some(p.clone()))
                .expect("policy stored");
        }
        for (i, time, sender, want) in [
            (
                0,
                "2024-07-01T22:30:00Z",
                "+447700900123",
                Some("POLICY_QUIET_HOURS"),
            ),
            (0, "2024-07-01T12:00:00Z", "+447700900123", None),
            (
                2,
                "2024-01-15T22:00:00Z",
                "+449061234567",
                Some("POLICY_QUIET_HOURS"),
            ),
            (
                1,
                "2024-07-01T22:30:00Z",
                "+449061234567",
                Some("POLICY_BLOCK"),
            ),
            (3, "2024-07-01T12:00:00Z", "+447700900123", None),
        ] {
            let to = format!("+4477{i:08}");
            let mut msg = crate::message::short::from_text(
                crate::message::Channel::Sms,
                sender,
                "see you at the station",
            );
            msg.recipients = vec![to.clone()];
            msg.time = Some(at(time));
            let policy = store.get(&to).expect("policy is stored");
            let decision = store.decide(&msg);
            assert_eq!(decision.as_ref().map(|d| d.id), want, "{to} {time}");
            assert_eq!(decision, policy.decide(&msg, at(time)), "{to} {time}");
        }
        // Removing every policy leaves a store that decides nothing.
        for i in 0..1000 {
            store
                .put(&format!("+4477{i:08}"), None)
                .expect("policy stored");
        }
        assert_eq!(store.len.load(Ordering::Relaxed), 0);
        assert!(store.get("+447700000000").is_none());
    }

    #[test]
    fn senders_exact_and_prefix() {
        assert!(sender_matches("+44906*", "+449061234567"));
        assert!(!sender_matches("+44906*", "+447700900123"));
        assert!(sender_matches("@Spam_Bot", "spam_bot"));
    }
}
