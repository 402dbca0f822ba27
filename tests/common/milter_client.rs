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

/// Split a raw message into header fields and body.
pub fn split(raw: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = fields.last_mut() {
                last.1.push_str("\r\n");
                last.1.push_str(line);
            }
        } else if let Some((n, v)) = line.split_once(':') {
            fields.push((n.to_string(), v.trim_start().to_string()));
        }
    }
    (fields, body.replace('\n', "\r\n").into_bytes())
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
        conn.header(Header::new(n.as_bytes(), v.as_bytes()))
            .await
            .unwrap();
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
