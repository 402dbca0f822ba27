//! Turning a message into the features the statistical classifier counts.
//!
//! - Words: lower-cased; ASCII words are runs of letters, digits, `'` and `_`;
//!   in email, inner dots too (`www.example.com`, `3.50` and `e.g` stay whole:
//!   on the email training half this raised recall at 0.3% false positives
//!   by 0 to 5 points; on YouTube comments it lowered AUC, so SMS and IM
//!   split at dots), and text in other scripts goes through Unicode word segmentation (UAX #29,
//!   `unicode-segmentation`), so Russian or Korean text yields one token per
//!   word instead of one run; Chinese and Japanese, written without spaces,
//!   through ICU4X's dictionary word segmenter, so they yield words
//!   (`無料`, `登録`), not single ideographs; words longer than
//!   [`MAX_WORD`] bytes become a `skip:` length token.
//! - Orthogonal sparse bigrams (OSB, as CRM114 and Rspamd use): every word paired with
//!   each of the next [`OSB_WINDOW`]` - 1` words, with the distance in the feature, so
//!   phrases count and single common words dilute less.
//! - Email header features: subject words, From domain and display name, Reply-To
//!   domain, X-Mailer, the client IP's /16, URL hosts, MIME part types, and
//!   structural faults (missing or malformed Date and Message-ID, broken encodings).
//! - Bounded: at most [`MAX_WORDS`] words per text field and [`HEADER_WORDS`] per
//!   header field are read.
//!
//! Features are 64-bit hashes of a typed string (words: [`word_hash`], a
//! multiply-and-rotate per 8 bytes that needs no branch on the length of a
//! word of up to 16 bytes; other features: xxh3); the set per message is
//! sorted and deduplicated (the model counts presence, not frequency).

use crate::message::{Channel, Message};
use crate::runs::{ByteClass, ByteRuns};
pub use crate::wordhash::word_hash;
use crate::wordhash::{HIGH_BITS, fmix64, load16, lower8, short_word_hash};
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Words read from one email text field at most: the opening of a text
/// carries the signal. On the training half (both folds, even-a/even-b), the mean
/// Bayes-alone AUC was 0.99946 with 128, against 0.99933 with 500 and
/// 0.99937 with 1,000 (64: 0.99943, 200: 0.99933); with rules 0.99962
/// against 0.99954. Reading on at the end of a long text (its last 500 to
/// 2,000 bytes) did not help. The Bayes part of classifying the corpus
/// took about a fifth less time.
pub const MAX_WORDS: usize = 128;
/// Words read from an SMS or IM text at most. Long chat spam (a tenth of
/// the Telegram spam runs past 110 words) says more further on: on the
/// training half of the IM corpora, reading 128 words missed 3 more of 91
/// Telegram spam than 500.
pub const SHORT_MAX_WORDS: usize = 500;
/// Words read from one header field at most: the first words (`from HOST
/// by HOST` of a Received line, a mailer's name) carry the signal. On the
/// training half (both folds, even-a/even-b), 8 and 12 gave the same AUC
/// (Bayes alone 0.99912/0.99953 against 0.99913/0.99950), 4 a little less
/// (0.99905/0.99946); 8 reads 26% fewer header words than 12.
pub const HEADER_WORDS: usize = 8;
/// Longer words are replaced by a length token.
pub const MAX_WORD: usize = 40;
/// OSB window: a word is paired with the next `OSB_WINDOW - 1` words.
pub const OSB_WINDOW: usize = 5;

/// What the tokenizer extracts (part of [`BayesConfig`](super::BayesConfig);
/// a model must be used with the settings it was trained with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenizerOptions {
    /// Add orthogonal sparse bigrams.
    pub osb: bool,
    /// Tokenize the words of every header field (prefixed by its name), as
    /// bogofilter does, instead of a chosen few.
    pub all_headers: bool,
    /// Words read per email text field.
    pub max_words: usize,
    /// Words read per SMS or IM text.
    pub short_max_words: usize,
}

impl Default for TokenizerOptions {
    fn default() -> Self {
        TokenizerOptions {
            osb: false,
            all_headers: true,
            max_words: MAX_WORDS,
            short_max_words: SHORT_MAX_WORDS,
        }
    }
}

/// Hands hashed features to a sink.
struct Features<S: FnMut(u64)> {
    sink: S,
    opts: TokenizerOptions,
    /// Keep inner dots in words (email only; see the module docs).
    dotted: bool,
}

fn seed(field: &str) -> u64 {
    xxh3_64(field.as_bytes())
}

impl<S: FnMut(u64)> Features<S> {
    fn add(&mut self, kind: &str, value: &str) {
        (self.sink)(xxh3_64_with_seed(value.as_bytes(), seed(kind)));
    }

    /// Words (and OSB pairs) of a text, with a field prefix.
    fn text(&mut self, field: &str, text: &str) {
        self.text_seeded(seed(field), text);
    }

    /// [`text`](Self::text) with the field's seed computed already.
    fn text_seeded(&mut self, field_seed: u64, text: &str) {
        let mut window: [u64; OSB_WINDOW] = [0; OSB_WINDOW];
        let mut seen = 0usize;
        let mut emit = |this: &mut Self, h: u64| {
            (this.sink)(h);
            if this.opts.osb {
                // Pair with the previous words at distances 1..window.
                for d in 1..OSB_WINDOW.min(seen + 1) {
                    let prev = window[(seen - d) % OSB_WINDOW];
                    (this.sink)(
                        prev.rotate_left(d as u32 * 7)
                            ^ h.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            ^ d as u64,
                    );
                }
                window[seen % OSB_WINDOW] = h;
            }
            seen += 1;
        };
        let long = |len: usize| {
            xxh3_64_with_seed(
                &((len / 10 * 10) as u64).to_le_bytes(),
                field_seed ^ 0x5_1c1b,
            )
        };
        // Chunks between ASCII separators: an all-ASCII chunk is one word
        // (runs of letters, digits, `'` and `_`, as UAX #29 gives for ASCII,
        // near enough), lower-cased in registers (up to 16 bytes) or on a
        // stack buffer (up to MAX_WORD bytes); a chunk holding other
        // scripts is lower-cased and segmented by UAX #29, so a stray
        // accented letter does not send the whole text down the slow path.
        let mut buf = [0u8; MAX_WORD];
        let mut words = 0usize;
        let bytes = text.as_bytes();
        let class = if self.dotted {
            &WORD_BYTES_DOTTED
        } else {
            &WORD_BYTES
        };
        for (run_start, end) in ByteRuns::new(bytes, class) {
            if words >= self.opts.max_words {
                break;
            }
            let start = run_start + usize::from(bytes[run_start] == b'\'');
            let (start, end) = if self.dotted {
                trim_dots(bytes, start.min(end), end)
            } else {
                (start.min(end), end)
            };
            let len = end - start;
            if len == 0 {
                continue;
            }
            // Most words are short and ASCII: hashed from two 8-byte loads
            // with no branch on their length.
            let h = if len <= 16 {
                let (w0, w1) = load16(bytes, start, len);
                ((w0 | w1) & HIGH_BITS == 0)
                    .then(|| short_word_hash(lower8(w0), lower8(w1), len, field_seed))
            } else if !bytes[start..end].is_ascii() {
                None
            } else if len > MAX_WORD {
                Some(long(len))
            } else {
                let lower = &mut buf[..len];
                lower.copy_from_slice(&bytes[start..end]);
                lower.make_ascii_lowercase();
                Some(word_hash(lower, field_seed))
            };
            if let Some(h) = h {
                emit(self, h);
                words += 1;
                continue;
            }
            let chunk = &bytes[start..end];
            // Split only at ASCII bytes, so the chunk is whole UTF-8.
            let Ok(chunk) = std::str::from_utf8(chunk) else {
                continue;
            };
            let lower = chunk.to_lowercase();
            // Hash one word; whether more are wanted.
            let mut word = |this: &mut Self, word: &str| {
                if words >= this.opts.max_words {
                    return false;
                }
                let h = if word.len() > MAX_WORD {
                    long(word.len())
                } else {
                    word_hash(word.as_bytes(), field_seed)
                };
                emit(this, h);
                words += 1;
                words < this.opts.max_words
            };
            if has_chinese_or_japanese(&lower) {
                cj_words(&lower, |w| word(self, w));
            } else {
                for w in lower.unicode_words() {
                    if !word(self, w) {
                        break;
                    }
                }
            }
        }
    }
}

/// Whether a text holds Han ideographs or kana: Chinese and Japanese are
/// written without spaces, and UAX #29 alone splits them into single
/// ideographs.
fn has_chinese_or_japanese(text: &str) -> bool {
    text.chars().any(is_chinese_or_japanese)
}

/// Whether `c` is a Han ideograph or kana (scripts written without spaces
/// between words).
pub(crate) fn is_chinese_or_japanese(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x3134F) // CJK extensions B to G
}

/// The words of Chinese and Japanese text (and of any other script in it),
/// as ICU4X's dictionary word segmenter finds them (UAX #29 with its
/// Chinese–Japanese dictionary): `無料で今すぐ登録` gives `無料`, `で`,
/// `今`, `すぐ`, `登録`, not eight single characters or one run. Stops when
/// `f` wants no more words.
fn cj_words(text: &str, mut f: impl FnMut(&str) -> bool) {
    static SEGMENTER: std::sync::OnceLock<icu_segmenter::WordSegmenterBorrowed<'static>> =
        std::sync::OnceLock::new();
    let segmenter = SEGMENTER.get_or_init(|| {
        icu_segmenter::WordSegmenter::new_dictionary(
            icu_segmenter::options::WordBreakInvariantOptions::default(),
        )
    });
    let mut last = 0;
    for (i, kind) in segmenter.segment_str(text).iter_with_word_type() {
        if i > last && kind.is_word_like() && !f(&text[last..i]) {
            return;
        }
        last = i;
    }
}

/// The bounds of `text[start..end]` without its leading and trailing dots
/// (sentence ends, ellipses).
fn trim_dots(text: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && text[start] == b'.' {
        start += 1;
    }
    while end > start && text[end - 1] == b'.' {
        end -= 1;
    }
    (start, end)
}

/// Word bytes of SMS and IM texts: ASCII letters, digits, `'` and `_`, and
/// every non-ASCII byte (a chunk holding those is segmented by UAX #29).
const WORD_BYTES: ByteClass = ByteClass::new(b"'_", true);
/// Word bytes of email texts: inner dots too.
const WORD_BYTES_DOTTED: ByteClass = ByteClass::new(b"'_.", true);

/// Mixed into a header name's hash for the feature "this field is present".
const HAS_SALT: u64 = 0x6861_735f_6669_656c;

/// Header fields never tokenized: transport noise that identifies the
/// receiving site or the corpus, not the sender.
const SKIP_HEADERS: &[&str] = &[
    "x-spam-status",
    "x-spam-flag",
    "x-spam-score",
    "x-spam-level",
    "x-spam-checker-version",
    "delivered-to",
    "x-keywords",
    "status",
    "x-status",
    "x-uid",
    "content-length",
    "lines",
];

/// The sorted, deduplicated feature hashes of a message.
pub fn features(msg: &Message, opts: &TokenizerOptions) -> Vec<u64> {
    let mut out = features_unsorted(msg, opts);
    out.sort_unstable();
    out.dedup();
    out
}

/// The feature hashes of a message in the order read, repeats included
/// (the classifier removes repeats only among the clues it finds).
pub fn features_unsorted(msg: &Message, opts: &TokenizerOptions) -> Vec<u64> {
    let mut out = Vec::with_capacity(1024);
    for_each_feature(msg, opts, |h| out.push(h));
    out
}

/// Each feature hash of a message as it is read, repeats included, handed
/// to `sink`: the classifier looks features up while the tokenizer goes on,
/// without collecting them first.
pub fn for_each_feature(msg: &Message, opts: &TokenizerOptions, sink: impl FnMut(u64)) {
    let email = msg.channel == Channel::Email;
    let mut f = Features {
        sink,
        opts: TokenizerOptions {
            max_words: if email {
                opts.max_words
            } else {
                opts.short_max_words
            },
            ..*opts
        },
        dotted: email,
    };
    f.text("b", &msg.body);
    if msg.channel == Channel::Email {
        f.text("s", &msg.subject);
        if let Some(from) = &msg.from {
            if let Some(d) = from.domain() {
                f.add("from-domain", d);
            }
            if let Some(n) = &from.name {
                f.text("from-name", n);
            }
        }
        if let Some(d) = msg.reply_to.as_ref().and_then(|r| r.domain()) {
            f.add("reply-to-domain", d);
        }
        if !opts.all_headers
            && let Some(m) = msg.header("X-Mailer")
        {
            f.add("mailer", m.trim());
        }
        if let Some(std::net::IpAddr::V4(ip)) = msg.client_ip {
            let o = ip.octets();
            f.add("ip16", &format!("{}.{}", o[0], o[1]));
        }
        for t in &msg.part_types {
            f.add("part", t);
        }
        // Structural faults bulk mailers make (and most mail clients do
        // not): on the training half (even-a/even-b) these raised AUC by
        // 0.0004; part counts, image counts and size did not help.
        let facts = &msg.facts;
        for (fault, present) in [
            ("no-date", !facts.has_date),
            ("bad-date", facts.bad_date),
            ("no-message-id", !facts.has_message_id),
            ("bad-message-id", facts.bad_message_id),
            ("bad-encoding", facts.encoding_problem),
        ] {
            if present {
                f.add("fault", fault);
            }
        }
        if opts.all_headers {
            let no_osb = TokenizerOptions {
                osb: false,
                max_words: HEADER_WORDS,
                ..*opts
            };
            let saved = std::mem::replace(&mut f.opts, no_osb);
            let mut buf = [0u8; 64];
            for h in msg.headers.iter().take(64) {
                // The name lower-cased on the stack (longer names, which no
                // mail client writes, are cut: they still count, as one field).
                let n = h.name.len().min(buf.len());
                let name = &mut buf[..n];
                name.copy_from_slice(&h.name.as_bytes()[..n]);
                name.make_ascii_lowercase();
                if name == b"subject" || SKIP_HEADERS.iter().any(|s| s.as_bytes() == name) {
                    continue;
                }
                if name == b"x-mailer" {
                    f.add("mailer", h.value.trim());
                }
                // One hash of the name: the field's seed, and (mixed once
                // more) the feature saying the field is present.
                let field_seed = xxh3_64(name);
                (f.sink)(fmix64(field_seed ^ HAS_SALT));
                f.text_seeded(field_seed, &h.value);
            }
            f.opts = saved;
        } else {
            for name in [
                "List-Id",
                "In-Reply-To",
                "References",
                "User-Agent",
                "X-Priority",
            ] {
                if msg.header(name).is_some() {
                    f.add("has", name);
                }
            }
        }
    } else {
        // Sender shape: short code, alphanumeric id, international number, handle.
        let s = msg.sender.as_str();
        let shape = if s.is_empty() {
            "none"
        } else if s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 6 {
            "shortcode"
        } else if s.starts_with('+') {
            "intl"
        } else if s.chars().any(char::is_alphabetic) {
            "alpha"
        } else {
            "digits"
        };
        f.add("sender-shape", shape);
    }
    for u in msg.uris.iter().take(64) {
        f.add("url-host", &u.host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features_default(m: &Message) -> Vec<u64> {
        features(m, &TokenizerOptions::default())
    }

    fn sms(text: &str) -> Message {
        crate::message::short::from_text(Channel::Sms, "+15550100", text)
    }

    #[test]
    fn cjk_and_cyrillic_do_not_collapse() {
        let ja = features_default(&sms("お金を稼ぐ方法を教えます"));
        let ru = features_default(&sms("Быстрый заработок без вложений"));
        // one feature per word or ideograph (plus the sender shape), not one run
        assert!(ja.len() >= 6, "{}", ja.len());
        assert_eq!(ru.len(), 5);
    }

    #[test]
    fn chinese_and_japanese_give_words() {
        let words = |t: &str| {
            let mut v = Vec::new();
            cj_words(t, |w| {
                v.push(w.to_string());
                true
            });
            v
        };
        // Words of the dictionary, not single ideographs nor one run.
        let ja = words("無料で今すぐ登録、出会いはこちら");
        for w in ["無料", "登録", "出会い"] {
            assert!(ja.iter().any(|x| x == w), "{w} in {ja:?}");
        }
        assert!(ja.iter().all(|w| w != "、"), "{ja:?}");
        let zh = words("免费注册，立即赢取大奖");
        for w in ["免费", "注册", "立即"] {
            assert!(zh.iter().any(|x| x == w), "{w} in {zh:?}");
        }
        // Latin words among them stay whole.
        let mixed = words("amazonアカウントを確認");
        assert!(mixed.iter().any(|x| x == "amazon"), "{mixed:?}");
        assert!(mixed.iter().any(|x| x == "アカウント"), "{mixed:?}");
        assert!(has_chinese_or_japanese("お知らせ") && !has_chinese_or_japanese("무료 가입"));
    }

    #[test]
    fn dotted_words_stay_whole_in_email() {
        let mail = |t: &str| {
            let raw = format!("From: a@example.org\r\nSubject: hi\r\n\r\n{t}\r\n");
            features_default(&Message::from_email(raw.as_bytes()))
        };
        assert_eq!(mail("see shop.example.com."), mail("see SHOP.EXAMPLE.COM"));
        assert_ne!(mail("see shop.example.com"), mail("see shop example com"));
        assert_eq!(mail("only 3.50!"), mail("...only 3.50"));
        // SMS and IM split at dots
        let text = |t: &str| features_default(&sms(t));
        assert_eq!(text("see shop.example.com"), text("see shop example com"));
    }

    #[test]
    fn case_insensitive_and_deduplicated() {
        assert_eq!(
            features_default(&sms("FREE prize")),
            features_default(&sms("free PRIZE"))
        );
        let f = features_default(&sms("win win win"));
        let mut d = f.clone();
        d.dedup();
        assert_eq!(f, d);
    }

    /// The words of a text by their definition (split at separators, outer
    /// dots trimmed, then ASCII, the dictionary segmenter for Chinese and
    /// Japanese, or UAX #29), as the one-pass loop must give
    /// them: the model files depend on these exact features.
    fn reference_words(field: &str, text: &str, max_words: usize, dotted: bool) -> Vec<u64> {
        let field_seed = seed(field);
        let long = |len: usize| {
            xxh3_64_with_seed(
                &((len / 10 * 10) as u64).to_le_bytes(),
                field_seed ^ 0x5_1c1b,
            )
        };
        let is_sep = |b: &u8| {
            b.is_ascii()
                && !(b.is_ascii_alphanumeric() || b"'_".contains(b) || dotted && *b == b'.')
        };
        let mut out = Vec::new();
        for chunk in text.as_bytes().split(is_sep) {
            if out.len() >= max_words {
                break;
            }
            let chunk = chunk.strip_prefix(b"'").unwrap_or(chunk);
            let chunk = std::str::from_utf8(chunk).expect("UTF-8").trim_matches('.');
            if chunk.is_empty() {
                continue;
            }
            let lower = chunk.to_lowercase();
            let mut cj = Vec::new();
            let words: Vec<&str> = if chunk.is_ascii() {
                vec![lower.as_str()]
            } else if has_chinese_or_japanese(&lower) {
                cj_words(&lower, |w| {
                    cj.push(w.to_string());
                    cj.len() < max_words
                });
                cj.iter()
                    .map(String::as_str)
                    .take(max_words - out.len())
                    .collect()
            } else {
                lower.unicode_words().take(max_words - out.len()).collect()
            };
            for w in words {
                out.push(if w.len() > MAX_WORD {
                    long(w.len())
                } else {
                    word_hash(w.as_bytes(), field_seed)
                });
            }
        }
        out
    }

    #[test]
    fn short_words_hash_as_word_hash_says() {
        for w in [
            "a",
            "FREE",
            "MiXeD",
            "exactly8",
            "EXACTLY8x",
            "sixteen_bytes_AB",
        ] {
            let lower = w.to_ascii_lowercase();
            let want = word_hash(lower.as_bytes(), 7);
            // The word alone (a short text: copied) and inside a longer text (loaded).
            for text in [w.to_string(), format!("x {w} and more text after it")] {
                let start = text.find(w).unwrap_or(0);
                let (w0, w1) = load16(text.as_bytes(), start, w.len());
                assert_eq!(
                    short_word_hash(lower8(w0), lower8(w1), w.len(), 7),
                    want,
                    "{w} in {text:?}"
                );
            }
        }
        assert_ne!(
            word_hash(b"free", 7),
            word_hash(b"free", 8),
            "the field seed counts"
        );
        assert_ne!(
            word_hash(b"ab", 7),
            word_hash(b"ab\0", 7),
            "the length counts"
        );
    }

    #[test]
    fn one_pass_words_are_the_reference_words() {
        let long_words = "averyveryveryveryveryveryverylongwordthatkeepsgoing ".repeat(3);
        let many = "w ".repeat(700);
        let texts = [
            "Hello, World! It's FREE_money: 100% o'clock ''quoted'' -- a_b",
            "Visit WWW.Example.COM. Only $3.50... e.g. ...dots.. '.x. . ..",
            "  leading and trailing  ",
            "Seventeen_Bytes_X Word_Of_Exactly_Thirty_Two_Bytes_ exactly_16_bytes forty_byte_word_is_the_longest_one_kept_ end",
            "",
            "''''",
            "Caf\u{e9} cr\u{e8}me BR\u{dc}LE, \u{41f}\u{440}\u{438}\u{432}\u{435}\u{442} \u{43c}\u{438}\u{440}!",
            "\u{304a}\u{91d1}\u{3092}\u{7a3c}\u{3050} mixed\u{2014}dash x\u{301}y",
            &long_words,
            &many,
        ];
        for t in texts {
            for (max, dotted) in [(3, false), (MAX_WORDS, false), (3, true), (MAX_WORDS, true)] {
                let want = reference_words("b", t, max, dotted);
                assert_eq!(
                    one_pass_words(t, max, dotted),
                    want,
                    "{t:?} max {max} dotted {dotted}"
                );
            }
        }
    }

    /// Texts made of pieces that stress the fast paths: words of every
    /// length around 8, 16 and 40 bytes, dots, quotes, non-ASCII letters,
    /// and texts that end right after a word (no bytes to over-read).
    fn random_texts(n: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            "a",
            "Ab",
            "WORD",
            "exactly8",
            "NineBytes",
            "sixteen_bytes_AB",
            "seventeen_bytes_x",
            "x.y",
            "...",
            ".",
            "'",
            "''q",
            "_",
            "3.50",
            "2024",
            " ",
            "  ",
            "\n",
            "-",
            "!",
            ",",
            "\u{e9}",
            "caf\u{e9}",
            "\u{414}\u{430}",
            "\u{65e5}\u{672c}",
            "\u{a0}",
            "\u{212a}",
            "averyveryveryveryveryveryverylongwordthatkeepsgoing",
        ];
        crate::testing::random_texts(0x9E37_79B9_7F4A_7C15, n, 40, PIECES)
    }

    /// The words of a text as the one-pass loop gives them.
    fn one_pass_words(text: &str, max_words: usize, dotted: bool) -> Vec<u64> {
        let mut out = Vec::new();
        let mut f = Features {
            sink: |h| out.push(h),
            opts: TokenizerOptions {
                max_words,
                ..TokenizerOptions::default()
            },
            dotted,
        };
        f.text("b", text);
        out
    }

    #[test]
    fn one_pass_words_are_the_reference_words_on_random_texts() {
        for t in random_texts(3000) {
            for (max, dotted) in [(5, false), (MAX_WORDS, false), (5, true), (MAX_WORDS, true)] {
                let want = reference_words("b", &t, max, dotted);
                assert_eq!(
                    one_pass_words(&t, max, dotted),
                    want,
                    "{t:?} max {max} dotted {dotted}"
                );
            }
        }
    }

    #[test]
    fn bounded() {
        let long =
            "word ".repeat(100_000) + &(0..100_000).map(|i| format!("w{i} ")).collect::<String>();
        assert!(features_default(&sms(&long)).len() < SHORT_MAX_WORDS * OSB_WINDOW + 10);
    }

    #[test]
    fn email_text_reads_fewer_words_than_a_short_message() {
        let text: String = (0..1000).map(|i| format!("w{i} ")).collect();
        let opts = TokenizerOptions::default();
        let mut mail = sms(&text);
        mail.channel = Channel::Email;
        let body_words = |m: &Message| {
            let body = one_pass_words(&m.body, usize::MAX, m.channel == Channel::Email);
            let all = features_unsorted(m, &opts);
            body.iter().filter(|h| all.contains(h)).count()
        };
        assert_eq!(body_words(&mail), MAX_WORDS);
        assert_eq!(body_words(&sms(&text)), SHORT_MAX_WORDS);
    }

    #[test]
    fn order_matters_for_pairs() {
        let osb = TokenizerOptions {
            osb: true,
            ..TokenizerOptions::default()
        };
        assert_ne!(
            features(&sms("call now"), &osb),
            features(&sms("now call"), &osb)
        );
        assert_eq!(
            features_default(&sms("call now")),
            features_default(&sms("now call"))
        );
    }
}
