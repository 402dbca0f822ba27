//! A milter client playing the MTA (miltr-client), for the tests that
//! drive spamsift's milter.
#![allow(dead_code)]

use miltr_client::Client;
use miltr_common::commands::{Body, Connect, Family, Header};
use miltr_common::modifications::ModificationResponse;
use miltr_common::optneg::OptNeg;
use tokio_util::compat::TokioAsyncReadCompatExt;

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

pub async fn session(addr: &str, client_ip: &str, raw: &[u8]) -> ModificationResponse {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = Client::new(OptNeg::default());
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
