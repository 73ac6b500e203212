//! The cheap part of the scan: cut the image into candidate windows and throw away, before any
//! cryptography, every window that cannot be a secret.
//!
//! Secrets are uniformly random bytes. Most of a process is not: pointers (`0x00007f…`), small
//! integers, text, zero pages, repeated patterns. A window survives when (1) every 8-byte word
//! of it has a non-zero top 16 bits (pointers and counters do not; a random word fails with
//! probability 2⁻¹⁶) and (2) it holds many distinct byte values (≥ 20 of 32, ≥ 30 of 48; a
//! random 32-byte string has ~30). Survivors are deduplicated (the same bytes at several
//! addresses are tested once) and only then go to the scalar multiplications and PRFs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::memscan::image::MemoryImage;

/// Where a candidate's bytes were seen: (region index, address).
pub type Places = Vec<(usize, u64)>;

/// Unique candidate windows of one length, with every place each was seen.
pub struct Candidates<const N: usize> {
    pub windows: HashMap<[u8; N], Places>,
    /// Windows looked at before filtering.
    pub examined: u64,
}

impl<const N: usize> Drop for Candidates<N> {
    fn drop(&mut self) {
        for (mut k, _) in self.windows.drain() {
            zeroize::Zeroize::zeroize(&mut k);
        }
    }
}

/// Whether `w` looks uniformly random (see the module comment).
pub fn looks_random(w: &[u8]) -> bool {
    if w.chunks_exact(8).any(|c| c[6] == 0 && c[7] == 0) {
        return false;
    }
    let mut seen = [0u64; 4];
    let mut distinct = 0usize;
    for &b in w {
        let (i, bit) = ((b >> 6) as usize, 1u64 << (b & 63));
        if seen[i] & bit == 0 {
            seen[i] |= bit;
            distinct += 1;
        }
    }
    distinct >= min_distinct(w.len())
}

/// 20 of 32, 30 of 48: a random string of that length has ~30 or ~44.
fn min_distinct(len: usize) -> usize {
    len * 5 / 8
}

/// Every window of `N` bytes starting at a multiple of `align` in every region that passes
/// [`looks_random`], deduplicated; `progress` counts bytes done. Runs on `threads` threads.
pub fn random_windows<const N: usize>(
    image: &MemoryImage,
    align: usize,
    threads: usize,
    progress: &AtomicU64,
) -> Candidates<N> {
    let align = align.max(1);
    // Work items: (region, start, end) slices of at most 1 MiB, overlapping by N - 1 bytes.
    const SLICE: usize = 1 << 20;
    let mut work = Vec::new();
    for (ri, r) in image.regions.iter().enumerate() {
        let mut s = 0;
        while s < r.data.len() {
            work.push((ri, s, (s + SLICE).min(r.data.len())));
            s += SLICE;
        }
    }
    let next = AtomicU64::new(0);
    let parts: Vec<(HashMap<[u8; N], Places>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut found: HashMap<[u8; N], Places> = HashMap::new();
                    let mut examined = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(&(ri, s, e)) = work.get(i) else {
                            break;
                        };
                        let Some(region) = image.regions.get(ri) else {
                            break;
                        };
                        let data = &region.data;
                        let mut off = s.next_multiple_of(align);
                        while off < e {
                            let Some(w) = data.get(off..off + N) else {
                                break;
                            };
                            examined += 1;
                            if looks_random(w) {
                                let mut key = [0u8; N];
                                key.copy_from_slice(w);
                                found
                                    .entry(key)
                                    .or_default()
                                    .push((ri, region.start + off as u64));
                            }
                            off += align;
                        }
                        progress.fetch_add((e - s) as u64, Ordering::Relaxed);
                    }
                    (found, examined)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut out = Candidates {
        windows: HashMap::new(),
        examined: 0,
    };
    for (found, examined) in parts {
        out.examined += examined;
        for (k, places) in found {
            out.windows.entry(k).or_default().extend(places);
        }
    }
    for places in out.windows.values_mut() {
        places.sort_unstable();
    }
    out
}

/// Every place where one of `needles` (16-byte prefixes, e.g. ticket key names) starts at a
/// multiple of `align`.
pub fn find_prefixes(
    image: &MemoryImage,
    needles: &std::collections::HashSet<[u8; 16]>,
    align: usize,
) -> Vec<(usize, u64, usize)> {
    let mut out = Vec::new();
    if needles.is_empty() {
        return out;
    }
    for (ri, r) in image.regions.iter().enumerate() {
        let mut off = 0;
        while let Some(w) = r.data.get(off..off + 16) {
            if let Ok(k) = <[u8; 16]>::try_from(w) {
                if needles.contains(&k) {
                    out.push((ri, r.start + off as u64, off));
                }
            }
            off += align.max(1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memscan::image::Region;

    #[test]
    fn random_bytes_pass_and_pointers_fail() {
        let mut r = crate::crypto::rng::from_seed(3, "window");
        let mut w = [0u8; 32];
        rand::Rng::fill_bytes(&mut r, &mut w);
        assert!(looks_random(&w));
        let ptrs: Vec<u8> = (0..4u64)
            .flat_map(|i| (0x7f12_3456_7000u64 + i * 0x40).to_le_bytes())
            .collect();
        assert!(!looks_random(&ptrs));
        assert!(!looks_random(&[0x41; 32]));
    }

    #[test]
    fn windows_are_deduplicated_with_their_places() {
        let mut r = crate::crypto::rng::from_seed(4, "window");
        let mut secret = [0u8; 32];
        rand::Rng::fill_bytes(&mut r, &mut secret);
        let mut data = vec![0u8; 4096];
        data[64..96].copy_from_slice(&secret);
        data[1024..1056].copy_from_slice(&secret);
        let image = MemoryImage {
            source: "test".into(),
            regions: vec![Region {
                start: 0x1000,
                end: 0x2000,
                name: "anonymous".into(),
                data,
            }],
            unreadable: Vec::new(),
        };
        let c = random_windows::<32>(&image, 8, 2, &AtomicU64::new(0));
        assert_eq!(
            c.windows.get(&secret),
            Some(&vec![(0, 0x1040), (0, 0x1400)])
        );
        assert_eq!(
            c.windows.len(),
            1,
            "windows half in the zeros fail the word test"
        );
    }
}
