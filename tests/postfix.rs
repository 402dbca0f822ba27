//! End-to-end with a real Postfix: runs `tests/postfix-e2e.sh` against the
//! `spamsift` binary built for this test run. It needs root and Debian's
//! `postfix` package; `.ci/run` installs it. Without them the test says so
//! and does nothing (`CI=true` or `SPAMSIFT_REQUIRE_POSTFIX=1` make that a
//! failure, as in CI).

use std::path::Path;
use std::process::Command;

#[test]
fn postfix_delivers_tags_rejects_and_fails_open() {
    let have_postfix = Path::new("/usr/sbin/postfix").exists();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let required = std::env::var("SPAMSIFT_REQUIRE_POSTFIX").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true");
    if !(have_postfix && root) {
        assert!(
            !required,
            "SPAMSIFT_REQUIRE_POSTFIX=1 but postfix or root is missing"
        );
        eprintln!(
            "postfix end-to-end test not run: needs root and `apt-get install postfix` (.ci/run does both)"
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/postfix-e2e.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_spamsift"))
        .output()
        .expect("run tests/postfix-e2e.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && stdout.contains("postfix e2e: all checks passed"));
}
