//! A milter client playing the MTA (miltr-client), for the tests that
//! drive spamsift's milter.
#![allow(dead_code)]

use miltr_client::Client;
use miltr_common::commands::{Body, Connect, Family, Header};
use miltr_common::modifications::ModificationResponse;
use miltr_common::optneg::{OptNeg, Protocol};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// What Postfix offers in option negotiation: protocol 6 with no reply
/// asked for any command but end of body (the milter picks what it wants).
pub fn postfix_offer() -> OptNeg {
    OptNeg {
        protocol: Protocol::NR_CONNECT
            | Protocol::NR_HELO
            | Protocol::NR_MAIL
            | Protocol::NR_RECIPIENT
            | Protocol::NR_DATA
            | Protocol::NR_UNKNOWN
            | Protocol::NR_END_OF_HEADER
            | Protocol::NR_BODY
            | Protocol::NR_HEADER,
        ..OptNeg::default()
    }
}

/// Header fields (name, value) as bytes.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Split a raw message into header fields and body, as bytes: an MTA
/// passes header fields on as they came, 8-bit bytes and all.
pub fn split(raw: &[u8]) -> (Fields, Vec<u8>) {
    let (head, body) = match memchr::memmem::find(raw, b"\r\n\r\n") {
        Some(i) if memchr::memmem::find(&raw[..i], b"\n\n").is_none() => (&raw[..i], &raw[i + 4..]),
        _ => match memchr::memmem::find(raw, b"\n\n") {
            Some(i) => (&raw[..i], &raw[i + 2..]),
            None => (raw, &raw[raw.len()..]),
        },
    };
    let mut fields: Fields = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let Some(last) = fields.last_mut() {
                last.1.extend_from_slice(b"\r\n");
                last.1.extend_from_slice(line);
            }
        } else if let Some(i) = line.iter().position(|&b| b == b':') {
            let value = &line[i + 1..];
            let start = value
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(value.len());
            fields.push((line[..i].to_vec(), value[start..].to_vec()));
        }
    }
    // Body lines end in CRLF on the wire.
    let mut crlf = Vec::with_capacity(body.len() + body.len() / 32);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            crlf.extend_from_slice(b"\r\n");
        }
        crlf.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    (fields, crlf)
}

/// One message through the milter, offering what Postfix offers.
pub async fn session(addr: &str, client_ip: &str, raw: &[u8]) -> ModificationResponse {
    session_offering(addr, client_ip, raw, postfix_offer()).await
}

/// One message through the milter, offering `offer` (`OptNeg::default()`:
/// a reply to every command, as older MTAs ask).
pub async fn session_offering(
    addr: &str,
    client_ip: &str,
    raw: &[u8],
    offer: OptNeg,
) -> ModificationResponse {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Each command is its own write here: with no reply to wait for,
    // Nagle would hold each for the milter's delayed ACK. Sendmail sets
    // TCP_NODELAY (MILTER_NO_NAGLE); Postfix buffers them into one write.
    stream.set_nodelay(true).unwrap();
    let client = Client::new(offer);
    let mut conn = client.connect_via(stream.compat()).await.unwrap();
    conn.connect(Connect::new(
        b"client.example",
        Family::Inet,
        Some(40000),
        client_ip.as_bytes(),
    ))
    .await
    .unwrap();
    conn.helo(b"client.example".as_slice()).await.unwrap();
    conn.mail(b"<sender@example.com>".as_slice()).await.unwrap();
    conn.recipient(b"<bob@example.net>".as_slice())
        .await
        .unwrap();
    conn.data().await.unwrap();
    let (fields, body) = split(raw);
    for (n, v) in &fields {
        conn.header(Header::new(n, v)).await.unwrap();
    }
    conn.end_of_header().await.unwrap();
    // Milter packets hold at most 64 KiB: send the body in chunks, as an MTA does.
    for chunk in body.chunks(60_000) {
        conn.body(Body::from(chunk)).await.unwrap();
    }
    let resp = conn.end_of_body().await.unwrap();
    let _ = conn.quit().await;
    resp
}
