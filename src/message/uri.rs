//! Finding URIs in text and HTML, and their hosts.

use super::Link;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::LazyLock;

/// Most URIs kept per message; hostile mail cannot make us collect millions.
pub const MAX_URIS: usize = 512;
/// Most HTML anchors kept per message.
pub const MAX_LINKS: usize = 512;

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
        let url = url.replace("&amp;", "&");
        let host = host_of(&url).unwrap_or_default();
        Uri { url, host }
    }

    /// The host parsed as an IP address, if it is a bare IP.
    pub fn host_ip(&self) -> Option<IpAddr> {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.parse().ok()
    }
}

static TEXT_URI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>"'`{}|\\^\[\]]+"#).expect("static regex")
});

static HTML_ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>(.*?)</a\s*>"#)
        .expect("static regex")
});

static HTML_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").expect("static regex"));

static HTML_IMG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<img\b").expect("static regex"));

/// Append the URIs written in `text` to `out` (bounded by [`MAX_URIS`]).
pub fn find_in_text(text: &str, out: &mut Vec<Uri>) {
    for m in TEXT_URI.find_iter(text) {
        if out.len() >= MAX_URIS {
            return;
        }
        let s = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '>']);
        out.push(Uri::new(s));
    }
}

/// Collect anchors and URIs from raw HTML; returns the number of `<img>` tags.
pub fn find_in_html(html: &str, uris: &mut Vec<Uri>, links: &mut Vec<Link>) -> u32 {
    for caps in HTML_ANCHOR.captures_iter(html) {
        if links.len() >= MAX_LINKS {
            break;
        }
        let href = caps
            .get(1)
            .or_else(|| caps.get(2))
            .or_else(|| caps.get(3))
            .map_or("", |m| m.as_str())
            .trim();
        let inner = caps.get(4).map_or("", |m| m.as_str());
        let text = HTML_TAG.replace_all(inner, " ");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if href.is_empty() {
            continue;
        }
        if is_web_uri(href) && uris.len() < MAX_URIS {
            uris.push(Uri::new(href));
        }
        links.push(Link {
            text,
            href: href.replace("&amp;", "&"),
        });
    }
    // URIs in attributes other than anchors (img src, forms) and in text.
    find_in_text(html, uris);
    HTML_IMG.find_iter(html).count().min(u32::MAX as usize) as u32
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
    }

    #[test]
    fn anchors_and_mismatch() {
        let mut uris = Vec::new();
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
        assert!(uris.iter().any(|u| u.host == "evil.example"));
    }
}
