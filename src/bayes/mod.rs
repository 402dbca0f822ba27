//! Statistical classification: features counted in spam and ham, combined
//! with Robinson's token probabilities and Fisher's chi-square method (as
//! SpamBayes and bogofilter do), reported as `BAYES_*` band hits so the model
//! and the rules add up in one score.

pub mod classify;
pub mod feedback;
pub mod file_store;
pub mod store;
pub mod tokenizer;
pub mod weights;

pub use classify::{Band, BayesConfig, Classifier, Evidence};
pub use feedback::FeedbackStore;
pub use file_store::FileStore;
pub use store::{
    Counts, LearnOutcome, Learned, MemoryStore, ModelError, TokenStore, TokenStoreMut,
    message_digest,
};
pub use tokenizer::{TokenizerOptions, features};
