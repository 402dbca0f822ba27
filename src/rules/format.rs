//! The serde types of rule files (TOML), as written by people.
//!
//! ```toml
//! [[rule]]
//! id = "PRIZE_CLAIM"
//! description = "Tells the reader they won a prize"
//! score = 2.5
//! channels = ["email", "sms"]
//! field = "body"
//! phrases = ["you have won", "claim your prize"]
//! whole_word = true
//! ```

use serde::Deserialize;
use toml::Spanned;

/// Text of a rule or brand entry: borrowed from the binary for the
/// embedded rule files (their entries are written as Rust code when
/// spamsift is built, so a process started for one message does not copy
/// every id, description and phrase), owned when read from a file.
pub type Text = std::borrow::Cow<'static, str>;

/// One rule file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rules, in file order, each with its position in the file.
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
    /// Reputation sources: Bloom filters of listed identities.
    #[serde(default)]
    pub reputation: Vec<Spanned<RawReputation>>,
    /// DNS lists (DNSBL/DNSWL, URIBL/DBL-style zones), queried by the front
    /// end when `[dns]` is configured.
    #[serde(default)]
    pub dnslist: Vec<Spanned<RawDnsList>>,
    /// New scores for rules defined in this or an earlier file (a local
    /// file changing a default rule, like SpamAssassin's `score` lines in
    /// `local.cf`); `score = 0.0` switches a rule off.
    #[serde(default)]
    pub score: Vec<Spanned<RawScore>>,
    /// Brands scammers pose as (for `from_brand_other_domain`).
    #[serde(default)]
    pub brand: Vec<Spanned<RawBrand>>,
}

/// A rule file with each entry's line instead of its byte span: what the
/// loader works from, read from TOML ([`RuleFile::lined`]) or, for the
/// embedded default rules, from the JSON `build.rs` wrote when spamsift was
/// built (parsing the TOML at every start was a tenth of `spamsift check`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinedFile {
    /// The rules, in file order, each with its line.
    #[serde(default)]
    pub rule: Vec<(usize, RawRule)>,
    /// Reputation sources, each with its line.
    #[serde(default)]
    pub reputation: Vec<(usize, RawReputation)>,
    /// DNS lists, each with its line.
    #[serde(default)]
    pub dnslist: Vec<(usize, RawDnsList)>,
    /// Score changes, each with its line.
    #[serde(default)]
    pub score: Vec<(usize, RawScore)>,
    /// Brands, each with its line.
    #[serde(default)]
    pub brand: Vec<(usize, RawBrand)>,
}

impl RuleFile {
    /// The entries with their lines (`line` maps a byte offset of the
    /// file's text to its 1-based line).
    pub fn lined(self, line: impl Fn(usize) -> usize) -> LinedFile {
        fn each<T>(v: Vec<Spanned<T>>, line: &impl Fn(usize) -> usize) -> Vec<(usize, T)> {
            v.into_iter()
                .map(|s| (line(s.span().start), s.into_inner()))
                .collect()
        }
        LinedFile {
            rule: each(self.rule, &line),
            reputation: each(self.reputation, &line),
            dnslist: each(self.dnslist, &line),
            score: each(self.score, &line),
            brand: each(self.brand, &line),
        }
    }
}

/// A score change as written:
///
/// ```toml
/// [[score]]
/// id = "BODY_CLICK_HERE"
/// score = 0.0
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScore {
    /// The rule whose score changes.
    pub id: String,
    /// Its new score; 0.0 switches it off.
    pub score: f64,
}

/// A brand scammers pose as, as written:
///
/// ```toml
/// [[brand]]
/// brand = "PayPal"
/// display_names = ["paypal"]
/// domains = ["paypal"]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBrand {
    /// The brand's name; an entry naming a brand already listed adds to it.
    pub brand: Text,
    /// Names that, opening a From display name, say the mail is the
    /// brand's (whole words, any case).
    #[serde(default)]
    pub display_names: Vec<Text>,
    /// Names the brand's own sending domains carry.
    #[serde(default)]
    pub domains: Vec<Text>,
}

/// A DNS list as written:
///
/// ```toml
/// [[dnslist]]
/// id = "RCVD_IN_EXAMPLE_BL"
/// zone = "bl.example"
/// identities = ["client_ip"]
/// returns = ["127.0.0.2"]
/// score = 3.0
/// timeout = 0.5
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnsList {
    /// UPPER_SNAKE identifier.
    pub id: String,
    /// What a listing means.
    #[serde(default)]
    pub description: String,
    /// Points added when an identity is listed (negative for allow lists).
    #[serde(default)]
    pub score: f64,
    /// The list's zone (`zen.spamhaus.org`, `dbl.example`).
    pub zone: String,
    /// Identities looked up: `client_ip` (reversed octets or nibbles),
    /// `received_ips` (the client and the untrusted relays below it),
    /// `from_domain`, `reply_to_domain`, `return_path_domain`, `url_hosts`
    /// (registrable domains of the hosts, at most 20 per message), and,
    /// hashed (`hash` required), `from_address`, `reply_to_address`,
    /// `return_path_address`.
    pub identities: Vec<String>,
    /// How addresses are hashed for the list: `sha1` or `sha256`.
    #[serde(default)]
    pub hash: Option<String>,
    /// How the digest is written: `hex` (default) or `base32` (RFC 4648,
    /// lower-case, unpadded).
    #[serde(default)]
    pub hash_format: Option<String>,
    /// Seconds this list's answers are waited for (within `[dns] budget`);
    /// a list that does not answer in time counts as not listing.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Answers that count as listed (`127.0.0.2`); any 127.0.0.0/8 answer
    /// when omitted.
    #[serde(default)]
    pub returns: Vec<String>,
    /// Channels checked; email when omitted.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

/// A reputation source as written:
///
/// ```toml
/// [[reputation]]
/// id = "RCVD_IN_LOCAL_BL"
/// description = "Client IP on our block list"
/// score = 3.5
/// kind = "ip"
/// file = "lists/local-ips.rep"      # relative to this rule file
/// identities = ["client_ip"]
/// # key = "partner.key"             # for keyed filters
/// # allow = true                    # allow list: a match makes the message ham
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReputation {
    /// UPPER_SNAKE identifier.
    pub id: String,
    /// What a match means.
    #[serde(default)]
    pub description: String,
    /// Points added on a match (negative for allow lists).
    #[serde(default)]
    pub score: f64,
    /// Kind of the filter (`ip`, `domain`, `url-host`, `email`, `phone`, `im-account`).
    pub kind: String,
    /// The filter file, relative to the rule file's folder.
    pub file: String,
    /// Key file for keyed filters, relative to the rule file's folder.
    #[serde(default)]
    pub key: Option<String>,
    /// Which identities of a message are looked up: `client_ip`,
    /// `from_domain`, `reply_to_domain`, `return_path_domain`, `url_hosts`,
    /// `from_address`, `sender` (SMS number, IM account, email address).
    pub identities: Vec<String>,
    /// Channels checked; all when omitted.
    #[serde(default)]
    pub channels: Option<Vec<String>>,
    /// An allow list: a match decides ham before content rules.
    #[serde(default)]
    pub allow: bool,
    /// Calling code for national phone numbers.
    #[serde(default)]
    pub default_country: Option<String>,
}

/// One rule as written. Exactly one of `phrases`, `regex`, `eval`, `meta`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// UPPER_SNAKE identifier; a leading `__` marks a helper used only by
    /// meta rules and never reported.
    pub id: Text,
    /// What the rule detects, shown with every hit.
    #[serde(default)]
    pub description: Text,
    /// Points added when the rule hits (may be negative).
    #[serde(default)]
    pub score: f64,
    /// What a hit is evidence of: `spam`, `ham` or `none` (a fact shown,
    /// never counted). When omitted, the sign of the score says (`none`
    /// for 0). A score, in the rule or a later `[[score]]`, never takes
    /// the other side; `spamsift fit` keeps it there.
    #[serde(default)]
    pub evidence: Option<Text>,
    /// Channels the rule applies to; all when omitted.
    #[serde(default)]
    pub channels: Option<Vec<Text>>,
    /// Field read by phrase and regex rules: `subject`, `body`, `html`, `part_type`, `uri`,
    /// `uri_host`, `from`, `from_name`, `sender`, `headers`, `header:NAME`.
    #[serde(default)]
    pub field: Option<Text>,
    /// Literal phrases, matched case-insensitively.
    #[serde(default)]
    pub phrases: Option<Vec<Text>>,
    /// Phrases must start and end at word boundaries.
    #[serde(default)]
    pub whole_word: bool,
    /// Each phrase written with accents also matches without them
    /// (`será bloqueada` → `sera bloqueada`; German umlauts also as `ue`),
    /// as texts in the GSM alphabet and typed without accents come.
    #[serde(default)]
    pub plain_spellings: bool,
    /// A regular expression (Rust `regex` syntax).
    #[serde(default)]
    pub regex: Option<Text>,
    /// Plain words, matched only where spelled with digits or symbols for
    /// letters (`v1agra`, `paypa1`): see [`super::obfuscated`].
    #[serde(default)]
    pub obfuscated: Option<Vec<Text>>,
    /// Name of a built-in test.
    #[serde(default)]
    pub eval: Option<Text>,
    /// Numeric parameter of a built-in test (its meaning depends on the test).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Boolean expression over other rule ids.
    #[serde(default)]
    pub meta: Option<Text>,
}
