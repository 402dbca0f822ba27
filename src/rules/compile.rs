//! Loading rule files and compiling them into a [`RuleSet`].

use super::eval::EvalTest;
use super::field::Field;
use super::format::{LinedFile, RawRule, RuleFile, Text};
use super::matcher::{
    BuildError, BuildFor, Deferred, FieldMatcher, PhraseMatcher, RegexMatcher, RegexSets,
    needs_unicode_folding,
};
use super::meta::{self, Expr};
use super::obfuscated::ObfuscatedWords;
use super::pattern;
use super::prefixed::PrefixedRegexes;
use super::{ChannelRules, LoadError, Rule, RuleError, RuleSet, RuleSpec};
use crate::message::Channel;
use rayon::prelude::*;
// Rule ids and literals come from rule files, not from mail: the fast
// hasher is safe here (SipHash was about 4% of a `check`).
use rustc_hash::FxHashMap as HashMap;
use std::path::Path;
use std::sync::Arc;

/// Most bytes a single compiled regex may take (guards against patterns that
/// explode, e.g. huge counted repetitions).
const REGEX_SIZE_LIMIT: usize = 4 * 1024 * 1024;

/// Longest phrase. A phrase automaton has a state per phrase byte; the DFA
/// builder's cost grows with states times alphabet, and a fuzzed 20 KB
/// phrase took 3 s to build.
const MAX_PHRASE_BYTES: usize = 256;

/// Lazy-DFA cache per regex set (per thread). A field's set holds dozens of
/// patterns searched for overlapping matches; a small cache is cleared over
/// and over and the search falls back to the slow PikeVM.
const LAZY_DFA_CACHE: usize = 16 * 1024 * 1024;

/// Load every `*.toml` file of `dir`, in name order.
pub fn load_dir(dir: &Path) -> Result<RuleSet, LoadError> {
    load_dir_compiling(dir, &Channel::ALL, BuildFor::Throughput)
}

/// The `(name, text)` of every `*.toml` file of `dir`, in name order; an
/// unreadable folder or file, or a folder without rule files, is an error.
pub fn read_dir_sources(dir: &Path) -> Result<Vec<(String, String)>, LoadError> {
    let fail = |message: String| LoadError {
        errors: vec![RuleError {
            file: dir.display().to_string(),
            line: 0,
            rule: None,
            message,
        }],
    };
    let entries =
        std::fs::read_dir(dir).map_err(|e| fail(format!("cannot read rule directory: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(fail("no *.toml rule files in directory".into()));
    }
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(text) => sources.push((p.display().to_string(), text)),
            Err(e) => errors.push(RuleError {
                file: p.display().to_string(),
                line: 0,
                rule: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(LoadError { errors })
    }
}

/// [`load_dir`], compiling only the matchers of `channels` now, built for
/// `build` (see [`load_sources_compiling`]).
pub fn load_dir_compiling(
    dir: &Path,
    channels: &[Channel],
    build: BuildFor,
) -> Result<RuleSet, LoadError> {
    load_sources_compiling(read_dir_sources(dir)?, channels, build)
}

/// What a checked rule matches with.
enum Matcher {
    Phrases {
        field: Field,
        phrases: Vec<super::format::Text>,
        whole_word: bool,
    },
    Regex {
        field: Field,
        regex: pattern::RulePattern,
    },
    Obfuscated {
        field: Field,
        words: Vec<String>,
    },
    Eval(EvalTest),
    Meta(Expr<String>),
    Reputation(super::reputation::Source),
    DnsList(super::dnslist::DnsList),
}

/// A checked rule's identity, before its matcher is compiled.
struct RuleHead {
    id: Arc<str>,
    description: Arc<str>,
    score: f64,
    evidence: super::Evidence,
    channels: Vec<Channel>,
    origin: String,
    reported: bool,
}

struct Checked {
    rule: RuleHead,
    file: String,
    line: usize,
    matcher: Matcher,
}

/// `items` mapped by `f`, in order: on all cores when `parallel`.
fn map_maybe_parallel<T: Send, R: Send>(
    items: Vec<T>,
    parallel: bool,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    if parallel {
        items.into_par_iter().map(f).collect()
    } else {
        items.into_iter().map(f).collect()
    }
}

/// Compile rule files given as `(name, text)` pairs. Every problem in every
/// file is reported, each with file, line and rule id.
pub fn load_sources(
    sources: impl IntoIterator<Item = (String, String)>,
) -> Result<RuleSet, LoadError> {
    load_sources_compiling(sources, &Channel::ALL, BuildFor::Throughput)
}

/// [`load_sources`], compiling the matchers of `channels` now and those of
/// the other channels when a message of theirs first comes (a `spamsift
/// check` of one email needs only the email matchers), built for `build`.
/// Every rule is validated now either way.
pub fn load_sources_compiling(
    sources: impl IntoIterator<Item = (String, String)>,
    channels: &[Channel],
    build_for: BuildFor,
) -> Result<RuleSet, LoadError> {
    load_sources_checked(
        sources.into_iter().map(|(n, t)| (n, t.into(), true)),
        channels,
        build_for,
    )
}

/// [`load_sources_compiling`] with, per source, whether its regexes are
/// compiled once more to check them here (`true`), or were checked when
/// spamsift was built and tested (`false`: the embedded default rules, whose
/// test `embedded_rules_validate` compiles every one; about 15% of
/// `spamsift check`'s start-up saved). A regex of an unchecked source
/// that fails still fails when its channel's matchers compile, without a
/// line number. When every phrase and regex rule is unchecked and the
/// matchers are built for [`BuildFor::StartUp`], each field's matchers
/// are compiled when the field first has a value (one message pays only
/// for the fields it has).
pub fn load_sources_checked(
    sources: impl IntoIterator<Item = (String, std::borrow::Cow<'static, str>, bool)>,
    channels: &[Channel],
    build_for: BuildFor,
) -> Result<RuleSet, LoadError> {
    let mut errors = Vec::new();
    let mut checked: Vec<Checked> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::default();
    // Score changes, applied once every file's rules are known.
    let mut rescores: Vec<(String, usize, String, f64)> = Vec::new();
    // Brands, from every file in load order.
    let mut brands = super::brands::BrandTable::default();
    // Whether every phrase and regex rule was checked when spamsift was
    // built (the embedded rules): only then may one message per process
    // compile a field's matchers when it first needs them, since they
    // cannot fail then.
    let mut all_prechecked = true;

    // The embedded rules come pre-parsed (see `LinedFile`); other files
    // parse, and their rules are checked, on all cores. With only the
    // embedded rules there is too little work to share: starting the
    // thread pool for it cost `spamsift check` more than it saved.
    // A text may be borrowed from the binary (the embedded rule files):
    // copying those cost a `spamsift check` some 40 page faults, and the
    // copy's address no longer told that it was the embedded text, so it
    // was hashed to be recognised.
    let sources: Vec<(String, std::borrow::Cow<'static, str>, bool)> =
        sources.into_iter().collect();
    let parallel = sources.iter().any(|(_, _, check)| *check);
    let parsed_files: Vec<_> = map_maybe_parallel(sources, parallel, |(file, text, check)| {
        let parsed = match super::plan::embedded_rule_file(&file, &text) {
            Some(lined) => Ok(lined),
            None => toml::from_str::<RuleFile>(&text).map(|parsed| {
                let lines = LineIndex::of(&text);
                parsed.lined(|offset| lines.line(offset))
            }),
        };
        (file, text, check, parsed)
    });
    for (file, text, check_regexes, parsed) in parsed_files {
        let parsed: LinedFile = match parsed {
            Ok(p) => p,
            Err(e) => {
                let line = e.span().map_or(0, |s| LineIndex::of(&text).line(s.start));
                errors.push(RuleError {
                    file: file.clone(),
                    line,
                    rule: None,
                    message: e.message().trim().to_string(),
                });
                continue;
            }
        };
        // Rules and reputation sources share one id space. Rules whose
        // regexes are compiled to check them (other than the embedded
        // ones) are checked on all cores, results in file order.
        let rules: Vec<_> = map_maybe_parallel(parsed.rule, parallel, |(line, raw)| {
            (
                line,
                raw.id.clone(),
                check_rule(raw, &file, line, check_regexes),
            )
        });
        for (line, raw) in parsed.score {
            rescores.push((file.clone(), line, raw.id, raw.score));
        }
        for (line, raw) in parsed.brand {
            if !check_regexes {
                // The embedded brands, checked when spamsift was built.
                brands.add_checked(raw.brand, raw.display_names, raw.domains);
            } else if let Err(message) = brands.add(&raw.brand, &raw.display_names, &raw.domains) {
                errors.push(RuleError {
                    file: file.clone(),
                    line,
                    rule: None,
                    message: format!("[[brand]] {:?}: {message}", raw.brand),
                });
            }
        }
        let entries =
            rules
                .into_iter()
                .chain(parsed.reputation.into_iter().map(|(line, raw)| {
                    (
                        line,
                        raw.id.clone().into(),
                        check_reputation(raw, &file, line),
                    )
                }))
                .chain(parsed.dnslist.into_iter().map(|(line, raw)| {
                    (line, raw.id.clone().into(), check_dnslist(raw, &file, line))
                }));
        for (line, id, result) in entries {
            let err = |message: String| RuleError {
                file: file.clone(),
                line,
                rule: Some(id.to_string()),
                message,
            };
            match result {
                Ok(c) => {
                    if check_regexes
                        && matches!(c.matcher, Matcher::Phrases { .. } | Matcher::Regex { .. })
                    {
                        all_prechecked = false;
                    }
                    if let Some(first) = seen.get(&*c.rule.id) {
                        errors.push(err(format!("duplicate rule id (first defined at {first})")));
                    } else {
                        seen.insert(c.rule.id.to_string(), c.rule.origin.clone());
                        checked.push(c);
                    }
                }
                Err(msgs) => errors.extend(msgs.into_iter().map(err)),
            }
        }
    }

    let index: HashMap<String, usize> = checked
        .iter()
        .enumerate()
        .map(|(i, c)| (c.rule.id.to_string(), i))
        .collect();
    for (file, line, id, score) in rescores {
        let err = |message: String| RuleError {
            file: file.clone(),
            line,
            rule: Some(id.clone()),
            message,
        };
        match index.get(&id) {
            None => errors.push(err("[[score]] names no loaded rule".into())),
            Some(_) if !score.is_finite() => {
                errors.push(err("score must be a finite number".into()))
            }
            Some(&i) if !checked[i].rule.evidence.allows(score) => errors.push(err(format!(
                "score = {score}: {id} is evidence of {}, so its score cannot take the other sign",
                checked[i].rule.evidence.as_str()
            ))),
            Some(&i) => {
                let head = &mut checked[i].rule;
                head.score = score;
                // Score 0 switches the rule off: it no longer shows or
                // counts (meta rules may still read it).
                if score == 0.0 {
                    head.reported = false;
                }
            }
        }
    }
    let index: HashMap<&str, usize> = index.iter().map(|(k, &v)| (k.as_str(), v)).collect();
    let metas = resolve_metas(&checked, &index, &mut errors);
    if !errors.is_empty() {
        return Err(LoadError { errors });
    }
    let defer = all_prechecked && build_for == BuildFor::StartUp;
    build(checked, metas, brands, channels, build_for, defer).map_err(|errors| LoadError { errors })
}

/// Where a text's lines start, to give the line of each rule (counting
/// newlines from the start for each rule cost time quadratic in the
/// file's length).
pub(super) struct LineIndex(Vec<usize>);

impl LineIndex {
    /// The line starts of `text`.
    pub(super) fn of(text: &str) -> LineIndex {
        LineIndex(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    /// 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

fn valid_id(id: &str) -> bool {
    let body = id.strip_prefix("__").unwrap_or(id);
    body.starts_with(|c: char| c.is_ascii_uppercase())
        && body
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn check_rule(
    raw: RawRule,
    file: &str,
    line: usize,
    check_regexes: bool,
) -> Result<Checked, Vec<String>> {
    let mut errs = Vec::new();
    if !valid_id(&raw.id) {
        errs.push(
            "id must be UPPER_SNAKE_CASE (A-Z, 0-9, _), optionally starting with __".to_string(),
        );
    }
    if !raw.score.is_finite() {
        errs.push("score must be a finite number".into());
    }
    let evidence = match super::Evidence::of(raw.evidence.as_deref(), raw.score) {
        Ok(e) if e.allows(raw.score) => e,
        Ok(e) => {
            errs.push(format!(
                "score = {}: the rule is evidence of {}, so its score cannot take the other sign",
                raw.score,
                e.as_str()
            ));
            e
        }
        Err(e) => {
            errs.push(e);
            super::Evidence::None
        }
    };
    let channels = match &raw.channels {
        None => Channel::ALL.to_vec(),
        Some(list) => {
            let mut v = Vec::new();
            for c in list {
                match c.parse::<Channel>() {
                    Ok(ch) => v.push(ch),
                    Err(e) => errs.push(e),
                }
            }
            if list.is_empty() {
                errs.push("channels is empty".into());
            }
            v
        }
    };
    let kinds = [
        raw.phrases.is_some(),
        raw.regex.is_some(),
        raw.obfuscated.is_some(),
        raw.eval.is_some(),
        raw.meta.is_some(),
    ];
    let n_kinds = kinds.iter().filter(|k| **k).count();
    if n_kinds != 1 {
        errs.push(format!(
            "a rule needs exactly one of phrases, regex, obfuscated, eval, meta (found {n_kinds})"
        ));
        return Err(errs);
    }
    let field_matcher = raw.phrases.is_some() || raw.regex.is_some() || raw.obfuscated.is_some();
    let field = match (&raw.field, field_matcher) {
        (Some(f), true) => match Field::parse(f) {
            Ok(f) => Some(f),
            Err(e) => {
                errs.push(e);
                None
            }
        },
        (None, true) => {
            errs.push("phrases, regex and obfuscated rules need a field".into());
            None
        }
        (Some(_), false) => {
            errs.push("field is only for phrases, regex and obfuscated rules".into());
            None
        }
        (None, false) => None,
    };
    if raw.whole_word && raw.phrases.is_none() {
        errs.push("whole_word is only for phrases rules".into());
    }
    if raw.plain_spellings && raw.phrases.is_none() {
        errs.push("plain_spellings is only for phrases rules".into());
    }
    if raw.threshold.is_some() && raw.eval.is_none() {
        errs.push("threshold is only for eval rules".into());
    }
    let matcher = if !check_regexes && let Some(phrases) = raw.phrases {
        // The embedded rules' phrases were checked when spamsift was built
        // and are written in lower case (the test
        // `embedded_phrases_are_lower_case`): taken as they are. Checking
        // each of some 2,400 was a twentieth of `spamsift check`.
        field.map(|field| Matcher::Phrases {
            field,
            phrases: with_plain_spellings(phrases, raw.plain_spellings),
            whole_word: raw.whole_word,
        })
    } else if let Some(phrases) = raw.phrases {
        if phrases.is_empty() {
            errs.push("phrases is empty".into());
        }
        if phrases.iter().any(|p| p.trim().is_empty()) {
            errs.push("phrases contains an empty phrase".into());
        }
        if let Some(p) = phrases.iter().find(|p| p.len() > MAX_PHRASE_BYTES) {
            errs.push(format!(
                "phrase of {} bytes; at most {MAX_PHRASE_BYTES} (a long phrase makes the field's automaton slow to build)",
                p.len()
            ));
        }
        field.map(|field| Matcher::Phrases {
            field,
            // Most phrases are written in lower case already: those are
            // kept, not copied.
            phrases: with_plain_spellings(
                phrases
                    .into_iter()
                    .map(|p| {
                        // ASCII phrases (nearly all) are checked a byte at a
                        // time: asking every character for its lower case was
                        // a tenth of `spamsift check` on an SMS.
                        let lower_already = if p.is_ascii() {
                            !p.bytes().any(|b| b.is_ascii_uppercase())
                        } else {
                            p.chars().all(|c| {
                                let mut lower = c.to_lowercase();
                                lower.next() == Some(c) && lower.next().is_none()
                            })
                        };
                        if lower_already {
                            p
                        } else {
                            p.to_lowercase().into()
                        }
                    })
                    .collect(),
                raw.plain_spellings,
            ),
            whole_word: raw.whole_word,
        })
    } else if let Some(regex) = raw.regex {
        // Checked as it will run (Perl classes made ASCII, see `pattern`);
        // a syntax error leaves the pattern as written, so it is reported.
        // Unchecked (embedded) patterns are rewritten when first compiled.
        let regex = pattern::RulePattern::new(regex);
        if check_regexes && let Err(e) = check_regex(regex.running()) {
            errs.push(format!("invalid regex: {}", one_line(&e)));
        }
        field.map(|field| Matcher::Regex { field, regex })
    } else if let Some(list) = raw.obfuscated {
        if list.is_empty() {
            errs.push("obfuscated is empty".into());
        }
        let mut words = Vec::new();
        for w in &list {
            match super::obfuscated::check_word(w) {
                Ok(w) => words.push(w),
                Err(e) => errs.push(e),
            }
        }
        field.map(|field| Matcher::Obfuscated { field, words })
    } else if let Some(name) = raw.eval {
        match EvalTest::new(&name, raw.threshold) {
            Ok(t) => Some(Matcher::Eval(t)),
            Err(e) => {
                errs.push(e);
                None
            }
        }
    } else if let Some(expr) = raw.meta {
        match meta::parse(&expr) {
            Ok(e) => Some(Matcher::Meta(e)),
            Err(e) => {
                // Quoted up to 80 characters: the line number finds the rest.
                let shown: String = expr.chars().take(80).collect();
                let more = if shown.len() < expr.len() { "..." } else { "" };
                errs.push(format!("invalid meta expression {shown:?}{more}: {e}"));
                None
            }
        }
    } else {
        None
    };
    match (errs.is_empty(), matcher) {
        (true, Some(matcher)) => Ok(Checked {
            rule: RuleHead {
                reported: !raw.id.starts_with("__"),
                origin: origin(file, line),
                id: Arc::from(raw.id),
                description: Arc::from(raw.description),
                score: raw.score,
                evidence,
                channels,
            },
            file: file.to_string(),
            line,
            matcher,
        }),
        _ => Err(errs),
    }
}

/// "file:line", written without the formatting machinery: one for each
/// rule at every start of `spamsift check` (`format!` was 4% of it).
fn origin(file: &str, line: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = line;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(file.len() + 1 + digits.len() - at);
    out.push_str(file);
    out.push(':');
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
    out
}

fn check_dnslist(
    raw: super::format::RawDnsList,
    file: &str,
    line: usize,
) -> Result<Checked, Vec<String>> {
    use super::dnslist::{AddressHash, DnsIdentity, DnsList, HashFormat};
    let mut errs = Vec::new();
    if !valid_id(&raw.id) || raw.id.starts_with("__") {
        errs.push("id must be UPPER_SNAKE_CASE (A-Z, 0-9, _)".to_string());
    }
    if !raw.score.is_finite() {
        errs.push("score must be a finite number".into());
    }
    let channels = match &raw.channels {
        None => vec![Channel::Email],
        Some(list) => list
            .iter()
            .filter_map(|c| c.parse::<Channel>().map_err(|e| errs.push(e)).ok())
            .collect(),
    };
    let zone = raw.zone.trim().trim_end_matches('.').to_ascii_lowercase();
    if zone.is_empty()
        || !zone.contains('.')
        || !zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        errs.push(format!("zone {:?} is not a domain name", raw.zone));
    }
    let identities: Vec<DnsIdentity> = raw
        .identities
        .iter()
        .filter_map(|i| DnsIdentity::parse(i).map_err(|e| errs.push(e)).ok())
        .collect();
    if raw.identities.is_empty() {
        errs.push("identities is empty: say which identities to look up".into());
    }
    let hash = match raw.hash.as_deref() {
        None => None,
        Some(h) => {
            let format = match raw.hash_format.as_deref() {
                None | Some("hex") => HashFormat::Hex,
                Some("base32") => HashFormat::Base32,
                Some(other) => {
                    errs.push(format!("hash_format {other:?}: hex or base32"));
                    HashFormat::Hex
                }
            };
            match h {
                "sha1" => Some(AddressHash::Sha1(format)),
                "sha256" => Some(AddressHash::Sha256(format)),
                other => {
                    errs.push(format!("hash {other:?}: sha1 or sha256"));
                    None
                }
            }
        }
    };
    if raw.hash.is_none() && raw.hash_format.is_some() {
        errs.push("hash_format without hash".into());
    }
    if raw.hash.is_none() && identities.iter().any(|i| i.is_address()) {
        errs.push(
            "address identities are asked about hashed: add hash = \"sha1\" or \"sha256\"".into(),
        );
    }
    let timeout = match raw.timeout {
        None => None,
        Some(t) if t.is_finite() && t > 0.0 && t <= 60.0 => {
            Some(std::time::Duration::from_secs_f64(t))
        }
        Some(t) => {
            errs.push(format!("timeout {t}: seconds, above 0 and at most 60"));
            None
        }
    };
    let returns: Vec<std::net::Ipv4Addr> = raw
        .returns
        .iter()
        .filter_map(|r| {
            r.parse()
                .map_err(|_| errs.push(format!("returns: {r:?} is not an IPv4 address")))
                .ok()
        })
        .collect();
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Checked {
        rule: RuleHead {
            reported: true,
            origin: format!("{file}:{line}"),
            id: Arc::from(raw.id),
            description: Arc::from(raw.description),
            score: raw.score,
            evidence: super::Evidence::of(None, raw.score).unwrap_or(super::Evidence::None),
            channels,
        },
        file: file.to_string(),
        line,
        matcher: Matcher::DnsList(DnsList {
            zone,
            identities,
            returns,
            hash,
            timeout,
        }),
    })
}

fn check_reputation(
    raw: super::format::RawReputation,
    file: &str,
    line: usize,
) -> Result<Checked, Vec<String>> {
    use super::reputation::{Identity, Source};
    use crate::reputation::{Kind, ReputationFilter};
    let mut errs = Vec::new();
    if !valid_id(&raw.id) || raw.id.starts_with("__") {
        errs.push("id must be UPPER_SNAKE_CASE (A-Z, 0-9, _)".to_string());
    }
    if !raw.score.is_finite() {
        errs.push("score must be a finite number".into());
    }
    let channels = match &raw.channels {
        None => Channel::ALL.to_vec(),
        Some(list) => list
            .iter()
            .filter_map(|c| c.parse::<Channel>().map_err(|e| errs.push(e)).ok())
            .collect(),
    };
    let kind = match raw.kind.parse::<Kind>() {
        Ok(k) => Some(k),
        Err(e) => {
            errs.push(e);
            None
        }
    };
    let mut identities = Vec::new();
    if let Some(kind) = kind {
        for i in &raw.identities {
            match Identity::parse(i, kind) {
                Ok(id) => identities.push(id),
                Err(e) => errs.push(e),
            }
        }
    }
    if raw.identities.is_empty() {
        errs.push("identities is empty: say which identities to look up".into());
    }
    let base = Path::new(file).parent().unwrap_or(Path::new(""));
    let key = match raw.key.as_deref() {
        Some(k) => match std::fs::read(base.join(k)) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                errs.push(format!("cannot read key {}: {e}", base.join(k).display()));
                None
            }
        },
        None => None,
    };
    let filter = if errs.is_empty() {
        match ReputationFilter::load(&base.join(&raw.file), key.as_deref()) {
            Ok(f) if Some(f.kind()) != kind => {
                errs.push(format!(
                    "filter {} lists {}, not {}",
                    raw.file,
                    f.kind(),
                    raw.kind
                ));
                None
            }
            Ok(f) => Some(f),
            Err(e) => {
                errs.push(e.to_string());
                None
            }
        }
    } else {
        None
    };
    match (errs.is_empty(), filter) {
        (true, Some(filter)) => Ok(Checked {
            rule: RuleHead {
                reported: true,
                origin: origin(file, line),
                id: Arc::from(raw.id),
                description: Arc::from(raw.description),
                score: raw.score,
                evidence: super::Evidence::of(None, raw.score).unwrap_or(super::Evidence::None),
                channels,
            },
            file: file.to_string(),
            line,
            matcher: Matcher::Reputation(Source {
                filter: Arc::new(filter),
                identities,
                allow: raw.allow,
                default_country: raw.default_country.unwrap_or_else(|| "44".into()),
            }),
        }),
        _ => Err(errs),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Resolve meta references to rule indices, reject unknown ids and cycles,
/// and return the meta rules in evaluation (dependency) order.
fn resolve_metas(
    checked: &[Checked],
    index: &HashMap<&str, usize>,
    errors: &mut Vec<RuleError>,
) -> Vec<(usize, Expr<usize>)> {
    let mut resolved: HashMap<usize, Expr<usize>> = HashMap::default();
    for (i, c) in checked.iter().enumerate() {
        let Matcher::Meta(expr) = &c.matcher else {
            continue;
        };
        let mut unknown = Vec::new();
        let r = expr
            .clone()
            .map(&mut |name: String| match index.get(name.as_str()) {
                Some(&j) => Ok::<usize, ()>(j),
                None => {
                    unknown.push(name);
                    Ok(usize::MAX)
                }
            });
        if !unknown.is_empty() {
            errors.push(rule_error(
                c,
                format!("meta refers to unknown rule(s): {}", unknown.join(", ")),
            ));
        } else if let Ok(e) = r {
            resolved.insert(i, e);
        }
    }
    // Depth-first topological sort; a back edge is a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; checked.len()];
    let mut order = Vec::new();
    fn visit(
        i: usize,
        resolved: &HashMap<usize, Expr<usize>>,
        mark: &mut [Mark],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        match mark[i] {
            Mark::Done => return None,
            Mark::Active => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                return Some(path[start..].to_vec());
            }
            Mark::New => {}
        }
        let Some(expr) = resolved.get(&i) else {
            mark[i] = Mark::Done;
            return None;
        };
        mark[i] = Mark::Active;
        path.push(i);
        let mut refs = Vec::new();
        expr.refs(&mut refs);
        for r in refs {
            if let Some(cycle) = visit(r, resolved, mark, order, path) {
                return Some(cycle);
            }
        }
        path.pop();
        mark[i] = Mark::Done;
        order.push(i);
        None
    }
    let mut keys: Vec<usize> = resolved.keys().copied().collect();
    keys.sort_unstable();
    for i in keys {
        let mut path = Vec::new();
        if let Some(cycle) = visit(i, &resolved, &mut mark, &mut order, &mut path) {
            let names: Vec<&str> = cycle.iter().map(|&j| &*checked[j].rule.id).collect();
            errors.push(rule_error(
                &checked[cycle[0]],
                format!(
                    "meta rules form a cycle: {} -> {}",
                    names.join(" -> "),
                    names[0]
                ),
            ));
            for &j in &cycle {
                mark[j] = Mark::Done;
            }
        }
    }
    order
        .into_iter()
        .filter_map(|i| resolved.remove(&i).map(|e| (i, e)))
        .collect()
}

fn rule_error(c: &Checked, message: String) -> RuleError {
    RuleError {
        file: c.file.clone(),
        line: c.line,
        rule: Some(c.rule.id.to_string()),
        message,
    }
}

/// The compiled rule set: the rules, and the matchers of `eager` channels
/// built now, each channel on a thread of its own (start-up is what a
/// `spamsift check` per message pays); other channels build on first use.
/// With `defer`, a field's matchers are compiled when the field first has
/// a value, and a long-text regex when its literal is first found.
fn build(
    checked: Vec<Checked>,
    metas: Vec<(usize, Expr<usize>)>,
    brands: super::brands::BrandTable,
    eager: &[Channel],
    build_for: BuildFor,
    defer: bool,
) -> Result<RuleSet, Vec<RuleError>> {
    let meta_order: Vec<usize> = metas.iter().map(|(i, _)| *i).collect();
    let resolved: HashMap<usize, Expr<usize>> = metas.into_iter().collect();
    let rules: Vec<Rule> = checked
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let h = c.rule;
            let spec = match c.matcher {
                Matcher::Phrases {
                    field,
                    phrases,
                    whole_word,
                } => RuleSpec::Phrases {
                    field,
                    phrases,
                    whole_word,
                },
                Matcher::Regex { field, regex } => RuleSpec::Regex {
                    field,
                    pattern: regex,
                },
                Matcher::Obfuscated { field, words } => RuleSpec::Obfuscated { field, words },
                Matcher::Eval(t) => RuleSpec::Eval(t),
                Matcher::Reputation(src) => RuleSpec::Reputation(src),
                Matcher::DnsList(l) => RuleSpec::DnsList(l),
                Matcher::Meta(_) => {
                    RuleSpec::Meta(resolved.get(&i).cloned().unwrap_or(Expr::Or(Vec::new())))
                }
            };
            Rule {
                id: h.id,
                description: h.description,
                score: h.score,
                evidence: h.evidence,
                channels: h.channels,
                origin: h.origin,
                reported: h.reported,
                spec,
            }
        })
        .collect();
    let failed = |ch: Channel| {
        let e = rule_set_error(format!("building the {ch} matchers failed"));
        (ChannelRules::default(), vec![e])
    };
    let built: Vec<(Channel, (ChannelRules, Vec<RuleError>))> = if let [ch] = eager {
        // One channel (`spamsift check`): built here, not on a thread.
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            build_channel(*ch, &rules, &meta_order, build_for, defer)
        }));
        vec![(*ch, built.unwrap_or_else(|_| failed(*ch)))]
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = eager
                .iter()
                .map(|&ch| {
                    let (rules, order) = (&rules, &meta_order);
                    let worker = std::thread::Builder::new().spawn_scoped(scope, move || {
                        build_channel(ch, rules, order, build_for, defer)
                    });
                    (ch, worker)
                })
                .collect();
            workers
                .into_iter()
                .map(|(ch, worker)| {
                    let built = match worker {
                        Ok(w) => w.join().unwrap_or_else(|_| failed(ch)),
                        // No thread to be had: build it here.
                        Err(_) => build_channel(ch, &rules, &meta_order, build_for, defer),
                    };
                    (ch, built)
                })
                .collect()
        })
    };
    let channels: [std::sync::OnceLock<ChannelRules>; 3] = Default::default();
    let mut errors = Vec::new();
    for (ch, (matchers, errs)) in built {
        // A channel named twice is built once.
        let _ = channels[ch.index()].set(matchers);
        errors.extend(errs);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RuleSet {
        rules,
        channels,
        meta_order,
        build_for,
        defer,
        brands,
    })
}

/// `phrases` (lower case), followed with `plain` by the spellings of each
/// without its accents that the list does not hold already (see
/// [`super::spelling`]).
fn with_plain_spellings(mut phrases: Vec<Text>, plain: bool) -> Vec<Text> {
    if !plain {
        return phrases;
    }
    let written = phrases.len();
    for i in 0..written {
        for spelling in super::spelling::plain_spellings(&phrases[i]) {
            if !phrases.iter().any(|p| *p == spelling) {
                phrases.push(spelling.into());
            }
        }
    }
    phrases
}

/// What one field's matchers are built from: its phrases (each with its
/// rule and whole-word flag), its regexes (running form, with their rules)
/// and the words of its `obfuscated` rules.
struct FieldInputs<'a> {
    field: Field,
    phrases: Vec<&'a str>,
    pattern_rule: Vec<u32>,
    whole_word: Vec<bool>,
    regexes: Vec<&'a str>,
    set_rule: Vec<u32>,
    obfuscated: Vec<(&'a str, u32)>,
}

/// The matchers of one channel, and the errors building them (a field
/// whose matchers cannot be built gets none). With `defer`, each field's
/// are compiled when first needed (see [`FieldMatcher::deferred`]); built
/// for many messages, the fields are built on all cores.
pub(crate) fn build_channel(
    ch: Channel,
    rules: &[Rule],
    meta_order: &[usize],
    build: BuildFor,
    defer: bool,
) -> (ChannelRules, Vec<RuleError>) {
    let mut out = ChannelRules::default();
    let mut errors = Vec::new();
    let applies = |r: &Rule| r.channels.contains(&ch);
    // Fields in first-use order, so matching order is stable.
    let mut fields: Vec<Field> = Vec::new();
    for r in rules.iter().filter(|r| applies(r)) {
        if let RuleSpec::Phrases { field, .. }
        | RuleSpec::Regex { field, .. }
        | RuleSpec::Obfuscated { field, .. } = &r.spec
            && !fields.contains(field)
        {
            fields.push(field.clone());
        }
    }
    // The fields to compile now, in order: built below, on all cores when
    // built for many messages.
    let mut pending: Vec<FieldInputs> = Vec::new();
    for field in fields {
        let mut patterns: Vec<&str> = Vec::new();
        let mut pattern_rule = Vec::new();
        let mut whole = Vec::new();
        let mut regexes: Vec<&pattern::RulePattern> = Vec::new();
        let mut set_rule = Vec::new();
        // Look-alike spellings: nothing to compile, so never deferred.
        let mut obfuscated: Vec<(&str, u32)> = Vec::new();
        for (i, r) in rules.iter().enumerate().filter(|(_, r)| applies(r)) {
            match &r.spec {
                RuleSpec::Phrases {
                    field: f,
                    phrases,
                    whole_word,
                } if *f == field => {
                    for p in phrases {
                        patterns.push(p);
                        pattern_rule.push(i as u32);
                        whole.push(*whole_word);
                    }
                }
                RuleSpec::Regex { field: f, pattern } if *f == field => {
                    regexes.push(pattern);
                    set_rule.push(i as u32);
                }
                RuleSpec::Obfuscated { field: f, words } if *f == field => {
                    obfuscated.extend(words.iter().map(|w| (w.as_str(), i as u32)));
                }
                _ => {}
            }
        }
        if defer {
            let phrases: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            let regexes: Vec<pattern::RulePattern> = regexes.into_iter().cloned().collect();
            let f = field.clone();
            let compile = move || {
                let phrases: Vec<&str> = phrases.iter().map(String::as_str).collect();
                let regexes: Vec<&str> =
                    regexes.iter().map(pattern::RulePattern::running).collect();
                field_matchers(
                    &f,
                    &phrases,
                    pattern_rule.clone(),
                    whole.clone(),
                    &regexes,
                    set_rule.clone(),
                    (build, true, false),
                )
            };
            out.fields.push(
                FieldMatcher::deferred(field, Deferred(Box::new(compile)))
                    .with_obfuscated(ObfuscatedWords::new(obfuscated)),
            );
            continue;
        }
        let regexes: Vec<&str> = regexes
            .into_iter()
            .map(pattern::RulePattern::running)
            .collect();
        pending.push(FieldInputs {
            field,
            phrases: patterns,
            pattern_rule,
            whole_word: whole,
            regexes,
            set_rule,
            obfuscated,
        });
    }
    // Building a channel's automata for many messages took `stream` 60 ms
    // on one core before its first answer; the fields (and within a long
    // text, its phrase and literal automata) build independently.
    // Not from inside a thread pool's worker: a channel built when a
    // message of it first comes is built inside a `OnceLock` on such a
    // worker, and a worker waiting for parallel work may pick up another
    // message of the same channel, which would wait on that `OnceLock`
    // in the same thread for ever.
    let parallel = build == BuildFor::Throughput && rayon::current_thread_index().is_none();
    let compile = |f: &FieldInputs| {
        field_matchers(
            &f.field,
            &f.phrases,
            f.pattern_rule.clone(),
            f.whole_word.clone(),
            &f.regexes,
            f.set_rule.clone(),
            (build, false, parallel),
        )
    };
    let built: Vec<_> = if parallel {
        use rayon::prelude::*;
        pending.par_iter().map(compile).collect()
    } else {
        pending.iter().map(compile).collect()
    };
    for (
        FieldInputs {
            field, obfuscated, ..
        },
        built,
    ) in pending.into_iter().zip(built)
    {
        let matchers = match built {
            Ok(m) => m,
            Err(e) => {
                let message = format!(
                    "cannot build matchers for field {field}: {}",
                    one_line(&e.message)
                );
                errors.push(match e.rule.and_then(|i| rules.get(i as usize)) {
                    Some(r) => rule_error_at(r, message),
                    None => rule_set_error(message),
                });
                (None, None)
            }
        };
        out.fields.push(
            FieldMatcher::compiled(field, matchers)
                .with_obfuscated(ObfuscatedWords::new(obfuscated)),
        );
    }
    for (i, r) in rules.iter().enumerate().filter(|(_, r)| applies(r)) {
        match &r.spec {
            RuleSpec::Eval(t) => out.evals.push((i, *t)),
            RuleSpec::Reputation(src) => out.reputation.push((i, src.clone())),
            RuleSpec::DnsList(l) => out.dnslists.push((i, l.clone())),
            _ => {}
        }
    }
    out.metas = meta_order
        .iter()
        .filter(|&&i| applies(&rules[i]))
        .filter_map(|&i| match &rules[i].spec {
            RuleSpec::Meta(e) => Some(super::meta::Gated::new(i, e.clone())),
            _ => None,
        })
        .collect();
    (out, errors)
}

/// An error about a loaded rule, at the file and line it came from.
fn rule_error_at(rule: &Rule, message: String) -> RuleError {
    let (file, line) = match rule.origin.rsplit_once(':') {
        Some((f, l)) if l.parse::<usize>().is_ok() => (f.to_string(), l.parse().unwrap_or(0)),
        _ => (rule.origin.clone(), 0),
    };
    RuleError {
        file,
        line,
        rule: Some(rule.id.to_string()),
        message,
    }
}

fn rule_set_error(message: String) -> RuleError {
    RuleError {
        file: "<rule set>".into(),
        line: 0,
        rule: None,
        message,
    }
}

/// Whether a rule's regex parses and compiles within the size limit: the
/// syntax and the Thompson NFA only (what a bad rule can get wrong), not a
/// whole searcher, which the rule set builds once per field later.
fn check_regex(pattern: &str) -> Result<(), String> {
    use regex_automata::nfa::thompson;
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    super::forward::with_nfa_compiler(|compiler| {
        compiler
            .configure(thompson::Config::new().nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
            .build_from_hir(&hir)
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

/// The phrase automaton and regex matcher of one field. On a long text
/// (body, HTML), and on every field when built for one message, the
/// regexes' leading literals join the phrase automaton, so one pass finds
/// both; other fields get one RegexSet, searched once per value. Built for
/// `build`; with `defer`, such regexes compile when their literal is first
/// found; with `parallel`, independent automata build on two cores.
fn field_matchers(
    field: &Field,
    phrases: &[&str],
    pattern_rule: Vec<u32>,
    whole_word: Vec<bool>,
    regexes: &[&str],
    set_rule: Vec<u32>,
    (build, defer, parallel): (BuildFor, bool, bool),
) -> Result<(Option<PhraseMatcher>, Option<RegexMatcher>), BuildError> {
    // Many messages: a short field's regexes run as one RegexSet per value.
    // One message per process: like a long text's, found by their leading
    // literals and compiled only when one occurs (compiling every regex of
    // the subject and header fields into sets was a third of the start-up).
    if regexes.is_empty() || (!field.is_long_text() && build == BuildFor::Throughput) {
        let phrases = if phrases.is_empty() {
            None
        } else {
            Some(PhraseMatcher::new(
                phrases,
                pattern_rule,
                whole_word,
                None,
                build,
            )?)
        };
        let regexes = if regexes.is_empty() {
            None
        } else {
            Some(RegexMatcher::Sets(RegexSets::build(
                regexes,
                &set_rule,
                REGEX_SIZE_LIMIT * 8,
                LAZY_DFA_CACHE,
                build,
            )?))
        };
        return Ok((phrases, regexes));
    }
    let config = regex_automata::meta::Config::new()
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(LAZY_DFA_CACHE / 4);
    let config = match build {
        BuildFor::Throughput => config,
        BuildFor::StartUp => config.dfa(false).onepass(false).backtrack(false),
    };
    if needs_unicode_folding(phrases) {
        // Phrases scan a lower-cased copy; regexes need the text as it is.
        // Two automata (and the regexes) that build independently: on two
        // cores at once when built for many messages.
        let build_phrases = || PhraseMatcher::new(phrases, pattern_rule, whole_word, None, build);
        let build_literals = || {
            let prefixed = PrefixedRegexes::new(regexes, &set_rule, &config, (build, defer))?;
            PhraseMatcher::new(&[], Vec::new(), Vec::new(), Some(prefixed), build)
                .map_err(BuildError::from)
        };
        let (phrases, literals) = if parallel {
            rayon::join(build_phrases, build_literals)
        } else {
            (build_phrases(), build_literals())
        };
        // The regexes' errors first, as when these were built in turn.
        let literals = literals?;
        let phrases = phrases?;
        return Ok((
            Some(phrases),
            Some(RegexMatcher::Prefixed(Box::new(literals))),
        ));
    }
    let prefixed = PrefixedRegexes::new(regexes, &set_rule, &config, (build, defer))?;
    let both = PhraseMatcher::new(phrases, pattern_rule, whole_word, Some(prefixed), build)?;
    Ok((Some(both), None))
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_is_file_colon_line() {
        for (file, line, want) in [
            ("rules/a.toml", 0, "rules/a.toml:0"),
            ("a.toml", 7, "a.toml:7"),
            ("a.toml", 10, "a.toml:10"),
            ("x", 1234567, "x:1234567"),
            ("", usize::MAX, &format!(":{}", usize::MAX)),
        ] {
            assert_eq!(super::origin(file, line), want);
        }
    }
}
