//! The milter over the real protocol, with `miltr-client` playing the MTA:
//! full sessions for ham, spam and reject, aborts, concurrency, fail-open.

use miltr_client::Client;
use miltr_common::actions::Action;
use miltr_common::commands::{Connect, Family, Header};
use miltr_common::encoding::Writable;
use miltr_common::modifications::{ModificationAction, ModificationResponse};
use miltr_common::optneg::OptNeg;
use spamsift::milter::{Listen, MilterOptions, serve};
use spamsift::{Config, Engine, Thresholds};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
#[path = "common/milter_client.rs"]
mod milter_client;
use milter_client::session;
use tokio_util::compat::TokioAsyncReadCompatExt;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The handle of a milter started by [`start`] or [`start_with`]: its
/// address, a shutdown trigger and its task.
type Started = (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// Start a milter on a free port; returns the address and a shutdown trigger.
async fn start(opts: MilterOptions) -> Started {
    let mut config = Config::default();
    config.thresholds[0] = Thresholds {
        tag: 5.0,
        quarantine: None,
        reject: Some(15.0),
    };
    start_with(
        Arc::new(Engine::builder().config(config).build().unwrap()),
        opts,
    )
    .await
}

/// Start a milter serving `engine` on a free port.
async fn start_with(engine: Arc<Engine>, opts: MilterOptions) -> Started {
    let addr = format!("127.0.0.1:{}", free_port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listen = Listen::Inet(addr.clone());
    let handle = tokio::spawn(async move {
        serve(engine, opts, listen, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (addr, tx, handle)
}

/// The advance-fee fixture with 400 KB of extra body text.
fn slow_fixture() -> Vec<u8> {
    let mut mail = fixture("spam-advance-fee.eml");
    for _ in 0..8000 {
        mail.extend_from_slice(b"Kindly send your bank details to claim the transfer now.\n");
    }
    mail
}

/// The message with a sender's forged verdict fields first.
fn forged(raw: &[u8]) -> Vec<u8> {
    [
        b"X-Spam-Flag: NO\nX-Spam-Status: No, score=-100.0\n".as_slice(),
        raw,
    ]
    .concat()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/email")
            .join(name),
    )
    .unwrap()
}

/// The `X-Spam-Status` value the milter added ("" when none).
fn spam_status(resp: &ModificationResponse) -> String {
    added(resp)
        .into_iter()
        .find(|(n, _)| n == "X-Spam-Status")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn added(resp: &ModificationResponse) -> Vec<(String, String)> {
    resp.modifications()
        .iter()
        .filter_map(|m| match m {
            ModificationAction::AddHeader(h) => Some((h.name().to_string(), h.value().to_string())),
            _ => None,
        })
        .collect()
}

fn deleted(resp: &ModificationResponse) -> Vec<String> {
    resp.modifications()
        .iter()
        .filter_map(|m| match m {
            ModificationAction::ChangeHeader(h) if h.value().is_empty() => {
                Some(h.name().to_string())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ham_spam_and_reject_sessions() {
    let (addr, stop, handle) = start(MilterOptions::default()).await;

    let ham = session(&addr, "192.0.2.10", &fixture("ham-newsletter.eml")).await;
    assert!(
        matches!(ham.final_action(), Action::Continue(_)),
        "{:?}",
        ham.final_action()
    );
    let h = added(&ham);
    assert!(
        h.iter()
            .any(|(n, v)| n == "X-Spam-Status" && v.starts_with("No, score=")),
        "{h:?}"
    );
    assert!(!h.iter().any(|(n, _)| n == "X-Spam-Flag"));

    let spam = session(&addr, "198.51.100.23", &fixture("spam-password-expiry.eml")).await;
    assert!(matches!(spam.final_action(), Action::Continue(_)));
    let s = added(&spam);
    assert!(
        s.iter().any(|(n, v)| n == "X-Spam-Flag" && v == "YES"),
        "{s:?}"
    );
    assert!(
        s.iter()
            .any(|(n, v)| n == "X-Spam-Status" && v.starts_with("Yes, score="))
    );

    // A smuggled X-Spam-* header is deleted, and the verdict is high enough to reject.
    let reject = session(&addr, "203.0.113.45", &fixture("spam-pharmacy-tagged.eml")).await;
    match reject.final_action() {
        Action::Replycode(r) => {
            assert_eq!(r.rcode().code(), [5, 5, 0]);
            assert!(r.message().contains("rejected as spam"), "{}", r.message());
        }
        other => panic!("expected a 550 reply, got {other:?}"),
    }
    let d = deleted(&reject);
    assert!(
        d.contains(&"X-Spam-Flag".to_string()) && d.contains(&"X-Spam-Status".to_string()),
        "{d:?}"
    );

    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_mid_message_then_continue() {
    let (addr, stop, handle) = start(MilterOptions::default()).await;
    {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut conn = Client::new(OptNeg::default())
            .connect_via(stream.compat())
            .await
            .unwrap();
        conn.connect(Connect::new(b"c", Family::Inet, Some(1), b"192.0.2.1"))
            .await
            .unwrap();
        conn.mail(b"<a@b.example>".as_slice()).await.unwrap();
        conn.header(Header::new(b"Subject", b"half a message"))
            .await
            .unwrap();
        conn.abort().await.unwrap();
    }
    let ham = session(&addr, "192.0.2.10", &fixture("ham-list-reply.eml")).await;
    assert!(
        added(&ham)
            .iter()
            .any(|(n, v)| n == "X-Spam-Status" && v.starts_with("No"))
    );
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions_all_answered() {
    let (addr, stop, handle) = start(MilterOptions::default()).await;
    let mails = [
        fixture("ham-newsletter.eml"),
        fixture("spam-phish-html.eml"),
        fixture("spam-advance-fee.eml"),
    ];
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60 {
        let addr = addr.clone();
        let mail = mails[i % 3].clone();
        set.spawn(async move { (i % 3, session(&addr, "192.0.2.77", &mail).await) });
    }
    let mut answered = 0;
    while let Some(r) = set.join_next().await {
        let (kind, resp) = r.unwrap();
        let flagged = added(&resp).iter().any(|(n, _)| n == "X-Spam-Flag")
            || matches!(resp.final_action(), Action::Replycode(_));
        assert_eq!(flagged, kind != 0);
        answered += 1;
    }
    assert_eq!(answered, 60);
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_timeout_fail_open() {
    let (addr, stop, handle) = start(MilterOptions {
        max_size: 200,
        ..MilterOptions::default()
    })
    .await;
    let r = session(&addr, "192.0.2.1", &fixture("spam-advance-fee.eml")).await;
    assert!(matches!(r.final_action(), Action::Continue(_)));
    assert!(r.modifications().is_empty(), "oversize: accepted unchanged");
    // ... but never with the sender's own verdict.
    let r = session(
        &addr,
        "192.0.2.1",
        &forged(&fixture("spam-advance-fee.eml")),
    )
    .await;
    assert!(matches!(r.final_action(), Action::Continue(_)));
    let mut gone = deleted(&r);
    gone.sort();
    assert_eq!(
        gone,
        ["X-Spam-Flag", "X-Spam-Status"],
        "oversize: forged fields deleted"
    );
    assert!(added(&r).is_empty());
    stop.send(()).unwrap();
    handle.await.unwrap();

    // A message big enough that classifying it cannot finish within 1 ns.
    let slow = forged(&slow_fixture());
    let (addr, stop, handle) = start(MilterOptions {
        timeout: Duration::from_nanos(1),
        ..MilterOptions::default()
    })
    .await;
    let r = session(&addr, "192.0.2.1", &slow).await;
    assert!(matches!(r.final_action(), Action::Continue(_)));
    let mut gone = deleted(&r);
    gone.sort();
    assert_eq!(
        gone,
        ["X-Spam-Flag", "X-Spam-Status"],
        "timeout: forged fields deleted"
    );
    stop.send(()).unwrap();
    handle.await.unwrap();

    let (addr, stop, handle) = start(MilterOptions {
        timeout: Duration::from_nanos(1),
        on_error: spamsift::milter::FailAction::Tempfail,
        ..MilterOptions::default()
    })
    .await;
    let r = session(&addr, "192.0.2.1", &slow).await;
    assert!(
        matches!(r.final_action(), Action::Tempfail(_)),
        "{:?}",
        r.final_action()
    );
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_closed() {
    use tokio::io::AsyncReadExt;
    let (addr, stop, handle) = start(MilterOptions {
        idle_timeout: Duration::from_millis(300),
        ..MilterOptions::default()
    })
    .await;
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent session is closed: {closed:?}"
    );
    // Other sessions are not affected.
    let r = session(&addr, "192.0.2.1", &fixture("ham-newsletter.eml")).await;
    assert!(matches!(r.final_action(), Action::Continue(_)));
    stop.send(()).unwrap();
    handle.await.unwrap();
}

#[test]
fn listen_addresses() {
    assert_eq!(
        "inet:127.0.0.1:11332".parse::<Listen>(),
        Ok(Listen::Inet("127.0.0.1:11332".into()))
    );
    assert_eq!(
        "inet:11332@localhost".parse::<Listen>(),
        Ok(Listen::Inet("localhost:11332".into()))
    );
    assert_eq!(
        "unix:/run/s.sock".parse::<Listen>(),
        Ok(Listen::Unix("/run/s.sock".into()))
    );
    assert!("tcp:1.2.3.4".parse::<Listen>().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authentication_results_are_deleted_and_not_believed() {
    let mut config = Config::default();
    config.email.trusted_authserv_ids = vec!["mx.example.org".into()];
    let engine = Arc::new(Engine::builder().config(config).build().unwrap());
    let (addr, tx, handle) = start_with(engine, MilterOptions::default()).await;
    // The sender claims our MTA found SPF and DMARC passing, and carries
    // another site's results too.
    let raw = [
        b"Authentication-Results: other.example; spf=pass smtp.mailfrom=a@b.example\r\n".as_slice(),
        b"Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=security@bank.test;\r\n dmarc=pass header.from=bank.test\r\n",
        &fixture("spam-phish-html.eml"),
    ]
    .concat();
    let resp = session(&addr, "203.0.113.9", &raw).await;
    let deletions: Vec<(u32, String)> = resp
        .modifications()
        .iter()
        .filter_map(|m| match m {
            ModificationAction::ChangeHeader(h) if h.value().is_empty() => {
                Some((h.index(), h.name().to_string()))
            }
            _ => None,
        })
        .collect();
    assert!(
        deletions.contains(&(2, "Authentication-Results".to_string()))
            && !deletions.contains(&(1, "Authentication-Results".to_string())),
        "{deletions:?}"
    );
    let status = spam_status(&resp);
    assert!(
        !status.contains("DMARC_PASS") && !status.contains("SPF_PASS"),
        "{status}"
    );
    let _ = tx.send(());
    handle.await.unwrap();
}

/// One milter session over TCP carrying message after message, as Postfix
/// keeps one per SMTP connection: every reply must come without waiting on
/// the client's delayed ACK (the client here is an ordinary socket, Nagle
/// and delayed ACKs on). A reply written in several small segments
/// without `TCP_NODELAY` stalls about 40 ms per message; classification of
/// these small messages takes a few milliseconds even in a debug build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tcp_session_answers_every_message_without_a_stall() {
    let (addr, stop, handle) = start(MilterOptions::default()).await;
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let client = Client::new(OptNeg::default());
    let mut conn = client.connect_via(stream.compat()).await.unwrap();
    conn.connect(Connect::new(
        b"client.example",
        Family::Inet,
        Some(40000),
        b"192.0.2.10".as_slice(),
    ))
    .await
    .unwrap();
    conn.helo(b"client.example".as_slice()).await.unwrap();
    let mut took = Vec::new();
    for i in 0..200 {
        let t = std::time::Instant::now();
        conn.mail(b"<sender@example.com>".as_slice()).await.unwrap();
        conn.recipient(b"<bob@example.net>".as_slice())
            .await
            .unwrap();
        conn.data().await.unwrap();
        conn.header(Header::new(
            b"Subject".as_slice(),
            format!("note {i}").as_bytes(),
        ))
        .await
        .unwrap();
        conn.end_of_header().await.unwrap();
        conn.body(miltr_common::commands::Body::from(
            format!("See you at {i} o'clock.\r\n").as_bytes(),
        ))
        .await
        .unwrap();
        let resp = conn.end_of_body().await.unwrap();
        assert!(matches!(resp.final_action(), Action::Continue(_)));
        took.push(t.elapsed());
    }
    took.sort();
    let stalls = took
        .iter()
        .filter(|d| **d >= Duration::from_millis(35))
        .count();
    eprintln!(
        "200 messages in one session: p50 {:?}, p99 {:?}, {stalls} of 35 ms or more",
        took[100], took[198]
    );
    assert!(
        stalls <= 10,
        "{stalls} of 200 messages stalled (p50 {:?})",
        took[100]
    );
    let _ = conn.quit().await;
    stop.send(()).unwrap();
    handle.await.unwrap();
}

/// Offered what Postfix offers (no reply to any command but end of body),
/// the milter agrees, and the MTA may send a whole message at once: the
/// only frames back are the negotiated options and, after end of body,
/// the header changes and the verdict, in that order. A stray reply to a
/// header field would be read by the MTA as the answer to end of body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_reply_negotiated_only_end_of_body_is_answered() {
    use bytes::{BufMut, BytesMut};
    use miltr_common::commands::{Body, Data, EndOfBody, EndOfHeader, Helo, Mail, Recipient};
    use miltr_common::encoding::{ClientMessage, Writable};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn put(out: &mut BytesMut, m: ClientMessage) {
        out.put_u32(m.len() as u32 + 1);
        out.put_u8(m.code());
        m.write(out);
    }
    let (addr, stop, handle) = start(MilterOptions::default()).await;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut out = BytesMut::new();
    put(&mut out, milter_client::postfix_offer().into());
    stream.write_all(&out).await.unwrap();
    // The options come back alone: 4-byte length, 'O', version, actions, protocol.
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[4], b'O');
    let mut rest = vec![0u8; u32::from_be_bytes(head[..4].try_into().unwrap()) as usize - 1];
    stream.read_exact(&mut rest).await.unwrap();
    let agreed = u32::from_be_bytes(rest[8..12].try_into().unwrap());
    let expected = milter_client::postfix_offer().protocol.bits();
    assert_eq!(agreed, expected, "every no-reply flag offered is agreed");

    let (fields, body) = milter_client::split(&fixture("spam-password-expiry.eml"));
    let mut out = BytesMut::new();
    let cmd = |c: miltr_common::commands::Command| ClientMessage::from(c);
    put(
        &mut out,
        cmd(Connect::new(
            b"client.example",
            Family::Inet,
            Some(40000),
            b"198.51.100.23",
        )
        .into()),
    );
    put(
        &mut out,
        cmd(Helo::from(b"client.example".as_slice()).into()),
    );
    put(
        &mut out,
        cmd(Mail::from(b"<sender@example.com>".as_slice()).into()),
    );
    put(
        &mut out,
        cmd(Recipient::from(b"<bob@example.net>".as_slice()).into()),
    );
    put(&mut out, cmd(Data.into()));
    for (n, v) in &fields {
        put(&mut out, cmd(Header::new(n, v).into()));
    }
    put(&mut out, cmd(EndOfHeader.into()));
    put(&mut out, cmd(Body::from(body.as_slice()).into()));
    put(&mut out, cmd(EndOfBody.into()));
    // All of it in one write, replies not awaited.
    stream.write_all(&out).await.unwrap();

    let mut codes = Vec::new();
    loop {
        let mut head = [0u8; 5];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        let mut rest = vec![0u8; u32::from_be_bytes(head[..4].try_into().unwrap()) as usize - 1];
        stream.read_exact(&mut rest).await.unwrap();
        codes.push(head[4]);
        // 'c' continue (the verdict); 'y' a reply code; 'a' accept.
        if matches!(head[4], b'c' | b'y' | b'a' | b'r' | b't' | b'd') {
            break;
        }
    }
    let (last, mods) = codes.split_last().unwrap();
    assert_eq!(*last, b'c', "tagged and passed on: {codes:?}");
    assert!(
        !mods.is_empty() && mods.iter().all(|c| matches!(c, b'h' | b'm' | b'i')),
        "only header changes before the verdict: {:?}",
        codes.iter().map(|&c| c as char).collect::<String>()
    );
    drop(stream);
    stop.send(()).unwrap();
    handle.await.unwrap();
}

/// An MTA that asks for a reply to every command (no flags offered) gets
/// one to every command, and the same verdicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_no_reply_every_command_is_answered() {
    let (addr, stop, handle) = start(MilterOptions::default()).await;
    let ham = milter_client::session_offering(
        &addr,
        "192.0.2.10",
        &fixture("ham-newsletter.eml"),
        OptNeg::default(),
    )
    .await;
    assert!(matches!(ham.final_action(), Action::Continue(_)));
    assert!(!added(&ham).iter().any(|(n, _)| n == "X-Spam-Flag"));
    let spam = milter_client::session_offering(
        &addr,
        "198.51.100.23",
        &fixture("spam-password-expiry.eml"),
        OptNeg::default(),
    )
    .await;
    assert!(
        added(&spam)
            .iter()
            .any(|(n, v)| n == "X-Spam-Flag" && v == "YES")
    );
    stop.send(()).unwrap();
    handle.await.unwrap();
}

/// A Japanese message written as many Japanese mailers write it: Subject
/// raw in Shift_JIS (8-bit bytes, no RFC 2047 encoded words), body 8bit.
fn raw_shift_jis_spam() -> (Vec<u8>, Vec<u8>) {
    let sjis = |t: &str| encoding_rs::SHIFT_JIS.encode(t).0.into_owned();
    let subject = sjis("未承諾広告※ 今だけ無料で会員登録");
    let mail = [
        b"From: info@deai.example\r\nTo: bob@example.net\r\nSubject: ".as_slice(),
        &subject,
        b"\r\nDate: Tue, 01 Dec 2026 10:00:00 +0900\r\nMessage-ID: <sjis-1@deai.example>\r\n\
          MIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\
          Content-Transfer-Encoding: 8bit\r\n\r\n",
        &sjis("完全無料で今すぐ登録！素敵な出会いが待っています。\r\n"),
    ]
    .concat();
    (mail, subject)
}

/// The milter hands header fields to the engine as the MTA sent them: a
/// Subject raw in Shift_JIS is read as Japanese (it gets the verdict that
/// `check` gives the same bytes), and the rewritten Subject keeps the
/// original bytes after the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_bit_header_fields_reach_the_engine_as_sent() {
    let mut config = Config::default();
    config.markup.rewrite_subject = Some("[SPAM] ".into());
    let engine = Arc::new(Engine::builder().config(config).build().unwrap());
    let (mail, subject) = raw_shift_jis_spam();
    let direct = engine.classify(&engine.parse_email(&mail));
    assert!(
        direct
            .hits
            .iter()
            .any(|h| &*h.id == "JA_UNSOLICITED_AD_LABEL")
            && direct.is_spam(),
        "{direct:?}"
    );
    let (addr, tx, handle) = start_with(Arc::clone(&engine), MilterOptions::default()).await;
    let resp = session(&addr, "203.0.113.7", &mail).await;
    let status = spam_status(&resp);
    assert!(
        status.starts_with(&format!("Yes, score={:.1}", direct.score))
            && status.contains("JA_UNSOLICITED_AD_LABEL"),
        "{status} (check: {:.1})",
        direct.score
    );
    // The Subject change, as bytes on the wire: index, name NUL, value NUL.
    let rewritten: Vec<Vec<u8>> = resp
        .modifications()
        .iter()
        .filter_map(|m| match m {
            ModificationAction::ChangeHeader(h) if h.name() == "Subject" => {
                let mut wire = bytes::BytesMut::new();
                h.write(&mut wire);
                Some(wire[4 + "Subject".len() + 1..wire.len() - 1].to_vec())
            }
            _ => None,
        })
        .collect();
    assert_eq!(rewritten, vec![[b"[SPAM] ".as_slice(), &subject].concat()]);
    let _ = tx.send(());
    handle.await.unwrap();
}
