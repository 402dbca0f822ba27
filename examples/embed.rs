//! Embedding spamsift: build the engine once, share it between threads, and
//! classify email, SMS and IM.
//!
//! Run with `cargo run --example embed`.

use spamsift::{Engine, Message};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Built once (rules compiled into automata), then shared read-only.
    let engine = Arc::new(Engine::with_defaults()?);

    let email = b"From: \"Prize Team\" <winner2002@example.biz>\r\n\
To: undisclosed-recipients:;\r\n\
Subject: You have WON!!!\r\n\r\n\
Dear Friend, you have won $1,000,000. Click here to claim your prize: http://192.0.2.7/claim\r\n";
    let sms = r#"{"channel":"sms","from":"80082","text":"URGENT! You have WON a £1000 prize. Call 09061701461 to claim now. 150ppm"}"#;
    let im = r#"{"channel":"im","from":"@friend","to":"chat:42","text":"see you at 8, I'll bring the slides"}"#;

    let messages = vec![
        Message::from_email(email),
        Message::from_json(sms)?,
        Message::from_json(im)?,
    ];
    let handles: Vec<_> = messages
        .into_iter()
        .map(|msg| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || engine.classify(&msg))
        })
        .collect();
    for h in handles {
        let v = h.join().expect("classification thread");
        println!(
            "{:5} score {:5.1} -> {:10} [{}]",
            v.channel,
            v.score,
            v.action,
            v.tests()
        );
    }
    Ok(())
}
