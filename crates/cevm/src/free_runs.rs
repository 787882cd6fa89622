//! Finding a run of consecutive free frames in the pool's free bitmap, for host windows:
//! a commit whose frames follow on is one host mapping (and so is its alias), where the
//! lowest free frames of a fragmented pool would be one mapping each.
//!
//! The search looks at the maximal runs of free frames from the lowest up and takes the
//! first long enough. It looks at no more than [`RUNS_LOOKED_AT`] runs, so a badly
//! fragmented pool costs a bounded time; past that the allocator settles for the lowest
//! free frames. The reference model mirrors this rule exactly (its frame numbers are
//! compared with the kernel's).

/// Free runs looked at before a multi-frame allocation settles for the lowest frames.
pub const RUNS_LOOKED_AT: usize = 256;

/// The first index at or after `i` whose bit is `set` in `bits` (of `len` valid bits);
/// `len` when there is none.
fn next(bits: &[u64], i: usize, len: usize, set: bool) -> usize {
    let mut w = i / 64;
    if w >= bits.len() {
        return len;
    }
    let flip = if set { 0 } else { !0 };
    let mut word = (bits[w] ^ flip) & (!0u64 << (i % 64));
    while word == 0 {
        w += 1;
        if w >= bits.len() {
            return len;
        }
        word = bits[w] ^ flip;
    }
    (w * 64 + word.trailing_zeros() as usize).min(len)
}

/// The first frame of the lowest run of at least `count` free frames (set bits of `free`,
/// `frames` valid) among the first [`RUNS_LOOKED_AT`] runs from bit `from`; `None` when
/// none of them is long enough.
pub fn lowest_free_run(free: &[u64], from: usize, frames: usize, count: usize) -> Option<usize> {
    let mut i = from;
    for _ in 0..RUNS_LOOKED_AT {
        let start = next(free, i, frames, true);
        if start >= frames {
            return None;
        }
        let end = next(free, start, frames, false);
        if end - start >= count {
            return Some(start);
        }
        i = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitmap(free: &[usize], frames: usize) -> Vec<u64> {
        let mut v = vec![0u64; frames.div_ceil(64)];
        for &i in free {
            v[i / 64] |= 1 << (i % 64);
        }
        v
    }

    #[test]
    fn the_lowest_run_long_enough_is_taken_over_lower_short_ones() {
        // Free: 1, 3-4, 10-13, 20-29.
        let free: Vec<usize> = [1, 3, 4].into_iter().chain(10..14).chain(20..30).collect();
        let v = bitmap(&free, 40);
        assert_eq!(lowest_free_run(&v, 0, 40, 1), Some(1));
        assert_eq!(lowest_free_run(&v, 0, 40, 2), Some(3));
        assert_eq!(lowest_free_run(&v, 0, 40, 3), Some(10));
        assert_eq!(lowest_free_run(&v, 0, 40, 4), Some(10));
        assert_eq!(lowest_free_run(&v, 0, 40, 5), Some(20));
        assert_eq!(lowest_free_run(&v, 0, 40, 10), Some(20));
        assert_eq!(lowest_free_run(&v, 0, 40, 11), None);
    }

    #[test]
    fn runs_cross_words_and_end_at_the_last_frame() {
        let v = bitmap(&(60..130).collect::<Vec<_>>(), 130);
        assert_eq!(lowest_free_run(&v, 0, 130, 70), Some(60));
        assert_eq!(lowest_free_run(&v, 0, 130, 71), None);
        let all = bitmap(&(0..64).collect::<Vec<_>>(), 64);
        assert_eq!(lowest_free_run(&all, 0, 64, 64), Some(0));
    }

    #[test]
    fn a_long_run_past_the_runs_looked_at_is_not_found() {
        // RUNS_LOOKED_AT single free frames (every other one), then a long run.
        let n = RUNS_LOOKED_AT * 2;
        let mut free: Vec<usize> = (0..RUNS_LOOKED_AT).map(|k| 2 * k).collect();
        free.extend(n + 1..n + 50);
        let v = bitmap(&free, n + 50);
        assert_eq!(lowest_free_run(&v, 0, n + 50, 2), None);
        // One short run fewer, and the long run is the last one looked at.
        free.remove(0);
        let v = bitmap(&free, n + 50);
        assert_eq!(lowest_free_run(&v, 0, n + 50, 2), Some(n + 1));
    }
}
