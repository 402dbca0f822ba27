//! SpamAssassin's spamd protocol (SPAMC/1.0–1.5), so that `spamc`, Exim's
//! `spam =` condition and other spamd clients use spamsift unchanged.
//!
//! One request per connection, as spamd serves it:
//!
//! ```text
//! CHECK SPAMC/1.5\r\n
//! Content-length: 1234\r\n
//! User: bob\r\n
//! \r\n
//! <the message>
//! ```
//!
//! answered `SPAMD/1.1 0 EX_OK` with `Spam: True ; 7.3 / 5.0` and, by
//! method, the hit list (SYMBOLS), a report (REPORT, REPORT_IFSPAM), the
//! marked-up message (PROCESS) or its header block (HEADERS). PING answers
//! `PONG`; SKIP closes. Malformed requests get the sysexits code spamd
//! uses (64–79). A message the engine cannot classify gets a "not spam"
//! answer and a log line, never a dropped connection. TELL (`spamc -L`)
//! learns into the model file when enabled (`--allow-tell`), with the
//! books `spamsift learn` keeps; the running daemon reads the file at its
//! next start.

use crate::frontend::{Envelope, Limits, Outcome, check_email_prepared};
use crate::net::IpNet;
use crate::{Engine, Verdict, headers};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Longest request line or header line.
const MAX_LINE: usize = 8 * 1024;
/// Most request header lines.
const MAX_HEADERS: usize = 64;

/// Settings of the spamd front end.
#[derive(Debug, Clone)]
pub struct SpamdOptions {
    /// Size and time limits per message.
    pub limits: Limits,
    /// Clients allowed to connect (spamd's `--allowed-ips`).
    pub allowed: Vec<IpNet>,
    /// A client that sends nothing for this long is dropped.
    pub idle_timeout: Duration,
    /// The model file TELL learns into; `None`: TELL is refused unless
    /// `tell_shared`.
    pub tell_model: Option<std::path::PathBuf>,
    /// TELL learns into the shared state (`[state] backend = "redis"`),
    /// for the request's `User` too with `[state] per_user`.
    pub tell_shared: bool,
    /// Sender authentication (`[dns]` configured): DKIM, DMARC and ARC
    /// (the spamd protocol carries no client address for SPF).
    pub auth: Option<crate::auth::Authenticator>,
}

impl Default for SpamdOptions {
    fn default() -> Self {
        SpamdOptions {
            limits: Limits::default(),
            allowed: vec![
                IpNet::parse("127.0.0.1").unwrap_or_else(|e| panic!("{e}")),
                IpNet::parse("::1").unwrap_or_else(|e| panic!("{e}")),
            ],
            idle_timeout: Duration::from_secs(30),
            tell_model: None,
            tell_shared: false,
            auth: None,
        }
    }
}

/// A request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Check,
    Symbols,
    Report,
    ReportIfSpam,
    Process,
    Headers,
    Ping,
    Skip,
    Tell,
}

impl Method {
    fn parse(s: &str) -> Option<Method> {
        Some(match s {
            "CHECK" => Method::Check,
            "SYMBOLS" => Method::Symbols,
            "REPORT" => Method::Report,
            "REPORT_IFSPAM" => Method::ReportIfSpam,
            "PROCESS" => Method::Process,
            "HEADERS" => Method::Headers,
            "PING" => Method::Ping,
            "SKIP" => Method::Skip,
            "TELL" => Method::Tell,
            _ => return None,
        })
    }
}

/// A protocol error: the sysexits code and what to say.
#[derive(Debug)]
struct ProtocolError(u8, String);

fn exit_name(code: u8) -> &'static str {
    match code {
        0 => "EX_OK",
        64 => "EX_USAGE",
        65 => "EX_DATAERR",
        66 => "EX_NOINPUT",
        69 => "EX_UNAVAILABLE",
        70 => "EX_SOFTWARE",
        74 => "EX_IOERR",
        76 => "EX_PROTOCOL",
        77 => "EX_NOPERM",
        79 => "EX_TIMEOUT",
        _ => "EX_SOFTWARE",
    }
}

/// The `Spam:` header value of a verdict (`True ; 7.3 / 5.0`).
fn spam_line(v: &Verdict, yes_no: bool) -> String {
    let word = match (v.is_spam(), yes_no) {
        (true, false) => "True",
        (false, false) => "False",
        (true, true) => "Yes",
        (false, true) => "No",
    };
    format!("{word} ; {:.1} / {:.1}", v.score, v.threshold)
}

/// A SpamAssassin-style report body.
fn report(v: &Verdict) -> String {
    let mut out = format!(
        "Content analysis details:   ({:.1} points, {:.1} required)\r\n\r\n pts rule name              description\r\n---- ---------------------- --------------------------------------------------\r\n",
        v.score, v.threshold
    );
    for h in &v.hits {
        out.push_str(&format!(
            "{:>4.1} {:<22} {}\r\n",
            h.score, h.id, h.description
        ));
    }
    out
}

/// The header block of a message (up to and including the empty line).
fn header_block(msg: &[u8]) -> &[u8] {
    let lf = memchr::memmem::find(msg, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::find(msg, b"\r\n\r\n").map(|i| i + 4);
    let end = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(msg.len()),
    };
    &msg[..end]
}

/// Read one request and answer it.
async fn handle<S>(engine: &Arc<Engine>, opts: &SpamdOptions, stream: S, peer: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let mut reader = BufReader::new(reader);
    let answer = match tokio::time::timeout(
        opts.idle_timeout,
        answer(engine, opts, &mut reader, peer),
    )
    .await
    {
        Ok(Ok(Some(bytes))) => bytes,
        Ok(Ok(None)) => return, // SKIP, or the client went away
        Ok(Err(ProtocolError(code, why))) => {
            tracing::info!(peer, code, "spamd request refused: {why}");
            format!("SPAMD/1.0 {code} {why}\r\n\r\n").into_bytes()
        }
        Err(_) => format!("SPAMD/1.0 79 {}\r\n\r\n", exit_name(79)).into_bytes(),
    };
    let _ = writer.write_all(&answer).await;
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}

/// Read a line (without its line end), bounded.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> Result<Option<String>, ProtocolError> {
    let mut buf = Vec::new();
    let n = (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|e| ProtocolError(74, format!("read error: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(ProtocolError(64, "line too long".into()));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| ProtocolError(64, "bad header line: not UTF-8".into()))
}

/// The whole exchange but the write: `None` when nothing is to be answered.
async fn answer<R: tokio::io::AsyncBufRead + Unpin>(
    engine: &Arc<Engine>,
    opts: &SpamdOptions,
    reader: &mut R,
    peer: &str,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    let Some(first) = read_line(reader).await? else {
        return Ok(None);
    };
    let (method, version) = first
        .split_once(' ')
        .ok_or_else(|| ProtocolError(76, format!("bad header line: {first}")))?;
    if !version.starts_with("SPAMC/") {
        return Err(ProtocolError(76, format!("bad header line: {first}")));
    }
    let method = Method::parse(method)
        .ok_or_else(|| ProtocolError(76, format!("bad header line: {first}")))?;
    let mut length: Option<usize> = None;
    let mut user: Option<String> = None;
    let mut compressed = false;
    let (mut class, mut set, mut remove) = (None, false, false);
    for _ in 0..=MAX_HEADERS {
        let Some(line) = read_line(reader).await? else {
            return Err(ProtocolError(
                76,
                "unexpected end of request headers".into(),
            ));
        };
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ProtocolError(64, format!("bad header line: {line}")))?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(
                    value
                        .parse()
                        .map_err(|_| ProtocolError(64, format!("bad content-length: {value}")))?,
                );
            }
            "user" => user = Some(value.to_string()).filter(|u| !u.is_empty()),
            "message-class" => class = Some(value.to_ascii_lowercase()),
            "set" => set = value.split(',').any(|v| v.trim() == "local"),
            "remove" => remove = value.split(',').any(|v| v.trim() == "local"),
            "compress" if value.eq_ignore_ascii_case("zlib") => compressed = true,
            "compress" => {
                return Err(ProtocolError(64, format!("unknown compression: {value}")));
            }
            _ => {} // unknown headers are ignored, as the protocol says
        }
    }
    match method {
        Method::Ping => return Ok(Some(b"SPAMD/1.5 0 PONG\r\n".to_vec())),
        Method::Skip => return Ok(None),
        Method::Tell if opts.tell_model.is_none() && !opts.tell_shared => {
            return Err(ProtocolError(
                69,
                "TELL commands have not been enabled (spamsift spamd --allow-tell)".into(),
            ));
        }
        _ => {}
    }
    let length = length.ok_or_else(|| ProtocolError(64, "missing content-length".into()))?;
    let max = opts.limits.max_size;
    // Over the size limit: read and drop, then answer "not spam" (fail
    // open), as a message the engine cannot classify.
    // Only max + 1 bytes are kept; the rest of a larger body is read
    // and dropped, so a client cannot make us hold more.
    let keep = length.min(max + 1);
    let mut body = Vec::with_capacity(keep);
    let mut got = (&mut *reader)
        .take(keep as u64)
        .read_to_end(&mut body)
        .await
        .map_err(|e| ProtocolError(74, format!("read error: {e}")))?;
    if length > keep {
        got += tokio::io::copy(
            &mut (&mut *reader).take((length - keep) as u64),
            &mut tokio::io::sink(),
        )
        .await
        .map_err(|e| ProtocolError(74, format!("read error: {e}")))? as usize;
    }
    if got < length {
        return Err(ProtocolError(
            65,
            format!("message truncated: {got} of {length} bytes"),
        ));
    }
    if compressed {
        body = inflate(&body, max)?;
    }
    if body.len() > max && matches!(method, Method::Process | Method::Headers) {
        // Only part of it was kept, so it cannot be given back: an error,
        // on which spamc passes the message on unchanged.
        return Err(ProtocolError(
            65,
            format!("message larger than the size limit of {max} bytes"),
        ));
    }
    if method == Method::Tell {
        return tell(
            engine,
            opts,
            body,
            class.as_deref(),
            (set, remove),
            user.as_deref(),
        )
        .await;
    }
    let mut envelope = Envelope {
        user: user.clone(),
        ..Envelope::default()
    };
    let parsed = if body.len() <= max {
        envelope
            .authenticate(opts.auth.as_ref(), engine, &body)
            .await
    } else {
        None
    };
    let outcome = if body.len() > max {
        Outcome::PassedThrough(format!("larger than the size limit of {max} bytes"))
    } else {
        // CPU work: inline when small, else off the reactor.
        let (e, limits) = (Arc::clone(engine), opts.limits);
        let size = body.len();
        let job = crate::listener::classification_work(engine, size, move || {
            let o = check_email_prepared(&e, &body, parsed, &envelope, &limits);
            (o, body)
        });
        match job.await {
            Ok((o, b)) => {
                body = b;
                o
            }
            Err(e) => {
                body = Vec::new();
                Outcome::PassedThrough(format!("classification failed: {e}"))
            }
        }
    };
    let verdict = match outcome {
        Outcome::Classified(v) => {
            tracing::info!(peer, user = ?user, score = v.score, action = %v.action, hits = %v.tests(), "classified");
            v
        }
        Outcome::PassedThrough(why) => {
            tracing::warn!(peer, user = ?user, reason = %why, "message not classified; answered not spam");
            let t = engine.config().thresholds(crate::Channel::Email);
            Verdict {
                channel: crate::Channel::Email,
                score: 0.0,
                threshold: t.tag,
                action: crate::Action::Ham,
                hits: Vec::new(),
                bayes: None,
            }
        }
    };
    let mut head = String::from("SPAMD/1.1 0 EX_OK\r\n");
    let body_out: Option<Vec<u8>> = match method {
        Method::Check => {
            head.push_str(&format!("Spam: {}\r\n\r\n", spam_line(&verdict, false)));
            None
        }
        Method::Symbols => {
            let mut ids: Vec<&str> = verdict.hits.iter().map(|h| &*h.id).collect();
            ids.sort_unstable();
            Some(ids.join(",").into_bytes())
        }
        Method::Report => Some(report(&verdict).into_bytes()),
        Method::ReportIfSpam if verdict.is_spam() => Some(report(&verdict).into_bytes()),
        Method::ReportIfSpam => {
            head.push_str(&format!("Spam: {}\r\n\r\n", spam_line(&verdict, true)));
            None
        }
        Method::Process | Method::Headers => {
            let marked = headers::rewrite(&body, &verdict, &engine.config().markup)
                .unwrap_or_else(|_| headers::strip_result_fields(&body).into_owned());
            Some(if method == Method::Headers {
                header_block(&marked).to_vec()
            } else {
                marked
            })
        }
        Method::Ping | Method::Skip | Method::Tell => None,
    };
    let mut out = head.into_bytes();
    if let Some(b) = body_out {
        let yes_no = method == Method::ReportIfSpam;
        out.extend_from_slice(
            format!(
                "Spam: {}\r\nContent-length: {}\r\n\r\n",
                spam_line(&verdict, yes_no),
                b.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&b);
    }
    Ok(Some(out))
}

/// TELL: learn (`Set: local`) or unlearn (`Remove: local`) the message as
/// `Message-class` into the model file, under its update lock.
async fn tell(
    engine: &Arc<Engine>,
    opts: &SpamdOptions,
    body: Vec<u8>,
    class: Option<&str>,
    (set, remove): (bool, bool),
    user: Option<&str>,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    use crate::bayes::{LearnOutcome, MemoryStore, features, message_digest};
    use crate::corpus::Label;
    let label = match class {
        Some("spam") => Label::Spam,
        Some("ham") => Label::Ham,
        _ => {
            return Err(ProtocolError(
                64,
                "TELL needs Message-class: spam or ham".into(),
            ));
        }
    };
    if set == remove {
        return Err(ProtocolError(
            64,
            "TELL needs one of Set: local or Remove: local".into(),
        ));
    }
    if opts.tell_shared {
        return tell_shared(engine, body, label, remove, user).await;
    }
    let Some(model) = opts.tell_model.clone() else {
        return Err(ProtocolError(
            69,
            "TELL commands have not been enabled".into(),
        ));
    };
    let e = Arc::clone(engine);
    let job = tokio::task::spawn_blocking(move || {
        let msg = e.parse_email(&body);
        let f = features(&msg, &e.config().bayes.tokenizer());
        let d = message_digest(&msg);
        let mut outcome = LearnOutcome::Done;
        MemoryStore::update(&model, MemoryStore::new, |s| {
            outcome = s.learn_message(d, &f, label, remove);
        })
        .map(|_| outcome)
    });
    match job.await {
        // Nothing changed (known already, or never learned as that class):
        // no DidSet/DidRemove, which spamc reports as "already un/learned".
        Ok(Ok(LearnOutcome::NotLearned(_) | LearnOutcome::AlreadyLearned)) => Ok(Some(
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n".to_vec(),
        )),
        Ok(Ok(_)) => {
            let did = if remove { "DidRemove" } else { "DidSet" };
            Ok(Some(
                format!("SPAMD/1.1 0 EX_OK\r\n{did}: local\r\nContent-length: 0\r\n\r\n")
                    .into_bytes(),
            ))
        }
        Ok(Err(e)) => {
            tracing::error!("TELL: {e}");
            Err(ProtocolError(74, "the model could not be updated".into()))
        }
        Err(e) => Err(ProtocolError(70, format!("learning failed: {e}"))),
    }
}

/// TELL into the shared state: every filter on the Redis learns at once
/// (and the `User`'s own model with `[state] per_user`). Unlearning is not
/// kept there: refused, as is learning while Redis is down (so spamc
/// reports the failure and nothing is silently dropped).
async fn tell_shared(
    engine: &Arc<Engine>,
    body: Vec<u8>,
    label: crate::corpus::Label,
    remove: bool,
    user: Option<&str>,
) -> Result<Option<Vec<u8>>, ProtocolError> {
    use crate::bayes::LearnOutcome;
    if remove {
        return Err(ProtocolError(
            69,
            "Remove: the shared state (Redis) does not unlearn; learn the message as the other class instead".into(),
        ));
    }
    let e = Arc::clone(engine);
    // The protocol's user is whose model learns it, as when classifying.
    let envelope = Envelope {
        user: user.map(str::to_string),
        ..Envelope::default()
    };
    let job = tokio::task::spawn_blocking(move || {
        let mut msg = e.parse_email(&body);
        envelope.apply(&mut msg);
        e.bayes().and_then(|b| b.learn_shared(&msg, label))
    });
    match job.await {
        Ok(Some(Ok(LearnOutcome::AlreadyLearned | LearnOutcome::NotLearned(_)))) => Ok(Some(
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n".to_vec(),
        )),
        Ok(Some(Ok(_))) => Ok(Some(
            b"SPAMD/1.1 0 EX_OK\r\nDidSet: local\r\nContent-length: 0\r\n\r\n".to_vec(),
        )),
        Ok(Some(Err(e))) => Err(ProtocolError(75, format!("not learned: {e}"))),
        Ok(None) => Err(ProtocolError(69, "the shared state does not learn".into())),
        Err(e) => Err(ProtocolError(70, format!("learning failed: {e}"))),
    }
}

/// Decompress a zlib body, refusing more than `max` bytes (a zlib bomb).
fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, ProtocolError> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ProtocolError(65, format!("bad zlib body: {e}")))?;
    if out.len() > max {
        return Err(ProtocolError(
            65,
            format!("compressed message inflates past the size limit of {max} bytes"),
        ));
    }
    Ok(out)
}

/// Serve spamd connections until `shutdown` resolves, then let the ones in
/// flight finish (up to 30 s).
pub async fn serve(
    engine: Arc<Engine>,
    opts: SpamdOptions,
    listen: crate::listener::Listen,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let mut listener = crate::listener::ListenerOptions::new("spamd");
    listener.allowed = opts.allowed.clone();
    let opts = Arc::new(opts);
    crate::listener::run(&listen, listener, shutdown, move |c| {
        let (engine, opts) = (Arc::clone(&engine), Arc::clone(&opts));
        async move {
            let peer = c.peer_name();
            handle(&engine, &opts, c.stream, &peer).await;
        }
    })
    .await
}

/// Answer one request given as bytes (for tests and fuzzing): the reply bytes.
pub async fn exchange(engine: &Arc<Engine>, opts: &SpamdOptions, request: &[u8]) -> Vec<u8> {
    crate::listener::exchange(request, |s| handle(engine, opts, s, "test")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAM: &str = "From: Prize Office <win@lottery.example>\r\nTo: you@example.org\r\nSubject: CONGRATULATIONS!!! YOU HAVE WON $1,000,000\r\n\r\nClick here to claim your prize now! Act now! 100% free, no risk. Send your bank details to claim the transfer.\r\n";
    const HAM: &str = "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: lunch\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nSee you at noon.\r\n";

    fn request(method: &str, body: &str) -> Vec<u8> {
        format!(
            "{method} SPAMC/1.5\r\nContent-length: {}\r\nUser: bob\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn ask(req: &[u8]) -> String {
        let engine = Arc::new(Engine::with_defaults().expect("default rules"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        String::from_utf8_lossy(&rt.block_on(exchange(&engine, &SpamdOptions::default(), req)))
            .into_owned()
    }

    #[test]
    fn methods_answer_as_spamd_does() {
        assert_eq!(ask(b"PING SPAMC/1.5\r\n\r\n"), "SPAMD/1.5 0 PONG\r\n");
        let check = ask(&request("CHECK", SPAM));
        assert!(
            check.starts_with("SPAMD/1.1 0 EX_OK\r\nSpam: True ; "),
            "{check}"
        );
        assert!(check.ends_with("\r\n\r\n"), "{check:?}");
        let ham = ask(&request("CHECK", HAM));
        assert!(
            ham.starts_with("SPAMD/1.1 0 EX_OK\r\nSpam: False ; "),
            "{ham}"
        );
        let symbols = ask(&request("SYMBOLS", SPAM));
        let (head, body) = symbols.split_once("\r\n\r\n").expect("head and body");
        assert!(
            head.contains(&format!("Content-length: {}", body.len())),
            "{symbols}"
        );
        assert!(body.contains("BODY_CLICK_HERE"), "{body}");
        let report = ask(&request("REPORT", SPAM));
        assert!(report.contains("Content analysis details:"), "{report}");
        let not = ask(&request("REPORT_IFSPAM", HAM));
        assert!(not.contains("Spam: No ; "), "{not}");
        let process = ask(&request("PROCESS", SPAM));
        let (_, message) = process.split_once("\r\n\r\n").expect("head and body");
        assert!(
            message.starts_with("X-Spam-Checker-Version: spamsift"),
            "{message}"
        );
        assert!(message.ends_with("transfer.\r\n"), "{message}");
        let headers = ask(&request("HEADERS", SPAM));
        let (_, block) = headers.split_once("\r\n\r\n").expect("head and body");
        assert!(
            block.contains("X-Spam-Flag: YES") && !block.contains("Click here"),
            "{block}"
        );
        assert_eq!(ask(b"SKIP SPAMC/1.5\r\n\r\n"), "");
    }

    #[test]
    fn malformed_requests_get_sysexits_codes() {
        let table: &[(&[u8], &str)] = &[
            (b"FETCH SPAMC/1.5\r\n\r\n", "SPAMD/1.0 76 "),
            (b"CHECK HTTP/1.1\r\n\r\n", "SPAMD/1.0 76 "),
            (
                b"CHECK SPAMC/1.5\r\nContent-length: ten\r\n\r\n",
                "SPAMD/1.0 64 ",
            ),
            (b"CHECK SPAMC/1.5\r\nno colon here\r\n\r\n", "SPAMD/1.0 64 "),
            (
                b"CHECK SPAMC/1.5\r\n\r\nbody",
                "SPAMD/1.0 64 missing content-length",
            ),
            (
                b"CHECK SPAMC/1.5\r\nContent-length: 500\r\n\r\nshort",
                "SPAMD/1.0 65 message truncated",
            ),
            (
                b"CHECK SPAMC/1.5\r\nContent-length: 5\r\nCompress: zlib\r\n\r\nnotzl",
                "SPAMD/1.0 65 bad zlib",
            ),
            (
                b"TELL SPAMC/1.5\r\nContent-length: 0\r\n\r\n",
                "SPAMD/1.0 69 ",
            ),
        ];
        for (req, want) in table {
            let got = ask(req);
            assert!(
                got.starts_with(want),
                "{:?}: {got}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn compressed_bodies_and_zlib_bombs() {
        use std::io::Write;
        let zip = |data: &[u8]| {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).expect("compress");
            e.finish().expect("compress")
        };
        let z = zip(SPAM.as_bytes());
        let mut req = format!(
            "CHECK SPAMC/1.5\r\nContent-length: {}\r\nCompress: zlib\r\n\r\n",
            z.len()
        )
        .into_bytes();
        req.extend_from_slice(&z);
        assert!(ask(&req).contains("Spam: True ; "));
        // 64 MB of zeros in a few kilobytes: refused, not inflated.
        let bomb = zip(&vec![0u8; 64 << 20]);
        let mut req = format!(
            "CHECK SPAMC/1.5\r\nContent-length: {}\r\nCompress: zlib\r\n\r\n",
            bomb.len()
        )
        .into_bytes();
        req.extend_from_slice(&bomb);
        assert!(ask(&req).starts_with("SPAMD/1.0 65 compressed message inflates past"));
    }
}
