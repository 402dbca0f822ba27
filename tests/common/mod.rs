//! Helpers the integration tests share: running the `spamsift` binary.
#![allow(dead_code)] // each test file uses some of them

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The project root; commands run there, so relative paths such as
/// `corpora/suite.toml` resolve.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `spamsift ARGS` with no input.
pub fn spamsift(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run spamsift")
}

/// `spamsift ARGS` with `input` on stdin, written from a thread so a child
/// that writes much before it has read everything cannot deadlock; a child
/// that exits early and closes stdin is not an error here (its status and
/// stderr say what went wrong).
pub fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spamsift");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for spamsift");
    let _ = writer.join();
    out
}

/// The JSON objects a command wrote, one per line (as `stream` and `scan`
/// answer).
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

/// A daemon started by a test, killed when dropped. When [`daemon`]
/// started it, its stderr goes to a file that is printed if the test
/// fails, so a daemon's own account of a failure is not lost.
pub struct Daemon(pub std::process::Child, pub Option<tempfile::NamedTempFile>);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking()
            && let Some(log) = &self.1
        {
            let text = std::fs::read_to_string(log.path()).unwrap_or_default();
            eprintln!("--- the daemon's stderr ---\n{text}--- end of the daemon's stderr ---");
        }
    }
}

/// A loopback TCP port nobody listens on now.
pub fn free_port() -> u16 {
    // The port is free when asked, not when the daemon binds it: tests
    // running side by side in one process could be handed the same port
    // (then one test's client talked to the other test's daemon, and
    // Exim's rspamd variant failed on a spamd reply). No port is handed
    // out twice here.
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if HANDED_OUT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
}

/// Start `spamsift ARGS` and wait (up to 30 s, for a loaded machine)
/// until `port` accepts; a daemon that exits or never listens fails the
/// test here, saying so.
pub fn daemon(args: &[&str], port: u16) -> Daemon {
    let log = tempfile::NamedTempFile::new().expect("a file for the daemon's stderr");
    let child = Command::new(env!("CARGO_BIN_EXE_spamsift"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("the daemon's stderr file"))
        .spawn()
        .expect("spawn spamsift");
    let mut daemon = Daemon(child, Some(log));
    for _ in 0..1200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Another process may hold the port the daemon failed to
            // bind: then the connection succeeded, but not to our child.
            std::thread::sleep(std::time::Duration::from_millis(25));
            if let Ok(Some(status)) = daemon.0.try_wait() {
                panic!("spamsift {args:?} exited ({status}): port {port} answers, but not from it");
            }
            return daemon;
        }
        if let Ok(Some(status)) = daemon.0.try_wait() {
            panic!("spamsift {args:?} exited ({status}) before listening on port {port}");
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("spamsift {args:?} did not listen on port {port} within 30 s");
}

/// The first of `paths` that exists: a real component a test drives. When
/// none does, the test says so and is skipped, except under CI (`CI=true`
/// or `SPAMSIFT_REQUIRE_TOOLS=1`), where `.ci/run` installs it
/// (`scripts/install-test-tools.sh`) and a missing one fails.
pub fn real_tool(name: &str, paths: &[&str]) -> Option<PathBuf> {
    let found = paths.iter().map(PathBuf::from).find(|p| p.exists());
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SPAMSIFT_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    assert!(
        found.is_some() || !required,
        "{name} is required here (CI) but not installed: scripts/install-test-tools.sh installs it"
    );
    if found.is_none() {
        eprintln!("test with the real {name} not run: scripts/install-test-tools.sh installs it");
    }
    found
}

/// The email fixtures: (file name, bytes), in name order.
pub fn email_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/fixtures/email");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(&p).expect("read fixture"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Run a client tool with arguments and a message file: whether it
/// succeeded, and its stdout then stderr.
pub fn run_tool(
    bin: &std::path::Path,
    args: &[&str],
    file: Option<&std::path::Path>,
) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .args(file)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
