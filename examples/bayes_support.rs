//! Dump, per message of a labelled folder pair, what the Bayes model
//! concluded (probability, summed log-odds, clues combined) and the rules'
//! score without Bayes: for choosing how much the model may say when it
//! knows little of a message.
//!
//! ```sh
//! cargo run --release --example bayes_support -- MODEL SPAM_DIR HAM_DIR > out.tsv
//! ```
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, spam, ham] = &args[..] else {
        eprintln!("usage: bayes_support MODEL SPAM_DIR HAM_DIR");
        std::process::exit(2);
    };
    let engine = spamsift::Engine::builder()
        .model_file(model)
        .build()
        .expect("engine");
    let rules_only = spamsift::Engine::builder().build().expect("engine");
    let bayes = engine.bayes().expect("model");
    println!("label\tp\tlog_odds\tclues\trules\tfeatures\tknown\tin_ham\tbayes");
    let opts = bayes.config().tokenizer();
    for (label, dir) in [("spam", spam), ("ham", ham)] {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let Ok(raw) = std::fs::read(&f) else { continue };
            let msg = engine.parse_email(&raw);
            let Some(e) = bayes.evidence(&msg) else {
                continue;
            };
            let rules = rules_only.classify(&msg).score;
            let features = spamsift::bayes::features(&msg, &opts);
            let (mut known, mut in_ham) = (0, 0);
            for &f in &features {
                let c = bayes.store().counts(f);
                known += usize::from(c.spam + c.ham > 0);
                in_ham += usize::from(c.ham > 0);
            }
            let score = bayes.band_of(e, msg.channel).map_or(0.0, |h| h.score);
            println!(
                "{label}\t{}\t{}\t{}\t{rules}\t{}\t{known}\t{in_ham}\t{score}",
                e.probability,
                e.log_odds,
                e.clues,
                features.len()
            );
        }
    }
}
