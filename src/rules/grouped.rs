//! Values grouped by a small integer key in one flat array: what a table
//! built for one message needs instead of a vector per key (a process that
//! classifies one message spent much of its start allocating those).

/// Values grouped by key, each group in the order its values came.
#[derive(Debug, Default)]
pub(crate) struct Grouped {
    /// Each key's range of `values`.
    ranges: Vec<(u32, u32)>,
    /// The values, group after group.
    values: Vec<u32>,
}

impl Grouped {
    /// Group `(key, value)` pairs; keys are below `keys` (a counting sort:
    /// one pass to count, one to place).
    pub(crate) fn new(pairs: &[(u32, u32)], keys: usize) -> Grouped {
        let mut ranges = vec![(0u32, 0u32); keys];
        for &(key, _) in pairs {
            ranges[key as usize].1 += 1;
        }
        let mut at = 0;
        for range in &mut ranges {
            let count = range.1;
            *range = (at, at);
            at += count;
        }
        let mut values = vec![0u32; pairs.len()];
        for &(key, value) in pairs {
            let range = &mut ranges[key as usize];
            values[range.1 as usize] = value;
            range.1 += 1;
        }
        Grouped { ranges, values }
    }

    /// The values of `key`, in the order they came.
    #[inline]
    pub(crate) fn get(&self, key: usize) -> &[u32] {
        let (from, to) = self.ranges[key];
        &self.values[from as usize..to as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_their_values_in_order() {
        let g = Grouped::new(&[(2, 10), (0, 11), (2, 12), (2, 13), (0, 14)], 4);
        assert_eq!(g.get(0), [11, 14]);
        assert_eq!(g.get(1), [] as [u32; 0]);
        assert_eq!(g.get(2), [10, 12, 13]);
        assert_eq!(g.get(3), [] as [u32; 0]);
    }
}
