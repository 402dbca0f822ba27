//! A model file read in place: its bytes are checked (magic, version,
//! size, checksum) and its sorted feature records searched as they are,
//! with no hash map built and no clue table precomputed. For one message
//! per process (`spamsift check --model`), where building either costs far
//! more than classifying; daemons and batch commands load a
//! [`MemoryStore`](super::MemoryStore) and precompute clues instead.
//!
//! The file is mapped, not read: its pages come from the page cache as
//! they are touched, with no copy into anonymous memory (reading a 915 kB
//! model faulted in 224 fresh heap pages and copied every byte; mapped, the
//! checksum pass maps the cached pages a few at a time).

use super::store::{Counts, HEADER, Layout, Learned, ModelError, RECORD, TokenStore, record};
use std::path::Path;

/// A model file's bytes, searched in place.
#[derive(Debug)]
pub struct FileStore {
    bytes: ModelBytes,
    layout: Layout,
}

/// The bytes of a model file: mapped when it is a regular file, else read.
#[derive(Debug)]
enum ModelBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for ModelBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ModelBytes::Mapped(m) => m,
            ModelBytes::Read(v) => v,
        }
    }
}

impl ModelBytes {
    /// Map `path` if it is a non-empty regular file; read it otherwise
    /// (a pipe, `/dev/stdin`, or a file the kernel will not map).
    fn load(path: &Path) -> std::io::Result<ModelBytes> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.len() > 0 {
            // SAFETY: the mapping is read-only and private to this
            // process, and it lives only as long as one short `check`.
            // Every spamsift command that writes a model writes a new
            // file and renames it over the old one (`fsutil`), so the
            // mapped inode is never changed. Another program that
            // truncated the file in place while it was mapped would end
            // the process with SIGBUS: the MTA sees a failed filter and
            // retries, no mail is lost or passed unfiltered. Daemons,
            // which would hold the mapping for long, read their model
            // into memory instead (`MemoryStore`).
            if let Ok(map) = unsafe { memmap2::MmapOptions::new().populate().map(&file) } {
                return Ok(ModelBytes::Mapped(map));
            }
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut &file, &mut bytes)?;
        Ok(ModelBytes::Read(bytes))
    }
}

impl FileStore {
    /// Read and check a model file. The records must be sorted by feature
    /// (as every spamsift writes them); a file whose records are not is
    /// refused rather than searched wrongly.
    pub fn open(path: &Path) -> Result<FileStore, ModelError> {
        let p = path.display().to_string();
        let bytes = ModelBytes::load(path).map_err(|source| ModelError::Io {
            path: p.clone(),
            source,
        })?;
        let layout = Layout::check(&p, &bytes)?;
        let store = FileStore { bytes, layout };
        // One pass over the records' keys, a record at a time (indexing
        // each key twice with its bounds checked was 830k instructions
        // of a `check --model` with a 57,000-feature model).
        let keys = store.bytes[HEADER..store.layout.records_end]
            .chunks_exact(RECORD)
            .map(|r| {
                let mut k = [0u8; 8];
                k.copy_from_slice(&r[..8]);
                u64::from_le_bytes(k)
            });
        let mut sorted = true;
        let mut last = None;
        for k in keys {
            sorted &= last.is_none_or(|l| l < k);
            last = Some(k);
        }
        if !sorted {
            return Err(ModelError::Corrupt {
                path: p,
                why: "feature records are not sorted".into(),
            });
        }
        Ok(store)
    }

    fn key(&self, i: usize) -> u64 {
        let at = HEADER + i * RECORD;
        let mut k = [0u8; 8];
        k.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(k)
    }
}

impl TokenStore for FileStore {
    fn counts(&self, feature: u64) -> Counts {
        // Binary search over the records (no index built: one message
        // looks up a few hundred features, about 16 probes each).
        let (mut lo, mut hi) = (0usize, self.layout.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(&feature) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let at = HEADER + mid * RECORD;
                    return record(&self.bytes[at..at + RECORD]).1;
                }
            }
        }
        Counts::default()
    }
    fn learned(&self) -> Learned {
        self.layout.learned
    }
    fn len(&self) -> usize {
        self.layout.n
    }
    fn lists_features(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bayes::{MemoryStore, TokenStoreMut};
    use crate::corpus::Label;

    #[test]
    fn answers_as_the_loaded_model_does() {
        let mut m = MemoryStore::new();
        m.learn(&[5, 9, 1 << 40, u64::MAX], Label::Spam, 1);
        m.learn(&[9, 3], Label::Ham, 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.bin");
        m.save(&path).expect("save");
        let f = FileStore::open(&path).expect("open");
        for k in [0, 3, 5, 9, 10, 1 << 40, u64::MAX, u64::MAX - 1] {
            assert_eq!(f.counts(k), m.counts(k), "{k}");
        }
        assert_eq!((f.learned(), f.len()), (m.learned(), m.len()));
        // Corruption is refused, as when loading.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[HEADER + 3] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(
            FileStore::open(&path)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_model_from_a_pipe_is_read_not_mapped() {
        let mut m = MemoryStore::new();
        m.learn(&[7, 11], Label::Spam, 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("m.bin");
        m.save(&file).expect("save");
        let bytes = std::fs::read(&file).expect("read");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("path");
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, bytes).expect("write fifo"))
        };
        let f = FileStore::open(&fifo).expect("open fifo");
        writer.join().expect("writer");
        assert!(matches!(f.bytes, ModelBytes::Read(_)));
        assert_eq!(f.counts(7), m.counts(7));
        assert!(matches!(
            FileStore::open(&file).expect("open").bytes,
            ModelBytes::Mapped(_)
        ));
    }
}
