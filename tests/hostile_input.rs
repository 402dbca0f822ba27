//! Hostile and malformed input never panics: random bytes and mutated
//! fixtures go through parsing, classification and header rewriting.

use spamsift::{Engine, Message, headers};
use std::path::Path;

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\n\n",
    b":",
    b"<a href=",
    b"</a>",
    b"<img src=x width=0>",
    b"=?utf-8?b?",
    b"?=",
    b"--boundary",
    b"Content-Type: multipart/mixed; boundary=\"b\"\n",
    b"Content-Transfer-Encoding: base64\n",
    b"http://",
    b"www.",
    b"@",
    b"\xff\xfe",
    b"\0",
    b"\xe2\x82\xac",
    b"\xd0\x97",
    b"From ",
    b"Received: from x ([300.1.2.3])\n",
    b"%41",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.below(8) + 1 {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            1 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            2 if at < v.len() => v[at] = rng.next() as u8,
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn random_and_mutated_email_never_panics() {
    let engine = Engine::with_defaults().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for i in 0..3000 {
        let input = if i % 3 == 0 {
            (0..rng.below(2000)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = rng.below(seeds.len());
            mutate(&mut rng, &seeds[seed])
        };
        let msg = engine.parse_email(&input);
        let v = engine.classify(&msg);
        assert!(v.score.is_finite());
        if let Ok(out) = headers::rewrite(&input, &v, &Default::default()) {
            assert!(out.len() >= input.len() - input.len().min(4096));
        }
    }
}

#[test]
fn random_json_never_panics() {
    let engine = Engine::with_defaults().unwrap();
    let mut rng = Rng(42);
    let base = r#"{"channel":"sms","from":"+447700900123","to":"x","text":"Win £1000 now!!! call 09061701461 www.x.example","time":"2024-05-01T10:00:00Z"}"#;
    for _ in 0..3000 {
        let bytes = mutate(&mut rng, base.as_bytes());
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(m) = Message::from_json(text)
        {
            assert!(engine.classify(&m).score.is_finite());
        }
    }
}
