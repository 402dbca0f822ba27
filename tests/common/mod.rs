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
