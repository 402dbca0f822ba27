//! Learning from user feedback while the engine runs: a trained model plus
//! an overlay of complaints.
//!
//! A complaint updates the overlay in place under a write lock: its cost is
//! its own features, however many complaints came before (copying the
//! overlay per complaint made 5,000 random complaints cost 9 ms each). Readers
//! take the read lock; classification mostly reads the clue table built
//! from the store, and checks the store's version, an atomic, per message.
//! The trained model underneath never changes; `persist` folds the overlay
//! into the model file on disk, adding what was learned since the last
//! save to what the file holds then (under the file's update lock), so
//! `spamsift learn` runs in the meantime are kept.

use super::store::{Counts, Learned, MemoryStore, ModelError, TokenStore};
use crate::corpus::Label;
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

#[derive(Debug, Default, Clone)]
struct Overlay {
    counts: FxHashMap<u64, Counts>,
    learned: Learned,
}

/// A model that keeps learning from feedback.
#[derive(Debug)]
pub struct FeedbackStore {
    base: MemoryStore,
    overlay: RwLock<Overlay>,
    /// The overlay as last written to disk by [`persist`](Self::persist).
    saved: Mutex<Overlay>,
    /// Bumped after every learned message.
    version: AtomicU64,
}

impl FeedbackStore {
    /// Wrap a trained model.
    pub fn new(base: MemoryStore) -> FeedbackStore {
        FeedbackStore {
            base,
            overlay: RwLock::default(),
            saved: Mutex::default(),
            version: AtomicU64::new(0),
        }
    }

    /// The overlay, read (a writer that panicked left it whole: every
    /// update is a count increment).
    fn read(&self) -> RwLockReadGuard<'_, Overlay> {
        self.overlay.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Learn one message's features as spam or ham.
    pub fn learn(&self, features: &[u64], label: Label) {
        let mut next = self.overlay.write().unwrap_or_else(|e| e.into_inner());
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
        drop(next);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Messages learned from feedback so far.
    pub fn feedback_learned(&self) -> Learned {
        self.read().learned
    }

    /// Add the feedback learned since the last save to the model file at
    /// `path`, under its update lock: what the file holds now (or, with no
    /// file, the model this store started from) plus the new feedback,
    /// written atomically. Updates others made to the file meanwhile
    /// (`spamsift learn`) are kept, and feedback is never added twice.
    pub fn persist(&self, path: &Path) -> Result<(), ModelError> {
        let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.read().clone();
        let new_counts = now.counts.iter().map(|(&k, c)| {
            let before = saved.counts.get(&k).copied().unwrap_or_default();
            let added = Counts {
                spam: c.spam.saturating_sub(before.spam),
                ham: c.ham.saturating_sub(before.ham),
            };
            (k, added)
        });
        let new_learned = Learned {
            spam: now.learned.spam.saturating_sub(saved.learned.spam),
            ham: now.learned.ham.saturating_sub(saved.learned.ham),
        };
        MemoryStore::update(
            path,
            || self.base.clone(),
            |disk| disk.add_counts(new_counts, new_learned),
        )?;
        *saved = now;
        Ok(())
    }
}

impl TokenStore for FeedbackStore {
    fn counts(&self, feature: u64) -> Counts {
        let b = self.base.counts(feature);
        match self.read().counts.get(&feature) {
            Some(o) => Counts {
                spam: b.spam.saturating_add(o.spam),
                ham: b.ham.saturating_add(o.ham),
            },
            None => b,
        }
    }
    fn learned(&self) -> Learned {
        let (b, o) = (self.base.learned(), self.read().learned);
        Learned {
            spam: b.spam + o.spam,
            ham: b.ham + o.ham,
        }
    }
    fn len(&self) -> usize {
        self.base.len() + self.read().counts.len()
    }
    fn for_each(&self, f: &mut dyn FnMut(u64, Counts)) -> bool {
        let overlay = self.read();
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
        self.version.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bayes::TokenStoreMut;

    #[test]
    fn feedback_adds_to_the_model() {
        let mut base = MemoryStore::new();
        base.learn(&[1], Label::Ham, 1);
        let s = FeedbackStore::new(base);
        s.learn(&[1, 2], Label::Spam);
        assert_eq!(s.counts(1), Counts { spam: 1, ham: 1 });
        assert_eq!(s.learned(), Learned { spam: 1, ham: 1 });
        let dir = tempfile::tempdir().expect("temporary directory");
        let p = dir.path().join("m");
        s.persist(&p).expect("feedback saves");
        let back = MemoryStore::load(&p).expect("model loads");
        assert_eq!(back.counts(2), Counts { spam: 1, ham: 0 });
        assert_eq!(back.learned(), Learned { spam: 1, ham: 1 });
    }

    #[test]
    fn saving_feedback_keeps_updates_made_to_the_file_meanwhile() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let p = dir.path().join("m");
        let mut base = MemoryStore::new();
        base.learn(&[1], Label::Ham, 1);
        base.save(&p).expect("model saves");
        let server = FeedbackStore::new(MemoryStore::load(&p).expect("model loads"));
        server.learn(&[2], Label::Spam);
        // `spamsift learn` updates the file while the server runs.
        MemoryStore::update(&p, MemoryStore::new, |m| m.learn(&[3], Label::Spam, 1))
            .expect("model updates");
        server.persist(&p).expect("feedback saves");
        let on_disk = MemoryStore::load(&p).expect("model loads");
        assert_eq!(on_disk.counts(2), Counts { spam: 1, ham: 0 });
        assert_eq!(on_disk.counts(3), Counts { spam: 1, ham: 0 });
        assert_eq!(on_disk.learned(), Learned { spam: 2, ham: 1 });
        // Saving again adds nothing twice; new feedback is added once.
        server.persist(&p).expect("feedback saves");
        server.learn(&[2], Label::Spam);
        server.persist(&p).expect("feedback saves");
        let on_disk = MemoryStore::load(&p).expect("model loads");
        assert_eq!(on_disk.counts(2), Counts { spam: 2, ham: 0 });
        assert_eq!(on_disk.counts(1), Counts { spam: 0, ham: 1 });
        assert_eq!(on_disk.learned(), Learned { spam: 3, ham: 1 });
    }

    #[test]
    fn concurrent_complaints_all_count() {
        let s = std::sync::Arc::new(FeedbackStore::new(MemoryStore::new()));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for i in 0..250u64 {
                        s.learn(&[1, 100 + t * 1000 + i], Label::Spam);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread ends");
        }
        assert_eq!(s.counts(1), Counts { spam: 1000, ham: 0 });
        assert_eq!(s.feedback_learned().spam, 1000);
        assert_eq!(s.version(), 1000);
        assert_eq!(s.len(), 1001);
    }
}
