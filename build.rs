//! Works out, for the embedded rule files (`rules/*.toml`), what a process
//! would otherwise do at every start (see `src/rules/plan.rs`): each file
//! parsed, as JSON of its entries with their lines, and each regex's
//! running form and leading literals. A process started for one message
//! then neither parses the TOML nor every regex again.

use std::fmt::Write as _;

#[allow(dead_code)]
#[path = "src/rules/regex_prep.rs"]
mod regex_prep;

/// A rule file's entries with their byte spans (the values as TOML gives
/// them; the loader checks them).
#[derive(serde::Deserialize)]
struct SpannedFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    reputation: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    dnslist: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    score: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    brand: Vec<toml::Spanned<toml::Table>>,
}

/// The JSON the loader reads instead of a file's text (its `LinedFile`),
/// with the regexes of the file's rules.
fn lined_json(text: &str, file: SpannedFile) -> (String, Vec<String>) {
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let regexes = file
        .rule
        .iter()
        .filter_map(|r| r.get_ref().get("regex").and_then(|v| v.as_str()))
        .map(str::to_string)
        .collect();
    let lined = |v: Vec<toml::Spanned<toml::Table>>| -> Vec<serde_json::Value> {
        v.into_iter()
            .map(|s| {
                let line = newlines.partition_point(|&nl| nl < s.span().start) + 1;
                serde_json::json!([line, s.into_inner()])
            })
            .collect()
    };
    let json = serde_json::json!({
        "rule": lined(file.rule),
        "reputation": lined(file.reputation),
        "dnslist": lined(file.dnslist),
        "score": lined(file.score),
        "brand": lined(file.brand),
    });
    (json.to_string(), regexes)
}

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/regex_prep.rs");
    let mut written: Vec<String> = Vec::new();
    let mut rule_files: Vec<(String, u64, String)> = Vec::new();
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
        // names its line; it only misses the tables.
        let (Some(name), Ok(file)) = (
            path.file_name().and_then(|n| n.to_str()),
            toml::from_str::<SpannedFile>(&text),
        ) else {
            continue;
        };
        let (json, regexes) = lined_json(&text, file);
        rule_files.push((
            name.to_string(),
            xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
            json,
        ));
        written.extend(regexes);
    }
    written.sort();
    written.dedup();
    // Sorted by the pattern as written, since `written` is.
    let running: Vec<(String, String)> = written
        .into_iter()
        .map(|w| {
            let r = regex_prep::ascii_perl_classes(&w);
            (w, r)
        })
        .collect();
    let mut plans: Vec<(String, regex_prep::RegexPlan)> = running
        .iter()
        .filter_map(|(_, r)| regex_prep::plan(r).ok().map(|p| (r.clone(), p)))
        .collect();
    plans.sort_by(|a, b| a.0.cmp(&b.0));
    plans.dedup_by(|a, b| a.0 == b.0);

    let mut out = String::new();
    out.push_str("static RULE_FILES: &[(&str, u64, &str)] = &[\n");
    for (name, hash, json) in &rule_files {
        let _ = writeln!(out, "    ({name:?}, {hash}, {json:?}),");
    }
    out.push_str("];\n\n");
    out.push_str("static RUNNING: &[(&str, &str)] = &[\n");
    for (w, r) in &running {
        let _ = writeln!(out, "    ({w:?}, {r:?}),");
    }
    out.push_str("];\n\nstatic PLANS: &[Plan] = &[\n");
    for (r, plan) in &plans {
        let literals = match &plan.literals {
            Some(l) => format!("Some(&{l:?})"),
            None => "None".to_string(),
        };
        let required: Vec<String> = plan.required.iter().map(|c| format!("&{c:?}")).collect();
        let _ = writeln!(
            out,
            "    ({r:?}, {literals}, {}, &[{}]),",
            plan.starts_at_boundary,
            required.join(", ")
        );
    }
    out.push_str("];\n");

    // Each distinct pattern as it runs, compiled to a DFA.
    let mut distinct: Vec<String> = running.iter().map(|(_, r)| r.clone()).collect();
    distinct.sort();
    distinct.dedup();
    let (blob, table) = embedded_dfas(&distinct);
    out.push_str("\nstatic DFAS: &[(&str, usize, usize)] = &[\n");
    for (pattern, at, len) in &table {
        let _ = writeln!(out, "    ({pattern:?}, {at}, {len}),");
    }
    out.push_str("];\n");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        std::path::Path::new(&out_dir).join("embedded_dfas.bin"),
        blob,
    )
    .expect("OUT_DIR is writable");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_regex_plan.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Largest DFA, serialised, kept for one regex: a regex whose DFA is
/// larger (a window such as `.{0,60}` between words multiplies states) is
/// compiled at run time, when its literal is found, as before.
const MAX_DFA_BYTES: usize = 256 * 1024;

/// Each pattern (as it runs) compiled to a sparse DFA that answers
/// anchored and unanchored searches, serialised in the target's byte
/// order: the bytes one after another, and a table of (pattern, offset,
/// length) sorted by pattern. Patterns whose DFA is too large are left out.
fn embedded_dfas(patterns: &[String]) -> (Vec<u8>, Vec<(String, usize, usize)>) {
    use regex_automata::dfa::{StartKind, dense};
    use regex_automata::nfa::thompson;
    let big_endian = std::env::var("CARGO_CFG_TARGET_ENDIAN").is_ok_and(|e| e == "big");
    let mut blob = Vec::new();
    let mut table = Vec::new();
    for pattern in patterns {
        let Ok(dfa) = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Both)
                    .minimize(false)
                    .dfa_size_limit(Some(4 << 20))
                    .determinize_size_limit(Some(4 << 20)),
            )
            .thompson(thompson::Config::new().which_captures(thompson::WhichCaptures::None))
            .build(pattern)
        else {
            continue;
        };
        let Ok(sparse) = dfa.to_sparse() else {
            continue;
        };
        let bytes = if big_endian {
            sparse.to_bytes_big_endian()
        } else {
            sparse.to_bytes_little_endian()
        };
        if bytes.len() > MAX_DFA_BYTES {
            continue;
        }
        table.push((pattern.clone(), blob.len(), bytes.len()));
        blob.extend_from_slice(&bytes);
    }
    (blob, table)
}
