//! Built-in tests implemented in code (`eval = "NAME"` in rule files).

use crate::auth::{DmarcPolicy, Outcome};
use crate::message::uri::link_text_mismatch;
use crate::message::{Channel, Message};

/// A built-in test and its numeric parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalTest {
    kind: EvalKind,
    threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EvalKind {
    MissingDate,
    BadDate,
    MissingMessageId,
    BadMessageId,
    MissingSubject,
    MissingFrom,
    HtmlOnly,
    HtmlImagesFewWords,
    LinkTextMismatch,
    FromNameSpoof,
    FromBrandOtherDomain,
    SubjectBrandOtherDomain,
    SubjectNamesRecipient,
    SimilarRecipients,
    DateAfterReceived,
    DateToolForm,
    FromDomainInvalid,
    ReplyToDiffers,
    SubjectAllCaps,
    BodyCapsRatio,
    Exclamations,
    SubjectExclamations,
    BareIpUri,
    UriCount,
    ParseFailed,
    EncodingProblem,
    ShortBody,
    SenderShortCode,
    SenderAlphanumeric,
    ListIdForeign,
    SubjectInvisibleInWords,
    FromNameInvisibleInWords,
    CssPushedOutOfView,
    HiddenTextLetters,
    MixedScriptWords,
    MixedScriptShare,
    LatinLookalikeWords,
    EmojiCount,
    SubjectRandomToken,
    TextKeyword,
    MailerRandom,
    /// An authentication result (`[dns]` configured): which one.
    Auth(AuthTest),
}

/// The authentication facts the `spf_*`, `dkim_*`, `dmarc_*`, `arc_*` and
/// `dns_timeout` tests read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthTest {
    Spf(crate::auth::Outcome),
    SpfError,
    DkimValid,
    DkimInvalid,
    DmarcPass,
    /// DMARC failed and the domain's policy is this.
    DmarcFail(crate::auth::DmarcPolicy),
    ArcValid,
    ArcInvalid,
    ArcTrusted,
    DnsTimeout,
}

/// `(name, kind, default threshold, what it tests)`.
const TESTS: &[(&str, EvalKind, f64, &str)] = &[
    (
        "spf_pass",
        EvalKind::Auth(AuthTest::Spf(Outcome::Pass)),
        0.0,
        "SPF passed for the envelope sender",
    ),
    (
        "spf_fail",
        EvalKind::Auth(AuthTest::Spf(Outcome::Fail)),
        0.0,
        "SPF failed (-all) for the envelope sender",
    ),
    (
        "spf_softfail",
        EvalKind::Auth(AuthTest::Spf(Outcome::SoftFail)),
        0.0,
        "SPF soft fail (~all)",
    ),
    (
        "spf_neutral",
        EvalKind::Auth(AuthTest::Spf(Outcome::Neutral)),
        0.0,
        "SPF neutral (?all)",
    ),
    (
        "spf_none",
        EvalKind::Auth(AuthTest::Spf(Outcome::None)),
        0.0,
        "no SPF record for the envelope sender's domain",
    ),
    (
        "spf_error",
        EvalKind::Auth(AuthTest::SpfError),
        0.0,
        "SPF temporary or permanent error",
    ),
    (
        "dkim_valid",
        EvalKind::Auth(AuthTest::DkimValid),
        0.0,
        "a DKIM signature verified",
    ),
    (
        "dkim_invalid",
        EvalKind::Auth(AuthTest::DkimInvalid),
        0.0,
        "DKIM signatures present, none verified",
    ),
    (
        "dmarc_pass",
        EvalKind::Auth(AuthTest::DmarcPass),
        0.0,
        "DMARC passed: SPF or DKIM aligned with From",
    ),
    (
        "dmarc_reject",
        EvalKind::Auth(AuthTest::DmarcFail(DmarcPolicy::Reject)),
        0.0,
        "DMARC failed and the From domain says p=reject",
    ),
    (
        "dmarc_quarantine",
        EvalKind::Auth(AuthTest::DmarcFail(DmarcPolicy::Quarantine)),
        0.0,
        "DMARC failed and the From domain says p=quarantine",
    ),
    (
        "dmarc_none",
        EvalKind::Auth(AuthTest::DmarcFail(DmarcPolicy::None)),
        0.0,
        "DMARC failed and the From domain says p=none",
    ),
    (
        "arc_valid",
        EvalKind::Auth(AuthTest::ArcValid),
        0.0,
        "an ARC chain validated",
    ),
    (
        "arc_invalid",
        EvalKind::Auth(AuthTest::ArcInvalid),
        0.0,
        "an ARC chain is present and broken",
    ),
    (
        "arc_trusted",
        EvalKind::Auth(AuthTest::ArcTrusted),
        0.0,
        "a valid ARC chain whose latest sealer is trusted ([dns] trusted_arc_sealers)",
    ),
    (
        "dns_timeout",
        EvalKind::Auth(AuthTest::DnsTimeout),
        0.0,
        "some DNS lookups ran out of the per-message budget",
    ),
    ("missing_date", EvalKind::MissingDate, 0.0, "no Date header"),
    (
        "bad_date",
        EvalKind::BadDate,
        0.0,
        "Date header present but unparseable",
    ),
    (
        "missing_message_id",
        EvalKind::MissingMessageId,
        0.0,
        "no Message-ID header",
    ),
    (
        "bad_message_id",
        EvalKind::BadMessageId,
        0.0,
        "Message-ID not of the form <left@right>",
    ),
    (
        "missing_subject",
        EvalKind::MissingSubject,
        0.0,
        "no or empty Subject",
    ),
    (
        "missing_from",
        EvalKind::MissingFrom,
        0.0,
        "no From address",
    ),
    (
        "html_only",
        EvalKind::HtmlOnly,
        0.0,
        "HTML body without a text/plain alternative",
    ),
    (
        "html_images_few_words",
        EvalKind::HtmlImagesFewWords,
        20.0,
        "HTML with images and fewer than THRESHOLD words of text",
    ),
    (
        "link_text_mismatch",
        EvalKind::LinkTextMismatch,
        0.0,
        "an anchor shows one host and links to another",
    ),
    (
        "from_name_spoof",
        EvalKind::FromNameSpoof,
        0.0,
        "From display name holds an address in another domain",
    ),
    (
        "from_brand_other_domain",
        EvalKind::FromBrandOtherDomain,
        0.0,
        "From display name names a brand scammers pose as, and the From domain is not one of the brand's",
    ),
    (
        "subject_brand_other_domain",
        EvalKind::SubjectBrandOtherDomain,
        0.0,
        "Subject names a brand scammers pose as, and the From domain is not one of the brand's",
    ),
    (
        "subject_names_recipient",
        EvalKind::SubjectNamesRecipient,
        0.0,
        "Subject holds a recipient's whole email address (a bulk tool filling in whom it was sent to)",
    ),
    (
        "date_tool_form",
        EvalKind::DateToolForm,
        0.0,
        "Date header written by a tool, not a mail program: a two-digit year, or a weekday the date does not fall on",
    ),
    (
        "date_after_received",
        EvalKind::DateAfterReceived,
        3.0,
        "Date header at least THRESHOLD hours later than the message was received (the newest Received header's stamp, which the receiving system wrote, else the front end's clock)",
    ),
    (
        "similar_recipients",
        EvalKind::SimilarRecipients,
        3.0,
        "at least THRESHOLD To and Cc addresses open with the same three characters, each at another domain (a harvested address list sent in one go)",
    ),
    (
        "from_domain_invalid",
        EvalKind::FromDomainInvalid,
        0.0,
        "the From address's domain cannot exist: no dot, or characters no domain name has (aviso@%correios.com, x@correios)",
    ),
    (
        "reply_to_differs",
        EvalKind::ReplyToDiffers,
        0.0,
        "Reply-To domain differs from From domain",
    ),
    (
        "subject_all_caps",
        EvalKind::SubjectAllCaps,
        8.0,
        "Subject has at least THRESHOLD letters, all upper-case",
    ),
    (
        "body_caps_ratio",
        EvalKind::BodyCapsRatio,
        0.5,
        "at least THRESHOLD of the body's letters are upper-case (30+ letters)",
    ),
    (
        "exclamations",
        EvalKind::Exclamations,
        5.0,
        "body has at least THRESHOLD exclamation marks",
    ),
    (
        "subject_exclamations",
        EvalKind::SubjectExclamations,
        2.0,
        "Subject has at least THRESHOLD exclamation marks",
    ),
    (
        "bare_ip_uri",
        EvalKind::BareIpUri,
        0.0,
        "a URI whose host is a bare IP address",
    ),
    (
        "uri_count",
        EvalKind::UriCount,
        10.0,
        "at least THRESHOLD distinct URIs",
    ),
    (
        "parse_failed",
        EvalKind::ParseFailed,
        0.0,
        "the message could not be parsed as email",
    ),
    (
        "encoding_problem",
        EvalKind::EncodingProblem,
        0.0,
        "a body part had a broken transfer encoding or charset",
    ),
    (
        "short_body",
        EvalKind::ShortBody,
        10.0,
        "body text shorter than THRESHOLD characters",
    ),
    (
        "sender_short_code",
        EvalKind::SenderShortCode,
        0.0,
        "sender is a 3-6 digit short code",
    ),
    (
        "sender_alphanumeric",
        EvalKind::SenderAlphanumeric,
        0.0,
        "SMS sender id contains letters",
    ),
    (
        "mixed_script_words",
        EvalKind::MixedScriptWords,
        2.0,
        "at least THRESHOLD words mix Latin and Cyrillic letters",
    ),
    (
        "mixed_script_share",
        EvalKind::MixedScriptShare,
        0.3,
        "a share of at least THRESHOLD of the Cyrillic words, and at least 4, hold Latin or Greek look-alike letters",
    ),
    (
        "hidden_text_letters",
        EvalKind::HiddenTextLetters,
        200.0,
        "at least THRESHOLD letters of text in HTML elements styled invisible (display: none, visibility: hidden, font-size: 0)",
    ),
    (
        "css_pushed_out_of_view",
        EvalKind::CssPushedOutOfView,
        5000.0,
        "the HTML's CSS offsets or sizes a block by THRESHOLD pixels or more (or a tenth as many vh): text pushed out of view",
    ),
    (
        "subject_invisible_in_words",
        EvalKind::SubjectInvisibleInWords,
        0.0,
        "invisible characters (zero-width, CGJ, variation selectors, tags) between letters of the subject",
    ),
    (
        "from_name_invisible_in_words",
        EvalKind::FromNameInvisibleInWords,
        0.0,
        "invisible characters (zero-width, CGJ, variation selectors, tags) between letters of the From display name",
    ),
    (
        "list_id_foreign",
        EvalKind::ListIdForeign,
        0.0,
        "a List-Id whose domain belongs to another organisation than the From address (a bulk sender's list, not a mailing list re-sending a post under its own address)",
    ),
    (
        "latin_lookalike_words",
        EvalKind::LatinLookalikeWords,
        1.0,
        "at least THRESHOLD Latin words in the subject, From name or text are spelled with Greek or Cyrillic look-alike letters (Amаzon, Lеdgеr)",
    ),
    (
        "emoji_count",
        EvalKind::EmojiCount,
        5.0,
        "at least THRESHOLD emoji / pictographs",
    ),
    (
        "subject_random_token",
        EvalKind::SubjectRandomToken,
        10.0,
        "Subject ends in a random-looking token of THRESHOLD+ letters and digits",
    ),
    (
        "text_keyword",
        EvalKind::TextKeyword,
        0.0,
        "asks to text or reply an upper-case keyword (Txt WIN, reply YES) other than the opt-out and help words (STOP, END, CANCEL, QUIT, UNSUBSCRIBE, HELP) every business text must offer",
    ),
    (
        "mailer_random",
        EvalKind::MailerRandom,
        10.0,
        "X-Mailer is one random-looking token of THRESHOLD+ characters",
    ),
];

impl EvalTest {
    /// Look up a test by name; `threshold` overrides its default parameter.
    pub fn new(name: &str, threshold: Option<f64>) -> Result<EvalTest, String> {
        let (_, kind, default, _) = TESTS.iter().find(|(n, ..)| *n == name).ok_or_else(|| {
            let names: Vec<&str> = TESTS.iter().map(|t| t.0).collect();
            format!("unknown eval test {name:?} (known: {})", names.join(", "))
        })?;
        Ok(EvalTest {
            kind: *kind,
            threshold: threshold.unwrap_or(*default),
        })
    }

    /// Names and descriptions of all built-in tests.
    pub fn catalogue() -> impl Iterator<Item = (&'static str, &'static str)> {
        TESTS.iter().map(|(n, _, _, d)| (*n, *d))
    }

    /// Run the test on a message (`brands`: the rule set's, for
    /// `from_brand_other_domain` and `subject_brand_other_domain`).
    pub fn check(&self, m: &Message, brands: &super::brands::BrandTable) -> bool {
        let t = self.threshold;
        let email = m.channel == Channel::Email;
        match self.kind {
            EvalKind::Auth(test) => m.auth.as_ref().is_some_and(|a| auth_test(test, a)),
            EvalKind::MissingDate => email && !m.facts.has_date && !m.facts.parse_failed,
            EvalKind::BadDate => email && m.facts.bad_date,
            EvalKind::MissingMessageId => email && !m.facts.has_message_id && !m.facts.parse_failed,
            EvalKind::BadMessageId => email && m.facts.bad_message_id,
            EvalKind::MissingSubject => email && m.subject.trim().is_empty(),
            EvalKind::MissingFrom => email && m.sender.is_empty(),
            EvalKind::HtmlOnly => m.facts.html_parts > 0 && m.facts.text_parts == 0,
            EvalKind::HtmlImagesFewWords => {
                // Count words only up to the threshold.
                let limit = t.max(0.0).ceil() as usize;
                m.facts.html_images > 0
                    && (m.body.split_whitespace().take(limit).count() as f64) < t
            }
            EvalKind::LinkTextMismatch => m.links.iter().any(link_text_mismatch),
            EvalKind::FromNameSpoof => from_name_spoof(m),
            EvalKind::FromBrandOtherDomain => matches!(
                (m.from_name(), &m.hosts.from),
                (Some(name), Some(host)) if brands.impersonates(name, host)
            ),
            EvalKind::SubjectBrandOtherDomain => m
                .hosts
                .from
                .as_ref()
                .is_some_and(|host| brands.named_by_another(&m.subject, host)),
            EvalKind::SubjectNamesRecipient => email && subject_names_recipient(m),
            EvalKind::SimilarRecipients => email && similar_recipients(m, t),
            EvalKind::DateToolForm => email && m.header("Date").is_some_and(date_tool_form),
            EvalKind::DateAfterReceived => {
                email
                    && m.time
                        .zip(m.stamped.or(m.received))
                        .is_some_and(|(date, received)| {
                            (date - received).num_seconds() as f64 >= t * 3600.0
                        })
            }
            EvalKind::FromDomainInvalid => {
                email
                    && m.from
                        .as_ref()
                        .and_then(|f| f.address.as_deref())
                        .and_then(|a| a.rsplit_once('@'))
                        .is_some_and(|(_, domain)| !plausible_domain(domain))
            }
            EvalKind::ReplyToDiffers => matches!(
                (&m.hosts.from, &m.hosts.reply_to),
                (Some(f), Some(r)) if !f.same_organisation(r)
            ),
            EvalKind::SubjectAllCaps => {
                let (letters, upper) = letter_counts(&m.subject);
                letters as f64 >= t && upper == letters
            }
            EvalKind::BodyCapsRatio => {
                let (letters, upper) = letter_counts(&m.body);
                letters >= 30 && upper as f64 >= t * letters as f64
            }
            EvalKind::Exclamations => count_char(&m.body, b'!') as f64 >= t,
            EvalKind::SubjectExclamations => count_char(&m.subject, b'!') as f64 >= t,
            EvalKind::BareIpUri => m.uris.iter().any(|u| u.host_ip().is_some()),
            EvalKind::UriCount => m.uris.len() as f64 >= t,
            EvalKind::ParseFailed => m.facts.parse_failed,
            EvalKind::EncodingProblem => m.facts.encoding_problem,
            EvalKind::ShortBody => (m.body.trim().chars().count() as f64) < t,
            EvalKind::SenderShortCode => {
                let s = m.sender.trim_start_matches('+');
                (3..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
            }
            EvalKind::SenderAlphanumeric => {
                m.channel == Channel::Sms && m.sender.chars().any(char::is_alphabetic)
            }
            EvalKind::MixedScriptWords => mixed_script_words(&m.body) as f64 >= t,
            EvalKind::MixedScriptShare => {
                let (mixed, cyrillic) = mixed_script_share(&m.body);
                mixed >= MIN_MIXED_WORDS && mixed as f64 >= t * cyrillic as f64
            }
            EvalKind::ListIdForeign => list_id_foreign(m),
            EvalKind::SubjectInvisibleInWords => invisible_inside_words(&m.subject),
            EvalKind::FromNameInvisibleInWords => m.from_name().is_some_and(invisible_inside_words),
            EvalKind::CssPushedOutOfView => css_pushed_out_of_view(&m.html, t),
            EvalKind::HiddenTextLetters => hidden_text_letters(&m.html) as f64 >= t,
            EvalKind::LatinLookalikeWords => {
                let words = latin_lookalike_words(&m.subject)
                    + m.from_name().map_or(0, latin_lookalike_words)
                    + latin_lookalike_words(&m.body);
                words as f64 >= t
            }
            EvalKind::EmojiCount => {
                !m.body.is_ascii()
                    && m.body.chars().filter(|c| is_pictograph(*c)).count() as f64 >= t
            }
            EvalKind::SubjectRandomToken => m
                .subject
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .rfind(|w| !w.is_empty())
                .is_some_and(|w| looks_random(w, t as usize) || random_case_letters(w)),
            EvalKind::TextKeyword => text_keyword(&m.body),
            EvalKind::MailerRandom => m
                .header("X-Mailer")
                .map(str::trim)
                .is_some_and(|v| !v.contains(' ') && looks_random(v, t as usize)),
        }
    }
}

/// Whether `text` asks to text or reply an upper-case keyword ("Txt WIN to
/// 80082", "reply YES") other than an opt-out or help word. Every business
/// text in many countries must say how to stop it ("Reply STOP to opt out,
/// HELP for help"): that line is the evidence `SMS_OPT_OUT_TRAP` weighs,
/// not a keyword to enter a draw, so it is not counted twice.
fn text_keyword(text: &str) -> bool {
    static KEYWORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b(?i:txt|text|reply|send|sms)\s+(?:the word\s+)?:?([A-Z]{2,}[0-9]*)\b")
            .expect("valid regex")
    });
    const OPT_OUT: &[&str] = &[
        "STOP",
        "STOPALL",
        "END",
        "CANCEL",
        "QUIT",
        "UNSUBSCRIBE",
        "HELP",
    ];
    // Most texts hold none of the verbs: then the regex is not compiled
    // (that was a tenth of a `spamsift check` of an SMS). Only ASCII text
    // is settled this way; `(?i)` also folds non-ASCII letters (ſ for s).
    // One automaton, not a lower-cased copy searched once per verb (which
    // built a searcher for each verb in each text: 2.5% of `stream`).
    static VERBS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["txt", "text", "reply", "send", "sms"])
            .expect("valid patterns")
    });
    if text.is_ascii() && !VERBS.is_match(text) {
        return false;
    }
    KEYWORD
        .captures_iter(text)
        .any(|c| !OPT_OUT.contains(&&c[1]))
}

/// Letters and upper-case letters in `s`, in one pass: 32-byte ASCII blocks
/// (and an ASCII rest) are counted branch-free (vectorised), other text char
/// by char.
fn letter_counts(s: &str) -> (usize, usize) {
    const BLOCK: usize = 32;
    let bytes = s.as_bytes();
    let (mut letters, mut upper) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        // A full block, or the ASCII rest of the text.
        let block = bytes
            .get(i..i + BLOCK)
            .or_else(|| bytes.get(i..))
            .unwrap_or_default();
        if block.is_ascii() {
            let up = block.iter().filter(|b| b.is_ascii_uppercase()).count();
            let low = block.iter().filter(|b| b.is_ascii_lowercase()).count();
            letters += up + low;
            upper += up;
            i += block.len();
            continue;
        }
        // One char (any script); `i` is always on a char boundary here.
        let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        if c.is_alphabetic() {
            letters += 1;
            upper += usize::from(c.is_uppercase());
        }
        i += c.len_utf8();
    }
    (letters, upper)
}

/// A token of at least `min_len` ASCII letters and digits mixing lower case,
/// upper case and digits, like machine-made tracking ids (`K26kT5buE4AdbAD2c`).
fn looks_random(token: &str, min_len: usize) -> bool {
    token.len() >= min_len
        && token.bytes().all(|b| b.is_ascii_alphanumeric())
        && token.bytes().any(|b| b.is_ascii_lowercase())
        && token.bytes().any(|b| b.is_ascii_uppercase())
        && token.bytes().any(|b| b.is_ascii_digit())
}

/// A token of twelve ASCII letters or more whose case changes at random
/// (`qWrUAngJaLJzBndSE`, `pIsdlCthlCTXTgpZeWBu`): at least three capitals
/// after the first letter and two lower-case runs that no word has, a
/// single letter between capitals or one or two letters after a digit.
/// Words run together (`MacBookProRetina`, `XMLHttpRequest`) give each
/// capital a lower-case run of two letters or more.
fn random_case_letters(token: &str) -> bool {
    let b = token.as_bytes();
    if b.len() < 12 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if b[1..].iter().filter(|c| c.is_ascii_uppercase()).count() < 3 {
        return false;
    }
    let mut odd = 0;
    let mut i = 1;
    while i < b.len() {
        if !b[i].is_ascii_lowercase() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_lowercase() {
            i += 1;
        }
        let run = i - start;
        if run == 1 || (b[start - 1].is_ascii_digit() && run <= 2) {
            odd += 1;
        }
    }
    odd >= 2
}

fn count_char(s: &str, b: u8) -> usize {
    s.bytes().filter(|&x| x == b).count()
}

fn auth_test(test: AuthTest, a: &crate::auth::AuthResults) -> bool {
    match test {
        AuthTest::Spf(o) => a.spf == o && !(o == Outcome::None && a.spf_domain.is_empty()),
        AuthTest::SpfError => matches!(a.spf, Outcome::TempError | Outcome::PermError),
        AuthTest::DkimValid => a.dkim == Outcome::Pass,
        AuthTest::DkimInvalid => matches!(
            a.dkim,
            Outcome::Fail | Outcome::PermError | Outcome::Neutral
        ),
        AuthTest::DmarcPass => a.dmarc == Outcome::Pass,
        AuthTest::DmarcFail(p) => a.dmarc == Outcome::Fail && a.dmarc_policy == p,
        AuthTest::ArcValid => a.arc == Outcome::Pass,
        AuthTest::ArcInvalid => {
            matches!(a.arc, Outcome::Fail | Outcome::PermError | Outcome::Neutral)
        }
        AuthTest::ArcTrusted => a.arc_trusted,
        AuthTest::DnsTimeout => a.timed_out,
    }
}

/// A domain that could be registered and resolved: at least two labels
/// of letters (any script), digits and inner hyphens, the last one not
/// all digits; or an address literal (`[192.0.2.1]`). A sending program
/// that fills its From from a template gone wrong (`aviso@%correios.com`,
/// `x@bonus25340%`, `infomail@bradesco`) or a server's bare host name
/// (`sac@ubuntu-s-1vcpu-512mb-10gb-nyc1-01`) fails it; mail that crossed
/// the Internet from a real organisation does not.
fn plausible_domain(domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.');
    if domain.starts_with('[') && domain.ends_with(']') {
        return true;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a Date value (`Thu, 22 Aug 02 18:26:25 +0100`) has a two-digit
/// year or names a weekday its date does not fall on (`Mon, 22 Aug 2002`,
/// a Thursday). Mail programs write the date from the system clock in
/// full; bulk tools of the 2000s wrote them by hand. Only what is written
/// in the usual order is judged; anything else is `bad_date`'s concern.
fn date_tool_form(value: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut words = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    let (Some(weekday), Some(day), Some(month), Some(year)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let prefix = |w: &str| w.get(..3).map(str::to_ascii_lowercase);
    let (Some(weekday), Some(month)) = (
        prefix(weekday).and_then(|w| DAYS.iter().position(|d| *d == w)),
        prefix(month).and_then(|w| MONTHS.iter().position(|m| *m == w)),
    ) else {
        return false;
    };
    let (Ok(day), Ok(year_number)) = (day.parse::<u32>(), year.parse::<i32>()) else {
        return false;
    };
    if year.len() == 2 {
        return true;
    }
    chrono::NaiveDate::from_ymd_opt(year_number, month as u32 + 1, day).is_some_and(|date| {
        use chrono::Datelike;
        date.weekday().num_days_from_monday() as usize != weekday
    })
}

/// Whether at least `n` (two or more) To and Cc addresses open with the
/// same three characters at `n` different organisations' domains:
/// `cpuma@earthlink.net, cpumatt@trib.com, cpun@rocketmail.com` is a list
/// harvested and sorted by a bulk tool, not people a writer chose. Lists
/// cross-posted to (`linux-mm@vger.kernel.org`, `linux-fsdevel@…`;
/// `spamassassin-talk@example.sourceforge.net`,
/// `spamassassin-devel@lists.sourceforge.net`) share their organisation.
fn similar_recipients(m: &Message, n: f64) -> bool {
    // The To and Cc headers, not `m.recipients`: a front end puts the
    // envelope recipients there, and the verdict must not depend on it.
    let n = (n.max(2.0)) as usize;
    let mut keys: Vec<([u8; 3], String)> = Vec::new();
    for h in &m.headers {
        if !(h.name.eq_ignore_ascii_case("to") || h.name.eq_ignore_ascii_case("cc")) {
            continue;
        }
        let words = h.value.split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"' | '(' | ')')
        });
        for w in words {
            let Some((local, domain)) = w.rsplit_once('@') else {
                continue;
            };
            let local = local.as_bytes();
            let domain = domain.trim_end_matches('.');
            if local.len() < 3 || !domain.contains('.') {
                continue;
            }
            let Some(host) = crate::message::host::Host::parse(domain) else {
                continue;
            };
            let prefix = [local[0], local[1], local[2]].map(|b| b.to_ascii_lowercase());
            keys.push((prefix, host.organisation().to_string()));
        }
    }
    if keys.len() < n {
        return false;
    }
    keys.sort_unstable();
    keys.dedup();
    // Sorted: the domains of one prefix are together and distinct.
    keys.chunk_by(|a, b| a.0 == b.0)
        .any(|group| group.len() >= n)
}

/// The subject holds one of the recipients' whole addresses, in any case
/// (`john.doe@example.com, your mailbox is full`): a bulk tool filling in
/// the address it sends to. Mail people write names people, not
/// addresses; a local part alone is not counted (mailing lists put their
/// own name, often the list address's local part, in every subject), nor
/// a mailing list's own address (`List-Post`, `X-BeenThere`), which
/// members sometimes put in a subject, nor the sender's own address (cron
/// mails `root@host` "Cron <root@host> job" from `root@host`).
fn subject_names_recipient(m: &Message) -> bool {
    if m.subject.len() < 6 || !m.subject.contains('@') {
        return false;
    }
    let subject = m.subject.to_lowercase();
    let list_address = |r: &str| {
        m.headers.iter().any(|h| {
            (h.name.eq_ignore_ascii_case("list-post") || h.name.eq_ignore_ascii_case("x-beenthere"))
                && h.value.to_lowercase().contains(r)
        })
    };
    let sender = m
        .from
        .as_ref()
        .and_then(|f| f.address.as_deref())
        .map(str::to_lowercase);
    // The envelope's recipients (when the front end knows them) and the
    // To and Cc fields' addresses: a bulk tool writes the one it sends to,
    // which an alias or a forward may have changed on the envelope.
    let header_addresses = m
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("to") || h.name.eq_ignore_ascii_case("cc"))
        .flat_map(|h| {
            h.value
                .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"'))
                .filter(|w| w.contains('@'))
        });
    m.recipients
        .iter()
        .map(String::as_str)
        .chain(header_addresses)
        .any(|r| {
            let r = r.trim().to_lowercase();
            r.len() >= 6
                && r.contains('@')
                && !list_address(&r)
                && sender.as_deref() != Some(r.as_str())
                && subject.match_indices(r.as_str()).any(|(at, _)| {
                    // A whole address: not the tail of a longer one.
                    let before = subject[..at].chars().next_back();
                    let rest = &subject[at + r.len()..];
                    let part = |c: Option<char>| {
                        c.is_some_and(|c| c.is_alphanumeric() || "._%+-@".contains(c))
                    };
                    // A full stop after it ends the sentence, not the address.
                    let continues = match rest.strip_prefix('.') {
                        Some(more) => more.chars().next().is_some_and(char::is_alphanumeric),
                        None => part(rest.chars().next()),
                    };
                    !part(before) && !continues
                })
        })
}

/// Forwarding and privacy-relay services (Firefox Relay, DuckDuckGo Email
/// Protection, SimpleLogin, addy.io, Apple's Hide My Email, Sneakemail,
/// 33mail, spamgourmet). They forward mail to their users from a relay
/// address and write the original sender's address into the display name
/// (`"news@shop.example [via Relay]" <x@mozmail.com>`): a display name
/// showing another organisation's address is then what the user asked for,
/// not a spoof.
const PRIVACY_RELAYS: &[&str] = &[
    "mozmail.com",
    "relay.firefox.com",
    "duck.com",
    "simplelogin.co",
    "simplelogin.com",
    "simplelogin.fr",
    "slmail.me",
    "aleeas.com",
    "anonaddy.com",
    "anonaddy.me",
    "addy.io",
    "privaterelay.appleid.com",
    "sneakemail.com",
    "33mail.com",
    "spamgourmet.com",
];

/// Whether `host` is one of the [`PRIVACY_RELAYS`] or under one.
fn is_privacy_relay(host: &crate::message::host::Host) -> bool {
    let name = host.name();
    PRIVACY_RELAYS.iter().any(|relay| {
        name.strip_suffix(relay)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    })
}

/// The display name carries an address of another organisation than the
/// sender's (`"service@paypal.co.uk" <x@secure-alerts.co.uk>`), and the
/// sender is no privacy relay.
fn from_name_spoof(m: &Message) -> bool {
    let (Some(name), Some(sender)) = (m.from_name(), &m.hosts.from) else {
        return false;
    };
    if is_privacy_relay(sender) {
        return false;
    }
    let name = without_disguise_marks(name);
    name.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')' | '\''))
        .filter_map(|w| w.rsplit_once('@'))
        .filter_map(|(_, d)| {
            let d = d.trim_end_matches(['.', ',']);
            if d.contains('.') {
                crate::message::host::Host::parse(d)
            } else {
                None
            }
        })
        .any(|h| !h.same_organisation(sender))
}

/// `s` without the invisible characters and combining marks put after
/// ASCII characters to keep an address from being read as one
/// (`customers@services\u{73F}.\u{73F}amzn\u{73F}.\u{73F}com` with Syriac
/// marks, `d\u{34F}o\u{34F}n\u{34F}o\u{34F}t…` with grapheme joiners): overlays
/// (U+0334–0338), Syriac marks and variation selectors. A mark after a
/// letter of another script is left alone: it may belong to a real
/// internationalised domain.
fn without_disguise_marks(s: &str) -> std::borrow::Cow<'_, str> {
    fn is_disguise_mark(c: char) -> bool {
        is_invisible(c)
            || matches!(c, '\u{0334}'..='\u{0338}' | '\u{0730}'..='\u{074A}' | '\u{FE00}'..='\u{FE0F}')
    }
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut after_ascii = false;
    for c in s.chars() {
        if after_ascii && is_disguise_mark(c) {
            continue;
        }
        after_ascii = c.is_ascii();
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

fn mixed_script_words(s: &str) -> usize {
    // Cyrillic letters (U+0400 to U+04FF) start with bytes 0xD0 to 0xD3:
    // without one, no word can mix scripts (one vectorised pass).
    if !s.bytes().any(|b| (0xD0..=0xD3).contains(&b)) {
        return 0;
    }
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            let latin = w.chars().any(|c| c.is_ascii_alphabetic());
            let cyr = w.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
            latin && cyr
        })
        .count()
}

/// Fewest disguised words for `mixed_script_share`: a product code or
/// two (`K2С3H`) in a Russian chat is not a disguise.
const MIN_MIXED_WORDS: usize = 4;

/// Of the words holding Cyrillic letters, how many also hold Latin or
/// Greek letters (`Пpивeт` with Latin p and e, `мaлο` with Greek omicron),
/// and how many there are. Writing Russian on a Russian keyboard puts no
/// Latin letter inside a word; spam does it to most of its words, so no
/// filter's word list matches them.
fn mixed_script_share(s: &str) -> (usize, usize) {
    if !s.bytes().any(|b| (0xD0..=0xD3).contains(&b)) {
        return (0, 0);
    }
    let (mut mixed, mut cyrillic) = (0, 0);
    for w in s.split(|c: char| !c.is_alphanumeric()) {
        if !w.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)) {
            continue;
        }
        cyrillic += 1;
        if w.chars()
            .any(|c| c.is_ascii_alphabetic() || ('\u{0370}'..='\u{03FF}').contains(&c))
        {
            mixed += 1;
        }
    }
    (mixed, cyrillic)
}

/// Characters that take no room: zero-width space, non-joiner and joiner,
/// word joiner, BOM, combining grapheme joiner, tags and variation
/// selectors 17-256.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{034F}'
    ) || ('\u{E0000}'..='\u{E007F}').contains(&c)
        || ('\u{E0100}'..='\u{E01EF}').contains(&c)
}

/// An ASCII letter, invisible characters, an ASCII letter (`Se\u{E0139}rvice`,
/// `P\u{200B}ayPal`): a word a person reads and a filter does not. Code,
/// not a regex: a one-message `check` would compile the regex's classes
/// for every subject; here ASCII text costs one pass.
fn invisible_inside_words(s: &str) -> bool {
    if s.is_ascii() {
        return false;
    }
    let (mut after_letter, mut hidden) = (false, false);
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            if after_letter && hidden {
                return true;
            }
            (after_letter, hidden) = (true, false);
        } else if is_invisible(c) {
            hidden |= after_letter;
        } else {
            (after_letter, hidden) = (false, false);
        }
    }
    false
}

/// A CSS margin, offset, height, padding or indent of at least `min_px`
/// pixels (points and ems counted as pixels; `vh`, screen heights, at a
/// tenth of it): `margin-top: 470500px`, `height: 10000vh`. Layouts never
/// need one; it pushes the text after it out of the reader's view.
/// `max-height: 999999px` (Google Translate's "no limit") and other
/// prefixed properties do not count.
fn css_pushed_out_of_view(html: &str, min_px: f64) -> bool {
    static OFFSET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?i-u)(?:margin(?:-top|-left|-bottom)?|top|left|height|padding(?:-top|-bottom)?|text-indent)\s*:\s*-?([0-9]{4,9})(?:\.[0-9]+)?(px|pt|em|vh)",
        )
        .expect("valid regex")
    });
    // No offset without a unit: skip the regex (and its one-time
    // compile, which a one-message `check` would pay) when none is there.
    let bytes = html.as_bytes();
    if !["px", "pt", "em", "vh"]
        .iter()
        .any(|unit| memchr::memmem::find(bytes, unit.as_bytes()).is_some())
    {
        return false;
    }
    OFFSET.captures_iter(html).any(|c| {
        let whole = c.get(0).expect("match");
        let glued = whole.start() > 0 && {
            let before = bytes[whole.start() - 1];
            before == b'-' || before.is_ascii_alphanumeric()
        };
        let value: f64 = c[1].parse().unwrap_or(0.0);
        let vh = c[2].eq_ignore_ascii_case("vh");
        !glued
            && if vh {
                value * 10.0 >= min_px
            } else {
                value >= min_px
            }
    })
}

/// Letters of the text that opens elements styled invisible
/// (`display: none`, `visibility: hidden`, `font-size: 0`), up to the
/// next tag: filler a reader never sees and a word filter reads (book
/// pages pasted in hidden spans around a parcel-fee lure). A newsletter's
/// hidden preheader is a line, and its padding (`&zwnj;&nbsp;` runs)
/// holds no letters.
fn hidden_text_letters(html: &str) -> usize {
    static HIDDEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)<[a-z][a-z0-9]*\b[^>]*?\bstyle\s*=\s*["'][^"'>]*?(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|%)?\s*(?:;|["']))[^>]*>"#,
        )
        .expect("valid regex")
    });
    // Skip the regex (and its one-time compile) when no hiding property
    // is written at all, in any case (`DISPLAY:NONE` hides as well): every
    // match names one of these three.
    let bytes = html.as_bytes();
    if !["display", "visibility", "font-size"].iter().any(|word| {
        let word = word.as_bytes();
        bytes
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    }) {
        return 0;
    }
    HIDDEN
        .find_iter(html)
        .map(|tag| {
            let text = html[tag.end()..].split('<').next().unwrap_or("");
            // Letters outside character references (`&zwnj;`, `&#847;`).
            let mut in_reference = false;
            text.chars()
                .filter(|&c| {
                    match c {
                        '&' => in_reference = true,
                        ';' | ' ' => in_reference = false,
                        _ => {}
                    }
                    !in_reference && c.is_alphabetic()
                })
                .count()
        })
        .sum()
}

/// The List-Id names a list under another organisation than the From
/// address's: `<f61c….list-id.mcsv.net>` on mail "From: Ledger Security
/// <ledger@secureliveupdates.com>". A mailing list that re-sends a post
/// under its own address (`Apple Fan via users <users@lists.example.org>`)
/// names its own domain. No List-Id, or no From host: false.
fn list_id_foreign(m: &Message) -> bool {
    let Some(from) = &m.hosts.from else {
        return false;
    };
    let Some(value) = m.header("List-Id") else {
        return false;
    };
    // `Description <label.domain>`, or the bare `label.domain`.
    let id = value
        .rsplit_once('<')
        .map_or(value, |(_, rest)| rest.split('>').next().unwrap_or(rest))
        .trim();
    crate::message::host::Host::parse(id).is_some_and(|list| !list.same_organisation(from))
}

/// Latin words disguised with Greek or Cyrillic look-alike letters
/// (`Amаzon` with a Cyrillic a, `Ρeρe` with Greek Rhos): words holding
/// two ASCII letters or more, look-alikes, and no other Greek or Cyrillic
/// letter (`nВ`, a lost line break before a Russian word, has one).
/// A Russian or Greek word is not one of them, even with a Latin letter
/// typed into it (`MIXED_SCRIPT_MOST_WORDS` reads those), nor is `5μs`;
/// and in mostly Russian or Greek text none counts.
fn latin_lookalike_words(s: &str) -> usize {
    // Greek and Cyrillic (U+0370 to U+052F) start with bytes 0xCD to 0xD4:
    // without one, no word can hold a look-alike (one vectorised pass).
    if !s.bytes().any(|b| (0xCD..=0xD4).contains(&b)) {
        return 0;
    }
    let (mut disguised, mut latin_words, mut other_words) = (0, 0, 0);
    for w in s.split(|c: char| !c.is_alphanumeric()) {
        let (mut latin, mut lookalike, mut other) = (0, false, false);
        let mut prev = ' ';
        let mut chars = w.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_alphabetic() {
                latin += 1;
            } else if super::brands::latin_lookalike(c).is_some() {
                // Inside letters, not a code's digits (`K2С3H`).
                let next = chars.peek().copied().unwrap_or(' ');
                lookalike |= prev.is_alphabetic() || next.is_alphabetic();
            } else if ('\u{0370}'..='\u{052F}').contains(&c) {
                other = true;
            }
            prev = c;
        }
        if other {
            other_words += 1;
        } else if latin >= 2 && lookalike {
            disguised += 1;
        } else if latin > 0 {
            latin_words += 1;
        }
    }
    // In Russian or Greek text a Latin word with a native letter typed
    // into it is a slip or a product code (`K2С3H`), not a disguise.
    if other_words * 2 >= latin_words + disguised {
        return 0;
    }
    disguised
}

fn is_pictograph(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_counts_cross_blocks_and_scripts() {
        let ascii = "ABCdef 123 ".repeat(10); // 110 bytes: full blocks and a tail
        assert_eq!(letter_counts(&ascii), (60, 30));
        // Non-ASCII letters straddling the 32-byte block edges.
        let mixed = format!("{}ÄÖü{}ДОБРО пожаловать", "x".repeat(30), "Y".repeat(31));
        assert_eq!(letter_counts(&mixed), (30 + 3 + 31 + 5 + 10, 2 + 31 + 5));
        assert_eq!(letter_counts(""), (0, 0));
        // A non-ASCII start, then an ASCII rest shorter than a block.
        assert_eq!(letter_counts("\u{a3}500 WIN now"), (6, 3));
    }

    #[test]
    fn domains_that_cannot_exist() {
        for (domain, plausible) in [
            ("example.com", true),
            ("mail.example.co.uk", true),
            ("example.com.", true),
            ("b\u{fc}cher.example", true),
            ("xn--bcher-kva.example", true),
            ("[192.0.2.1]", true),
            ("correios", false),
            ("%correios.com", false),
            ("bonus25340%", false),
            ("953488-theskimm,com", false),
            ("ubuntu-s-1vcpu-512mb-10gb-nyc1-01", false),
            ("example..com", false),
            ("-example.com", false),
            ("example.123", false),
            ("__bradesco.com.br", false),
            ("", false),
        ] {
            assert_eq!(plausible_domain(domain), plausible, "{domain}");
        }
    }

    #[test]
    fn subject_naming_a_recipient() {
        let t = EvalTest::new("subject_names_recipient", None).expect("known eval test");
        /// A header field: (name, value).
        type Field<'a> = Option<(&'a str, &'a str)>;
        // (subject, From, recipient, extra header, hit?)
        let table: &[(&str, &str, &str, Field, bool)] = &[
            (
                "dana@example.org, your mailbox is full",
                "x@mailer.example",
                "dana@example.org",
                None,
                true,
            ),
            (
                "Quota warning for DANA@Example.org.",
                "x@mailer.example",
                "dana@example.org",
                None,
                true,
            ),
            (
                "Olá dana@example.org!",
                "x@mailer.example",
                "Dana@Example.org",
                None,
                true,
            ),
            (
                "Hi dana, your mailbox is full",
                "x@mailer.example",
                "dana@example.org",
                None,
                false,
            ),
            (
                "note to xdana@example.org",
                "x@mailer.example",
                "dana@example.org",
                None,
                false,
            ),
            (
                "dana@example.org.uk offer",
                "x@mailer.example",
                "dana@example.org",
                None,
                false,
            ),
            (
                "Cron <root@host.example> backup",
                "root@host.example",
                "root@host.example",
                None,
                false,
            ),
            (
                "Re: users@lists.example.org",
                "dan@example.net",
                "users@lists.example.org",
                Some(("List-Post", "<mailto:users@lists.example.org>")),
                false,
            ),
        ];
        for &(subject, from, rcpt, header, hit) in table {
            let m = Message {
                channel: Channel::Email,
                subject: subject.into(),
                from: Some(crate::message::Mailbox {
                    name: None,
                    address: Some(from.into()),
                }),
                recipients: vec![rcpt.into()],
                headers: header
                    .map(|(name, value)| crate::message::Header {
                        name: name.to_string().into(),
                        value: value.into(),
                    })
                    .into_iter()
                    .collect(),
                ..Message::default()
            };
            assert_eq!(t.check(&m, &Default::default()), hit, "{subject}");
        }
    }

    #[test]
    fn unknown_test_lists_known_ones() {
        let e = EvalTest::new("nope", None).unwrap_err();
        assert!(e.contains("missing_date"));
    }

    #[test]
    fn subject_caps() {
        let t = EvalTest::new("subject_all_caps", None).expect("known eval test");
        let mut m = Message {
            subject: "FREE MONEY NOW".into(),
            ..Message::default()
        };
        assert!(t.check(&m, &Default::default()));
        m.subject = "Free money now".into();
        assert!(!t.check(&m, &Default::default()));
        m.subject = "OK".into();
        assert!(!t.check(&m, &Default::default()));
    }

    #[test]
    fn display_name_spoof_and_reply_to_by_organisation() {
        let spoof = EvalTest::new("from_name_spoof", None).expect("known eval test");
        let reply = EvalTest::new("reply_to_differs", None).expect("known eval test");
        // (From, Reply-To, display name spoof?, Reply-To to another organisation?)
        let table: &[(&str, &str, bool, bool)] = &[
            ("\"service@paypal.com\" <x@evil.example>", "", true, false),
            (
                "\"bob@mail.evil.example\" <x@evil.example>",
                "",
                false,
                false,
            ),
            (
                "\"service@paypal.co.uk\" <x@account-review.co.uk>",
                "",
                true,
                false,
            ),
            (
                "\"help@shop.co.uk\" <orders@mail.shop.co.uk>",
                "",
                false,
                false,
            ),
            ("<a@commbank.com.au>", "r@claims-team.com.au", false, true),
            (
                "<a@mail.commbank.com.au>",
                "r@commbank.com.au",
                false,
                false,
            ),
            ("<a@example.com>", "r@example.net", false, true),
            // Privacy relays forward with the original sender in the name.
            (
                "\"news@shop.example [via Relay]\" <abc123@mozmail.com>",
                "",
                false,
                false,
            ),
            (
                "\"news@shop.example\" <ticket_x1@sneakemail.com>",
                "",
                false,
                false,
            ),
            // A look-alike of a relay is no relay.
            ("\"service@paypal.com\" <x@notmozmail.com>", "", true, false),
            // Marks put between an address's characters are read through.
            (
                "\"customers@services\u{73F}.\u{73F}amzn\u{73F}.\u{73F}com\" <x@evil.example>",
                "",
                true,
                false,
            ),
            (
                "\"d\u{34F}o\u{34F}n\u{34F}o\u{34F}t\u{34F}@e\u{34F}v\u{34F}r\u{34F}i\u{34F}.c\u{34F}o\u{34F}m\u{34F}\" <x@evil.example>",
                "",
                true,
                false,
            ),
            // A mark on a letter of an internationalised domain is kept.
            (
                "\"info@\u{939}\u{93F}\u{928}\u{94D}\u{926}\u{940}.example\" <a@xn--j2bd4cyah0f.example>",
                "",
                false,
                false,
            ),
        ];
        for (from, reply_to, is_spoof, differs) in table {
            let mut raw = format!("From: {from}\n");
            if !reply_to.is_empty() {
                raw.push_str(&format!("Reply-To: {reply_to}\n"));
            }
            raw.push_str("Subject: s\n\nbody\n");
            let m = Message::from_email(raw.as_bytes());
            assert_eq!(spoof.check(&m, &Default::default()), *is_spoof, "{from}");
            assert_eq!(
                reply.check(&m, &Default::default()),
                *differs,
                "{from} / {reply_to}"
            );
        }
    }

    #[test]
    fn text_keywords_other_than_opt_out_words() {
        let table = [
            ("Txt WIN to 80082 to claim", true),
            ("reply YES to confirm your entry", true),
            ("Reply STOP to end alerts", false),
            ("txt STOP to 87239. Send END to quit", false),
            ("Reply STOP to opt out or send TONE for more", true),
            ("Reply HELP for help, STOP to opt out", false),
            ("reply when you can", false),
        ];
        for (text, want) in table {
            assert_eq!(text_keyword(text), want, "{text}");
        }
    }

    #[test]
    fn random_tokens() {
        assert!(looks_random("K26kT5buE4AdbAD2c", 10));
        assert!(!looks_random("Thunderbird", 10));
        assert!(!looks_random("ABC123DEF456", 10));
    }

    #[test]
    fn mixed_scripts() {
        assert_eq!(mixed_script_words("зaработок дома, прибыль"), 1);
        assert_eq!(mixed_script_words("Пpивет, how are you"), 1);
        assert_eq!(mixed_script_words("Win £500 caf\u{e9} now"), 0);
        assert_eq!(mixed_script_words("привет мир, hello world"), 0);
        // Latin and Greek look-alikes inside Cyrillic words, of all of them.
        assert_eq!(
            mixed_script_share("Для Вαc мaлο 5000$ в мecяц? Apple iPhone"),
            (3, 5)
        );
        assert_eq!(mixed_script_share("Keychron K2 v2 (K2С3H) или"), (1, 2));
        assert_eq!(mixed_script_share("hello world"), (0, 0));
    }

    #[test]
    fn invisible_characters_inside_words() {
        for (text, inside) in [
            ("Gemini Se\u{E0139}r\u{E0139}vice", true),
            ("P\u{200B}a\u{200B}yPal", true),
            ("\u{034F}Ihr Gerät ist gefährdet", false),
            ("emoji \u{2764}\u{FE0F} heart", false),
            ("Zürich office", false),
            ("word\u{200B} next", false),
            ("", false),
        ] {
            assert_eq!(invisible_inside_words(text), inside, "{text}");
        }
    }

    #[test]
    fn css_offsets_out_of_view() {
        for (html, pushed) in [
            ("<style>.belowView { margin-top: 470500px; }</style>", true),
            ("<div style=\"height:10000vh\">", true),
            ("<p style='text-indent:-9999px'>", true),
            (
                "<pre style=\"max-height:999999px;line-height:28px\">",
                false,
            ),
            ("<td style=\"padding-top:20px;height:600px\">", false),
            ("<div style=\"height:100vh\">", false),
            ("", false),
        ] {
            assert_eq!(css_pushed_out_of_view(html, 5000.0), pushed, "{html}");
        }
    }

    #[test]
    fn letters_of_random_case() {
        for (token, random) in [
            ("qWrUAngJaLJzBndSE", true),
            ("pIsdlCthlCTXTgpZeWBu", true),
            ("MacBookProRetina", false),
            ("XMLHttpRequest", false),
            ("iPhone15ProMax", false),
            ("SpamAssassinRules", false),
            ("B200miniUSRP", false),
            ("McDonaldsUSA", false),
            ("qWrUAngJ", false),
            ("My_Mark2CurSeen", false),
        ] {
            assert_eq!(random_case_letters(token), random, "{token}");
        }
        let t = EvalTest::new("subject_random_token", None).expect("known eval test");
        for (subject, hit) in [
            ("Notificação - Valores a Receber  - qWrUAngJaLJzBndSE", true),
            ("Extrato em anexo - Cod.kn75GA7UomX0oPD", true),
            ("Voce tem Pontos  = 98dXf7enKLndFV3", true),
            ("Notificação Emitida - hSCXPVFj7yxfmvG", true),
            ("Re: Working My_Mark2CurSeen", false),
            ("Noise capture with the B200mini", false),
            ("Order 112-3456789-1234567 shipped", false),
        ] {
            let m = Message {
                subject: subject.into(),
                ..Message::default()
            };
            assert_eq!(t.check(&m, &Default::default()), hit, "{subject}");
        }
    }

    #[test]
    fn letters_hidden_by_css() {
        let filler = "É preciso forçar os inimigos a fazerem uma formação igual";
        let n = filler.chars().filter(|c| c.is_alphabetic()).count();
        for (html, letters) in [
            (
                format!(
                    r#"<h1><span style="visibility: hidden; position: absolute; font-size: 0;">{filler}</span>Correios</h1>"#
                ),
                n,
            ),
            (format!(r#"<div style='display:none'>{filler}</div>"#), n),
            (format!(r#"<span style="font-size:0px">{filler}</span>"#), n),
            (format!(r#"<DIV STYLE="DISPLAY:NONE">{filler}</DIV>"#), n),
            // A preheader's padding holds no letters; visible text does
            // not count; font-size 0.5em or 10px is not hidden.
            (
                r#"<div style="display:none;max-height:0">&zwnj;&nbsp;&zwnj;&nbsp;</div>"#
                    .to_string(),
                0,
            ),
            (format!(r#"<p style="color:#333">{filler}</p>"#), 0),
            (
                format!(r#"<span style="font-size:0.5em">{filler}</span>"#),
                0,
            ),
            (
                format!(r#"<span style="font-size:10px">{filler}</span>"#),
                0,
            ),
            (String::new(), 0),
        ] {
            assert_eq!(hidden_text_letters(&html), letters, "{html}");
        }
    }

    #[test]
    fn dates_in_a_tools_form() {
        for (date, tool) in [
            ("Thu, 22 Aug 2002 18:26:25 +0100", false),
            ("Thu, 22 Aug 02 18:26:25 +0100", true),
            ("Mon, 22 Aug 2002 18:26:25 +0100", true),
            ("Thursday, 22 August 2002 18:26:25 +0100", false),
            ("22 Aug 2002 18:26:25 +0100", false),
            ("Sat, 29 Feb 2003 10:00:00 +0000", false),
            ("Sun, 1 Dec 2024 08:00:00 -0500", false),
            ("Mon, 1 Dec 2024 08:00:00 -0500", true),
            ("", false),
        ] {
            assert_eq!(date_tool_form(date), tool, "{date}");
        }
    }

    #[test]
    fn dates_later_than_the_message_was_received() {
        let t = EvalTest::new("date_after_received", None).expect("known eval test");
        let stamp = "Received: from relay.example (relay.example [192.0.2.1])\r\n\tby mx.example.org with ESMTP id 1A2B; Thu, 22 Aug 2002 18:26:25 +0100\r\n";
        // (Received header, Date, time received by the front end, hit?)
        let table: &[(&str, &str, Option<&str>, bool)] = &[
            // Four hours ahead of the receiving system's stamp.
            (stamp, "Thu, 22 Aug 2002 22:30:00 +0100", None, true),
            // The same instant written in another zone is not ahead.
            (stamp, "Thu, 22 Aug 2002 13:26:25 -0400", None, false),
            // Behind the stamp: mail written earlier, sent later.
            (stamp, "Mon, 19 Aug 2002 09:00:00 +0100", None, false),
            // Two hours ahead: a sender's clock a little off.
            (stamp, "Thu, 22 Aug 2002 20:20:00 +0100", None, false),
            // The receiving system's stamp, when there is one, is when the
            // message arrived: `check` of stored mail and `scan` agree.
            (
                stamp,
                "Thu, 22 Aug 2002 22:30:00 +0100",
                Some("2002-08-23T09:00:00+00:00"),
                true,
            ),
            (
                "",
                "Thu, 22 Aug 2002 22:30:00 +0100",
                Some("2002-08-22T12:00:00+00:00"),
                true,
            ),
            // Nothing to compare with.
            ("", "Thu, 22 Aug 2002 22:30:00 +0100", None, false),
            (
                "Received: by mx.example.org; not a date\r\n",
                "Thu, 22 Aug 2002 22:30:00 +0100",
                None,
                false,
            ),
        ];
        let engine = crate::Engine::with_defaults().expect("default rules");
        for (received, date, clock, hit) in table {
            let raw = format!(
                "{received}From: <a@sender.example>\r\nDate: {date}\r\nSubject: x\r\n\r\nbody\r\n"
            );
            let mut m = engine.parse_email(raw.as_bytes());
            m.received =
                clock.map(|c| chrono::DateTime::parse_from_rfc3339(c).expect("valid time"));
            assert_eq!(
                t.check(&m, &Default::default()),
                *hit,
                "{received} / {date} / {clock:?}"
            );
        }
    }

    #[test]
    fn recipient_lists_harvested_in_sorted_order() {
        let engine = crate::Engine::with_defaults().expect("default rules");
        // (To, Cc, hit at three organisations?)
        for (to, cc, hit) in [
            (
                "cpuma@earthlink.net, cpumatt@trib.com, cpun@rocketmail.com",
                "",
                true,
            ),
            // The prefix compares without case; Cc counts as well as To.
            (
                "\"A\" <ANNA@one.example>, annette@two.example",
                "annie@three.example",
                true,
            ),
            // Two organisations only.
            ("cpuma@earthlink.net, cpumatt@trib.com", "", false),
            // Cross-posted lists of one organisation, a second one's list.
            (
                "linux-mm@vger.kernel.org, linux-fsdevel@vger.kernel.org",
                "linux-kernel@lists.kernel.org, linus@example.org",
                false,
            ),
            // Short local parts and the same address twice.
            (
                "ab@one.example, ab@two.example, ab@three.example",
                "",
                false,
            ),
            ("john@x.example, john@x.example, john@x.example", "", false),
            ("", "", false),
        ] {
            let raw = format!(
                "From: <s@sender.example>\r\nTo: {to}\r\nCc: {cc}\r\nSubject: x\r\n\r\nbody\r\n"
            );
            let m = engine.parse_email(raw.as_bytes());
            assert_eq!(similar_recipients(&m, 3.0), hit, "{to} / {cc}");
        }
    }

    #[test]
    fn list_ids_of_other_organisations() {
        let engine = crate::Engine::with_defaults().expect("default rules");
        for (from, list_id, foreign) in [
            (
                "ledger@secureliveupdates.com",
                Some("x list <f61c.777668.list-id.mcsv.net>"),
                true,
            ),
            (
                "dhl-volgen@aprimarse.com",
                Some("<100024869.xt.local>"),
                true,
            ),
            (
                "users@lists.example.org",
                Some("Users <users.lists.example.org>"),
                false,
            ),
            ("news@mail.shop.co.uk", Some("<weekly.shop.co.uk>"), false),
            ("someone@example.com", None, false),
        ] {
            let list = list_id.map_or(String::new(), |l| format!("List-Id: {l}\r\n"));
            let raw = format!("From: <{from}>\r\n{list}Subject: x\r\n\r\nbody\r\n");
            let m = engine.parse_email(raw.as_bytes());
            assert_eq!(list_id_foreign(&m), foreign, "{from} {list_id:?}");
        }
    }

    #[test]
    fn latin_words_with_lookalike_letters() {
        for (text, words) in [
            // Cyrillic а and о in English words.
            ("Your Amаzon accоunt is on hold", 2),
            // Cyrillic е and ԁ (U+0501), Greek Rho and rho, Greek Alpha.
            ("Recent Lеԁgеr breach", 1),
            ("Ρeρe.ν2@Αirdrορ", 2),
            // Russian words, even with a Latin letter typed in; Greek units.
            ("Привет, как дела? пpивет", 0),
            // In Russian text: a code typed with a Cyrillic С, lost line breaks.
            ("Keychron K2 v2 (K2С3H) или другая клавиатура", 0),
            ("Keychron K2 v2 K2С3H brown yellow", 0),
            ("Спасибо!nnНу да, так и есть", 0),
            // One Latin letter: a line break's `n` left before a word, `Οh`.
            ("полезны.nВ общем", 0),
            ("Οh my god", 0),
            ("latency 5μs, ΔT = 3 K", 0),
            ("Ελληνικά and English", 0),
            ("plain ASCII text", 0),
            ("", 0),
        ] {
            assert_eq!(latin_lookalike_words(text), words, "{text}");
        }
    }
}
