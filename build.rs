//! Works out, for every regex of the embedded rule files (`rules/*.toml`),
//! its running form and leading literals (see `src/rules/plan.rs`), so that
//! a process started for one message does not parse them all again.

use std::fmt::Write as _;

#[allow(dead_code)]
#[path = "src/rules/regex_prep.rs"]
mod regex_prep;

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/regex_prep.rs");
    let mut written: Vec<String> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("rules")
        .expect("rules/ is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("rule file is readable");
        // A file that does not parse is left to the rule loader, which
        // names its line; it only misses the table.
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let rules = doc.get("rule").and_then(|r| r.as_array());
        for rule in rules.into_iter().flatten() {
            if let Some(re) = rule.get("regex").and_then(|r| r.as_str()) {
                written.push(re.to_string());
            }
        }
    }
    written.sort();
    written.dedup();
    let mut running: Vec<(String, String)> = written
        .into_iter()
        .map(|w| {
            let r = regex_prep::ascii_perl_classes(&w);
            (w, r)
        })
        .collect();
    running.sort();
    let mut plans: Vec<(String, regex_prep::RegexPlan)> = running
        .iter()
        .filter_map(|(_, r)| regex_prep::plan(r).ok().map(|p| (r.clone(), p)))
        .collect();
    plans.sort_by(|a, b| a.0.cmp(&b.0));
    plans.dedup_by(|a, b| a.0 == b.0);

    let mut out = String::new();
    out.push_str("static RUNNING: &[(&str, &str)] = &[\n");
    for (w, r) in &running {
        let _ = writeln!(out, "    ({w:?}, {r:?}),");
    }
    out.push_str("];\n\nstatic PLANS: &[(&str, Option<&[&str]>, bool)] = &[\n");
    for (r, plan) in &plans {
        let literals = match &plan.literals {
            Some(l) => format!("Some(&{l:?})"),
            None => "None".to_string(),
        };
        let _ = writeln!(out, "    ({r:?}, {literals}, {}),", plan.starts_at_boundary);
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_regex_plan.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
