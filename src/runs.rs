//! Runs of word bytes, found 64 bytes at a time.
//!
//! Splitting text into words byte by byte costs two mispredicted branches
//! per word (where a word starts and where it ends), more than the rest of
//! the work on a short word. [`ByteRuns`] classifies a 64-byte block into a
//! bit mask with 16-byte vector compares (the `wide` crate: SSE2 on x86-64,
//! NEON on aarch64, plain code elsewhere), then finds each run's start and
//! end with `trailing_zeros`: a branch per block, not per byte. The Bayes
//! tokenizer and the behaviour SimHash split their text with it.

use wide::{CmpEq, CmpGt, CmpLt, i8x16};

/// A byte class: ASCII letters and digits, up to three more ASCII bytes,
/// and optionally every non-ASCII byte (vector compares need a class made
/// of ranges, not a 256-entry table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteClass {
    extra: [u8; 3],
    /// Bytes of `extra` in use.
    extras: usize,
    non_ascii: bool,
}

impl ByteClass {
    /// ASCII letters and digits, the ASCII bytes of `extra` (at most three;
    /// more are ignored), and every byte from 0x80 when `non_ascii`.
    pub const fn new(extra: &[u8], non_ascii: bool) -> ByteClass {
        // Unused slots repeat a letter (in the class anyway), so the mask
        // always compares three bytes, with no loop.
        let mut e = [b'a'; 3];
        let mut n = 0;
        while n < extra.len() && n < 3 {
            e[n] = extra[n];
            n += 1;
        }
        ByteClass {
            extra: e,
            extras: n,
            non_ascii,
        }
    }

    /// Whether `b` is in the class.
    pub const fn contains(&self, b: u8) -> bool {
        if b.is_ascii_alphanumeric() {
            return true;
        }
        if b >= 0x80 {
            return self.non_ascii;
        }
        let mut i = 0;
        while i < self.extras {
            if self.extra[i] == b {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Bit `i` set when `bytes[i]` is in the class.
    fn mask16(&self, bytes: &[u8; 16]) -> u64 {
        let v = i8x16::new(bytes.map(|b| b as i8));
        let splat = i8x16::splat;
        // Signed compares: bytes from 0x80 are negative, in no ASCII range.
        let digit = v.cmp_gt(splat(b'0' as i8 - 1)) & v.cmp_lt(splat(b'9' as i8 + 1));
        let folded = v | splat(0x20);
        let letter = folded.cmp_gt(splat(b'a' as i8 - 1)) & folded.cmp_lt(splat(b'z' as i8 + 1));
        let [e0, e1, e2] = self.extra.map(|e| splat(e as i8));
        let m = digit | letter | v.cmp_eq(e0) | v.cmp_eq(e1) | v.cmp_eq(e2);
        let mut bits = m.move_mask() as u32;
        if self.non_ascii {
            bits |= v.move_mask() as u32;
        }
        u64::from(bits & 0xffff)
    }

    /// Bit `i` set when `block[i]` is in the class.
    #[inline]
    fn mask64(&self, block: &[u8; 64]) -> u64 {
        let mut mask = 0;
        for (i, chunk) in block.chunks_exact(16).enumerate() {
            if let Ok(c) = <&[u8; 16]>::try_from(chunk) {
                mask |= self.mask16(c) << (16 * i);
            }
        }
        mask
    }
}

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
    #[inline(always)]
    fn block_mask(&mut self, block: usize) -> u64 {
        if block != self.block {
            self.load_block(block);
        }
        self.mask
    }

    /// Computes and caches the mask of `block` (once per 64 bytes: kept
    /// out of line so the per-run path stays small).
    #[inline(never)]
    fn load_block(&mut self, block: usize) {
        let chunk = self.bytes.get(block * 64..).unwrap_or_default();
        self.mask = match chunk.first_chunk::<64>() {
            Some(full) => self.class.mask64(full),
            // The last, partial block of a text of 64 bytes or more: the
            // mask of the text's last 64 bytes, shifted (no copy).
            None if self.bytes.len() >= 64 => match self.bytes.last_chunk::<64>() {
                Some(last) => self.class.mask64(last) >> (64 - chunk.len()),
                None => 0,
            },
            // A text under 64 bytes: its whole 16-byte lanes, then the
            // rest from its last 16 bytes, shifted (a copy only when the
            // whole text is under 16 bytes).
            None => {
                let n = chunk.len();
                let mut mask = 0u64;
                let lanes = chunk.chunks_exact(16);
                let rest = lanes.remainder().len();
                for (i, lane) in lanes.enumerate() {
                    if let Ok(lane) = <&[u8; 16]>::try_from(lane) {
                        mask |= self.class.mask16(lane) << (16 * i);
                    }
                }
                if rest > 0 {
                    let tail = match chunk.last_chunk::<16>() {
                        Some(last) => self.class.mask16(last) >> (16 - rest),
                        None => {
                            let mut padded = [0u8; 16];
                            for (d, s) in padded.iter_mut().zip(chunk) {
                                *d = *s;
                            }
                            self.class.mask16(&padded)
                        }
                    };
                    mask |= (tail & ((1 << rest) - 1)) << (n - rest);
                }
                mask
            }
        };
        self.block = block;
    }

    /// The first offset at or after `pos` whose byte is (`in_class`) or is
    /// not in the class; the text's length when there is none.
    #[inline(always)]
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

    #[inline(always)]
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
        ByteClass::new(b"", false)
    }

    #[test]
    fn masks_match_the_class_for_every_byte() {
        let classes = [
            ByteClass::new(b"", false),
            ByteClass::new(b"'_", true),
            ByteClass::new(b"'_.", true),
            ByteClass::new(b"\0", false),
        ];
        for class in &classes {
            for b in 0..=255u8 {
                let want = b.is_ascii_alphanumeric()
                    || (b >= 0x80 && class.non_ascii)
                    || class.extra[..class.extras].contains(&b);
                assert_eq!(class.contains(b), want, "{b:#x}");
                for pos in [0, 5, 15, 16, 40, 63] {
                    let mut block = [b' '; 64];
                    block[pos] = b;
                    let got = class.mask64(&block) >> pos & 1 == 1;
                    assert_eq!(got, want, "{b:#x} at {pos}");
                }
            }
        }
    }

    /// The runs by their definition: split at out-of-class bytes.
    fn reference(text: &[u8], class: &ByteClass) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, &b) in text.iter().enumerate() {
            match (class.contains(b), start) {
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
        // Every length of the last, partial block, in short and long texts.
        let words = b"ab cd efg hijk l mn opq rstuv w xyz ".repeat(8);
        for n in 0..=words.len().min(200) {
            texts.push(words[..n].to_vec());
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
