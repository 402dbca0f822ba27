//! Inputs the fuzzers found, replayed on every test run: each must go
//! through its target without a panic (`fuzz/regressions/TARGET/*`).

use spamsift::fuzzing::TARGETS;
use std::path::Path;

#[test]
fn fuzz_findings_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (name, run) in TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in dir {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).expect("regression input");
            run(&data);
            replayed += 1;
        }
    }
    assert!(replayed >= 2, "the regression inputs were found");
}

#[test]
fn a_huge_phrase_is_refused_by_name() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/rules/20kb-phrase.toml"),
    )
    .expect("regression input");
    let e = spamsift::rules::load_sources([("big.toml".to_string(), text)])
        .expect_err("refused")
        .to_string();
    assert!(e.contains("big.toml:1: rule LONG: phrase of"), "{e}");
}
