//! Exim's `spam =` ACL condition against spamsift, end to end: Debian's
//! exim4-daemon-heavy receives ham and spam over SMTP (`exim -bs`, with
//! its own configuration) and asks `spamsift spamd` (SpamAssassin mode)
//! or `spamsift rspamd` (`variant=rspamd`, the legacy RSPAMC protocol).
//! Spam is refused with 550 at DATA; ham is queued with the headers the
//! ACL adds from `$spam_score` and `$spam_action`. Without Exim the test
//! says so and is skipped, except under CI, where it fails.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn exim() -> Option<std::path::PathBuf> {
    common::real_tool(
        "exim4 (exim4-daemon-heavy)",
        &["/opt/spamsift-test/exim/usr/sbin/exim4", "/usr/sbin/exim4"],
    )
}

/// An Exim configuration asking the scanner at `spamd_address`.
fn config(dir: &Path, spamd_address: &str) -> std::path::PathBuf {
    let d = dir.display();
    let conf = format!(
        r#"primary_hostname = mx.test.example
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
exim_user = root
exim_group = root
keep_environment =
spamd_address = {spamd_address}
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
  accept

acl_data:
  warn  spam = nobody:true
        add_header = X-Test-Score: $spam_score
        add_header = X-Test-Action: $spam_action
  deny  spam = nobody
        message = rejected as spam (score $spam_score)
  accept

begin routers
r:
  driver = accept
  transport = t

begin transports
t:
  driver = appendfile
  file = {d}/mailbox
"#
    );
    let path = dir.join("exim.conf");
    std::fs::write(&path, conf).expect("config");
    path
}

/// One SMTP session through `exim -bs`: its replies, and the header file
/// of the message it queued (if it did).
fn deliver(exim: &Path, conf: &Path, spool: &Path, raw: &[u8]) -> (String, Option<String>) {
    let before: Vec<_> = list(spool);
    let mut child = Command::new(exim)
        .arg("-C")
        .arg(conf)
        .args(["-bs", "-odq", "-oMa", "192.0.2.25"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run exim");
    let mut session = b"EHLO client.example\r\nMAIL FROM:<sender@client.example>\r\nRCPT TO:<user@test.example>\r\nDATA\r\n".to_vec();
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            session.push(b'.');
        }
        session.extend_from_slice(line);
        session.extend_from_slice(b"\r\n");
    }
    session.extend_from_slice(b".\r\nQUIT\r\n");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&session)
        .expect("write");
    let out = child.wait_with_output().expect("exim");
    let replies = String::from_utf8_lossy(&out.stdout).into_owned();
    let queued = list(spool)
        .into_iter()
        .find(|p| !before.contains(p) && p.to_string_lossy().ends_with("-H"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default());
    (replies, queued)
}

fn list(spool: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(spool.join("input"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::root().join("tests/fixtures/email").join(name)).expect("fixture")
}

fn run_both(exim: &Path, spamd_address: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["spool", "log"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    let conf = config(dir.path(), spamd_address);
    let spool = dir.path().join("spool");
    let (replies, queued) = deliver(exim, &conf, &spool, &fixture("spam-advance-fee.eml"));
    // On failure, Exim's own logs say why it could not ask the scanner.
    let logs = || {
        ["paniclog", "mainlog", "rejectlog"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(dir.path().join("log").join(f));
                format!("--- {f} ---\n{}", text.unwrap_or_default())
            })
            .collect::<String>()
    };
    assert!(
        replies.contains("550 rejected as spam (score "),
        "{spamd_address}: {replies}\n{}",
        logs()
    );
    assert!(queued.is_none(), "spam was queued");
    let (replies, queued) = deliver(exim, &conf, &spool, &fixture("ham-list-reply.eml"));
    assert!(
        replies.contains("250 OK id="),
        "{spamd_address}: {replies}\n{}",
        logs()
    );
    let headers = queued.expect("ham queued");
    assert!(
        headers.contains("X-Test-Action: no action"),
        "{spamd_address}: {headers}"
    );
    // The score the scanner gave, as Exim read it.
    let check = common::run(&["check", "--json"], &fixture("ham-list-reply.eml"));
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    let score = v["score"].as_f64().expect("score");
    // Exim's own Received field is part of what it scans; the fixture's
    // verdict does not hinge on it.
    assert!(
        headers.contains(&format!("X-Test-Score: {score:.1}")),
        "{spamd_address}: want {score:.1}: {headers}"
    );
}

#[test]
fn exim_spam_condition_with_spamd() {
    let Some(exim) = exim() else { return };
    let port = common::free_port();
    let _d = common::daemon(
        &["spamd", "--listen", &format!("inet:127.0.0.1:{port}")],
        port,
    );
    run_both(&exim, &format!("127.0.0.1 {port}"));
}

#[test]
fn exim_spam_condition_with_variant_rspamd() {
    let Some(exim) = exim() else { return };
    let port = common::free_port();
    let _d = common::daemon(
        &[
            "rspamd",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--controller",
            "none",
        ],
        port,
    );
    run_both(&exim, &format!("127.0.0.1 {port} variant=rspamd"));
}
