//! Plain-text parts as a reader sees them: each paragraph on one line.
//!
//! Mail is wrapped at about 72 columns, so a phrase of a rule ("next of
//! kin", "my name is Mrs") is split by a line break as often as not, and
//! senders pad words with runs of spaces. As SpamAssassin renders a body
//! for its body rules, the lines of a paragraph are joined with one space
//! and runs of spaces and tabs become one. Blank lines still end a
//! paragraph, and a quoted line (`>`) stays a line of its own, so rules
//! that read replies (a line that starts with `>`) still find them.

/// Append `text` to `out` with the lines of each paragraph joined by one
/// space, runs of spaces and tabs made one space, trailing blanks dropped,
/// and runs of blank lines made one.
pub(crate) fn append_unwrapped(text: &str, out: &mut String) {
    out.reserve(text.len());
    // What ends the previous line: nothing yet, a joinable line, a line
    // that is kept apart (quoted), or a blank line.
    #[derive(PartialEq)]
    enum Prev {
        Start,
        Text,
        Apart,
        Blank,
    }
    let mut prev = Prev::Start;
    for line in text.split('\n') {
        let line = line.trim_end_matches([' ', '\t', '\r']);
        let body = line.trim_start_matches([' ', '\t']);
        if body.is_empty() {
            if prev != Prev::Start && prev != Prev::Blank {
                prev = Prev::Blank;
            }
            continue;
        }
        let quoted = body.starts_with('>');
        match prev {
            Prev::Start => {}
            Prev::Text if !quoted => out.push(' '),
            Prev::Text | Prev::Apart => out.push('\n'),
            Prev::Blank => out.push_str("\n\n"),
        }
        push_collapsed(body, out);
        prev = if quoted { Prev::Apart } else { Prev::Text };
    }
}

/// Copy `s`, each run of spaces and tabs as one space.
fn push_collapsed(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(at) = rest.find([' ', '\t']) {
        out.push_str(&rest[..at]);
        out.push(' ');
        rest = rest[at..].trim_start_matches([' ', '\t']);
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::append_unwrapped;

    #[test]
    fn paragraphs_become_lines() {
        let table: &[(&str, &str)] = &[
            ("one line", "one line"),
            ("my name is\nMrs Nelson", "my name is Mrs Nelson"),
            ("my name is   Mrs\tNelson  ", "my name is Mrs Nelson"),
            ("a\r\nb\r\n\r\nc", "a b\n\nc"),
            ("a\n\n\n\nb", "a\n\nb"),
            ("\n\n  indented\nnext", "indented next"),
            (
                "On Monday, Bob wrote:\n> hello\n> there\nMy answer\ngoes on",
                "On Monday, Bob wrote:\n> hello\n> there\nMy answer goes on",
            ),
            ("  > quoted\nafter", "> quoted\nafter"),
            ("", ""),
            ("\n \n\t\n", ""),
        ];
        for (text, want) in table {
            let mut out = String::new();
            append_unwrapped(text, &mut out);
            assert_eq!(&out, want, "{text:?}");
        }
    }
}
