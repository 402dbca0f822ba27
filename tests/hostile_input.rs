//! Hostile and malformed input never panics: random bytes and mutated
//! fixtures go through parsing, classification and header rewriting.

use spamsift::fuzzing::{Rng, mutate};
use spamsift::{Engine, Message, headers};
use std::path::Path;

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
            (0..rng.below(2000)).map(|_| rng.next_u64() as u8).collect()
        } else {
            let seed = rng.below(seeds.len());
            mutate(&mut rng, &seeds[seed])
        };
        let msg = engine.parse_email(&input);
        let v = engine.classify(&msg);
        assert!(v.score.is_finite());
        if let Ok(out) = headers::rewrite(&input, &v, &Default::default()) {
            // Only X-Spam-* fields change: taking them out again leaves
            // the input without its own.
            assert_eq!(
                headers::remove_markup(&out),
                &*headers::strip_result_fields(&input)
            );
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
