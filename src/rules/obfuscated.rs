//! Words spelled with digits or symbols for letters: `v1agra`, `paypa1`,
//! `micr0soft`, `@mazon`.
//!
//! An `obfuscated = [...]` rule lists plain words; it hits where one of
//! them is written with at least one letter replaced by a look-alike:
//!
//! | letter | stands in for it |
//! |---|---|
//! | a | `4` `@` |
//! | e | `3` |
//! | i | `1` `!` `\|` |
//! | l | `1` `\|` |
//! | o | `0` |
//! | s | `5` |
//! | t | `7` |
//!
//! Letters match case-insensitively, a digit of the word only itself, and
//! the match is a whole word: neither side may touch an ASCII letter or
//! digit. The plain spelling does not hit (that is what phrases are for);
//! `$` for `s` does not count ("Micro$oft" is a joke in many a technical
//! list).
//!
//! Written as a regex, one rule of 30 words was 103 alternatives of
//! character classes; compiling it was about 2 ms of every
//! `spamsift check` of an email (body and subject). This scanner needs no
//! compiling, and matches exactly what that regex matched (the test
//! `same_matches_as_the_regex_it_replaced` checks it), Unicode case folding
//! included: `(?i)k` also matches KELVIN SIGN and `(?i)s` LONG S.

use super::matcher::HitSet;

/// The look-alikes a byte may stand for: a bit per letter `a`..=`z`.
const fn substitutes(b: u8) -> u32 {
    const fn bit(letter: u8) -> u32 {
        1 << (letter - b'a')
    }
    match b {
        b'4' | b'@' => bit(b'a'),
        b'3' => bit(b'e'),
        b'1' | b'|' => bit(b'i') | bit(b'l'),
        b'!' => bit(b'i'),
        b'0' => bit(b'o'),
        b'5' => bit(b's'),
        b'7' => bit(b't'),
        _ => 0,
    }
}

/// [`RUN`]: a byte that ends a run (ASCII other than letters, digits and
/// `@ ! |`).
const BREAK: u8 = 0;
/// [`RUN`]: a letter, or any byte of a non-ASCII character.
const IN_RUN: u8 = 1;
/// [`RUN`]: a digit or `@ ! |`.
const LOOK_ALIKE: u8 = 2;

/// What each byte is to a run that may hold a disguised word.
const RUN: [u8; 256] = {
    let mut t = [BREAK; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c >= 0x80 || c.is_ascii_alphabetic() {
            IN_RUN
        } else if c.is_ascii_digit() || substitutes(c) != 0 {
            LOOK_ALIKE
        } else {
            BREAK
        };
        b += 1;
    }
    t
};

/// The letters that have look-alikes.
const SUBSTITUTABLE: &[u8] = b"aeilost";

/// KELVIN SIGN, which `(?i)k` matches.
const KELVIN: char = '\u{212a}';
/// LATIN SMALL LETTER LONG S, which `(?i)s` matches.
const LONG_S: char = '\u{17f}';

/// One character of a text, as the words see it.
#[derive(Clone, Copy)]
enum Glyph {
    /// A letter (lower-case ASCII), itself.
    Letter(u8),
    /// A digit, itself, and the letters it may stand for.
    Digit(u8, u32),
    /// A symbol that may stand for letters (`@`, `!`, `|`).
    Symbol(u32),
    /// Anything else: ends a word.
    Other,
}

impl Glyph {
    /// The glyph at the start of `text` and its length in bytes.
    #[inline]
    fn at(text: &str, i: usize) -> (Glyph, usize) {
        let b = text.as_bytes()[i];
        if b.is_ascii() {
            let g = match b {
                b'a'..=b'z' => Glyph::Letter(b),
                b'A'..=b'Z' => Glyph::Letter(b.to_ascii_lowercase()),
                b'0'..=b'9' => Glyph::Digit(b, substitutes(b)),
                _ => match substitutes(b) {
                    0 => Glyph::Other,
                    s => Glyph::Symbol(s),
                },
            };
            return (g, 1);
        }
        match text[i..].chars().next() {
            Some(KELVIN) => (Glyph::Letter(b'k'), KELVIN.len_utf8()),
            Some(LONG_S) => (Glyph::Letter(b's'), LONG_S.len_utf8()),
            Some(c) => (Glyph::Other, c.len_utf8()),
            None => (Glyph::Other, 1),
        }
    }

    /// A letter or digit: a word goes on through it.
    #[inline]
    fn is_word(self) -> bool {
        matches!(self, Glyph::Letter(_) | Glyph::Digit(..))
    }
}

/// The words of every `obfuscated` rule on one field.
#[derive(Debug, Default)]
pub struct ObfuscatedWords {
    /// Each word (lower-case ASCII letters and digits) with its rule index.
    words: Vec<(Box<[u8]>, u32)>,
    /// For each first letter or digit (`a`..=`z`, then `0`..=`9`), the
    /// words (indices into `words`) that start with it.
    by_first: Vec<Vec<u32>>,
}

/// Index of a word's first byte in [`ObfuscatedWords::by_first`].
fn slot(b: u8) -> usize {
    match b {
        b'a'..=b'z' => usize::from(b - b'a'),
        _ => 26 + usize::from(b.wrapping_sub(b'0')) % 10,
    }
}

impl ObfuscatedWords {
    /// The words of `(word, rule index)` pairs, each checked by [`check_word`].
    pub fn new<'a>(words: impl IntoIterator<Item = (&'a str, u32)>) -> ObfuscatedWords {
        let mut out = ObfuscatedWords {
            words: Vec::new(),
            by_first: vec![Vec::new(); 36],
        };
        for (word, rule) in words {
            let word = word.to_ascii_lowercase().into_bytes();
            let Some(&first) = word.first() else { continue };
            out.by_first[slot(first)].push(out.words.len() as u32);
            out.words.push((word.into_boxed_slice(), rule));
        }
        out
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Record which rules' words occur obfuscated in `text`.
    ///
    /// A match is made of letters, digits and `@ ! |` only, and holds a
    /// digit or one of those symbols; so it lies inside one run of such
    /// bytes (non-ASCII bytes are kept in runs, for KELVIN SIGN and LONG
    /// S) that holds one. Only the runs around look-alikes are searched:
    /// most words of a text are letters alone. (Searching at every word
    /// start made `scan --jobs 1` of the SpamAssassin corpus 12% slower
    /// than the regex did; searching the runs, it is as fast: 0.51 s of
    /// CPU for both, median of 5.)
    pub fn run(&self, text: &str, hits: &mut HitSet) {
        let bytes = text.as_bytes();
        let is = |class: u8| move |b: &u8| RUN[usize::from(*b)] == class;
        let mut i = 0;
        // Each look-alike not yet searched, then its run around it.
        while let Some(found) = bytes[i..].iter().position(is(LOOK_ALIKE)) {
            let at = i + found;
            let start = bytes[i..at]
                .iter()
                .rposition(is(BREAK))
                .map_or(i, |b| i + b + 1);
            let end = bytes[at..]
                .iter()
                .position(is(BREAK))
                .map_or(bytes.len(), |b| at + b);
            // Both ends are ASCII bytes outside the run (or the text's
            // ends): char boundaries, and neither side a letter or digit.
            self.run_in(&text[start..end], hits);
            i = end;
        }
    }

    /// [`run`](Self::run) on one run of letters, digits and look-alikes.
    fn run_in(&self, text: &str, hits: &mut HitSet) {
        let mut i = 0;
        let mut after_word = false;
        while i < text.len() {
            let (glyph, len) = Glyph::at(text, i);
            if !after_word {
                match glyph {
                    Glyph::Letter(b) => self.try_words(self.starting(b), text, i, hits),
                    Glyph::Digit(b, subs) => {
                        self.try_words(self.starting(b), text, i, hits);
                        self.try_letters(subs, text, i, hits);
                    }
                    Glyph::Symbol(subs) => self.try_letters(subs, text, i, hits),
                    Glyph::Other => {}
                }
            }
            after_word = glyph.is_word();
            i += len;
        }
    }

    /// The words that start with letter or digit `b`.
    fn starting(&self, b: u8) -> &[u32] {
        &self.by_first[slot(b)]
    }

    /// Try the words starting with any letter of `subs` at `start`.
    fn try_letters(&self, mut subs: u32, text: &str, start: usize, hits: &mut HitSet) {
        while subs != 0 {
            let letter = b'a' + subs.trailing_zeros() as u8;
            subs &= subs - 1;
            self.try_words(self.starting(letter), text, start, hits);
        }
    }

    fn try_words(&self, ids: &[u32], text: &str, start: usize, hits: &mut HitSet) {
        for &id in ids {
            let (word, rule) = &self.words[id as usize];
            if !hits.get(*rule as usize) && matches_at(word, text, start) {
                hits.set(*rule as usize);
            }
        }
    }
}

/// `word` occurs at `text[start..]` with at least one look-alike, and no
/// letter or digit follows it.
fn matches_at(word: &[u8], text: &str, start: usize) -> bool {
    let mut i = start;
    let mut substituted = false;
    for &w in word {
        if i >= text.len() {
            return false;
        }
        let (glyph, len) = Glyph::at(text, i);
        let ok = match glyph {
            Glyph::Letter(b) => b == w,
            Glyph::Digit(b, _) if b == w => true,
            Glyph::Digit(_, subs) | Glyph::Symbol(subs) => {
                let is_sub = w.is_ascii_lowercase() && subs & (1 << (w - b'a')) != 0;
                substituted |= is_sub;
                is_sub
            }
            Glyph::Other => false,
        };
        if !ok {
            return false;
        }
        i += len;
    }
    substituted && (i == text.len() || !Glyph::at(text, i).0.is_word())
}

/// A word of an `obfuscated` list as it is matched (lower-case), or why it
/// cannot be: it must be ASCII letters and digits with at least one letter
/// that has a look-alike.
pub fn check_word(word: &str) -> Result<String, String> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "obfuscated word {word:?}: only ASCII letters and digits (the plain spelling)"
        ));
    }
    let word = word.to_ascii_lowercase();
    if !word.bytes().any(|b| SUBSTITUTABLE.contains(&b)) {
        return Err(format!(
            "obfuscated word {word:?} has no letter with a look-alike (a e i l o s t), so it can never match"
        ));
    }
    Ok(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(words: &[&str], text: &str) -> bool {
        let m = ObfuscatedWords::new(words.iter().map(|w| (*w, 0)));
        let mut hits = HitSet::new(1);
        m.run(text, &mut hits);
        hits.get(0)
    }

    #[test]
    fn spellings() {
        let words = [
            "viagra",
            "paypal",
            "amazon",
            "office365",
            "outlook",
            "microsoft",
        ];
        for (text, want) in [
            ("buy v1agra now", true),
            ("buy VIAGR@ now", true),
            ("buy viagra now", false),
            ("log in to your paypa1 account", true),
            ("log in to your paypa| account", true),
            ("paypa1s", false),
            ("xpaypa1", false),
            ("@mazon gift card", true),
            ("x@mazon", false),
            ("me@@mazon", true),
            ("!@mazon!", true),
            ("office365 renewal", false),
            ("0ffice365 renewal", true),
            ("0ffice3650", false),
            ("0utl00k", true),
            ("0utl00\u{212a}", true),
            ("0utl00\u{212a}s", false),
            ("micro$oft", false),
            ("micr0soft", true),
            ("micr0\u{17f}oft", true),
            ("\u{e9}micr0soft", true),
            ("micr0soft\u{e9}", true),
            ("", false),
            ("v1agr", false),
        ] {
            assert_eq!(hit(&words, text), want, "{text:?}");
        }
    }

    #[test]
    fn words_that_can_never_match_are_refused() {
        assert_eq!(check_word("PayPal").as_deref(), Ok("paypal"));
        assert!(check_word("pump").is_err());
        assert!(check_word("pay pal").is_err());
        assert!(check_word("").is_err());
        assert!(check_word("caf\u{e9}").is_err());
    }

    /// The regex the default rules used before this scanner, generated
    /// from the words the same way: for each letter with look-alikes, an
    /// alternative with only look-alikes there.
    fn regex_for(words: &[&str]) -> String {
        let full = |c: char| match c {
            'a' => r"[a4\@]".to_string(),
            'e' => "[e3]".to_string(),
            'i' => r"[i1\!\|]".to_string(),
            'l' => r"[l1\|]".to_string(),
            'o' => "[o0]".to_string(),
            's' => "[s5]".to_string(),
            't' => "[t7]".to_string(),
            c => c.to_string(),
        };
        let only = |c: char| match c {
            'a' => r"[4\@]",
            'e' => "[3]",
            'i' => r"[1\!\|]",
            'l' => r"[1\|]",
            'o' => "[0]",
            's' => "[5]",
            't' => "[7]",
            _ => unreachable!("only letters with look-alikes"),
        };
        let mut alternatives = Vec::new();
        for w in words {
            for (j, c) in w.chars().enumerate() {
                if "aeilost".contains(c) {
                    alternatives.push(
                        w.chars()
                            .enumerate()
                            .map(|(k, d)| if k == j { only(d).to_string() } else { full(d) })
                            .collect::<String>(),
                    );
                }
            }
        }
        format!(
            "(?i)(?:^|[^a-z0-9])(?:{})(?:$|[^a-z0-9])",
            alternatives.join("|")
        )
    }

    #[test]
    fn same_matches_as_the_regex_it_replaced() {
        // The default rules' list.
        let words = [
            "viagra",
            "cialis",
            "levitra",
            "rolex",
            "replica",
            "pharmacy",
            "casino",
            "xanax",
            "valium",
            "tramadol",
            "penis",
            "bitcoin",
            "paypal",
            "amazon",
            "netflix",
            "microsoft",
            "password",
            "account",
            "verify",
            "winner",
            "lottery",
            "porn",
            "dating",
            "mortgage",
            "refund",
            "invoice",
            "apple",
            "wallet",
            "office365",
            "outlook",
        ];
        let re = regex::Regex::new(&regex_for(&words)).expect("valid regex");
        // Texts built from the words with random look-alikes, cases and
        // neighbours (a small xorshift generator: the same texts every run).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let neighbours = [
            " ", "", "x", "1", "!", "@", "|", ".", "\u{e9}", "\u{212a}", "\u{17f}", "\n", "$",
        ];
        let look_alikes = |c: char| -> &'static [&'static str] {
            match c {
                'a' => &["a", "A", "4", "@"],
                'e' => &["e", "E", "3"],
                'i' => &["i", "I", "1", "!", "|"],
                'l' => &["l", "L", "1", "|"],
                'o' => &["o", "O", "0"],
                's' => &["s", "S", "5", "\u{17f}", "$"],
                't' => &["t", "T", "7"],
                'k' => &["k", "K", "\u{212a}"],
                _ => &[],
            }
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..1 + next(3) {
                text.push_str(neighbours[next(neighbours.len())]);
                let w = words[next(words.len())];
                for c in w.chars() {
                    let options = look_alikes(c);
                    if options.is_empty() {
                        text.push(if next(2) == 0 {
                            c
                        } else {
                            c.to_ascii_uppercase()
                        });
                    } else {
                        text.push_str(options[next(options.len())]);
                    }
                }
                text.push_str(neighbours[next(neighbours.len())]);
            }
            // Now and then a word cut short.
            if next(8) == 0 && !text.is_empty() {
                let mut cut = next(text.len());
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            assert_eq!(hit(&words, &text), re.is_match(&text), "{text:?}");
            checked += usize::from(re.is_match(&text));
        }
        // The generator must produce both outcomes often.
        assert!(
            checked > 2_000 && checked < 18_000,
            "{checked} of 20,000 hit"
        );
    }
}
