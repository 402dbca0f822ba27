//! The plain spellings of a phrase written with accents, for rules that set
//! `plain_spellings = true`.
//!
//! Texts sent in the GSM 7-bit alphabet lose most accents (it has `é` and
//! `ü` but no `á`, `ã`, `ç` or `ê`), and people typing on a keyboard without
//! them leave them out: "sua conta será bloqueada" arrives as "sua conta
//! sera bloqueada". A rule that sets the flag matches both without its
//! author writing every phrase twice.
//!
//! Only Latin letters change (Latin-1 Supplement, Latin Extended-A and -B,
//! Latin Extended Additional): each is replaced by its canonical
//! decomposition's base letter (`é` → `e`, `ệ` → `e`). Kana, Hangul and
//! Thai marks are not accents of this kind and stay. German umlauts and
//! `ß` are written two ways without them, so a phrase holding one gets both
//! `ue` and `u` (`geblöckt` → `gebloeckt`, `geblockt`).

use icu_normalizer::DecomposingNormalizerBorrowed;

/// The other spellings of `phrase` (lower case) without its accents, each
/// different from `phrase` and from each other; none when it has no
/// accented Latin letter.
pub(crate) fn plain_spellings(phrase: &str) -> Vec<String> {
    if phrase.is_ascii() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let stripped = spelled(phrase, false);
    if stripped != phrase {
        out.push(stripped);
    }
    if phrase.contains(['ä', 'ö', 'ü', 'ß']) {
        let digraphs = spelled(phrase, true);
        if digraphs != phrase && !out.contains(&digraphs) {
            out.push(digraphs);
        }
    }
    out
}

/// `phrase` with each accented Latin letter replaced by its base letter,
/// or with German umlauts and `ß` as digraphs when `digraphs`.
fn spelled(phrase: &str, digraphs: bool) -> String {
    let nfd = DecomposingNormalizerBorrowed::new_nfd();
    let mut out = String::with_capacity(phrase.len());
    for c in phrase.chars() {
        if digraphs {
            let pair = match c {
                'ä' => Some("ae"),
                'ö' => Some("oe"),
                'ü' => Some("ue"),
                'ß' => Some("ss"),
                _ => None,
            };
            if let Some(pair) = pair {
                out.push_str(pair);
                continue;
            }
        }
        if !is_latin_letter_beyond_ascii(c) {
            out.push(c);
            continue;
        }
        // A stroke is no combining mark: Vietnamese đ has no decomposition.
        if c == 'đ' {
            out.push('d');
            continue;
        }
        out.extend(
            nfd.normalize_iter(std::iter::once(c))
                .filter(|d| !is_combining_accent(*d)),
        );
    }
    out
}

/// Latin-1 Supplement letters, Latin Extended-A and -B, and Latin Extended
/// Additional (Vietnamese): the letters that carry accents in European and
/// Vietnamese text.
fn is_latin_letter_beyond_ascii(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') && c != '×' && c != '÷'
}

/// Combining Diacritical Marks, the block the decomposition of a Latin
/// letter's accents falls in.
fn is_combining_accent(c: char) -> bool {
    matches!(c, '\u{300}'..='\u{36F}')
}

#[cfg(test)]
mod tests {
    use super::plain_spellings;

    #[test]
    fn accented_phrases_get_their_plain_spellings() {
        let cases: &[(&str, &[&str])] = &[
            ("sua conta será bloqueada", &["sua conta sera bloqueada"]),
            ("não foi possível entregar", &["nao foi possivel entregar"]),
            ("n'a pas pu être livré", &["n'a pas pu etre livre"]),
            ("taxa alfandegária", &["taxa alfandegaria"]),
            ("devolución de impuestos", &["devolucion de impuestos"]),
            (
                "il tuo conto è stato bloccato",
                &["il tuo conto e stato bloccato"],
            ),
            ("cartão", &["cartao"]),
            ("ça", &["ca"]),
            // German: without the dots, and as the digraphs people type.
            ("zollgebühr", &["zollgebuhr", "zollgebuehr"]),
            (
                "konto wird gelöscht",
                &["konto wird geloscht", "konto wird geloescht"],
            ),
            ("straße", &["strasse"]),
            // Vietnamese: stacked marks and the stroke.
            ("quý khách đã trúng thưởng", &["quy khach da trung thuong"]),
        ];
        for (phrase, want) in cases {
            assert_eq!(plain_spellings(phrase), *want, "{phrase}");
        }
    }

    #[test]
    fn phrases_without_latin_accents_have_none() {
        for phrase in [
            "your account will be suspended",
            "未承諾広告",
            "がんばって",
            "무료 상담",
            "คุณได้รับรางวัล",
            "ваш аккаунт",
            "5 × 2",
        ] {
            assert!(plain_spellings(phrase).is_empty(), "{phrase}");
        }
    }
}
