//! Email: the mail-parser adapter that turns raw RFC 5322 bytes into a [`Message`].

use super::host::{self, Host};
use super::html::append_text;
use super::identity::{client_ip, normalise_address, received_from_ip};
use super::uri::{DistinctUris, find_in_html};
use super::{Channel, Facts, Header, Mailbox, Message};
use mail_parser::parsers::MessageStream;
use mail_parser::{Address, HeaderName, HeaderValue, MessageParser, MimeHeaders, PartType};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;

/// mail-parser set up to decode only what the filter reads: MIME structure,
/// Subject, the address headers, Date and Message-ID. Every other header is
/// skipped by the parser and read from the raw bytes; Received headers are
/// parsed on demand, only as far down the trail as the client IP lies.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::ReplyTo)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_date(HeaderName::Date)
        .header_id(HeaderName::MessageId)
        .header_id(HeaderName::ReturnPath)
        .default_header_ignore()
});

/// How email is read.
#[derive(Debug, Clone)]
pub struct EmailOptions {
    /// Received headers at the top added by the receiving site itself; the
    /// client IP is taken from the first public address below them.
    pub trusted_hops: usize,
    /// Decoded body text kept for matching; the rest is ignored (as
    /// SpamAssassin does), so a huge message cannot stall the filter.
    pub max_body_bytes: usize,
    /// authserv-ids of your own MTAs: an `Authentication-Results` field of
    /// theirs is read as the message's authentication results (when the
    /// front end did not authenticate it itself); any other is ignored.
    pub trusted_authserv_ids: Vec<String>,
}

impl Default for EmailOptions {
    fn default() -> Self {
        EmailOptions {
            trusted_hops: 0,
            max_body_bytes: 512 * 1024,
            trusted_authserv_ids: Vec::new(),
        }
    }
}

/// Nested message/rfc822 parts are read to this depth.
const MAX_NESTING: u32 = 3;

/// The mail-parser configuration spamsift reads email with (the static
/// `PARSER`: only the headers the filter reads are decoded).
pub fn mail_parser() -> &'static MessageParser {
    &PARSER
}

/// Parse raw email bytes. Never fails: what mail-parser cannot read is
/// salvaged as plain text and [`Facts::parse_failed`] is set.
pub fn parse(raw: &[u8], opts: &EmailOptions) -> Message {
    // Old Mac mail ends its lines with CR alone: read them as line ends.
    let lf;
    let raw = if has_cr_only_line_ends(raw) {
        lf = raw
            .iter()
            .map(|&b| if b == b'\r' { b'\n' } else { b })
            .collect::<Vec<u8>>();
        &lf[..]
    } else {
        raw
    };
    let content = strip_mbox_from_line(raw);
    let mut msg = Message {
        channel: Channel::Email,
        size: raw.len(),
        ..Message::default()
    };
    if !starts_with_header_field(content) {
        salvage(content, opts, &mut msg);
        return msg;
    }
    let Some(first) = PARSER.parse(content) else {
        salvage(content, opts, &mut msg);
        return msg;
    };
    // A multipart whose closing delimiter never comes leaves its last
    // part undecoded (base64 read as text, and not shown as the message
    // text): closed and read again, its text is matched as any other.
    let closed = close_open_multiparts(&first, content);
    let reparsed = closed
        .as_deref()
        .and_then(|c| PARSER.parse(c).map(|p| (p, c)));
    let (parsed, content) = match &reparsed {
        Some((p, c)) => (p, *c),
        None => (&first, content),
    };

    let decoded = read_headers(parsed, content, &mut msg);
    read_identities(parsed, content, opts, &mut msg, decoded.from.as_deref());
    let mut uris = DistinctUris::default();
    read_parts(parsed, opts, &mut msg, &mut uris, 0);
    if reparsed.is_some() {
        // Still a broken message, as mail-parser first read it.
        msg.facts.encoding_problem = true;
    }
    msg.uris = uris.into_vec();
    truncate_body(opts, &mut msg);
    msg
}

/// Multiparts whose closing delimiters are looked for (each a search of
/// the whole message): the outermost, which a message's nesting needs, not
/// a hostile message's thousands.
const MAX_OPEN_MULTIPARTS: usize = 8;

/// `content` with the closing delimiters of the multiparts it never
/// closes appended (innermost first), when mail-parser read a part of it
/// as badly encoded; `None` when nothing is left open.
fn close_open_multiparts(parsed: &mail_parser::Message<'_>, content: &[u8]) -> Option<Vec<u8>> {
    if !parsed.parts.iter().any(|p| p.is_encoding_problem) {
        return None;
    }
    let boundaries = parsed
        .parts
        .iter()
        .filter(|p| matches!(p.body, PartType::Multipart(_)))
        .filter_map(|p| p.content_type().and_then(|ct| ct.attribute("boundary")))
        .take(MAX_OPEN_MULTIPARTS);
    let mut open: Vec<&str> = Vec::new();
    for boundary in boundaries {
        let closer = format!("--{boundary}--");
        if !open.contains(&boundary) && memchr::memmem::find(content, closer.as_bytes()).is_none() {
            open.push(boundary);
        }
    }
    if open.is_empty() {
        return None;
    }
    let mut closed = Vec::with_capacity(content.len() + open.len() * 80);
    closed.extend_from_slice(content);
    for boundary in open.iter().rev() {
        closed.extend_from_slice(b"\r\n--");
        closed.extend_from_slice(boundary.as_bytes());
        closed.extend_from_slice(b"--\r\n");
    }
    Some(closed)
}

/// Whether a message ends its lines with CR alone: a CR in its first
/// kilobytes and no LF there.
fn has_cr_only_line_ends(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(4096)];
    memchr::memchr(b'\n', head).is_none() && memchr::memchr(b'\r', head).is_some()
}

/// Whether a line is the start of a header field: `Name:` with a printable,
/// colon-free name (RFC 5322 section 2.2).
pub fn is_field_start(line: &[u8]) -> bool {
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(i) => line[..i].iter().all(|&b| (33..=126).contains(&b)),
    }
}

/// Whether raw bytes begin with a header field, i.e. can be a message at all.
pub fn starts_with_header_field(content: &[u8]) -> bool {
    let first = content.split(|&b| b == b'\n').next().unwrap_or_default();
    is_field_start(first.strip_suffix(b"\r").unwrap_or(first))
}

/// Skip the mbox `From ` separator line that some stores keep first.
pub fn strip_mbox_from_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(i) => &raw[i + 1..],
            None => &raw[raw.len()..],
        }
    } else {
        raw
    }
}

fn salvage(content: &[u8], opts: &EmailOptions, msg: &mut Message) {
    msg.facts.parse_failed = true;
    let limit = content.len().min(opts.max_body_bytes);
    msg.body = String::from_utf8_lossy(&content[..limit]).into_owned();
    let mut uris = DistinctUris::default();
    uris.add_in_text(&msg.body);
    msg.uris = uris.into_vec();
}

/// Most header fields kept for matching: a message of a million fields
/// costs no more than this many (real mail has a few dozen).
pub const MAX_HEADERS: usize = 1000;

/// Header fields written raw in a legacy charset, read as text (see
/// [`header_text`]); what mail-parser made of them is not used.
#[derive(Default)]
struct RawDecoded {
    subject: Option<String>,
    from: Option<String>,
}

/// A header field's raw bytes as text. UTF-8 is read as it is (borrowed).
/// Many Japanese, Chinese, Korean and Russian mailers write the Subject and
/// the From name raw in the message's charset (8-bit Shift_JIS, EUC-JP,
/// GBK, Big5, EUC-KR, KOI8-R; or ISO-2022-JP escapes) instead of as RFC
/// 2047 encoded words; read as UTF-8 those would be replacement characters
/// or escape codes, and no rule could match them. They are read (owned) in
/// the charset the message declares for its text, else the one `chardetng`
/// (Firefox's detector) guesses from the bytes.
///
/// `declared` is the message's declared charset, looked up once per message
/// (a message may have many header fields and many parts).
fn header_text<'a>(
    bytes: &'a [u8],
    parsed: &mail_parser::Message<'_>,
    declared: &mut Option<Option<&'static encoding_rs::Encoding>>,
) -> Cow<'a, str> {
    let has_escape = memchr::memchr(0x1b, bytes).is_some();
    if has_escape
        && [&b"\x1b$B"[..], b"\x1b$@", b"\x1b(J", b"\x1b(I"]
            .iter()
            .any(|esc| memchr::memmem::find(bytes, esc).is_some())
    {
        let (text, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(bytes);
        return Cow::Owned(text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let encoding = declared
        .get_or_insert_with(|| declared_text_charset(parsed))
        .unwrap_or_else(|| {
            let mut detector = chardetng::EncodingDetector::new();
            detector.feed(bytes, true);
            detector.guess(None, false)
        });
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    Cow::Owned(text.into_owned())
}

/// The charset a message declares for its text: the first `charset`
/// parameter of a Content-Type, top level first, when it names a legacy
/// charset (header bytes that are not UTF-8 are not in UTF-8 or ASCII,
/// whatever the body says).
fn declared_text_charset(
    parsed: &mail_parser::Message<'_>,
) -> Option<&'static encoding_rs::Encoding> {
    parsed
        .parts
        .iter()
        .filter_map(|part| part.content_type()?.attribute("charset"))
        .map(str::trim)
        // encoding_rs reads "us-ascii" as windows-1252: not a declaration
        // of any 8-bit charset.
        .filter(|label| !label.to_ascii_lowercase().contains("ascii"))
        .filter_map(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
        .find(|e| *e != encoding_rs::UTF_8 && *e != encoding_rs::ISO_2022_JP)
}

fn read_headers(
    parsed: &mail_parser::Message<'_>,
    content: &[u8],
    msg: &mut Message,
) -> RawDecoded {
    let mut decoded = RawDecoded::default();
    let mut declared = None;
    msg.headers
        .reserve_exact(parsed.headers().len().min(MAX_HEADERS));
    for h in parsed.headers().iter().take(MAX_HEADERS) {
        let bytes = content
            .get(h.offset_start as usize..h.offset_end as usize)
            .unwrap_or_default();
        let raw_value = header_text(bytes, parsed, &mut declared);
        let legacy = matches!(raw_value, Cow::Owned(_));
        // Keep the raw (unfolded) form unless it holds RFC 2047 encoded
        // words, so ids, dates and addresses keep their structure.
        let value = if !raw_value.contains("=?") {
            unfold(&raw_value)
        } else {
            match &h.value {
                HeaderValue::Address(a) => format_address(a).unwrap_or_else(|| unfold(&raw_value)),
                HeaderValue::Empty => decode_encoded_words(&raw_value),
                other => text_value(other).unwrap_or_else(|| unfold(&raw_value)),
            }
        };
        let name = match &h.name {
            HeaderName::Other(other) => {
                common_name(other).map_or_else(|| Cow::Owned(other.to_string()), Cow::Borrowed)
            }
            known => Cow::Borrowed(known.as_static_str()),
        };
        // A Subject or From read in a legacy charset (with no encoded
        // words, which mail-parser decodes itself) replaces mail-parser's.
        if legacy && !raw_value.contains("=?") {
            match h.name {
                HeaderName::Subject if decoded.subject.is_none() => {
                    decoded.subject = Some(value.clone());
                }
                HeaderName::From if decoded.from.is_none() => decoded.from = Some(value.clone()),
                _ => {}
            }
        }
        msg.headers.push(Header { name, value });
    }
    msg.subject = match decoded.subject.take() {
        Some(text) => text,
        None => parsed.subject().unwrap_or_default().to_string(),
    };

    let date_present = msg.header("Date").is_some();
    msg.facts.has_date = date_present;
    match parsed.date().filter(|d| d.is_valid()) {
        Some(d) => msg.time = date_time(d),
        None => msg.facts.bad_date = date_present,
    }

    msg.stamped = msg
        .header("Received")
        .and_then(|r| r.rsplit_once(';'))
        .and_then(|(_, date)| mail_parser::DateTime::parse_rfc822(date.trim()))
        .filter(mail_parser::DateTime::is_valid)
        .and_then(|d| date_time(&d));

    let id_form = parsed
        .header_raw(HeaderName::MessageId)
        .map(str::trim)
        .map(|raw_id| {
            raw_id.len() > 2
                && raw_id.starts_with('<')
                && raw_id.ends_with('>')
                && raw_id[1..raw_id.len() - 1].contains('@')
                && !raw_id.contains(' ')
        });
    if let Some(well_formed) = id_form {
        msg.facts.has_message_id = true;
        msg.facts.bad_message_id = !well_formed;
    }
    msg.message_id = parsed.message_id().map(str::to_string);
    decoded
}

/// Header fields common in mail that mail-parser does not name: kept as
/// static strings instead of a copy per message.
const COMMON_NAMES: &[&str] = &[
    "Authentication-Results",
    "Delivered-To",
    "Delivery-Date",
    "Errors-To",
    "Importance",
    "Organization",
    "Precedence",
    "Received-SPF",
    "User-Agent",
    "X-Accept-Language",
    "X-Authentication-Warning",
    "X-Beenthere",
    "X-Loop",
    "X-Mailer",
    "X-Mailman-Version",
    "X-MIME-Autoconverted",
    "X-MimeOLE",
    "X-MSMail-Priority",
    "X-Original-To",
    "X-Originating-IP",
    "X-Priority",
    "X-Sender",
    "X-Spam-Checker-Version",
    "X-Spam-Flag",
    "X-Spam-Level",
    "X-Spam-Status",
    "X-Virus-Scanned",
];

/// `name` as a static string when it is one of [`COMMON_NAMES`], spelled
/// exactly so (names keep the spelling they came in).
fn common_name(name: &str) -> Option<&'static str> {
    COMMON_NAMES.iter().copied().find(|&c| c == name)
}

/// A parsed Date as a chrono time in its own offset; `None` for a day
/// the month does not have.
fn date_time(d: &mail_parser::DateTime) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    use chrono::TimeZone;
    let offset = i32::from(d.tz_hour) * 3600 + i32::from(d.tz_minute) * 60;
    let offset = chrono::FixedOffset::east_opt(if d.tz_before_gmt { -offset } else { offset })?;
    offset
        .with_ymd_and_hms(
            i32::from(d.year),
            u32::from(d.month),
            u32::from(d.day),
            u32::from(d.hour),
            u32::from(d.minute),
            u32::from(d.second),
        )
        .single()
}

/// A header value the parser skipped, with its RFC 2047 encoded words decoded.
fn decode_encoded_words(raw: &str) -> String {
    let mut stream = MessageStream::new(raw.as_bytes());
    text_value(&stream.parse_unstructured()).unwrap_or_else(|| unfold(raw))
}

fn text_value(value: &HeaderValue<'_>) -> Option<String> {
    match value {
        HeaderValue::Text(t) => Some(t.to_string()),
        HeaderValue::TextList(list) => Some(list.join(", ")),
        _ => None,
    }
}

fn format_address(a: &Address<'_>) -> Option<String> {
    let parts: Vec<String> = a
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(", "))
    }
}

/// A header value on one line: folded lines joined by one space, trimmed.
fn unfold(raw: &str) -> String {
    let value = raw.trim();
    let bytes = value.as_bytes();
    if memchr::memchr2(b'\r', b'\n', bytes).is_none() {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut start = 0;
    let ends = memchr::memchr2_iter(b'\r', b'\n', bytes).chain([bytes.len()]);
    for end in ends {
        // Line breaks are ASCII: both ends are character boundaries.
        let line = value[start..end].trim();
        start = end + 1;
        if !line.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    out
}

fn mailbox(a: Option<&Address<'_>>) -> Option<Mailbox> {
    let first = a?.first()?;
    Some(Mailbox {
        name: first.name().map(str::to_string),
        address: first.address().map(normalise_address),
    })
}

fn read_identities(
    parsed: &mail_parser::Message<'_>,
    content: &[u8],
    opts: &EmailOptions,
    msg: &mut Message,
    raw_from: Option<&str>,
) {
    msg.from = match raw_from {
        // A From written raw in a legacy charset: its decoded text, read
        // as an address list.
        Some(text) => match MessageStream::new(text.as_bytes()).parse_address() {
            HeaderValue::Address(a) => mailbox(Some(&a)),
            _ => mailbox(parsed.from()),
        },
        None => mailbox(parsed.from()),
    };
    msg.reply_to = mailbox(parsed.reply_to());
    msg.return_path = parsed.return_address().map(normalise_address);
    if !opts.trusted_authserv_ids.is_empty() {
        // The topmost field of a trusted authserv-id: the last one added.
        msg.auth = msg
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("Authentication-Results"))
            .find_map(|h| crate::auth::read_results(&h.value, &opts.trusted_authserv_ids));
    }
    msg.hosts = host::Hosts {
        from: msg
            .from
            .as_ref()
            .and_then(|m| m.domain())
            .and_then(Host::parse),
        reply_to: msg
            .reply_to
            .as_ref()
            .and_then(|m| m.domain())
            .and_then(Host::parse),
        return_path: msg.return_path.as_deref().and_then(Host::of_address),
    };
    msg.sender = msg
        .from
        .as_ref()
        .and_then(|m| m.address.clone())
        .unwrap_or_default();
    for a in [parsed.to(), parsed.cc()].into_iter().flatten() {
        msg.recipients
            .extend(a.iter().filter_map(|x| x.address()).map(normalise_address));
    }
    msg.client_ip = client_ip(received_ips(parsed, content), opts.trusted_hops);
}

/// The `from` IPs of the Received headers, top-down, read lazily so only
/// the hops down to the client are looked at.
fn received_ips<'a>(
    parsed: &'a mail_parser::Message<'_>,
    content: &'a [u8],
) -> impl Iterator<Item = Option<IpAddr>> + 'a {
    parsed
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::Received)
        .map(move |h| {
            content
                .get(h.offset_start as usize..h.offset_end as usize)
                .and_then(received_from_ip)
        })
}

/// Most MIME parts whose Content-Type is recorded.
const MAX_PART_TYPES: usize = 64;

fn read_parts(
    parsed: &mail_parser::Message<'_>,
    opts: &EmailOptions,
    msg: &mut Message,
    uris: &mut DistinctUris,
    depth: u32,
) {
    // The parts a reader sees as the message text: one per alternative
    // (text/plain preferred, HTML converted when it is the only form).
    // Marked once: looking each part up in `text_body` made a message of
    // many small parts cost time quadratic in their number (a 4 MB message
    // of 40,000 parts took 0.3 s, two thirds of it in that search).
    let mut is_shown = vec![false; parsed.parts.len()];
    for &p in &parsed.text_body {
        if let Some(s) = is_shown.get_mut(p as usize) {
            *s = true;
        }
    }
    for (index, part) in parsed.parts.iter().enumerate() {
        if part.is_encoding_problem {
            msg.facts.encoding_problem = true;
        }
        if msg.attachments.len() < MAX_PART_TYPES
            && let Some(name) = part.attachment_name()
        {
            let name: String = name.trim().chars().take(256).collect();
            msg.attachments.push(name.to_lowercase());
        }
        if msg.part_types.len() < MAX_PART_TYPES
            && let Some(ct) = part.content_type()
        {
            let mut t = ct.c_type.to_ascii_lowercase();
            if let Some(sub) = &ct.c_subtype {
                t.push('/');
                t.push_str(&sub.to_ascii_lowercase());
            }
            if let Some(cs) = ct.attribute("charset") {
                t.push_str("; charset=");
                t.push_str(&cs.to_ascii_lowercase());
            }
            msg.part_types.push(t);
        }
        if msg.body.len() >= opts.max_body_bytes {
            // Still count structure, but read no more text.
            count_part(&part.body, &mut msg.facts);
            continue;
        }
        match &part.body {
            PartType::Text(text) => {
                msg.facts.text_parts += 1;
                uris.add_in_text(text);
                if is_shown[index] {
                    if !msg.body.is_empty() {
                        msg.body.push('\n');
                    }
                    super::paragraphs::append_unwrapped(text, &mut msg.body);
                }
            }
            PartType::Html(html) => {
                msg.facts.html_parts += 1;
                msg.facts.html_bytes += html.len() as u64;
                msg.facts.html_images += find_in_html(html, uris, &mut msg.links);
                if msg.html.len() < opts.max_body_bytes {
                    push_text(&mut msg.html, html);
                }
                if is_shown[index] {
                    if !msg.body.is_empty() {
                        msg.body.push('\n');
                    }
                    append_text(html, &mut msg.body);
                }
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => msg.facts.attachments += 1,
            PartType::Message(inner) => {
                msg.facts.attachments += 1;
                if depth < MAX_NESTING {
                    read_parts(inner, opts, msg, uris, depth + 1);
                }
            }
            PartType::Multipart(_) => {}
        }
    }
}

fn count_part(body: &PartType<'_>, facts: &mut Facts) {
    match body {
        PartType::Text(_) => facts.text_parts += 1,
        PartType::Html(_) => facts.html_parts += 1,
        PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Message(_) => {
            facts.attachments += 1
        }
        PartType::Multipart(_) => {}
    }
}

fn push_text(body: &mut String, text: &str) {
    if !body.is_empty() {
        body.push('\n');
    }
    body.push_str(text);
}

/// Cut the body text to `max_body_bytes` (at a character boundary).
fn truncate_body(opts: &EmailOptions, msg: &mut Message) {
    if msg.body.len() > opts.max_body_bytes {
        let mut cut = opts.max_body_bytes;
        while !msg.body.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.body.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &[u8] = b"From sender@example.com  Mon Jan  1 00:00:00 2002\n\
Received: from mx.example.net (mx.example.net [10.0.0.2]) by mail.example.org\n\
Received: from client.example.com (client.example.com [203.0.113.5]) by mx.example.net\n\
From: \"Alice\" <alice@Example.COM>\n\
To: bob@example.org\n\
Subject: =?utf-8?q?Hello_there?=\n\
Date: Mon, 1 Jan 2002 10:00:00 +0000\n\
Message-ID: <1@example.com>\n\
\n\
Visit http://www.example.com/page now.\n";

    #[test]
    fn reads_headers_identities_and_body() {
        let m = parse(SIMPLE, &EmailOptions::default());
        assert_eq!(m.subject, "Hello there");
        assert_eq!(m.sender, "alice@example.com");
        assert_eq!(m.sender_domain(), Some("example.com"));
        assert_eq!(
            m.from.as_ref().and_then(|f| f.name.as_deref()),
            Some("Alice")
        );
        assert_eq!(
            m.client_ip,
            Some("203.0.113.5".parse().expect("valid literal"))
        );
        assert_eq!(m.recipients, ["bob@example.org"]);
        assert_eq!(m.uris[0].host, "www.example.com");
        assert!(m.facts.has_date && !m.facts.bad_date);
        assert!(m.facts.has_message_id && !m.facts.bad_message_id);
        assert!(m.body.contains("Visit"));
        assert_eq!(m.headers[0].name, "Received");
    }

    /// Multiparts left open, closed before they are read: each case's
    /// body must show its decoded text, the structure still counting as
    /// broken; a closed one is read as it is.
    #[test]
    fn open_multiparts_are_closed_and_read() {
        // "Act now and save" in base64.
        let b64 = "QWN0IG5vdyBhbmQgc2F2ZQ==";
        let cases = [
            (
                "one open multipart, base64",
                format!(
                    "From: a@example.com\nSubject: x\nMIME-Version: 1.0\n\
                     Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
                     Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n{b64}\n"
                ),
                true,
            ),
            (
                "two nested, neither closed",
                format!(
                    "From: a@example.com\nSubject: x\nMIME-Version: 1.0\n\
                     Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\n\
                     Content-Type: multipart/alternative; boundary=\"inner\"\n\n--inner\n\
                     Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n{b64}\n"
                ),
                true,
            ),
            (
                "closed",
                format!(
                    "From: a@example.com\nSubject: x\nMIME-Version: 1.0\n\
                     Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
                     Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n{b64}\n--b1--\n"
                ),
                false,
            ),
        ];
        for (name, raw, broken) in cases {
            let m = parse(raw.as_bytes(), &EmailOptions::default());
            assert!(m.body.contains("Act now and save"), "{name}: {:?}", m.body);
            assert_eq!(m.facts.encoding_problem, broken, "{name}");
        }
    }

    #[test]
    fn dates_keep_their_offset_and_impossible_days_give_no_time() {
        let with_date = |date: &str| {
            let raw = format!("From: a@example.com\nDate: {date}\nSubject: x\n\nhi\n");
            parse(raw.as_bytes(), &EmailOptions::default())
        };
        let m = with_date("Mon, 1 Jan 2002 10:00:00 -0530");
        assert_eq!(
            m.time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2002-01-01T10:00:00-05:30")
        );
        let m = with_date("Thu, 31 Feb 2002 10:00:00 +0000");
        assert!(m.time.is_none() && m.facts.has_date);
    }

    #[test]
    fn folded_values_are_unfolded_and_names_keep_their_spelling() {
        let raw = b"Received: from a.example\r\n\tby b.example\r\n   \r\n  with SMTP\r\n\
X-MSMail-Priority: Normal\r\nx-mailer: \xc2\xa0Mutt \r\nX-Custom-Thing: one\r\n two\r\n\r\nbody\r\n";
        let m = parse(raw, &EmailOptions::default());
        let fields: Vec<(&str, &str)> = m
            .headers
            .iter()
            .map(|h| (h.name.as_ref(), h.value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Received", "from a.example by b.example with SMTP"),
                ("X-MSMail-Priority", "Normal"),
                ("x-mailer", "Mutt"),
                ("X-Custom-Thing", "one two"),
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\0\xff\xfe",
            b"From \n",
            b"Subject: x\n\n\xff\xff",
            b":::\n\n",
        ] {
            let _ = parse(raw, &EmailOptions::default());
        }
    }
}
