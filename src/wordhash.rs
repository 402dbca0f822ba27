//! Word hashing shared by the Bayes tokenizer and the behaviour SimHash: a
//! multiply and a rotate per 8-byte block, then a finaliser. Cheap enough to
//! compute while a word's bytes are read, and with no branch on the length
//! of a word of up to 16 bytes.

/// One step of [`word_hash`]: a multiply and a rotate per 8 bytes.
pub fn mix_block(h: u64, block: u64) -> u64 {
    (h ^ block)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(29)
}

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
pub fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// The end of [`word_hash`] for a word of `len` bytes whose `blocks` blocks
/// are mixed into `h`: zero blocks up to two, the length, the finaliser.
pub fn finish(mut h: u64, blocks: usize, len: usize) -> u64 {
    for _ in blocks..2 {
        h = mix_block(h, 0);
    }
    fmix64(h ^ len as u64)
}

/// The hash of a word: its bytes as little-endian 8-byte blocks,
/// zero-padded to at least two, each mixed into `seed`, then the length and
/// a finaliser. Every step is invertible, so two words of up to 8 bytes and
/// the same length never share a hash (longer ones, as with any 64-bit
/// hash, almost never).
pub fn word_hash(word: &[u8], seed: u64) -> u64 {
    let mut h = seed;
    let mut blocks = 0;
    for c in word.chunks(8) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        h = mix_block(h, u64::from_le_bytes(b));
        blocks += 1;
    }
    finish(h, blocks, word.len())
}

/// 16 bytes (at least) as two little-endian words.
#[inline(always)]
fn split16(b: &[u8]) -> (u64, u64) {
    let word = |i: usize| {
        u64::from_le_bytes(
            b.get(i..i + 8)
                .and_then(|w| w.try_into().ok())
                .unwrap_or_default(),
        )
    };
    (word(0), word(8))
}

/// ASCII letters of 8 bytes lower-cased at once (every byte must be ASCII).
pub fn lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 7 of a byte is set by the first add when it is >= b'A', by the
    // second when it is > b'Z'; no add carries out of a byte below 0x80.
    let ge_a = x.wrapping_add(ONES * (0x80 - u64::from(b'A')));
    let gt_z = x.wrapping_add(ONES * (0x7f - u64::from(b'Z')));
    x | ((ge_a & !gt_z & (ONES * 0x80)) >> 2)
}

/// The high bit of every byte: set only in non-ASCII bytes.
pub const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The `len` (1 to 16) bytes at `text[start..]` as two little-endian words,
/// zero past the end of the word: two loads and two masks when the text
/// goes on for 16 more bytes, else a copy.
#[inline(always)]
pub fn load16(text: &[u8], start: usize, len: usize) -> (u64, u64) {
    let (w0, w1) = match text.get(start..start + 16) {
        Some(b) => split16(b),
        // Near the end of a text of 16 bytes or more: the last 16 bytes,
        // shifted so the word comes first (no copy, no call to memcpy).
        None if text.len() >= 16 && start < text.len() => {
            let (lo, hi) = split16(&text[text.len() - 16..]);
            let both = u128::from(lo) | (u128::from(hi) << 64);
            let shifted = both >> (8 * (start + 16 - text.len()));
            (shifted as u64, (shifted >> 64) as u64)
        }
        None => {
            let mut b = [0u8; 16];
            let word = text.get(start..start + len).unwrap_or_default();
            for (d, s) in b.iter_mut().zip(word) {
                *d = *s;
            }
            split16(&b)
        }
    };
    // Bytes kept: min(len, 8) of the first word, len - 8 (if any) of the second.
    let keep = |n: usize| u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0);
    (w0 & keep(len.min(8)), w1 & keep(len.saturating_sub(8)))
}

/// [`word_hash`] of a word of up to 16 bytes given as two blocks.
pub fn short_word_hash(w0: u64, w1: u64, len: usize, seed: u64) -> u64 {
    finish(mix_block(mix_block(seed, w0), w1), 2, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower8_lower_cases_every_ascii_byte() {
        for b in 0u8..128 {
            for pos in 0..8 {
                let mut block = *b"aZ09_'.q";
                block[pos] = b;
                let want = block.map(|c| c.to_ascii_lowercase());
                assert_eq!(
                    lower8(u64::from_le_bytes(block)).to_le_bytes(),
                    want,
                    "{b} at {pos}"
                );
            }
        }
    }

    #[test]
    fn load16_gives_the_word_zero_padded_wherever_it_lies() {
        // Texts shorter and longer than 16 bytes; words at every offset,
        // including those ending at the text's end (the shifted path).
        for text_len in [1usize, 5, 15, 16, 17, 31, 40] {
            let text: Vec<u8> = (0..text_len as u8).map(|i| b'a' + i).collect();
            for start in 0..text_len {
                for len in 1..=16.min(text_len - start) {
                    let mut want = [0u8; 16];
                    want[..len].copy_from_slice(&text[start..start + len]);
                    let (w0, w1) = load16(&text, start, len);
                    let mut got = [0u8; 16];
                    got[..8].copy_from_slice(&w0.to_le_bytes());
                    got[8..].copy_from_slice(&w1.to_le_bytes());
                    assert_eq!(got, want, "text {text_len} start {start} len {len}");
                }
            }
        }
    }

    #[test]
    fn seed_and_length_count() {
        assert_ne!(word_hash(b"free", 7), word_hash(b"free", 8));
        assert_ne!(word_hash(b"ab", 7), word_hash(b"ab\0", 7));
        assert_eq!(
            word_hash(b"exactly8", 7),
            finish(mix_block(7, u64::from_le_bytes(*b"exactly8")), 1, 8)
        );
    }
}
