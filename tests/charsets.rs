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

/// The same fixture written as many Japanese, Chinese and Korean mailers
/// write it: Subject and From name raw in the charset (8-bit bytes, or
/// ISO-2022-JP's escapes), not as RFC 2047 encoded words, and the body
/// unencoded (8bit).
fn fixture_mail_raw(charset: &str, subject: &str, body: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("known charset");
    let encode = |t: &str| {
        let (bytes, _, unmappable) = enc.encode(t);
        assert!(!unmappable, "{charset} cannot hold {t}");
        bytes.into_owned()
    };
    // The From name: the subject's first three letters.
    let name: String = subject
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(3)
        .collect();
    let mut mail = b"From: ".to_vec();
    mail.extend(encode(&name));
    mail.extend_from_slice(b" <sender@mail.example.net>\r\nTo: reader@example.org\r\nSubject: ");
    mail.extend(encode(subject));
    mail.extend_from_slice(
        format!(
            "\r\nDate: Mon, 30 Nov 2026 10:00:00 +0900\r\n\
             Message-ID: <cjk-fixture@mail.example.net>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        )
        .as_bytes(),
    );
    mail.extend(encode(&body.replace('\n', "\r\n")));
    mail
}

#[test]
fn subject_and_from_name_written_raw_in_a_legacy_charset_are_read() {
    let table: &[(&str, &str)] = &[
        ("Shift_JIS", "未承諾広告※無料で今すぐ登録"),
        ("EUC-JP", "未承諾広告※無料で今すぐ登録"),
        ("ISO-2022-JP", "未承諾広告※無料で今すぐ登録"),
        ("GBK", "免费注册，立即赢取大奖"),
        ("Big5", "免費註冊，立即贏取大獎"),
        ("EUC-KR", "무료 가입하고 지금 당첨금을 받으세요"),
        ("KOI8-R", "Бесплатная регистрация"),
    ];
    for (charset, text) in table {
        let msg = Message::from_email(&fixture_mail_raw(charset, text, "text\n"));
        assert_eq!(msg.subject, *text, "{charset} subject");
        let name: String = text
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(3)
            .collect();
        assert_eq!(msg.from_name(), Some(name.as_str()), "{charset} From name");
        let from = msg.from.as_ref().and_then(|f| f.address.as_deref());
        assert_eq!(
            from,
            Some("sender@mail.example.net"),
            "{charset} From address"
        );
    }
}

#[test]
fn a_raw_subject_in_an_undeclared_charset_is_guessed() {
    // No Content-Type anywhere: the charset is guessed from the bytes
    // (chardetng). Subjects long enough to tell the charsets apart.
    let table: &[(&str, &str)] = &[
        (
            "Shift_JIS",
            "【未承諾広告※】本日限定！無料で今すぐ会員登録できます",
        ),
        (
            "EUC-JP",
            "【未承諾広告※】本日限定！無料で今すぐ会員登録できます",
        ),
        ("GBK", "免费注册会员，立即赢取大奖，机会难得不要错过"),
        ("Big5", "免費註冊會員，立即贏取大獎，機會難得不要錯過"),
        ("EUC-KR", "무료 회원 가입하고 지금 바로 당첨금을 받으세요"),
    ];
    for (charset, text) in table {
        let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("charset");
        let mut mail = b"From: a@b.example\r\nSubject: ".to_vec();
        mail.extend(enc.encode(text).0.iter());
        mail.extend_from_slice(b"\r\n\r\nhello\r\n");
        assert_eq!(Message::from_email(&mail).subject, *text, "{charset}");
    }
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
        let written = expect.charsets.iter().flat_map(|charset| {
            [
                (
                    format!("{charset} (encoded words)"),
                    fixture_mail(charset, subject, body),
                ),
                (
                    format!("{charset} (raw 8-bit)"),
                    fixture_mail_raw(charset, subject, body),
                ),
            ]
        });
        for (charset, mail) in written {
            let v = engine.classify(&engine.parse_email(&mail));
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
