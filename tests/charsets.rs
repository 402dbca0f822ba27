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
