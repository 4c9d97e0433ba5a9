//! Byte and substring search on `memchr`'s routines for the architecture's baseline vectors
//! (SSE2 on x86-64, NEON on aarch64), chosen at compile time.
//!
//! `memchr`'s top-level functions pick AVX2 at run time on x86-64, through std's CPU feature
//! detection, whose first use executes `cpuid` about ten times. Under a hypervisor every
//! `cpuid` exits to it, and a default run paid more for that one detection than for all of its
//! searches together (the haystacks here are kilobytes: `modules.dep`, a dpkg status file, an
//! ELF section read in chunks). The baseline routines need no detection and are still
//! vectorised.

/// A substring searcher for one needle (`memchr::memmem::Finder`'s role).
pub struct Finder<'n> {
    needle: &'n [u8],
    /// The vector searcher, for needles of two bytes or more and haystacks it can take.
    #[cfg(target_arch = "x86_64")]
    packed: Option<memchr::arch::x86_64::sse2::packedpair::Finder>,
    /// The portable searcher: for the rest (and on other architectures, `memchr::memmem`,
    /// which chooses without run-time detection there).
    #[cfg(target_arch = "x86_64")]
    plain: memchr::arch::all::rabinkarp::Finder,
    #[cfg(not(target_arch = "x86_64"))]
    plain: memchr::memmem::Finder<'n>,
}

impl<'n> Finder<'n> {
    /// A searcher for `needle`.
    pub fn new(needle: &'n [u8]) -> Self {
        Self {
            needle,
            #[cfg(target_arch = "x86_64")]
            packed: memchr::arch::x86_64::sse2::packedpair::Finder::new(needle),
            #[cfg(target_arch = "x86_64")]
            plain: memchr::arch::all::rabinkarp::Finder::new(needle),
            #[cfg(not(target_arch = "x86_64"))]
            plain: memchr::memmem::Finder::new(needle),
        }
    }

    /// The needle searched for.
    pub fn needle(&self) -> &[u8] {
        self.needle
    }

    /// The offset of the first occurrence of the needle in `haystack`.
    #[cfg(target_arch = "x86_64")]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        match &self.packed {
            // The packed searcher panics below its minimum haystack length.
            Some(p) if haystack.len() >= p.min_haystack_len() => p.find(haystack, self.needle),
            _ => self.plain.find(haystack, self.needle),
        }
    }

    /// The offset of the first occurrence of the needle in `haystack`.
    #[cfg(not(target_arch = "x86_64"))]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        self.plain.find(haystack)
    }
}

/// The offset of the first `byte` in `haystack`.
pub fn find_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        memchr::arch::x86_64::sse2::memchr::One::new(byte).map_or_else(
            || haystack.iter().position(|&b| b == byte),
            |one| one.find(haystack),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        memchr::memchr(byte, haystack)
    }
}

/// The offset of the last `byte` in `haystack`.
pub fn rfind_byte(byte: u8, haystack: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        memchr::arch::x86_64::sse2::memchr::One::new(byte).map_or_else(
            || haystack.iter().rposition(|&b| b == byte),
            |one| one.rfind(haystack),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        memchr::memrchr(byte, haystack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position of every needle, in haystacks on both sides of the vector searcher's
    /// minimum length, against a naive search.
    #[test]
    fn search_agrees_with_a_naive_search() {
        let naive = |h: &[u8], n: &[u8]| h.windows(n.len()).position(|w| w == n);
        let hay: Vec<u8> = (0..200u32).map(|i| b"nvidia-uvm\n"[(i % 11) as usize]).collect();
        for needle in [&b"n"[..], b"nv", b"uvm\nnv", b"nvidia-uvm\nnvidia", b"absent"] {
            let f = Finder::new(needle);
            assert_eq!(f.needle(), needle);
            for start in 0..hay.len() {
                for len in [0, 1, 5, 16, 17, 40, 200] {
                    let h = &hay[start..(start + len).min(hay.len())];
                    assert_eq!(f.find(h), naive(h, needle), "{needle:?} in {h:?}");
                }
            }
        }
        for start in 0..hay.len() {
            let h = &hay[start..];
            assert_eq!(find_byte(b'\n', h), h.iter().position(|&b| b == b'\n'));
            assert_eq!(rfind_byte(b'\n', h), h.iter().rposition(|&b| b == b'\n'));
            assert_eq!(find_byte(b'z', h), None);
        }
    }
}
