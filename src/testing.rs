//! Helpers shared by the unit tests.

/// `n` texts of up to `max_pieces` pieces each, drawn from `pieces` by a
/// fixed-seed xorshift generator: the same texts on every run.
pub fn random_texts(seed: u64, n: usize, max_pieces: u64, pieces: &[&str]) -> Vec<String> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = next() % max_pieces;
            (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect()
        })
        .collect()
}
