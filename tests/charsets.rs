//! Chinese, Japanese and Korean mail in its own charsets reads as the same
//! text as its UTF-8 copy (mail-parser's `full_encoding`), so a rule on a
//! word matches whatever charset the spammer chose.

use spamsift::Message;

/// The same message in `charset` (body and an encoded-word Subject).
fn message(charset: &str, text: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("known charset");
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable, "{charset} cannot hold {text}");
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    format!(
        "From: a@b.example\r\nTo: c@d.example\r\nSubject: =?{charset}?B?{}?=\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        b64(&bytes),
        b64(&bytes)
    )
    .into_bytes()
}

#[test]
fn cjk_charsets_read_as_their_utf8_copy() {
    let table: &[(&str, &str)] = &[
        ("Shift_JIS", "無料で今すぐ登録、出会いはこちら"),
        ("ISO-2022-JP", "無料で今すぐ登録、出会いはこちら"),
        ("EUC-JP", "無料で今すぐ登録、出会いはこちら"),
        ("GBK", "免费注册，立即赢取大奖"),
        ("GB18030", "免费注册，立即赢取大奖"),
        ("Big5", "免費註冊，立即贏取大獎"),
        ("EUC-KR", "무료 가입하고 지금 당첨금을 받으세요"),
    ];
    for (charset, text) in table {
        let msg = Message::from_email(&message(charset, text));
        let utf8 = Message::from_email(&message("UTF-8", text));
        assert_eq!(msg.subject, *text, "{charset} subject");
        assert_eq!(msg.body.trim(), utf8.body.trim(), "{charset} body");
        assert!(msg.body.contains(text), "{charset}: {:?}", msg.body);
    }
}

/// A fixture text (first line the subject, then the body) as an email in
/// `charset`, with the headers an ordinary mailer writes.
fn fixture_mail(charset: &str, subject: &str, body: &str) -> Vec<u8> {
    use base64::Engine as _;
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("known charset");
    let encode = |t: &str| {
        let (bytes, _, unmappable) = enc.encode(t);
        assert!(!unmappable, "{charset} cannot hold {t}");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    format!(
        "From: Sender <sender@mail.example.net>\r\nTo: reader@example.org\r\n\
         Subject: =?{charset}?B?{}?=\r\nDate: Mon, 30 Nov 2026 10:00:00 +0900\r\n\
         Message-ID: <cjk-fixture@mail.example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        encode(subject),
        encode(body)
    )
    .into_bytes()
}

/// What a CJK fixture must get, in every charset it lists.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    charsets: Vec<String>,
    spam: bool,
    #[serde(default)]
    hits: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
}

/// Rules that read the declared charset itself, so they differ by
/// encoding; every other hit must not.
const CHARSET_RULES: &[&str] = &["MIME_ASIAN_CHARSET"];

#[test]
fn japanese_chinese_and_korean_fixtures_get_one_verdict_in_every_charset() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cjk");
    let engine = spamsift::Engine::builder().build().expect("engine");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{}", names.len());
    for path in names {
        let text = std::fs::read_to_string(&path).expect("fixture");
        let (subject, body) = text.split_once('\n').expect("subject line");
        let expect: Expect = toml::from_str(
            &std::fs::read_to_string(path.with_extension("expect.toml")).expect("expect file"),
        )
        .expect("expect toml");
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut first: Option<(String, Vec<String>)> = None;
        for charset in &expect.charsets {
            let v = engine.classify(&engine.parse_email(&fixture_mail(charset, subject, body)));
            let mut hits: Vec<String> = v
                .hits
                .iter()
                .map(|h| h.id.to_string())
                .filter(|h| !CHARSET_RULES.contains(&h.as_str()))
                .collect();
            hits.sort();
            let what = format!("{name} in {charset}: score {} {hits:?}", v.score);
            assert_eq!(v.is_spam(), expect.spam, "{what}");
            for h in &expect.hits {
                assert!(hits.contains(h), "{h} missing: {what}");
            }
            for h in &expect.absent {
                assert!(!hits.contains(h), "{h} present: {what}");
            }
            match &first {
                None => first = Some((charset.clone(), hits)),
                Some((c, h)) => assert_eq!(&hits, h, "{name}: {charset} against {c}"),
            }
        }
    }
}
