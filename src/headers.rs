//! SpamAssassin-compatible result headers, and rewriting a raw message to
//! carry them while keeping every other byte as it came.

use crate::message::email::is_field_start;
use crate::verdict::Verdict;

/// What email carries besides the verdict fields (config `[email]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup {
    /// Add `X-Spam-Report`: every hit with its score and description.
    pub report: bool,
    /// Put this before the Subject of spam (`***SPAM*** `); the original
    /// Subject is kept in `X-Spam-Prev-Subject`, so the markup can be undone.
    pub rewrite_subject: Option<String>,
}

/// The field that keeps a rewritten Subject's original value.
pub const PREV_SUBJECT: &str = "X-Spam-Prev-Subject";

/// `X-Spam-Level`: one `*` per whole point of a positive score, as
/// SpamAssassin writes it (at most 50).
pub fn level(score: f64) -> String {
    let stars = if score >= 1.0 {
        score.min(50.0) as usize
    } else {
        0
    };
    "*".repeat(stars)
}

/// The header fields that report a verdict, in the order they are added.
pub fn result_headers(v: &Verdict, markup: &Markup) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(6);
    out.push((
        "X-Spam-Checker-Version",
        format!("spamsift {}", env!("CARGO_PKG_VERSION")),
    ));
    if v.is_spam() {
        out.push(("X-Spam-Flag", "YES".to_string()));
    }
    out.push(("X-Spam-Level", level(v.score)));
    out.push(("X-Spam-Score", format!("{:.1}", v.score)));
    out.push((
        "X-Spam-Status",
        format!(
            "{}, score={:.1} required={:.1} tests={}",
            if v.is_spam() { "Yes" } else { "No" },
            v.score,
            v.threshold,
            if v.hits.is_empty() {
                "NONE".to_string()
            } else {
                v.tests()
            }
        ),
    ));
    if markup.report {
        out.push(("X-Spam-Report", report(v)));
    }
    out
}

/// The `X-Spam-Report` value: one line per hit (`* 2.5 RULE_ID what it
/// means`), each on a continuation line. Line breaks are written as `\n`;
/// [`rewrite`] turns them into the message's own line ending.
fn report(v: &Verdict) -> String {
    let mut out = String::new();
    for h in &v.hits {
        let desc: String = h
            .description
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        out.push_str(&format!("\n\t* {:>5.1} {} {}", h.score, h.id, desc));
    }
    if out.is_empty() {
        out.push_str("\n\t* no rule hit");
    }
    out
}

/// Why a byte string cannot be given headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAMessage {
    /// The first line is not a header field.
    #[error("input does not start with a header field (not an RFC 5322 message)")]
    NoHeader,
    /// The header block holds NUL bytes.
    #[error("header block contains NUL bytes")]
    NulInHeaders,
}

/// Where the parts of a raw message are.
struct Layout {
    /// Bytes of an mbox `From ` line kept first (0 if none).
    mbox_line: usize,
    /// End of the header block (start of the blank line, or end of input).
    headers_end: usize,
    /// Line ending to use for added fields.
    crlf: bool,
}

fn layout(raw: &[u8]) -> Result<Layout, NotAMessage> {
    let mbox_line = if raw.starts_with(b"From ") {
        raw.iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| i + 1)
    } else {
        0
    };
    let mut pos = mbox_line;
    let mut crlf = false;
    let mut first = true;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content_nocr = content.strip_suffix(b"\r").unwrap_or(content);
        if content_nocr.is_empty() {
            break;
        }
        if first {
            crlf = content.ends_with(b"\r");
            if !is_field_start(content_nocr) {
                return Err(NotAMessage::NoHeader);
            }
            first = false;
        }
        if line.contains(&0) {
            return Err(NotAMessage::NulInHeaders);
        }
        pos = end;
    }
    if first {
        return Err(NotAMessage::NoHeader);
    }
    Ok(Layout {
        mbox_line,
        headers_end: pos,
        crlf,
    })
}

fn is_result_field(line: &[u8]) -> bool {
    line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"x-spam-")
}

/// Fold a header at commas so no line grows past about 78 characters
/// (a value that starts with a line break is written as it is, with the
/// message's line ending).
fn fold(name: &str, value: &str, eol: &str) -> String {
    if value.starts_with('\n') {
        return format!("{name}:{}{eol}", value.replace('\n', eol));
    }
    let mut out = format!("{name}: ");
    let mut line_len = out.len();
    let mut first = true;
    for (i, piece) in value.split_inclusive(',').enumerate() {
        if !first && line_len + piece.len() > 78 && i > 0 {
            out.push_str(eol);
            out.push('\t');
            line_len = 1;
        }
        out.push_str(piece);
        line_len += piece.len();
        first = false;
    }
    out.push_str(eol);
    out
}

/// The message with every `X-Spam-*` field of its header block (with its
/// continuation lines) removed and every other byte as it came: what a
/// front end passes on when it could not classify, so that a sender's own
/// forged verdict never survives. Unlike [`rewrite`] this accepts any
/// input: the header block is read as the lines before the first empty
/// one (NUL bytes and all), after an mbox `From ` line.
pub fn strip_result_fields(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    let (fields, _) = fields(raw);
    if !fields.iter().any(|&(s, e)| is_result_field(&raw[s..e])) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut copied = 0;
    for &(s, e) in &fields {
        if is_result_field(&raw[s..e]) {
            out.extend_from_slice(&raw[copied..s]);
            copied = e;
        }
    }
    out.extend_from_slice(&raw[copied..]);
    Cow::Owned(out)
}

/// The header fields of a raw message's header block, each with its
/// continuation lines: `(start, end)` byte ranges, after an mbox `From `
/// line; also where the header block ends. Reads any input.
fn fields(raw: &[u8]) -> (Vec<(usize, usize)>, usize) {
    let mut pos = if raw.starts_with(b"From ") {
        memchr::memchr(b'\n', raw).map_or(raw.len(), |i| i + 1)
    } else {
        0
    };
    let mut out: Vec<(usize, usize)> = Vec::new();
    while pos < raw.len() {
        let end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        if content.strip_suffix(b"\r").unwrap_or(content).is_empty() {
            break;
        }
        match (matches!(line.first(), Some(b' ' | b'\t')), out.last_mut()) {
            (true, Some(last)) => last.1 = end,
            _ => out.push((pos, end)),
        }
        pos = end;
    }
    (out, pos)
}

/// Whether a field (its raw bytes) has this name.
fn field_named(field: &[u8], name: &str) -> bool {
    field.len() > name.len()
        && field[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && field[name.len()] == b':'
}

/// Return the message with result headers added first (after an mbox
/// `From ` line, if any) and any existing `X-Spam-*` fields removed, so a
/// message cannot carry its own verdict in; with `markup.rewrite_subject`,
/// spam gets its Subject prefixed (the original kept in
/// [`PREV_SUBJECT`]). Everything else is unchanged.
pub fn rewrite(raw: &[u8], verdict: &Verdict, markup: &Markup) -> Result<Vec<u8>, NotAMessage> {
    let l = layout(raw)?;
    let eol = if l.crlf { "\r\n" } else { "\n" };
    let mut out = Vec::with_capacity(raw.len() + 512);
    out.extend_from_slice(&raw[..l.mbox_line]);
    for (name, value) in result_headers(verdict, markup) {
        out.extend_from_slice(fold(name, &value, eol).as_bytes());
    }
    let (fields, _) = fields(raw);
    let prefix = markup
        .rewrite_subject
        .as_deref()
        .filter(|_| verdict.is_spam());
    // The first Subject, if it ends its line (one that runs into the end
    // of the input is left as it is: its value could not be kept apart).
    let subject = prefix.and_then(|_| {
        fields
            .iter()
            .position(|&(s, e)| field_named(&raw[s..e], "subject"))
            .filter(|&i| raw[..fields[i].1].ends_with(b"\n"))
    });
    if let (Some(_), Some(i)) = (prefix, subject) {
        // The original value, as it came, after the colon.
        let (s, e) = fields[i];
        let value = &raw[s + "subject:".len()..e];
        out.extend_from_slice(PREV_SUBJECT.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
    }
    for (i, &(s, e)) in fields.iter().enumerate() {
        let field = &raw[s..e];
        if is_result_field(field) {
            continue;
        }
        match (prefix, subject) {
            (Some(prefix), Some(j)) if i == j => {
                let value = &field["subject:".len()..];
                let start = value
                    .iter()
                    .position(|&b| b != b' ' && b != b'\t')
                    .unwrap_or(value.len());
                // The field name as it came, so undoing gives it back.
                out.extend_from_slice(&field[.."subject:".len()]);
                out.push(b' ');
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(&value[start..]);
            }
            _ => out.extend_from_slice(field),
        }
    }
    out.extend_from_slice(&raw[l.headers_end..]);
    Ok(out)
}

/// Undo what spamsift added to a message (like `spamassassin -d`): every
/// `X-Spam-*` field goes, and a Subject rewritten for spam gets back its
/// original value from [`PREV_SUBJECT`]. For a message that came without
/// `X-Spam-*` fields, this gives back its bytes as they came.
pub fn remove_markup(raw: &[u8]) -> Vec<u8> {
    let (fields, _) = fields(raw);
    let mut prev = fields
        .iter()
        .map(|&(s, e)| &raw[s..e])
        .find(|f| field_named(f, PREV_SUBJECT))
        .map(|f| &f[PREV_SUBJECT.len() + 1..]);
    let mut out = Vec::with_capacity(raw.len());
    let mut copied = 0;
    for &(s, e) in &fields {
        let field = &raw[s..e];
        out.extend_from_slice(&raw[copied..s]);
        copied = e;
        if is_result_field(field) {
            continue;
        }
        match prev {
            Some(value) if field_named(field, "subject") => {
                // Only the first Subject was rewritten.
                out.extend_from_slice(&field[.."subject:".len()]);
                out.extend_from_slice(value);
                prev = None;
            }
            _ => out.extend_from_slice(field),
        }
    }
    out.extend_from_slice(&raw[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;
    use crate::verdict::{Action, Hit};

    fn verdict(score: f64, action: Action) -> Verdict {
        Verdict {
            channel: Channel::Email,
            score,
            threshold: 5.0,
            action,
            hits: vec![Hit {
                id: "B_RULE".into(),
                score,
                description: "".into(),
            }],
            bayes: None,
        }
    }

    #[test]
    fn prepends_and_strips() {
        let raw = b"Subject: hi\r\nX-Spam-Flag: YES\r\nX-Spam-Status: No,\r\n\ttests=FAKE\r\nTo: a@b\r\n\r\nbody X-Spam-Flag: kept\r\n";
        let out = rewrite(raw, &verdict(1.0, Action::Ham), &Markup::default())
            .expect("message rewritten");
        let s = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            s,
            format!(
                "X-Spam-Checker-Version: spamsift {}\r\nX-Spam-Level: *\r\n\
                 X-Spam-Score: 1.0\r\nX-Spam-Status: No, score=1.0 required=5.0 tests=B_RULE\r\n\
                 Subject: hi\r\nTo: a@b\r\n\r\nbody X-Spam-Flag: kept\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn keeps_mbox_line_first() {
        let raw = b"From x@y Mon\nSubject: s\n\nb\n";
        let s = String::from_utf8(
            rewrite(raw, &verdict(9.0, Action::Tag), &Markup::default())
                .expect("message rewritten"),
        )
        .expect("UTF-8");
        assert!(
            s.starts_with("From x@y Mon\nX-Spam-Checker-Version: spamsift "),
            "{s}"
        );
        assert!(
            s.contains("\nX-Spam-Flag: YES\nX-Spam-Level: *********\nX-Spam-Score: 9.0\n"),
            "{s}"
        );
        assert!(s.ends_with("Subject: s\n\nb\n"));
    }

    #[test]
    fn refuses_non_messages() {
        assert_eq!(
            rewrite(
                b"garbage\0\xff",
                &verdict(0.0, Action::Ham),
                &Markup::default()
            ),
            Err(NotAMessage::NoHeader)
        );
        assert_eq!(
            rewrite(b"", &verdict(0.0, Action::Ham), &Markup::default()),
            Err(NotAMessage::NoHeader)
        );
        assert_eq!(
            rewrite(
                b"A: b\0\n\n",
                &verdict(0.0, Action::Ham),
                &Markup::default()
            ),
            Err(NotAMessage::NulInHeaders)
        );
    }

    #[test]
    fn strips_forged_fields_from_anything_with_a_header_block() {
        let table: &[(&[u8], &[u8])] = &[
            (
                b"Subject: a\nX-Spam-Flag: NO\n\nX-Spam-Flag: body\n",
                b"Subject: a\n\nX-Spam-Flag: body\n",
            ),
            // A NUL byte makes the input unfit for rewrite, not for stripping.
            (
                b"A: b\0\nx-spam-status: No,\n score=-100\nB: c\n\nbody",
                b"A: b\0\nB: c\n\nbody",
            ),
            (
                b"From x@y\nX-Spam-Score: -9\r\nS: t\r\n\r\nb",
                b"From x@y\nS: t\r\n\r\nb",
            ),
            (b"no header here", b"no header here"),
            (b"X-Spam-Flag: NO", b""),
            (b"", b""),
        ];
        for (input, want) in table {
            assert_eq!(
                &*strip_result_fields(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let clean = b"Subject: a\n\nb";
        assert!(matches!(
            strip_result_fields(clean),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn markup_is_added_and_removed_byte_for_byte() {
        let full = Markup {
            report: true,
            rewrite_subject: Some("***SPAM*** ".into()),
        };
        let table: &[(&[u8], Action)] = &[
            (
                b"Subject: cheap\r\n pills\r\nTo: a@b\r\n\r\nbody\r\n",
                Action::Tag,
            ),
            (
                b"From x@y Mon\nsubject:\tlower\nTo: a@b\n\nbody\n",
                Action::Reject,
            ),
            (b"To: a@b\n\nno subject\n", Action::Tag),
            (b"Subject: fine\n\nham\n", Action::Ham),
            // Found by fuzzing: a Subject that runs into the end of the input.
            (b"To: a@b\nSubject: no line end", Action::Tag),
        ];
        for &(raw, action) in table {
            let out = rewrite(raw, &verdict(7.0, action), &full).expect("message rewritten");
            let text = String::from_utf8_lossy(&out);
            assert!(text.contains("X-Spam-Report:"), "{text}");
            assert!(text.contains("* "), "{text}");
            if action != Action::Ham
                && raw.ends_with(b"\n")
                && raw.windows(8).any(|w| w.eq_ignore_ascii_case(b"subject:"))
            {
                assert!(
                    text.to_ascii_lowercase().contains("subject: ***spam*** "),
                    "{text}"
                );
                assert!(text.contains("X-Spam-Prev-Subject:"), "{text}");
            }
            assert_eq!(remove_markup(&out), raw, "{text}");
        }
        assert_eq!(level(0.5), "");
        assert_eq!(level(-3.0), "");
        assert_eq!(level(3.9), "***");
    }

    #[test]
    fn folds_long_test_lists() {
        let f = fold(
            "X-Spam-Status",
            &format!("Yes, tests={}", ["SOME_LONG_RULE_NAME"; 10].join(",")),
            "\n",
        );
        assert!(f.lines().all(|l| l.len() <= 100), "{f}");
        assert!(f.lines().count() > 1);
    }
}
