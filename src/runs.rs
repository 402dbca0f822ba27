//! Runs of word bytes, found 64 bytes at a time.
//!
//! Splitting text into words byte by byte costs two mispredicted branches
//! per word (where a word starts and where it ends), more than the rest of
//! the work on a short word. [`ByteRuns`] classifies a 64-byte block into a
//! bit mask without branches, then finds each run's start and end with
//! `trailing_zeros`: a branch per block, not per byte. The Bayes tokenizer
//! and the behaviour SimHash split their text with it.

/// A byte class: `true` for the bytes runs are made of.
pub type ByteClass = [bool; 256];

/// The maximal runs of in-class bytes of a text, as `(start, end)` byte
/// offsets, in order.
pub struct ByteRuns<'a> {
    bytes: &'a [u8],
    class: &'a ByteClass,
    /// Where the search for the next run starts.
    pos: usize,
    /// Block whose mask is cached (`usize::MAX`: none yet).
    block: usize,
    mask: u64,
}

impl<'a> ByteRuns<'a> {
    /// The runs of `class` bytes in `bytes`.
    pub fn new(bytes: &'a [u8], class: &'a ByteClass) -> ByteRuns<'a> {
        ByteRuns {
            bytes,
            class,
            pos: 0,
            block: usize::MAX,
            mask: 0,
        }
    }

    /// Bit `i` set when byte `64 * block + i` is in the class (bits past
    /// the end are clear).
    fn block_mask(&mut self, block: usize) -> u64 {
        if block != self.block {
            let start = block * 64;
            let chunk = self.bytes.get(start..).unwrap_or_default();
            self.mask = match chunk.first_chunk::<64>() {
                Some(full) => full
                    .iter()
                    .enumerate()
                    .fold(0, |m, (i, &b)| m | u64::from(self.class[b as usize]) << i),
                None => chunk
                    .iter()
                    .enumerate()
                    .fold(0, |m, (i, &b)| m | u64::from(self.class[b as usize]) << i),
            };
            self.block = block;
        }
        self.mask
    }

    /// The first offset at or after `pos` whose byte is (`in_class`) or is
    /// not in the class; the text's length when there is none.
    fn find(&mut self, mut pos: usize, in_class: bool) -> usize {
        while pos < self.bytes.len() {
            let mask = self.block_mask(pos / 64);
            let bits = if in_class { mask } else { !mask } >> (pos % 64);
            if bits != 0 {
                return (pos + bits.trailing_zeros() as usize).min(self.bytes.len());
            }
            pos = (pos / 64 + 1) * 64;
        }
        self.bytes.len()
    }
}

impl Iterator for ByteRuns<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let start = self.find(self.pos, true);
        if start >= self.bytes.len() {
            self.pos = start;
            return None;
        }
        let end = self.find(start, false);
        self.pos = end;
        Some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alnum() -> ByteClass {
        std::array::from_fn(|b| (b as u8).is_ascii_alphanumeric())
    }

    /// The runs by their definition: split at out-of-class bytes.
    fn reference(text: &[u8], class: &ByteClass) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, &b) in text.iter().enumerate() {
            match (class[b as usize], start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    out.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.push((s, text.len()));
        }
        out
    }

    #[test]
    fn runs_match_their_definition_across_block_edges() {
        let class = alnum();
        let mut texts: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"   ".to_vec(),
            b"word".to_vec(),
            b"  two words  ".to_vec(),
            "caf\u{e9} x".as_bytes().to_vec(),
            b"a".repeat(64),
            b"a".repeat(200),
        ];
        // Words and gaps of every length around the 64-byte edges.
        for len in [1, 62, 63, 64, 65, 127, 128, 129] {
            for gap in [1, 2, 70] {
                let mut t = Vec::new();
                for k in 0..5 {
                    t.extend(std::iter::repeat_n(b'x', len + k));
                    t.extend(std::iter::repeat_n(b' ', gap));
                }
                texts.push(t.clone());
                t.insert(0, b'.');
                texts.push(t);
            }
        }
        for t in &texts {
            let got: Vec<_> = ByteRuns::new(t, &class).collect();
            assert_eq!(
                got,
                reference(t, &class),
                "{:?}",
                String::from_utf8_lossy(t)
            );
        }
    }
}
