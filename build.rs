//! Works out, for the embedded rule files (`rules/*.toml`), what a process
//! would otherwise do at every start (see `src/rules/plan.rs`): each file
//! parsed, written as Rust code that builds its entries with their lines,
//! each regex's running form and leading literals, and each regex compiled
//! to a DFA. A process started for one message then neither parses the
//! TOML nor compiles most regexes.

use std::fmt::Write as _;

#[allow(dead_code)]
#[path = "src/rules/regex_prep.rs"]
mod regex_prep;

#[allow(dead_code)]
#[path = "src/rules/format.rs"]
mod format;

/// A Rust expression for a string.
fn string(s: &str) -> String {
    format!("std::borrow::Cow::Borrowed({s:?})")
}

/// A Rust expression for a list of strings.
fn strings(v: &[format::Text]) -> String {
    let items: Vec<String> = v.iter().map(|s| string(s)).collect();
    format!("vec![{}]", items.join(", "))
}

/// A Rust expression for an optional value.
fn option<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
    match v {
        Some(x) => format!("Some({})", f(x)),
        None => "None".to_string(),
    }
}

/// A Rust literal for a finite number (`None` for NaN or infinity, which
/// the loader reports).
fn number(x: f64) -> Option<String> {
    x.is_finite().then(|| format!("{x:?}_f64"))
}

/// The body of a function that builds a file's `LinedFile`, with the
/// regexes of its rules; `None` when the file holds anything the code does
/// not write (reputation sources, DNS lists, score changes, a number that
/// is not finite): then the loader parses its TOML.
fn lined_code(text: &str, file: format::RuleFile) -> Option<(String, Vec<String>)> {
    if !(file.reputation.is_empty() && file.dnslist.is_empty() && file.score.is_empty()) {
        return None;
    }
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line = |offset: usize| newlines.partition_point(|&nl| nl < offset) + 1;
    let mut regexes = Vec::new();
    let mut code = String::from("super::format::LinedFile {\n    rule: vec![\n");
    for spanned in file.rule {
        let at = line(spanned.span().start);
        let r = spanned.into_inner();
        if let Some(re) = &r.regex {
            regexes.push(re.to_string());
        }
        let threshold = match r.threshold {
            Some(t) => Some(number(t)?),
            None => None,
        };
        let _ = writeln!(
            code,
            "        ({at}, super::format::RawRule {{ id: {}, description: {}, score: {}, \
             evidence: {}, channels: {}, field: {}, phrases: {}, whole_word: {}, plain_spellings: {}, regex: {}, \
             obfuscated: {}, eval: {}, threshold: {}, meta: {} }}),",
            string(&r.id),
            string(&r.description),
            number(r.score)?,
            option(&r.evidence, |e| string(e)),
            option(&r.channels, |c| strings(c)),
            option(&r.field, |f| string(f)),
            option(&r.phrases, |p| strings(p)),
            r.whole_word,
            r.plain_spellings,
            option(&r.regex, |x| string(x)),
            option(&r.obfuscated, |o| strings(o)),
            option(&r.eval, |e| string(e)),
            option(&threshold, |t| t.clone()),
            option(&r.meta, |m| string(m)),
        );
    }
    code.push_str("    ],\n    brand: vec![\n");
    for spanned in file.brand {
        let at = line(spanned.span().start);
        let b = spanned.into_inner();
        let _ = writeln!(
            code,
            "        ({at}, super::format::RawBrand {{ brand: {}, display_names: {}, domains: {} }}),",
            string(&b.brand),
            strings(&b.display_names),
            strings(&b.domains),
        );
    }
    code.push_str("    ],\n    ..Default::default()\n}");
    Some((code, regexes))
}

/// Links the binaries on Linux with their relative relocations packed
/// (`DT_RELR`, `-z pack-relative-relocs`): the executable stays
/// position-independent (address-space randomisation kept), but the
/// loader reads a 12 kB table instead of 39,000 24-byte entries (948 kB)
/// at every start. `spamsift check` of an email: 0.93x the time, 7% fewer
/// page faults (paired, 400 interleaved rounds). GNU ld before 2.38 ignores
/// the option with a warning. The binary then needs the version
/// `GLIBC_ABI_DT_RELR` (glibc 2.36 or later), so an older C library refuses
/// to start it with that name; `SPAMSIFT_NO_RELR=1` leaves the option out
/// for a binary built to run on an older glibc than it is built against.
fn relative_relocations_packed() {
    println!("cargo:rerun-if-env-changed=SPAMSIFT_NO_RELR");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|o| o == "linux");
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    if linux && gnu && std::env::var_os("SPAMSIFT_NO_RELR").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=src/rules/regex_prep.rs");
    println!("cargo:rerun-if-changed=src/rules/format.rs");
    relative_relocations_packed();
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
            toml::from_str::<format::RuleFile>(&text),
        ) else {
            continue;
        };
        let Some((code, regexes)) = lined_code(&text, file) else {
            continue;
        };
        rule_files.push((
            name.to_string(),
            xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
            code,
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
    // Each file's entries as a function that builds them, and a table of
    // (name, xxh3 of the TOML text, that function).
    for (i, (_, _, code)) in rule_files.iter().enumerate() {
        let _ = writeln!(
            out,
            "fn rule_file_{i}() -> super::format::LinedFile {{\n{code}\n}}\n"
        );
    }
    out.push_str("static RULE_FILES: &[EmbeddedFile] = &[\n");
    for (i, (name, hash, _)) in rule_files.iter().enumerate() {
        let _ = writeln!(out, "    ({name:?}, {hash}, rule_file_{i}),");
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
            "    ({r:?}, {literals}, {}, {}, {}, &[{}]),",
            plan.starts_at_boundary,
            plan.at_start,
            plan.line_start,
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
