//! Learning from user feedback while the engine runs: a trained model plus
//! a small overlay of complaints, read without locks.
//!
//! Complaints are rare next to classifications, so each one copies the small
//! overlay and swaps it in (arc-swap); classification reads the current
//! snapshot. The trained model underneath never changes; `persist` folds the
//! overlay into a model file on disk.

use super::store::{Counts, Learned, MemoryStore, TokenStore, TokenStoreMut};
use crate::corpus::Label;
use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
struct Overlay {
    counts: FxHashMap<u64, Counts>,
    learned: Learned,
    /// Bumped by every learned message.
    version: u64,
}

/// A model that keeps learning from feedback.
#[derive(Debug)]
pub struct FeedbackStore {
    base: MemoryStore,
    overlay: ArcSwap<Overlay>,
    /// Serialises writers (readers never wait).
    writer: Mutex<()>,
}

impl FeedbackStore {
    /// Wrap a trained model.
    pub fn new(base: MemoryStore) -> FeedbackStore {
        FeedbackStore {
            base,
            overlay: ArcSwap::from_pointee(Overlay::default()),
            writer: Mutex::new(()),
        }
    }

    /// Learn one message's features as spam or ham.
    pub fn learn(&self, features: &[u64], label: Label) {
        let _guard = self.writer.lock();
        let mut next = Overlay::clone(&self.overlay.load());
        for &f in features {
            let c = next.counts.entry(f).or_default();
            match label {
                Label::Spam => c.spam = c.spam.saturating_add(1),
                Label::Ham => c.ham = c.ham.saturating_add(1),
            }
        }
        match label {
            Label::Spam => next.learned.spam += 1,
            Label::Ham => next.learned.ham += 1,
        }
        next.version += 1;
        self.overlay.store(Arc::new(next));
    }

    /// Messages learned from feedback so far.
    pub fn feedback_learned(&self) -> Learned {
        self.overlay.load().learned
    }

    /// Write the model with all feedback folded in (atomically).
    pub fn persist(&self, path: &Path) -> std::io::Result<()> {
        let overlay = self.overlay.load();
        let mut merged = self.base.clone();
        let mut extra = MemoryStore::new();
        for (f, c) in &overlay.counts {
            for _ in 0..c.spam {
                extra.learn(&[*f], Label::Spam, 1);
            }
            for _ in 0..c.ham {
                extra.learn(&[*f], Label::Ham, 1);
            }
        }
        merged.merge_counts(&extra, overlay.learned);
        merged.save(path)
    }
}

impl TokenStore for FeedbackStore {
    fn counts(&self, feature: u64) -> Counts {
        let b = self.base.counts(feature);
        match self.overlay.load().counts.get(&feature) {
            Some(o) => Counts {
                spam: b.spam.saturating_add(o.spam),
                ham: b.ham.saturating_add(o.ham),
            },
            None => b,
        }
    }
    fn learned(&self) -> Learned {
        let (b, o) = (self.base.learned(), self.overlay.load().learned);
        Learned {
            spam: b.spam + o.spam,
            ham: b.ham + o.ham,
        }
    }
    fn len(&self) -> usize {
        self.base.len() + self.overlay.load().counts.len()
    }
    fn for_each(&self, f: &mut dyn FnMut(u64, Counts)) -> bool {
        let overlay = self.overlay.load();
        self.base.for_each(&mut |k, b| {
            let c = match overlay.counts.get(&k) {
                Some(o) => Counts {
                    spam: b.spam.saturating_add(o.spam),
                    ham: b.ham.saturating_add(o.ham),
                },
                None => b,
            };
            f(k, c);
        });
        for (&k, &o) in &overlay.counts {
            if self.base.counts(k) == Counts::default() {
                f(k, o);
            }
        }
        true
    }
    fn version(&self) -> u64 {
        self.overlay.load().version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_adds_to_the_model() {
        let mut base = MemoryStore::new();
        base.learn(&[1], Label::Ham, 1);
        let s = FeedbackStore::new(base);
        s.learn(&[1, 2], Label::Spam);
        assert_eq!(s.counts(1), Counts { spam: 1, ham: 1 });
        assert_eq!(s.learned(), Learned { spam: 1, ham: 1 });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m");
        s.persist(&p).unwrap();
        let back = MemoryStore::load(&p).unwrap();
        assert_eq!(back.counts(2), Counts { spam: 1, ham: 0 });
        assert_eq!(back.learned(), Learned { spam: 1, ham: 1 });
    }
}
