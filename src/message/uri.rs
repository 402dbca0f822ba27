//! Finding URIs in text and HTML, and their hosts.

use super::Link;
use super::html::find_ascii_ci;
use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;

/// Most URIs kept per message; hostile mail cannot make us collect millions.
pub const MAX_URIS: usize = 512;
/// Most HTML anchors kept per message.
pub const MAX_LINKS: usize = 512;
/// Most bytes of HTML after an anchor's opening tag read for its text. An
/// anchor without `</a>` ends there (or at the next `<a`), so a part of
/// many unclosed anchors costs time linear in its length, not quadratic.
pub const MAX_ANCHOR_HTML: usize = 4096;
/// Most characters of visible anchor text kept.
pub const MAX_ANCHOR_TEXT: usize = 256;

/// A URI found in a message, with its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uri {
    /// The URI as written (HTML entities `&amp;` decoded).
    pub url: String,
    /// Host, lower-case, without user info or port; empty when none could be read.
    pub host: String,
}

impl Uri {
    /// Build from a URI string, extracting its host.
    pub fn new(url: &str) -> Uri {
        Uri::decoded(decode_amp(url).into_owned())
    }

    /// A URI whose `&amp;` entities are decoded already.
    fn decoded(url: String) -> Uri {
        let host = host_of(&url).unwrap_or_default();
        Uri { url, host }
    }

    /// The host parsed as an IP address, if it is a bare IP.
    pub fn host_ip(&self) -> Option<IpAddr> {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.parse().ok()
    }
}

/// What marks a URI in text: `://` (the scheme is checked before it) or
/// `www.` in any case. Case-sensitive literals, so the search runs on the
/// SIMD Teddy prefilter instead of a byte-by-byte automaton.
static URI_MARK: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let mut marks = vec!["://".to_string()];
    for case in 0..8u8 {
        let w: String = (0..3)
            .map(|i| if case & (1 << i) != 0 { 'W' } else { 'w' })
            .collect();
        marks.push(format!("{w}."));
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(marks)
        .expect("static automaton")
});

/// Schemes whose URIs are collected from text.
const SCHEMES: [&str; 3] = ["https", "http", "ftp"];

/// Whether `c` ends a URI written in text: whitespace, quotes, angle
/// brackets and the other characters RFC 3986 never allows unescaped.
fn ends_uri(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '\\' | '^' | '[' | ']'
        )
}

/// Append the URIs written in `text` to `out` (bounded by [`MAX_URIS`];
/// repeats kept).
///
/// A URI starts with `http://`, `https://`, `ftp://` or `www.` (any case) at
/// a word boundary and runs to whitespace or a character URIs never hold;
/// trailing sentence punctuation is dropped.
pub fn find_in_text(text: &str, out: &mut Vec<Uri>) {
    if out.len() >= MAX_URIS {
        return;
    }
    each_in_text(text, |s| {
        out.push(Uri::new(s));
        out.len() < MAX_URIS
    });
}

/// Each URI written in `text` (as [`find_in_text`] reads them), handed to
/// `found` as it is, until `found` returns false.
fn each_in_text<'t>(text: &'t str, mut found: impl FnMut(&'t str) -> bool) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while from < bytes.len() {
        let Some(m) = URI_MARK.find(&text[from..]) else {
            return;
        };
        let (mark, mark_end) = (from + m.start(), from + m.end());
        from = mark_end;
        let start = if m.pattern().as_usize() == 0 {
            let Some(scheme) = SCHEMES.iter().find(|s| {
                mark >= s.len() && bytes[mark - s.len()..mark].eq_ignore_ascii_case(s.as_bytes())
            }) else {
                continue;
            };
            mark - scheme.len()
        } else {
            mark
        };
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue; // glued to a word: not a URI start
        }
        let end = text[mark_end..]
            .find(ends_uri)
            .map_or(text.len(), |i| mark_end + i);
        if end == mark_end {
            continue;
        }
        from = end;
        if !found(text[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '>'])) {
            return;
        }
    }
}

/// The distinct URIs of a message, in the order first found, at most
/// [`MAX_URIS`]. A repeat (an HTML part names each link in its anchor and
/// again in its text) is known by a hash of it before anything is copied.
#[derive(Debug, Default)]
pub struct DistinctUris {
    uris: Vec<Uri>,
    seen: rustc_hash::FxHashSet<u64>,
}

impl DistinctUris {
    /// Add `url` (as written) unless it is a repeat; false once full.
    pub fn add(&mut self, url: &str) -> bool {
        if self.uris.len() >= MAX_URIS {
            return false;
        }
        let url = decode_amp(url);
        if self.seen.insert(xxhash_rust::xxh3::xxh3_64(url.as_bytes())) {
            self.uris.push(Uri::decoded(url.into_owned()));
        }
        self.uris.len() < MAX_URIS
    }

    /// Add the URIs written in `text` (see [`find_in_text`]).
    pub fn add_in_text(&mut self, text: &str) {
        if self.uris.len() < MAX_URIS {
            each_in_text(text, |s| self.add(s));
        }
    }

    /// The URIs, in the order first found.
    pub fn into_vec(self) -> Vec<Uri> {
        self.uris
    }
}

/// A URI with its HTML entity `&amp;` decoded.
fn decode_amp(url: &str) -> Cow<'_, str> {
    if url.contains("&amp;") {
        Cow::Owned(url.replace("&amp;", "&"))
    } else {
        Cow::Borrowed(url)
    }
}

/// Collect anchors and URIs from raw HTML; returns the number of `<img>` tags.
///
/// A single forward scan over the tags (no regex backtracking): for each
/// `<a ...href=...>` the text up to `</a>` is the anchor text, with inner
/// tags dropped and whitespace collapsed.
pub fn find_in_html(html: &str, uris: &mut DistinctUris, links: &mut Vec<Link>) -> u32 {
    let bytes = html.as_bytes();
    let mut images = 0u32;
    let mut pos = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[pos..]) {
        let start = pos + off;
        let Some(tag_len) = memchr::memchr(b'>', &bytes[start..]) else {
            break;
        };
        let tag_end = start + tag_len; // index of '>'
        let tag = &html[start + 1..tag_end];
        pos = tag_end + 1;
        if tag_name_is(tag, "img") {
            images = images.saturating_add(1);
        } else if tag_name_is(tag, "a") && links.len() < MAX_LINKS {
            let Some(href) = attribute(tag, "href") else {
                continue;
            };
            // The anchor's text runs to `</a`, or to the next `<a` (an
            // unclosed anchor), within MAX_ANCHOR_HTML bytes.
            let mut window_end = (pos + MAX_ANCHOR_HTML).min(bytes.len());
            while !html.is_char_boundary(window_end) {
                window_end -= 1;
            }
            let window = &bytes[pos..window_end];
            let close = find_ascii_ci(window, b"</a").unwrap_or(window.len());
            let close = pos + find_anchor_open(&window[..close]).unwrap_or(close);
            let text = visible_text(&html[pos..close]);
            if is_web_uri(href) {
                uris.add(href);
            }
            links.push(Link {
                text,
                href: decode_amp(href).into_owned(),
            });
        }
    }
    // URIs in attributes other than anchors (img src, forms) and in text.
    uris.add_in_text(html);
    images
}

/// Whether a tag's text (between `<` and `>`) opens element `name`.
fn tag_name_is(tag: &str, name: &str) -> bool {
    let t = tag.as_bytes();
    t.len() >= name.len()
        && t[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && t.get(name.len())
            .is_none_or(|b| b.is_ascii_whitespace() || *b == b'/')
}

/// The value of attribute `name` in a tag's text, unquoted and trimmed.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let t = tag.as_bytes();
    let mut from = 0;
    while let Some(i) = find_ascii_ci(&t[from..], name.as_bytes()) {
        let at = from + i;
        from = at + name.len();
        let boundary = at == 0 || t[at - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        if !boundary || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let value = match rest.as_bytes().first() {
            Some(q @ (b'"' | b'\'')) => rest[1..].split(*q as char).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or(""),
        };
        return Some(value.trim());
    }
    None
}

/// Where the next `<a` opening tag (`<a` then whitespace or `>`) starts.
fn find_anchor_open(hay: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_ascii_ci(&hay[from..], b"<a") {
        let at = from + i;
        if hay
            .get(at + 2)
            .is_none_or(|&b| b.is_ascii_whitespace() || b == b'>')
        {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// Anchor inner HTML as a reader sees it: tags dropped, whitespace
/// collapsed, at most [`MAX_ANCHOR_TEXT`] characters.
fn visible_text(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len().min(MAX_ANCHOR_TEXT));
    let mut in_tag = false;
    let mut space = false;
    let mut kept = 0usize;
    for c in inner.chars() {
        if kept >= MAX_ANCHOR_TEXT {
            break;
        }
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                space = true;
            }
            _ if in_tag => {}
            c if c.is_whitespace() => space = true,
            c => {
                if space && !out.is_empty() {
                    out.push(' ');
                    kept += 1;
                }
                space = false;
                out.push(c);
                kept += 1;
            }
        }
    }
    out
}

fn is_web_uri(s: &str) -> bool {
    let l = s.as_bytes();
    let starts = |p: &str| l.len() >= p.len() && l[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    starts("http://") || starts("https://") || starts("www.") || starts("ftp://")
}

/// The host of a URI: after the scheme, without user info or port.
pub fn host_of(url: &str) -> Option<String> {
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    // user info: the host follows the last '@' (http://bank.com@evil.example/)
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() { None } else { Some(host) }
}

/// Whether a link's visible text names a different host than its target,
/// the classic phishing trick (`<a href="http://evil.example">www.bank.com</a>`).
pub fn link_text_mismatch(link: &Link) -> bool {
    let text = link.text.trim();
    if !is_web_uri(text) || text.contains(' ') {
        return false;
    }
    let (Some(shown), Some(target)) = (host_of(text), host_of(&link.href)) else {
        return false;
    };
    if !is_web_uri(&link.href) {
        return false;
    }
    let shown = shown.trim_start_matches("www.");
    let target = target.trim_start_matches("www.");
    !(shown == target
        || target.ends_with(&format!(".{shown}"))
        || shown.ends_with(&format!(".{target}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("http://Example.COM/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            host_of("https://bank.com@10.1.2.3:8080/login").as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(host_of("www.foo.org?q").as_deref(), Some("www.foo.org"));
        assert_eq!(
            host_of("http://[2001:db8::1]/").as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn text_uris_trim_punctuation() {
        let mut v = Vec::new();
        find_in_text("see http://a.example/x. and www.b.example, ok", &mut v);
        let urls: Vec<_> = v.iter().map(|u| u.url.as_str()).collect();
        assert_eq!(urls, ["http://a.example/x", "www.b.example"]);

        let mut v = Vec::new();
        find_in_text(
            "xhttp://glued.example http:// HTTPS://Up.Example/P<b> (ftp://f.example/a) \
             www.\u{a0}x <www.c.example>",
            &mut v,
        );
        let urls: Vec<_> = v.iter().map(|u| u.url.as_str()).collect();
        assert_eq!(
            urls,
            ["HTTPS://Up.Example/P", "ftp://f.example/a", "www.c.example"]
        );
        assert_eq!(v[0].host, "up.example");
    }

    #[test]
    fn distinct_uris_keep_first_sightings_and_count_only_distinct_ones() {
        let mut uris = DistinctUris::default();
        let mut links = Vec::new();
        // 300 links, each named in its anchor and again by the text scan:
        // 600 sightings, more than the cap, but only 300 URIs.
        let html: String = (0..300)
            .map(|i| format!("<a href=\"http://h{i}.example/?a=1&amp;b=2\">x</a> "))
            .collect();
        find_in_html(&html, &mut uris, &mut links);
        uris.add_in_text("again http://h0.example/?a=1&b=2 and www.later.example");
        let uris = uris.into_vec();
        assert_eq!(uris.len(), 301);
        assert_eq!(uris[0].url, "http://h0.example/?a=1&b=2");
        assert_eq!(uris[299].host, "h299.example");
        assert_eq!(uris[300].host, "www.later.example");

        let mut full = DistinctUris::default();
        let text: String = (0..MAX_URIS + 10)
            .map(|i| format!("http://n{i}.example "))
            .collect();
        full.add_in_text(&text);
        assert!(!full.add("http://one-more.example"));
        assert_eq!(full.into_vec().len(), MAX_URIS);

        let mut few = DistinctUris::default();
        few.add_in_text("http://a.example http://b.example http://a.example/ http://a.example");
        let urls: Vec<String> = few.into_vec().into_iter().map(|u| u.url).collect();
        assert_eq!(
            urls,
            ["http://a.example", "http://b.example", "http://a.example/"]
        );
    }

    #[test]
    fn anchor_scanner_edge_cases() {
        let mut uris = DistinctUris::default();
        let mut links = Vec::new();
        let html = "<A HREF=http://x.example/a?b=1&amp;c=2 class=q><b>Click</b>\n here</A>\
                    <a name=top>no href</a><a title='href=fake' href=\"http://y.example\">y</a><a href=\"unterminated";
        find_in_html(html, &mut uris, &mut links);
        assert_eq!(links[0].href, "http://x.example/a?b=1&c=2");
        assert_eq!(links[0].text, "Click here");
        assert_eq!(links[1].href, "http://y.example");
        assert_eq!(links.len(), 2);
    }

    #[test]
    fn unclosed_anchors_end_at_the_next_anchor_or_a_window() {
        let mut uris = DistinctUris::default();
        let mut links = Vec::new();
        let html = format!(
            "<a href=http://a.example>first <a href=http://b.example>second</a>{}",
            "<a href=http://c.example>".to_string() + &"word ".repeat(10_000)
        );
        find_in_html(&html, &mut uris, &mut links);
        assert_eq!(links[0].text, "first");
        assert_eq!(links[1].text, "second");
        assert!(links[2].text.chars().count() <= MAX_ANCHOR_TEXT);
        assert!(links[2].text.starts_with("word word"));
    }

    #[test]
    fn anchors_and_mismatch() {
        let mut uris = DistinctUris::default();
        let mut links = Vec::new();
        let imgs = find_in_html(
            r#"<p><a href="http://evil.example/login">https://www.paypal.com</a>
               <a href='https://docs.example.org/a'>docs.example.org</a><img src=x></p>"#,
            &mut uris,
            &mut links,
        );
        assert_eq!(imgs, 1);
        assert_eq!(links.len(), 2);
        assert!(link_text_mismatch(&links[0]));
        assert!(!link_text_mismatch(&links[1]));
        assert!(uris.into_vec().iter().any(|u| u.host == "evil.example"));
    }
}
