//! Sender authentication against a real DNS server: Debian's `dnsmasq`,
//! started by the test on a loopback port and serving the zones the test
//! writes (SPF, a DKIM key for the messages it signs, DMARC policies), and
//! a zone delegated to a server that never answers. `spamsift check` with
//! `[dns]` pointing there gives each fixture its hits; the Rspamd front end
//! gives the same through its envelope headers. Without dnsmasq the test
//! says so and is skipped, except under CI, where it fails.

mod common;

use base64::Engine as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Dns {
    _server: common::Daemon,
    _silent: std::net::UdpSocket,
    port: u16,
}

/// dnsmasq serving the test zones; `.test` answered locally (NXDOMAIN for
/// what is not listed) except `slow.test`, sent to a socket that never
/// answers.
fn start_dns(dir: &Path, dkim_public: &[u8]) -> Option<Dns> {
    start_dns_with(dir, dkim_public, "")
}

/// [`start_dns`] with more dnsmasq lines.
fn start_dns_with(dir: &Path, dkim_public: &[u8], extra: &str) -> Option<Dns> {
    let dnsmasq = common::real_tool("dnsmasq (dnsmasq-base)", &["/usr/sbin/dnsmasq"])?;
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let silent_port = silent.local_addr().expect("addr").port();
    let port = common::free_port();
    let key = base64::engine::general_purpose::STANDARD.encode(dkim_public);
    // An SPF include chain longer than the 10 lookups RFC 7208 allows, and
    // an 800-byte SPF record (a TXT answer over the 512 bytes of plain UDP).
    let mut chain = String::new();
    for i in 0..12 {
        chain.push_str(&format!(
            "txt-record=chain{i}.test,\"v=spf1 include:chain{}.test -all\"\n",
            i + 1
        ));
    }
    // Each string: 13 more mechanisms, all of them valid.
    let chunk = format!("\"{}\"", " ip4:198.51.100.77".repeat(13));
    let huge = format!(
        "txt-record=huge.test,\"v=spf1 ip4:192.0.2.10 \",{}\n",
        vec![chunk; 3].join(",")
    );
    let conf = format!(
        "port={port}\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n\
         no-daemon\nlocal=/test/\nserver=/slow.test/127.0.0.1#{silent_port}\n\
         txt-record=shop.test,\"v=spf1 ip4:192.0.2.10 -all\"\n\
         txt-record=s1._domainkey.shop.test,\"v=DKIM1; k=ed25519; p={key}\"\n\
         txt-record=_dmarc.shop.test,\"v=DMARC1; p=reject\"\n\
         txt-record=bank.test,\"v=spf1 ip4:198.51.100.1 -all\"\n\
         txt-record=_dmarc.bank.test,\"v=DMARC1; p=reject\"\n\
         txt-record=_dmarc.parent.test,\"v=DMARC1; p=none; sp=quarantine\"\n\
         host-record=9.113.0.203.bl.test,127.0.0.2\n\
         host-record=10.113.0.203.bl.test,127.0.0.9\n\
         host-record=bank-secure-login.example.dbl.test,127.0.1.2\n\
         local=/bl.test/\nlocal=/dbl.test/\n{chain}{huge}{extra}"
    );
    let path = dir.join("dnsmasq.conf");
    std::fs::write(&path, conf).expect("conf");
    let mut child = Command::new(dnsmasq)
        .arg(format!("--conf-file={}", path.display()))
        .arg("--user=root")
        .arg(format!("--pid-file={}", dir.join("dnsmasq.pid").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dnsmasq");
    // Ready when it answers a query.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    // A configuration dnsmasq refuses makes it exit: say so, rather than
    // test against a server that is not there.
    assert!(
        child.try_wait().expect("dnsmasq status").is_none(),
        "dnsmasq exited: check {}",
        path.display()
    );
    Some(Dns {
        _server: common::Daemon(child, None),
        _silent: silent,
        port,
    })
}

/// A UDP DNS server on a loopback port answering every question with a
/// CNAME: `loop-a.loop.test` for any name, `loop-b` for `loop-a` and
/// `loop-a` for `loop-b`, so following the chain never ends. Runs until
/// the test process exits.
fn cname_loop_server() -> u16 {
    fn encode(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = socket.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let q = &buf[..n];
            // The question name ends at its zero label; then type, class.
            let Some(end) = q.get(12..).and_then(|b| b.iter().position(|&x| x == 0)) else {
                continue;
            };
            let question = &q[12..12 + end + 5];
            let first = String::from_utf8_lossy(&question[1..1 + question[0] as usize])
                .to_ascii_lowercase();
            let target = match first.as_str() {
                "loop-a" => "loop-b.loop.test",
                _ => "loop-a.loop.test",
            };
            let rdata = encode(target);
            let mut r = Vec::new();
            r.extend_from_slice(&q[..2]); // id
            r.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
            r.extend_from_slice(question);
            r.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            r.extend_from_slice(&rdata);
            let _ = socket.send_to(&r, peer);
        }
    });
    port
}

/// An Ed25519 key: PKCS#8 (for signing) and the public key (for DNS).
fn key_pair() -> (Vec<u8>, Vec<u8>) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("keygen");
    let public = Ed25519Key::from_pkcs8_der(&pkcs8)
        .expect("key")
        .public_key();
    (pkcs8, public)
}

/// A spamsift.toml whose `[dns]` asks the test server (0.5 s per query),
/// with more `[dns]` lines.
fn dns_config(dir: &Path, port: u16, more: &str) -> std::path::PathBuf {
    let conf = dir.join("spamsift.toml");
    std::fs::write(
        &conf,
        format!("[dns]\nservers = [\"127.0.0.1:{port}\"]\ntimeout = 0.5\n{more}"),
    )
    .expect("config");
    conf
}

/// A directory of local rules holding `lists.toml`.
fn list_rules(dir: &Path, text: &str) -> std::path::PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("lists.toml"), text).expect("rules");
    rules
}

/// `check --json` with local rules (a global option: before the command).
fn check_local(conf: &Path, rules: &Path, args: &[&str], raw: &[u8]) -> serde_json::Value {
    let mut all = vec![
        "--config",
        conf.to_str().expect("path"),
        "--local-rules",
        rules.to_str().expect("path"),
        "check",
        "--json",
    ];
    all.extend_from_slice(args);
    let out = common::run(&all, raw);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::root().join("tests/fixtures/auth").join(name)).expect("fixture")
}

/// A message with a DKIM-Signature of `shop.test` (selector s1) prepended.
fn signed(key: &[u8], raw: &[u8]) -> Vec<u8> {
    let key = Ed25519Key::from_pkcs8_der(key).expect("key");
    let sig = DkimSigner::from_key(key)
        .domain("shop.test")
        .selector("s1")
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(raw)
        .expect("sign");
    [sig.to_header().into_bytes(), raw.to_vec()].concat()
}

fn check(conf: &Path, args: &[&str], raw: &[u8]) -> (serde_json::Value, Duration) {
    let mut all = vec!["--config", conf.to_str().expect("path"), "check", "--json"];
    all.extend_from_slice(args);
    let t = Instant::now();
    let out = common::run(&all, raw);
    let took = t.elapsed();
    assert!(out.status.success(), "{out:?}");
    (serde_json::from_slice(&out.stdout).expect("json"), took)
}

fn hits(v: &serde_json::Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn spf_dkim_dmarc_against_a_real_dns_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pkcs8, public) = key_pair();
    let Some(dns) = start_dns(dir.path(), &public) else {
        return;
    };
    let conf = dns_config(
        dir.path(),
        dns.port,
        "budget = 1.0\nauthserv_id = \"mx.test\"\n",
    );

    // A signed newsletter from its own servers: everything passes.
    let news = signed(&pkcs8, &fixture("newsletter.eml"));
    let (v, _) = check(
        &conf,
        &[
            "--client-ip",
            "192.0.2.10",
            "--mail-from",
            "news@shop.test",
            "--helo",
            "mx.shop.test",
        ],
        &news,
    );
    let h = hits(&v);
    for want in ["SPF_PASS", "DKIM_VALID", "DMARC_PASS"] {
        assert!(h.contains(&want.to_string()), "{want}: {h:?}");
    }
    assert_eq!(v["action"], "ham", "{v}");
    // Passed on with the results as an Authentication-Results field.
    let out = common::run(
        &[
            "--config",
            conf.to_str().expect("path"),
            "check",
            "--client-ip",
            "192.0.2.10",
            "--mail-from",
            "news@shop.test",
        ],
        &news,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().next().map(|l| l.trim_end_matches('\r')),
        Some(
            "Authentication-Results: mx.test; spf=pass smtp.mailfrom=shop.test; dkim=pass header.d=shop.test; dmarc=pass policy.dmarc=reject header.from=shop.test; arc=none"
        ),
        "{text}"
    );

    // The same message altered after signing: the signature fails, and
    // DMARC still passes on aligned SPF.
    let mut tampered = news.clone();
    let at = tampered.len() - 8;
    tampered[at] = b'X';
    let (v, _) = check(
        &conf,
        &["--client-ip", "192.0.2.10", "--mail-from", "news@shop.test"],
        &tampered,
    );
    let h = hits(&v);
    assert!(h.contains(&"DKIM_INVALID".to_string()), "{h:?}");
    assert!(h.contains(&"DMARC_PASS".to_string()), "{h:?}");

    // The same newsletter sent from elsewhere, unsigned: SPF fails and
    // shop.test says reject.
    let (v, _) = check(
        &conf,
        &[
            "--client-ip",
            "203.0.113.9",
            "--mail-from",
            "news@shop.test",
        ],
        &fixture("newsletter.eml"),
    );
    let h = hits(&v);
    assert!(
        h.contains(&"SPF_FAIL".to_string()) && h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );

    // A forged bank mail from a stranger's address: SPF fail, DMARC reject,
    // spam.
    let (v, _) = check(
        &conf,
        &[
            "--client-ip",
            "203.0.113.9",
            "--mail-from",
            "security@bank.test",
        ],
        &fixture("forged-bank.eml"),
    );
    let h = hits(&v);
    assert!(
        h.contains(&"SPF_FAIL".to_string()) && h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );
    assert_ne!(v["action"], "ham", "{v}");

    // A domain whose name server never answers: the verdict comes within
    // the budget, with DNS_TIMEOUT showing what is missing.
    let (v, took) = check(
        &conf,
        &[
            "--client-ip",
            "192.0.2.77",
            "--mail-from",
            "someone@slow.test",
        ],
        &fixture("slow-sender.eml"),
    );
    assert!(hits(&v).contains(&"DNS_TIMEOUT".to_string()), "{v}");
    assert!(took < Duration::from_secs(4), "{took:?}");

    // Without a [dns] section: no lookups, no authentication hit.
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, "").expect("config");
    let (v, _) = check(
        &bare,
        &[
            "--client-ip",
            "203.0.113.9",
            "--mail-from",
            "security@bank.test",
        ],
        &fixture("forged-bank.eml"),
    );
    assert!(
        !hits(&v)
            .iter()
            .any(|h| h.starts_with("SPF_") || h.starts_with("DMARC_") || h.starts_with("DKIM_")),
        "{v}"
    );

    // The Rspamd front end authenticates with its envelope headers.
    let port = common::free_port();
    let _rspamd = common::daemon(
        &[
            "--config",
            conf.to_str().expect("path"),
            "rspamd",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--controller",
            "none",
        ],
        port,
    );
    let raw = fixture("forged-bank.eml");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    use std::io::{Read, Write};
    c.write_all(
        format!(
            "POST /checkv2 HTTP/1.0\r\nIP: 203.0.113.9\r\nFrom: security@bank.test\r\nContent-Length: {}\r\n\r\n",
            raw.len()
        )
        .as_bytes(),
    )
    .expect("write");
    c.write_all(&raw).expect("write");
    let mut answer = String::new();
    c.read_to_string(&mut answer).expect("read");
    assert!(
        answer.contains("\"SPF_FAIL\"") && answer.contains("\"DMARC_REJECT\""),
        "{answer}"
    );
}

#[test]
fn results_of_a_trusted_authserv_id_are_read_others_ignored() {
    let (_dir, conf) = trusting_mx_example_org();
    let with = |id: &str| {
        [
            format!(
                "Authentication-Results: {id}; spf=fail smtp.mailfrom=security@bank.test;\n dmarc=fail (p=REJECT dis=NONE) header.from=bank.test\n"
            )
            .into_bytes(),
            fixture("forged-bank.eml"),
        ]
        .concat()
    };
    let (v, _) = check(&conf, &[], &with("mx.example.org"));
    let h = hits(&v);
    assert!(
        h.contains(&"SPF_FAIL".to_string()) && h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );
    // The same field from an authserv-id not ours (a sender's forgery).
    let (v, _) = check(&conf, &[], &with("mx.evil.example"));
    assert!(
        !hits(&v)
            .iter()
            .any(|h| h.starts_with("SPF_") || h.starts_with("DMARC_")),
        "{v}"
    );
}

#[test]
fn dns_lists_for_the_client_address_and_linked_domains() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = key_pair();
    let Some(dns) = start_dns(dir.path(), &public) else {
        return;
    };
    let conf = dns_config(dir.path(), dns.port, "budget = 1.0\n");
    let rules = list_rules(
        dir.path(),
        r#"
[[dnslist]]
id = "RCVD_IN_TEST_BL"
description = "Client address on the test block list"
score = 3.0
zone = "bl.test"
identities = ["client_ip"]
returns = ["127.0.0.2"]

[[dnslist]]
id = "URIBL_TEST"
description = "A linked domain on the test domain list"
score = 2.5
zone = "dbl.test"
identities = ["url_hosts", "from_domain"]
"#,
    );
    let raw = fixture("forged-bank.eml");
    let run = |ip: &str| {
        let (v, _) = check(
            &conf,
            &["--client-ip", ip, "--mail-from", "security@bank.test"],
            &raw,
        );
        v
    };
    let listed = |ip: &str| {
        check_local(
            &conf,
            &rules,
            &["--client-ip", ip, "--mail-from", "security@bank.test"],
            &raw,
        )
    };
    // Listed address (127.0.0.2) and listed linked domain.
    let h = hits(&listed("203.0.113.9"));
    assert!(
        h.contains(&"RCVD_IN_TEST_BL".to_string()) && h.contains(&"URIBL_TEST".to_string()),
        "{h:?}"
    );
    // An address answered with a return code the list does not count.
    let h = hits(&listed("203.0.113.10"));
    assert!(!h.contains(&"RCVD_IN_TEST_BL".to_string()), "{h:?}");
    assert!(h.contains(&"URIBL_TEST".to_string()), "{h:?}");
    // An address not listed at all (NXDOMAIN).
    assert!(!hits(&listed("192.0.2.200")).contains(&"RCVD_IN_TEST_BL".to_string()));
    // Without the list rules, nothing is asked and nothing hits.
    assert!(!hits(&run("203.0.113.9")).iter().any(|h| h.contains("TEST")));
}

#[test]
fn hostile_records_give_errors_within_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = key_pair();
    let Some(dns) = start_dns(dir.path(), &public) else {
        return;
    };
    let conf = dns_config(dir.path(), dns.port, "budget = 1.5\n");
    let msg = |domain: &str| {
        format!(
            "From: a@{domain}\nTo: b@example.org\nSubject: hello\nDate: Mon, 23 Nov 2026 09:12:44 +0000\nMessage-ID: <1@{domain}>\n\nHi.\n"
        )
        .into_bytes()
    };
    // Too many lookups: a permanent error, not an endless walk.
    let (v, took) = check(
        &conf,
        &["--client-ip", "192.0.2.10", "--mail-from", "a@chain0.test"],
        &msg("chain0.test"),
    );
    assert!(hits(&v).contains(&"SPF_ERROR".to_string()), "{v}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // A record too large for plain UDP: fetched whole (over TCP) and
    // evaluated.
    let (v, took) = check(
        &conf,
        &["--client-ip", "192.0.2.10", "--mail-from", "a@huge.test"],
        &msg("huge.test"),
    );
    let h = hits(&v);
    assert!(h.contains(&"SPF_PASS".to_string()), "{h:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_list_forward_broken_for_dkim_is_vouched_for_by_arc() {
    use mail_auth::arc::ArcSealer;
    use mail_auth::{AuthenticatedMessage, AuthenticationResults, MessageAuthenticator};
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = Ed25519Key::generate_pkcs8().expect("keygen");
    let list = Ed25519Key::generate_pkcs8().expect("keygen");
    let list_public = Ed25519Key::from_pkcs8_der(&list).expect("key").public_key();
    let extra = format!(
        "txt-record=s2._domainkey.list.test,\"v=DKIM1; k=ed25519; p={}\"\n",
        base64::engine::general_purpose::STANDARD.encode(&list_public)
    );
    let shop_public = Ed25519Key::from_pkcs8_der(&shop).expect("key").public_key();
    let Some(dns) = start_dns_with(dir.path(), &shop_public, &extra) else {
        return;
    };
    // The shop's signed newsletter reaches the list, which checks it...
    let original = signed(&shop, &fixture("newsletter.eml"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = mail_auth::hickory_resolver::config::ResolverConfig::from_parts(
        None,
        Vec::new(),
        Vec::new(),
    );
    config.add_name_server(mail_auth::hickory_resolver::config::NameServerConfig::new(
        ([127, 0, 0, 1], dns.port).into(),
        mail_auth::hickory_resolver::config::ProtocolConfig::Udp,
    ));
    let authenticator =
        MessageAuthenticator::new(config, Default::default()).expect("authenticator");
    let parsed = AuthenticatedMessage::parse(&original).expect("parse");
    let (dkim, arc) = rt.block_on(async {
        (
            authenticator.verify_dkim(&parsed).await,
            authenticator.verify_arc(&parsed).await,
        )
    });
    assert!(
        dkim.iter()
            .any(|d| d.result() == &mail_auth::DkimResult::Pass)
    );
    let results = AuthenticationResults::new("list.test")
        .with_dkim_results(&dkim, "shop.test")
        .with_arc_result(&arc, "192.0.2.10".parse().expect("ip"));
    // ...adds its footer (which breaks the shop's body hash) and seals.
    let mut forwarded = original.clone();
    forwarded.extend_from_slice(b"\n--\nShop news list: unsubscribe at https://list.test/u\n");
    let parsed_fwd = AuthenticatedMessage::parse(&forwarded).expect("parse");
    let seal = ArcSealer::from_key(Ed25519Key::from_pkcs8_der(&list).expect("key"))
        .domain("list.test")
        .selector("s2")
        .headers(["From", "To", "Subject", "DKIM-Signature"])
        .seal(&parsed_fwd, &results, &arc)
        .expect("seal");
    let sealed = [seal.to_header().into_bytes(), forwarded].concat();
    let conf = dns_config(dir.path(), dns.port, "budget = 1.0\n");
    // At the subscriber: the shop's signature fails, the list's ARC holds;
    // without trusting the list, DMARC's p=reject counts.
    let (v, _) = check(&conf, &["--client-ip", "198.51.100.20"], &sealed);
    let h = hits(&v);
    assert!(
        h.contains(&"DKIM_INVALID".to_string())
            && h.contains(&"ARC_VALID".to_string())
            && h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );
    // Trusting the list's seal rescues the forward.
    let trusting = dir.path().join("trusting.toml");
    std::fs::write(
        &trusting,
        format!(
            "[dns]\nservers = [\"127.0.0.1:{}\"]\ntimeout = 0.5\nbudget = 1.0\ntrusted_arc_sealers = [\"list.test\"]\n",
            dns.port
        ),
    )
    .expect("config");
    let (v, _) = check(&trusting, &["--client-ip", "198.51.100.20"], &sealed);
    let h = hits(&v);
    assert!(
        h.contains(&"ARC_TRUSTED_FORWARD".to_string()) && !h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );
    assert_eq!(v["action"], "ham", "{v}");
    // A seal broken after the fact: ARC_INVALID.
    let mut broken = sealed.clone();
    let at = broken.len() - 5;
    broken[at] = b'Z';
    let (v, _) = check(&conf, &["--client-ip", "198.51.100.20"], &broken);
    assert!(hits(&v).contains(&"ARC_INVALID".to_string()), "{v}");
}

#[test]
fn brand_forgery_and_the_subdomain_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = key_pair();
    let Some(dns) = start_dns(dir.path(), &public) else {
        return;
    };
    let conf = dns_config(dir.path(), dns.port, "budget = 1.0\n");
    // A brand's name in the display name, DMARC failing for a p=reject domain.
    let forged = String::from_utf8(fixture("forged-bank.eml"))
        .expect("utf-8")
        .replace("From: Bank Security <", "From: PayPal Security Team <");
    let (v, _) = check(
        &conf,
        &[
            "--client-ip",
            "203.0.113.9",
            "--mail-from",
            "security@bank.test",
        ],
        forged.as_bytes(),
    );
    let h = hits(&v);
    assert!(
        h.contains(&"BRAND_NAME_DMARC_FAIL".to_string()) && h.contains(&"DMARC_REJECT".to_string()),
        "{h:?}"
    );
    // A subdomain without its own record takes the parent's sp=, not p=.
    let sub = "From: Billing <billing@mail.parent.test>\nTo: b@example.org\nSubject: invoice\nDate: Mon, 23 Nov 2026 09:12:44 +0000\nMessage-ID: <9@mail.parent.test>\n\nYour invoice is attached.\n";
    let (v, _) = check(
        &conf,
        &[
            "--client-ip",
            "203.0.113.9",
            "--mail-from",
            "billing@mail.parent.test",
        ],
        sub.as_bytes(),
    );
    let h = hits(&v);
    assert!(
        h.contains(&"DMARC_QUARANTINE".to_string()) && !h.contains(&"DMARC_NONE".to_string()),
        "{h:?}"
    );
}

#[test]
fn hashed_addresses_relays_per_list_timeouts_and_cname_loops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = key_pair();
    // The SHA-1 of "phisher@crook.test" on a hashed-address list; a relay
    // address on the block list; `loop.test` served by a server whose
    // names are all CNAMEs of each other (dnsmasq refuses to serve a loop
    // itself).
    let looping = cname_loop_server();
    let Some(dns) = start_dns_with(
        dir.path(),
        &public,
        &format!(
            "host-record=1a1ec1468d90357a85d7aa1337a2c01d1114863e.hbl.test,127.0.0.2\n\
         local=/hbl.test/\n\
         server=/loop.test/127.0.0.1#{}\n",
            looping
        ),
    ) else {
        return;
    };
    let conf = dns_config(dir.path(), dns.port, "budget = 3.0\n");
    let rules = list_rules(
        dir.path(),
        r#"
[[dnslist]]
id = "HBL_TEST_FROM"
description = "The From address on the hashed-address list"
score = 2.0
zone = "hbl.test"
identities = ["from_address", "return_path_address"]
hash = "sha1"

[[dnslist]]
id = "RCVD_RELAY_IN_TEST_BL"
description = "A relay before the client on the test block list"
score = 1.5
zone = "bl.test"
identities = ["received_ips"]
returns = ["127.0.0.2"]

[[dnslist]]
id = "LOOPING_LIST"
description = "A list whose answers are CNAME loops"
score = 1.0
zone = "loop.test"
identities = ["client_ip"]

[[dnslist]]
id = "SLOW_LIST"
description = "A list that never answers, waited for 0.3 s"
score = 1.0
zone = "slow.test"
identities = ["client_ip"]
timeout = 0.3
"#,
    );
    let msg = |from: &str| {
        format!(
            "Received: from relay.crook.test (relay.crook.test [198.51.100.20]) by mx.example.org\n\
Received: from pc (pc [203.0.113.9]) by relay.crook.test\n\
Received: from lan (lan [203.0.113.44]) by pc\n\
From: Billing <{from}>\nTo: b@example.org\nSubject: invoice\n\
Date: Mon, 23 Nov 2026 09:12:44 +0000\nMessage-ID: <1@crook.test>\n\nPay now.\n"
        )
        .into_bytes()
    };
    let run = |from: &str, mail_from: &str| {
        check_local(
            &conf,
            &rules,
            &["--client-ip", "198.51.100.20", "--mail-from", mail_from],
            &msg(from),
        )
    };
    let t = Instant::now();
    let v = run("Phisher@Crook.test", "bounce@loop-a.loop.test");
    let took = t.elapsed();
    let h = hits(&v);
    eprintln!("hits: {h:?} in {took:?}");
    // The From address, lower-cased and hashed, is listed; the relay two
    // hops below the client (203.0.113.9 is on bl.test) is found; the
    // never-answering list gave up at its own 0.3 s, not the 3 s budget;
    // the CNAME loop (the envelope sender's SPF, a list answer) is an
    // error, not a hang.
    assert!(h.contains(&"HBL_TEST_FROM".to_string()), "{h:?}");
    assert!(h.contains(&"RCVD_RELAY_IN_TEST_BL".to_string()), "{h:?}");
    assert!(!h.contains(&"SLOW_LIST".to_string()), "{h:?}");
    assert!(!h.contains(&"LOOPING_LIST".to_string()), "{h:?}");
    assert!(h.contains(&"DNS_TIMEOUT".to_string()), "{h:?}");
    assert!(
        h.iter()
            .any(|x| x == "SPF_TEMPERROR" || x == "SPF_ERROR" || x == "SPF_NONE"),
        "{h:?}"
    );
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // The envelope sender is the return path that is hashed: listed while
    // the From is not.
    assert!(
        !hits(&run("billing@crook.test", "bounce@crook.test"))
            .contains(&"HBL_TEST_FROM".to_string())
    );
    assert!(
        hits(&run("billing@crook.test", "phisher@crook.test"))
            .contains(&"HBL_TEST_FROM".to_string())
    );
}

#[test]
fn scan_asks_dns_only_when_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pkcs8, public) = key_pair();
    let Some(dns) = start_dns(dir.path(), &public) else {
        return;
    };
    let conf = dns_config(dir.path(), dns.port, "budget = 1.0\n");
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).expect("mkdir");
    std::fs::write(
        mail.join("1.eml"),
        signed(&pkcs8, &fixture("newsletter.eml")),
    )
    .expect("write");
    std::fs::write(mail.join("2.eml"), fixture("forged-bank.eml")).expect("write");
    let scan = |extra: &[&str]| {
        let mut args = vec!["--config", conf.to_str().expect("path"), "scan"];
        args.extend_from_slice(extra);
        args.push(mail.to_str().expect("path"));
        common::run(&args, b"")
    };
    let lines = |out: &std::process::Output| -> Vec<Vec<String>> {
        assert!(out.status.success(), "{out:?}");
        let mut v: Vec<(String, Vec<String>)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                (v["origin"].as_str().expect("origin").to_string(), hits(&v))
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, h)| h).collect()
    };
    // Offline by default: no authentication hit at all.
    let plain = lines(&scan(&[]));
    assert!(
        plain
            .iter()
            .flatten()
            .all(|h| !h.starts_with("DKIM_") && !h.starts_with("DMARC_")),
        "{plain:?}"
    );
    // With --dns: the newsletter's signature verifies; the forged bank mail
    // (no signature, no SPF without a connection) fails DMARC with p=reject.
    let asked = lines(&scan(&["--dns"]));
    assert!(asked[0].contains(&"DKIM_VALID".to_string()), "{asked:?}");
    assert!(asked[0].contains(&"DMARC_PASS".to_string()), "{asked:?}");
    assert!(asked[1].contains(&"DMARC_REJECT".to_string()), "{asked:?}");
    // --dns without a resolver configured is a setup error, not a silent
    // offline run.
    let out = common::run(&["scan", "--dns", mail.to_str().expect("path")], b"");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[dns]"));
}

/// RFC 8058 one-click unsubscribe lowers the score only together with
/// the From domain's authentication: the same fields in an unauthenticated
/// (or forged) message count for nothing.
#[test]
fn one_click_unsubscribe_counts_only_when_the_sender_authenticated() {
    let (_dir, conf) = trusting_mx_example_org();
    let mail = |dmarc: &str, post: &str| {
        format!(
            "Authentication-Results: mx.example.org; dkim=pass header.d=news.example;\n dmarc={dmarc} header.from=news.example\n\
             From: Example News <letters@news.example>\nTo: reader@example.org\nSubject: This week's news\n\
             Date: Mon, 30 Nov 2026 10:00:00 +0000\nMessage-ID: <w48@news.example>\n\
             List-Unsubscribe: <https://news.example/u/abc>, <mailto:unsub@news.example>\n{post}\n\
             This week: three stories from our readers.\n"
        )
        .into_bytes()
    };
    let one_click = "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n";
    let hit = |raw: &[u8]| {
        hits(&check(&conf, &[], raw).0).contains(&"BULK_ONE_CLICK_AUTHENTICATED".to_string())
    };
    assert!(hit(&mail("pass", one_click)));
    assert!(!hit(&mail("fail", one_click)), "not without DMARC");
    assert!(!hit(&mail("pass", "")), "not without the one-click field");
}

/// A config that reads the Authentication-Results of `mx.example.org`
/// (our MTA), in a directory of its own.
fn trusting_mx_example_org() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("spamsift.toml");
    std::fs::write(
        &conf,
        "[parse]\ntrusted_authserv_ids = [\"mx.example.org\"]\n",
    )
    .expect("config");
    (dir, conf)
}
