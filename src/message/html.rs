//! HTML to the text a reader sees: tags dropped, entities decoded,
//! whitespace collapsed, `<head>`, `<style>`, `<script>` and `<template>`
//! content and comments skipped, line breaks at `<br>` and block elements.
//!
//! One forward pass that jumps between `<` and `&` with memchr and copies
//! the text between them in runs. Tags do not separate words (`fr<b>ee`
//! reads `free`, as a mail client shows it), which is what rules must see.

use mail_parser::decoders::html::add_html_token;

/// What separates the text already written from the next word.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Line,
}

/// Append the visible text of `html` to `out`.
pub fn append_text(html: &str, out: &mut String) {
    let bytes = html.as_bytes();
    let base = out.len();
    let mut gap = Gap::None;
    let mut pos = 0;
    while pos < bytes.len() {
        let next = memchr::memchr2(b'<', b'&', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        append_collapsed(&html[pos..next], out, base, &mut gap);
        if next == bytes.len() {
            break;
        }
        pos = if bytes[next] == b'&' {
            entity(html, next, out, base, &mut gap)
        } else {
            tag(html, next, &mut gap)
        };
    }
}

/// Write the gap owed before the next word (none at the start of the text).
fn flush_gap(out: &mut String, base: usize, gap: &mut Gap) {
    if out.len() > base {
        match *gap {
            Gap::None => {}
            Gap::Space => out.push(' '),
            Gap::Line => out.push('\n'),
        }
    }
    *gap = Gap::None;
}

/// Copy text, turning each run of whitespace into one gap.
fn append_collapsed(text: &str, out: &mut String, base: usize, gap: &mut Gap) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            *gap = (*gap).max(Gap::Space);
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        flush_gap(out, base, gap);
        out.push_str(&text[start..i]);
    }
}

/// Decode the entity at `at` (`&name;`, `&#NN;`, `&#xHH;`); a lone `&` is
/// text. Returns where reading goes on.
fn entity(html: &str, at: usize, out: &mut String, base: usize, gap: &mut Gap) -> usize {
    const LONGEST: usize = 32;
    let bytes = html.as_bytes();
    let window = &bytes[at + 1..bytes.len().min(at + 1 + LONGEST)];
    let end = window
        .iter()
        .position(|&b| b == b';' || !(b.is_ascii_alphanumeric() || b == b'#'));
    flush_gap(out, base, gap);
    match end {
        Some(len) if len > 0 && window[len] == b';' => {
            add_html_token(out, &bytes[at..at + len + 2], false);
            at + len + 2
        }
        _ => {
            out.push('&');
            at + 1
        }
    }
}

/// Read the tag (or comment) at `at`; returns where text goes on.
fn tag(html: &str, at: usize, gap: &mut Gap) -> usize {
    let bytes = html.as_bytes();
    let rest = &bytes[at..];
    if rest.starts_with(b"<!--") {
        return memchr::memmem::find(&rest[4..], b"-->").map_or(bytes.len(), |i| at + 4 + i + 3);
    }
    let Some(len) = memchr::memchr(b'>', rest) else {
        return bytes.len(); // an unterminated tag hides the rest, as in a browser
    };
    let after = at + len + 1;
    let inner = &rest[1..len];
    let closing = inner.first() == Some(&b'/');
    let name_start = usize::from(closing);
    let name_len = inner[name_start..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .unwrap_or(inner.len() - name_start);
    let name = &inner[name_start..name_start + name_len];
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    if is("br")
        || is("p")
        || is("div")
        || is("tr")
        || is("li")
        || is("table")
        || is("ul")
        || is("ol")
        || is("blockquote")
        || is("hr")
        || is("title")
        || (name.len() == 2 && (name[0] | 0x20) == b'h' && (b'1'..=b'6').contains(&name[1]))
    {
        *gap = Gap::Line;
    } else if is("td") || is("th") {
        *gap = (*gap).max(Gap::Space);
    } else if !closing && (is("head") || is("style") || is("script") || is("template")) {
        // Skip the element's content up to its closing tag.
        let close = [b"</".as_slice(), name].concat();
        return find_ascii_ci(&bytes[after..], &close).map_or(bytes.len(), |i| {
            let tag_at = after + i;
            memchr::memchr(b'>', &bytes[tag_at..]).map_or(bytes.len(), |j| tag_at + j + 1)
        });
    }
    after
}

/// Position of `needle` in `hay`, ASCII case-insensitive.
pub(crate) fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut pos = 0;
    while let Some(i) = memchr::memchr2(
        first.to_ascii_lowercase(),
        first.to_ascii_uppercase(),
        hay.get(pos..)?,
    ) {
        let at = pos + i;
        if hay
            .get(at + 1..at + needle.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(tail))
        {
            return Some(at);
        }
        pos = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        let mut out = String::new();
        append_text(html, &mut out);
        out
    }

    #[test]
    fn drops_tags_and_collapses_whitespace() {
        assert_eq!(text("<b>Hello</b>\n\n   <i>world</i> !"), "Hello world !");
        assert_eq!(text("fr<b>ee</b> m<span>oney</span>"), "free money");
        assert_eq!(text("  leading"), "leading");
    }

    #[test]
    fn breaks_lines_at_blocks() {
        assert_eq!(
            text("one<br>two<p>three</p><div>four</div>"),
            "one\ntwo\nthree\nfour"
        );
        assert_eq!(text("<td>a</td><td>b</td>"), "a b");
        assert_eq!(text("<H1>Title</H1>body"), "Title\nbody");
    }

    #[test]
    fn decodes_entities() {
        assert_eq!(
            text("AT&amp;T &lt;3 &#36;100 &#x41; &bogus; a & b"),
            "AT&T <3 $100 A &bogus; a & b"
        );
        assert_eq!(text("caf&eacute;"), "café");
    }

    #[test]
    fn skips_hidden_content_and_comments() {
        let html = "<html><head><title>t</title><style>p{x:1}</style></head>\
                    <body>v<!-- hidden -->isible<script>alert(1)</script> text\
                    <STYLE type=x>.a{}</STYLE></body></html>";
        assert_eq!(text(html), "visible text");
    }

    #[test]
    fn hostile_input_never_panics() {
        for html in [
            "<",
            "&",
            "&#",
            "&#x;",
            "<!--",
            "<style>",
            "</",
            "<>",
            "a<b",
            "&#99999999999;",
            "é&é<é>é",
        ] {
            let _ = text(html);
        }
        assert_eq!(text("a<b"), "a");
        assert_eq!(text("é&é<i>é</i>"), "é&éé");
    }
}
