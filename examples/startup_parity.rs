//! Check that rules built for one message per process (`spamsift check`:
//! [`BuildFor::StartUp`], matchers compiled when first needed) give every
//! message the same verdict as rules built for many (`scan`, `serve`).
//! Email folders are read file by file; a tab-separated SMS file
//! (`label<TAB>text`, the SMS Spam Collection's layout) line by line; and
//! chat messages (`im:PATH`: a YouTube comment CSV, or a text file of one
//! message a line) as IM.
//!
//! ```sh
//! cargo run --release --example startup_parity -- \
//!     ../shared/corpora/spamassassin/* ../shared/corpora/modern/*/* \
//!     ../shared/corpora/sms-spam-collection/SMSSpamCollection \
//!     im:../shared/corpora/youtube-spam/Youtube01-Psy.csv \
//!     im:../shared/corpora/telegram-spam/spam-samples.txt
//! ```
use spamsift::Engine;
use spamsift::message::{Channel, Message};
use spamsift::rules::BuildFor;

fn main() {
    let many = Engine::with_defaults().expect("default rules load");
    let one = Engine::builder()
        .compile_channels(&[])
        .build_for(BuildFor::StartUp)
        .build()
        .expect("default rules load");
    let summary = |v: &spamsift::Verdict| (v.score, v.action, v.tests());
    let (mut same, mut differ) = (0usize, 0usize);
    let mut compare = |name: &str, m: &Message| {
        let (a, b) = (summary(&many.classify(m)), summary(&one.classify(m)));
        if a == b {
            same += 1;
        } else {
            differ += 1;
            println!("DIFFER {name}\n  many: {a:?}\n  one:  {b:?}");
        }
    };
    for arg in std::env::args().skip(1) {
        if let Some(im) = arg.strip_prefix("im:") {
            let label =
                spamsift::corpus::Label::parse(if im.contains("ham") { "ham" } else { "spam" });
            let mut corpus = spamsift::corpus::Corpus::default();
            spamsift::corpus::Source::auto(im, label, Channel::Im)
                .load(spamsift::corpus::Split::All, &mut corpus);
            let opts = spamsift::message::email::EmailOptions::default();
            for item in &corpus.items {
                compare(&item.origin, &item.message(&opts));
            }
            continue;
        }
        let path = std::path::Path::new(&arg);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .expect("folder is readable")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for f in files {
                let raw = std::fs::read(&f).expect("file is readable");
                compare(&f.display().to_string(), &many.parse_email(&raw));
            }
        } else {
            let text = std::fs::read_to_string(path).expect("file is readable");
            for (n, line) in text.lines().enumerate() {
                let Some((_, body)) = line.split_once('\t') else {
                    continue;
                };
                let m = spamsift::message::short::from_text(Channel::Sms, "", body);
                compare(&format!("{arg}:{}", n + 1), &m);
            }
        }
    }
    println!("{same} messages alike, {differ} differ");
    if differ > 0 {
        std::process::exit(1);
    }
}
