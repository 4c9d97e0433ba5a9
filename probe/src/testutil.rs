//! Helpers shared by the library's unit tests.

/// A small deterministic generator (xorshift64), so a failing generated case can be replayed
/// from its seed.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

/// A scratch directory for one test, removed when dropped: the binary tests' type.
#[path = "../tests/common/scratch.rs"]
#[allow(dead_code, reason = "the unit tests use part of it")]
mod scratch;

pub(crate) use scratch::Scratch;

/// Device nodes made and watched in tests: the binary tests' helpers.
#[path = "../tests/common/nodes.rs"]
#[allow(dead_code, reason = "the unit tests use part of it")]
mod nodes;

pub(crate) use nodes::{make_char_node, opens_of};
