//! Loading rule files: every problem is reported with file, line and rule id;
//! meta rules evaluate as written.

use spamsift::rules::{RuleError, load_sources};
use spamsift::{Engine, Message};

fn errors(files: &[(&str, &str)]) -> Vec<RuleError> {
    match load_sources(files.iter().map(|(n, t)| (n.to_string(), t.to_string()))) {
        Ok(_) => panic!("expected load errors"),
        Err(e) => e.errors,
    }
}

fn one(files: &[(&str, &str)]) -> RuleError {
    let e = errors(files);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

const PHRASE_A: &str =
    "[[rule]]\nid = \"A\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"alpha\"]\n";

#[test]
fn duplicate_ids_across_files() {
    let e = one(&[
        ("a.toml", PHRASE_A),
        ("b.toml", &format!("# second\n\n{PHRASE_A}")),
    ]);
    assert_eq!(
        (e.file.as_str(), e.line, e.rule.as_deref()),
        ("b.toml", 3, Some("A"))
    );
    assert!(
        e.message.contains("duplicate") && e.message.contains("a.toml:1"),
        "{e}"
    );
}

#[test]
fn unknown_ids_in_meta() {
    let meta = "[[rule]]\nid = \"M\"\nscore = 1.0\nmeta = \"A && NOPE\"\n";
    let e = one(&[("a.toml", PHRASE_A), ("m.toml", meta)]);
    assert_eq!(
        e.to_string(),
        "m.toml:1: rule M: meta refers to unknown rule(s): NOPE"
    );
}

#[test]
fn meta_cycles() {
    let text = "[[rule]]\nid = \"X\"\nscore = 1.0\nmeta = \"Y || A\"\n\n[[rule]]\nid = \"Y\"\nscore = 1.0\nmeta = \"!X\"\n";
    let e = one(&[("a.toml", PHRASE_A), ("c.toml", text)]);
    assert!(
        e.message.contains("cycle") && e.message.contains("X -> Y -> X"),
        "{e}"
    );
    assert_eq!(e.file, "c.toml");
    let selfref = "[[rule]]\nid = \"S\"\nmeta = \"S\"\n";
    assert!(one(&[("s.toml", selfref)]).message.contains("cycle"));
}

#[test]
fn invalid_regex_names_rule_and_line() {
    let text = "\n\n[[rule]]\nid = \"BAD\"\nscore = 1.0\nfield = \"subject\"\nregex = \"a(b\"\n";
    let e = one(&[("r.toml", text)]);
    assert_eq!((e.line, e.rule.as_deref()), (3, Some("BAD")));
    assert!(e.message.starts_with("invalid regex"), "{e}");
    // Too big to compile: named as well, not left to fail at build time.
    let huge = "[[rule]]\nid = \"HUGE\"\nfield = \"body\"\nregex = '(?:\\p{L}{50}){50}'\n";
    let e = one(&[("h.toml", huge)]);
    assert_eq!((e.line, e.rule.as_deref()), (1, Some("HUGE")));
    assert!(
        e.message.starts_with("invalid regex") && e.message.contains("exceeded limit"),
        "{e}"
    );
}

#[test]
fn toml_syntax_error_has_line() {
    let e = one(&[("s.toml", "[[rule]]\nid = \"A\"\nscore = = 1\n")]);
    assert_eq!(
        (e.file.as_str(), e.line, e.rule.as_deref()),
        ("s.toml", 3, None)
    );
}

#[test]
fn typos_and_shape_errors() {
    // misspelled key
    let e = one(&[(
        "t.toml",
        "[[rule]]\nid = \"A\"\nscore = 1.0\nfield = \"body\"\nphrase = [\"x\"]\n",
    )]);
    assert!(e.message.contains("phrase"), "{e}");
    // two matchers
    let e = one(&[(
        "t.toml",
        "[[rule]]\nid = \"A\"\nfield = \"body\"\nphrases = [\"x\"]\nregex = \"y\"\n",
    )]);
    assert!(e.message.contains("exactly one"), "{e}");
    // unknown field, channel and eval; bad id; all reported at once
    let text = "[[rule]]\nid = \"B\"\nfield = \"bodyy\"\nphrases = [\"x\"]\n\n[[rule]]\nid = \"C\"\nchannels = [\"fax\"]\neval = \"nope\"\n\n[[rule]]\nid = \"lower\"\nfield = \"body\"\nphrases = [\"x\"]\n";
    let all = errors(&[("t.toml", text)]);
    let msgs: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.toml:1: rule B: unknown field")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.toml:6: rule C: unknown channel")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.toml:6: rule C: unknown eval test")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.toml:11: rule lower: id must be")),
        "{msgs:?}"
    );
    // phrases rule without a field
    assert!(
        one(&[("t.toml", "[[rule]]\nid = \"A\"\nphrases = [\"x\"]\n")])
            .message
            .contains("need a field")
    );
    // bad meta syntax
    assert!(
        one(&[("t.toml", "[[rule]]\nid = \"M\"\nmeta = \"A &&\"\n")])
            .message
            .contains("invalid meta")
    );
}

#[test]
fn from_dir_reports_missing_directory() {
    let e = Engine::from_dir("/nonexistent/spamsift-rules").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/spamsift-rules"), "{e}");
}

fn engine_with(rules: &str) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.toml"), rules).unwrap();
    Engine::from_dir(dir.path()).unwrap()
}

fn sms(text: &str) -> Message {
    Message::from_json(
        &serde_json::json!({"channel": "sms", "from": "+15550100", "text": text}).to_string(),
    )
    .unwrap()
}

const META_RULES: &str = r#"
[[rule]]
id = "__CHEAP"
field = "body"
phrases = ["cheap"]
whole_word = true

[[rule]]
id = "__PILLS"
field = "body"
regex = '(?i)\bpills?\b'

[[rule]]
id = "__NOW"
field = "body"
phrases = ["now"]
whole_word = true

[[rule]]
id = "TWO_OF_THREE"
description = "two of cheap, pills, now"
score = 3.0
meta = "2 of (__CHEAP, __PILLS, __NOW)"

[[rule]]
id = "CHEAP_NOT_PILLS"
description = "cheap but no pills"
score = 1.0
meta = "__CHEAP && !__PILLS"

[[rule]]
id = "NESTED"
description = "a meta over a meta"
score = 2.0
meta = "TWO_OF_THREE && (__NOW || CHEAP_NOT_PILLS)"
"#;

#[test]
fn meta_rules_evaluate_and_helpers_stay_hidden() {
    let engine = engine_with(META_RULES);
    let v = engine.classify(&sms("cheap pills"));
    assert_eq!(v.tests(), "TWO_OF_THREE");
    assert_eq!(v.score, 3.0);
    let v = engine.classify(&sms("cheap pills now"));
    assert_eq!(v.tests(), "NESTED,TWO_OF_THREE");
    assert!(v.is_spam());
    let v = engine.classify(&sms("cheap flights now"));
    assert_eq!(v.tests(), "CHEAP_NOT_PILLS,NESTED,TWO_OF_THREE");
    let v = engine.classify(&sms("cheapest pill"));
    assert_eq!(
        v.tests(),
        "",
        "whole_word keeps 'cheapest' from matching 'cheap'"
    );
    assert!(v.hits.iter().all(|h| !h.id.starts_with("__")));
}

#[test]
fn phrases_match_case_insensitively_in_any_script() {
    let engine = engine_with(
        "[[rule]]\nid = \"RU\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"ЗАРАБОТОК\"]\n\n[[rule]]\nid = \"EN\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"Free Entry\"]\n\n[[rule]]\nid = \"TITLECASE\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"ǅep\"]\n",
    );
    assert!(engine.classify(&sms("Быстрый заработок дома")).hit("RU"));
    assert!(engine.classify(&sms("FREE ENTRY to win")).hit("EN"));
    // A titlecase letter is not upper case, yet lower-cases (ǅ to ǆ).
    assert!(engine.classify(&sms("ǆep")).hit("TITLECASE"));
    assert!(engine.classify(&sms("ǄEP")).hit("TITLECASE"));
}

#[test]
fn plain_spellings_match_phrases_written_without_their_accents() {
    let engine = engine_with(
        "[[rule]]\nid = \"PLAIN\"\nscore = 1.0\nfield = \"body\"\nplain_spellings = true\nphrases = [\"Sua conta será bloqueada\", \"Konto wird gelöscht\"]\n\n[[rule]]\nid = \"AS_WRITTEN\"\nscore = 1.0\nfield = \"body\"\nphrases = [\"sua conta será bloqueada\"]\n",
    );
    for (text, plain, as_written) in [
        ("Sua conta será bloqueada hoje", true, true),
        ("Sua conta sera bloqueada hoje", true, false),
        ("SUA CONTA SERA BLOQUEADA", true, false),
        ("Ihr Konto wird gelöscht", true, false),
        ("Ihr Konto wird geloscht", true, false),
        ("Ihr Konto wird geloescht", true, false),
        ("Sua conta será desbloqueada amanhã", false, false),
    ] {
        let v = engine.classify(&sms(text));
        assert_eq!(v.hit("PLAIN"), plain, "{text}");
        assert_eq!(v.hit("AS_WRITTEN"), as_written, "{text}");
    }
    let e = one(&[(
        "t.toml",
        "[[rule]]\nid = \"A\"\nfield = \"body\"\nregex = \"x\"\nplain_spellings = true\n",
    )]);
    assert!(
        e.message.contains("plain_spellings is only for phrases"),
        "{e}"
    );
}

#[test]
fn rules_only_apply_to_their_channels() {
    let engine = engine_with(
        "[[rule]]\nid = \"MAIL_ONLY\"\nscore = 1.0\nchannels = [\"email\"]\nfield = \"body\"\nphrases = [\"x\"]\n",
    );
    assert!(!engine.classify(&sms("x")).hit("MAIL_ONLY"));
    assert!(
        engine
            .classify(&Message::from_email(b"Subject: s\n\nx\n"))
            .hit("MAIL_ONLY")
    );
}

#[test]
fn dns_list_errors_name_file_line_and_rule() {
    let table: &[(&str, &str)] = &[
        (
            "zone = \"nodots\"\nidentities = [\"client_ip\"]",
            "is not a domain name",
        ),
        (
            "zone = \"bl.test\"\nidentities = [\"client_ipp\"]",
            "unknown DNS list identity",
        ),
        ("zone = \"bl.test\"\nidentities = []", "identities is empty"),
        (
            "zone = \"bl.test\"\nidentities = [\"client_ip\"]\nreturns = [\"127.0.0.256\"]",
            "is not an IPv4 address",
        ),
        (
            "zone = \"hbl.test\"\nidentities = [\"from_address\"]",
            "address identities are asked about hashed",
        ),
        (
            "zone = \"hbl.test\"\nidentities = [\"from_address\"]\nhash = \"md4\"",
            "sha1 or sha256",
        ),
        (
            "zone = \"hbl.test\"\nidentities = [\"from_address\"]\nhash = \"sha1\"\nhash_format = \"base64\"",
            "hex or base32",
        ),
        (
            "zone = \"bl.test\"\nidentities = [\"client_ip\"]\ntimeout = 0.0",
            "above 0",
        ),
    ];
    for (body, want) in table {
        let text = format!("\n[[dnslist]]\nid = \"BL_X\"\nscore = 1.0\n{body}\n");
        let e = one(&[("lists.toml", &text)]);
        assert_eq!(
            (e.file.as_str(), e.line, e.rule.as_deref()),
            ("lists.toml", 2, Some("BL_X")),
            "{body}"
        );
        assert!(e.message.contains(want), "{body}: {}", e.message);
    }
}

/// The embedded rules' phrases are loaded as written, without the
/// lower-casing a rule file from disk gets: each must be in lower case
/// already (rules match any case).
#[test]
fn embedded_phrases_are_lower_case() {
    let mut phrases = 0;
    for (name, text) in spamsift::rules::DEFAULT_RULE_FILES {
        let file: toml::Table = toml::from_str(text).expect("embedded TOML");
        let rules = file.get("rule").and_then(|r| r.as_array());
        for rule in rules.into_iter().flatten() {
            let list = rule.get("phrases").and_then(|p| p.as_array());
            for p in list.into_iter().flatten() {
                let p = p.as_str().expect("a phrase is a string");
                assert_eq!(p, p.to_lowercase(), "{name}: {:?}", rule.get("id"));
                assert!(!p.trim().is_empty(), "{name}: {:?}", rule.get("id"));
                phrases += 1;
            }
        }
    }
    assert!(phrases > 2000, "{phrases} phrases");
}

/// The embedded default rules load without their regexes being checked
/// again at every start (`Engine::build`): this is where they are checked,
/// each compiled as a rule file from disk would be, with file and line.
#[test]
fn embedded_rules_validate() {
    let sources = spamsift::rules::DEFAULT_RULE_FILES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()));
    let checked = load_sources(sources).expect("embedded rules are valid");
    let unchecked = spamsift::rules::load_sources_checked(
        spamsift::rules::DEFAULT_RULE_FILES
            .iter()
            .map(|&(n, t)| (n.to_string(), t.into(), false)),
        &spamsift::Channel::ALL,
        spamsift::rules::BuildFor::Throughput,
    )
    .expect("the same rules, unchecked");
    assert_eq!(checked.rules().len(), unchecked.rules().len());
    // The brands, read when first asked for, are the same either way.
    let brands = |set: &spamsift::rules::RuleSet| -> Vec<(String, Vec<String>, Vec<String>)> {
        set.brands()
            .iter()
            .map(|(b, n, d)| {
                let owned = |v: &[std::borrow::Cow<'static, str>]| -> Vec<String> {
                    v.iter().map(|s| s.to_string()).collect()
                };
                (b.to_string(), owned(n), owned(d))
            })
            .collect()
    };
    assert!(checked.brands().len() > 100);
    assert_eq!(brands(&checked), brands(&unchecked));
    // Checked, every field's one-message matchers build at once too (what
    // `check` compiles only when a field first has a value).
    let sources = spamsift::rules::DEFAULT_RULE_FILES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()));
    spamsift::rules::load_sources_compiling(
        sources,
        &spamsift::Channel::ALL,
        spamsift::rules::BuildFor::StartUp,
    )
    .expect("one-message matchers of the embedded rules build");
}

#[test]
fn a_score_never_takes_the_other_side_of_its_evidence() {
    // (file text, line, what the message must say)
    let table: &[(&str, usize, &str)] = &[
        (
            "[[rule]]\nid = \"S\"\nscore = -1.0\nevidence = \"spam\"\nfield = \"body\"\nphrases = [\"x\"]\n",
            1,
            "evidence of spam",
        ),
        (
            "[[rule]]\nid = \"H\"\nscore = 0.5\nevidence = \"ham\"\nfield = \"body\"\nphrases = [\"x\"]\n",
            1,
            "evidence of ham",
        ),
        (
            "[[rule]]\nid = \"N\"\nscore = 0.5\nevidence = \"none\"\nfield = \"body\"\nphrases = [\"x\"]\n",
            1,
            "evidence of none",
        ),
        (
            "[[rule]]\nid = \"Q\"\nscore = 1.0\nevidence = \"maybe\"\nfield = \"body\"\nphrases = [\"x\"]\n",
            1,
            "one of \"spam\", \"ham\", \"none\"",
        ),
        // A local file cannot turn a spam sign into a ham sign.
        (
            "\n[[score]]\nid = \"A\"\nscore = -2.0\n",
            2,
            "A is evidence of spam",
        ),
    ];
    for (text, line, says) in table {
        let e = one(&[("a.toml", PHRASE_A), ("local.toml", text)]);
        assert_eq!((e.file.as_str(), e.line), ("local.toml", *line), "{e}");
        assert!(e.message.contains(says), "{e}");
    }
    // Switching a rule off, or a written side at 0, is fine.
    let ok = "[[score]]\nid = \"A\"\nscore = 0.0\n\n[[rule]]\nid = \"Z\"\nscore = 0.0\nevidence = \"spam\"\nfield = \"body\"\nphrases = [\"z\"]\n";
    assert!(
        spamsift::rules::load_sources(
            [("a.toml", PHRASE_A), ("l.toml", ok)].map(|(n, t)| (n.to_string(), t.to_string()))
        )
        .is_ok()
    );
}

/// A `[[brand]]` that could never match is an error naming file and line.
#[test]
fn brand_errors_name_file_and_line() {
    let cases = [
        (
            "[[brand]]\nbrand = \"Acme\"\ndisplay_names = [\"acme\"]\ndomains = [\"acme.com\"]\n",
            "letters, digits and hyphens",
            1,
        ),
        (
            "# a new brand needs both lists\n[[brand]]\nbrand = \"Acme\"\ndisplay_names = [\"acme\"]\n",
            "needs display_names and domains",
            2,
        ),
        (
            "[[brand]]\nbrand = \"Acme\"\ndisplay_names = [\"--\"]\ndomains = [\"acme\"]\n",
            "no letters or digits",
            1,
        ),
        (
            "[[brand]]\nbrand = \"Acme\"\ndisplay_name = [\"acme\"]\ndomains = [\"acme\"]\n",
            "unknown field",
            3,
        ),
    ];
    for (text, says, line) in cases {
        let e = one(&[("local.toml", text)]);
        assert_eq!((e.file.as_str(), e.line), ("local.toml", line), "{e}");
        assert!(e.message.contains(says), "{e}");
    }
}

/// A site names its own bank in a local rule file, and adds a sending
/// domain to a default brand; `FROM_BRAND_IMPERSONATION` follows.
#[test]
fn local_rule_files_add_brands() {
    let email = |from: &str| {
        Engine::builder().build().unwrap().parse_email(
            format!(
                "From: {from}\r\nTo: you@example.org\r\nSubject: Account notice\r\n\
                 Date: Mon, 1 Dec 2025 10:00:00 +0000\r\nMessage-ID: <1@x.example>\r\n\r\nPlease read.\r\n"
            )
            .as_bytes(),
        )
    };
    let fires = |engine: &Engine, from: &str| {
        engine
            .classify(&email(from))
            .hits
            .iter()
            .any(|h| &*h.id == "FROM_BRAND_IMPERSONATION")
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("brands.toml"),
        "[[brand]]\nbrand = \"Acme Savings Bank\"\ndisplay_names = [\"acme savings\"]\ndomains = [\"acmesavings\"]\n\n\
         [[brand]]\nbrand = \"amazon\"\ndomains = [\"awsapps\"]\n",
    )
    .unwrap();
    let defaults = Engine::builder().build().unwrap();
    let local = Engine::builder()
        .local_rules_dir(dir.path())
        .build()
        .unwrap();
    let bank = "Acme Savings Alerts <alerts@secure-login.example>";
    let own = "Acme Savings <alerts@mail.acmesavings.com>";
    let aws = "Amazon Web Services <no-reply@awsapps.com>";
    assert!(!fires(&defaults, bank));
    assert!(fires(&local, bank));
    assert!(!fires(&local, own));
    assert!(fires(&defaults, aws));
    assert!(!fires(&local, aws));
}

/// `obfuscated` rules: a word spelled with look-alikes hits, its plain
/// spelling does not, and a word that could never match is an error at
/// its rule's line.
#[test]
fn obfuscated_words_hit_only_when_disguised() {
    let engine = engine_with(
        "[[rule]]\nid = \"DISGUISED\"\nscore = 2.0\nfield = \"body\"\nobfuscated = [\"Casino\", \"bonus\"]\n",
    );
    for (text, hit) in [
        ("Play at our c4sino tonight", true),
        ("B0NUS waiting for you", true),
        ("Play at our casino tonight", false),
        ("the bonus is paid in March", false),
        ("c4sinos", false),
    ] {
        assert_eq!(engine.classify(&sms(text)).hit("DISGUISED"), hit, "{text}");
    }
    let cases = [
        (
            "[[rule]]\nid = \"X\"\nscore = 1.0\nfield = \"body\"\nobfuscated = [\"pump\"]\n",
            "no letter with a look-alike",
        ),
        (
            "\n[[rule]]\nid = \"X\"\nscore = 1.0\nfield = \"body\"\nobfuscated = [\"pay pal\"]\n",
            "only ASCII letters and digits",
        ),
        (
            "\n[[rule]]\nid = \"X\"\nscore = 1.0\nfield = \"body\"\nobfuscated = []\n",
            "obfuscated is empty",
        ),
        (
            "\n[[rule]]\nid = \"X\"\nscore = 1.0\nobfuscated = [\"casino\"]\n",
            "need a field",
        ),
    ];
    for (text, says) in cases {
        let e = one(&[("local.toml", text)]);
        let line = text
            .find("[[rule]]")
            .map(|i| text[..i].matches('\n').count() + 1);
        assert_eq!((e.file.as_str(), Some(e.line)), ("local.toml", line), "{e}");
        assert!(e.message.contains(says), "{e}");
    }
}
