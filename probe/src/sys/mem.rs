//! `memcpy` and `memmove` for the static binary, replacing musl's.
//!
//! Why: musl's x86-64 `memcpy` is one `rep movsq` whatever the length, and its backward
//! `memmove` is `std; rep movsb`. A string instruction costs ~150 cycles to start on the
//! machines we measured, and a run makes ~7,800 copies, almost all under 64 bytes (`serde_json`
//! writing tokens, `String` clones, path joins): `perf` put 12.6% of an 8-GPU fixture run's
//! samples on that one instruction (issue 11). Here a copy of up to 64 bytes is two to four
//! possibly overlapping loads, then the stores; longer copies move 16 bytes a step, and
//! `rep movsb` takes over from 2 KiB, where its start-up no longer matters.
//!
//! The routines are always assembled, as `nvprobe_memcpy` and `nvprobe_memmove`, so the host's
//! tests exercise them. Only in the musl build are they also exported as `memcpy`,
//! `__memcpy_fwd` (musl's internal name, which its other string routines jump to) and
//! `memmove`; the linker then never pulls musl's own object files for them. The glibc build
//! keeps glibc's.
//!
//! # Safety
//! This is assembly, outside Rust's checks. Its contract is C's: `memcpy(dst, src, n)` and
//! `memmove(dst, src, n)` read `n` bytes at `src`, write `n` bytes at `dst`, touch nothing
//! else and return `dst`. Every path loads all the bytes it is about to overwrite before it
//! stores, or walks in the direction that keeps unread source bytes intact, so both are
//! correct for overlapping buffers (musl's `memmove` contract, which `memcpy` meets for
//! `dst < src`). The tests below compare every length up to 300 and every alignment, both
//! overlaps included, with a byte-by-byte reference.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text.nvprobe_mem,\"ax\",@progbits",
    ".p2align 4",
    ".globl nvprobe_memcpy",
    ".type nvprobe_memcpy,@function",
    "nvprobe_memcpy:",
    "    mov rax, rdi",
    "    cmp rdx, 16",
    "    ja 20f",
    "    cmp rdx, 8",
    "    jb 10f",
    // 8..=16: the first and the last 8 bytes, overlapping when n < 16.
    "    mov rcx, [rsi]",
    "    mov r8, [rsi + rdx - 8]",
    "    mov [rdi], rcx",
    "    mov [rdi + rdx - 8], r8",
    "    ret",
    "10:",
    "    cmp rdx, 4",
    "    jb 11f",
    // 4..=7
    "    mov ecx, [rsi]",
    "    mov r8d, [rsi + rdx - 4]",
    "    mov [rdi], ecx",
    "    mov [rdi + rdx - 4], r8d",
    "    ret",
    "11:",
    // 0..=3: the first, the middle and the last byte.
    "    test rdx, rdx",
    "    je 12f",
    "    mov r9, rdx",
    "    shr r9, 1",
    "    movzx ecx, byte ptr [rsi]",
    "    movzx r8d, byte ptr [rsi + r9]",
    "    movzx r10d, byte ptr [rsi + rdx - 1]",
    "    mov [rdi], cl",
    "    mov [rdi + r9], r8b",
    "    mov [rdi + rdx - 1], r10b",
    "12:",
    "    ret",
    "20:",
    "    cmp rdx, 32",
    "    ja 21f",
    // 17..=32
    "    movups xmm0, [rsi]",
    "    movups xmm1, [rsi + rdx - 16]",
    "    movups [rdi], xmm0",
    "    movups [rdi + rdx - 16], xmm1",
    "    ret",
    "21:",
    "    cmp rdx, 64",
    "    ja 22f",
    // 33..=64
    "    movups xmm0, [rsi]",
    "    movups xmm1, [rsi + 16]",
    "    movups xmm2, [rsi + rdx - 32]",
    "    movups xmm3, [rsi + rdx - 16]",
    "    movups [rdi], xmm0",
    "    movups [rdi + 16], xmm1",
    "    movups [rdi + rdx - 32], xmm2",
    "    movups [rdi + rdx - 16], xmm3",
    "    ret",
    "22:",
    "    cmp rdx, 2048",
    "    ja 24f",
    // 65..=2048, forwards: the last 16 bytes are loaded first and stored last, so a
    // destination below an overlapping source never clobbers a byte still to be read.
    "    movups xmm4, [rsi + rdx - 16]",
    "    lea r8, [rdi + rdx - 16]",
    "23:",
    "    movups xmm0, [rsi]",
    "    movups [rdi], xmm0",
    "    add rsi, 16",
    "    add rdi, 16",
    "    sub rdx, 16",
    "    cmp rdx, 16",
    "    ja 23b",
    "    movups [r8], xmm4",
    "    ret",
    "24:",
    // Long: `rep movsb` copies byte by byte in the architecture's terms (forwards, so also
    // correct for an overlapping source above the destination).
    "    mov rcx, rdx",
    "    rep movsb",
    "    ret",
    ".size nvprobe_memcpy, . - nvprobe_memcpy",
    "",
    ".p2align 4",
    ".globl nvprobe_memmove",
    ".type nvprobe_memmove,@function",
    "nvprobe_memmove:",
    // dst - src >= n (unsigned): no overlap, or the destination below the source: forwards.
    "    mov rax, rdi",
    "    sub rax, rsi",
    "    cmp rax, rdx",
    "    jae nvprobe_memcpy",
    // Up to 64 bytes every load comes before every store, in either direction.
    "    cmp rdx, 64",
    "    jbe nvprobe_memcpy",
    // Destination above an overlapping source: backwards, 16 bytes a step; the first 16
    // bytes are loaded first and stored last.
    "    mov rax, rdi",
    "    movups xmm4, [rsi]",
    "30:",
    "    movups xmm0, [rsi + rdx - 16]",
    "    movups [rdi + rdx - 16], xmm0",
    "    sub rdx, 16",
    "    cmp rdx, 16",
    "    ja 30b",
    "    movups [rdi], xmm4",
    "    ret",
    ".size nvprobe_memmove, . - nvprobe_memmove",
    ".popsection",
);

#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
core::arch::global_asm!(
    ".globl memcpy",
    ".type memcpy,@function",
    ".set memcpy, nvprobe_memcpy",
    ".globl __memcpy_fwd",
    ".hidden __memcpy_fwd",
    ".type __memcpy_fwd,@function",
    ".set __memcpy_fwd, nvprobe_memcpy",
    ".globl memmove",
    ".type memmove,@function",
    ".set memmove, nvprobe_memmove",
);

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    unsafe extern "C" {
        fn nvprobe_memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
        fn nvprobe_memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    }

    /// Two pages, the second `PROT_NONE`: bytes placed at the end of the first are followed by
    /// memory whose every read faults.
    struct Guarded {
        base: *mut u8,
        page: usize,
    }

    impl Guarded {
        fn new() -> Self {
            let page = 4096;
            let (rw, anon) = (
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            );
            // SAFETY: a fresh anonymous mapping; no existing memory is touched.
            let base = unsafe { libc::mmap(std::ptr::null_mut(), 2 * page, rw, anon, -1, 0) };
            assert_ne!(base, libc::MAP_FAILED);
            let guard = base.cast::<u8>().wrapping_add(page).cast();
            // SAFETY: the second page of the mapping just made.
            let r = unsafe { libc::mprotect(guard, page, libc::PROT_NONE) };
            assert_eq!(r, 0);
            Self {
                base: base.cast(),
                page,
            }
        }

        /// `bytes` copied to the end of the readable page; the pointer to the first.
        fn put(&mut self, bytes: &[u8]) -> *const u8 {
            assert!(bytes.len() <= self.page);
            let at = self.base.wrapping_add(self.page - bytes.len());
            // SAFETY: `at..at + len` lies in the readable, writable first page.
            let page = unsafe { std::slice::from_raw_parts_mut(at, bytes.len()) };
            page.copy_from_slice(bytes);
            at
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`, no longer used.
            unsafe { libc::munmap(self.base.cast(), 2 * self.page) };
        }
    }

    /// Neither routine reads past its `n` bytes: the source ends where a read faults (a
    /// mutation that loads 8 bytes for a shorter copy dies of SIGSEGV here).
    #[test]
    fn routines_read_nothing_past_n() {
        let mut guarded = Guarded::new();
        for n in (0..=300).chain([2047, 2049, 4096]) {
            let bytes = pattern(n, 9);
            let src = guarded.put(&bytes);
            let mut dst = vec![0u8; n];
            // SAFETY: `src` has `n` readable bytes, `dst` room for `n`; they are distinct.
            unsafe { nvprobe_memcpy(dst.as_mut_ptr(), src, n) };
            assert_eq!(dst, bytes, "n={n}");
            dst.fill(0);
            // SAFETY: as above.
            unsafe { nvprobe_memmove(dst.as_mut_ptr(), src, n) };
            assert_eq!(dst, bytes, "n={n}");
        }
    }

    type Copy = unsafe extern "C" fn(*mut u8, *const u8, usize) -> *mut u8;

    /// Lengths: every one up to 300, then around the 2 KiB switch to `rep movsb`, and beyond.
    fn lengths() -> impl Iterator<Item = usize> {
        (0..=300).chain([1000, 2047, 2048, 2049, 2064, 4096, 5000])
    }

    /// A buffer whose bytes differ from their neighbours and from the fill of the other.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i.to_le_bytes()[0]).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn memcpy_copies_exactly_n_bytes_at_any_alignment() {
        for n in lengths() {
            for (so, d_off) in [(0, 0), (1, 0), (0, 3), (7, 9), (15, 1), (8, 8)] {
                let src = pattern(n + 32, 1);
                let mut dst = vec![0xEEu8; n + 64];
                let before = dst.clone();
                let (to, from) = (dst[16 + d_off..].as_mut_ptr(), src[so..].as_ptr());
                // SAFETY: `from` has at least `n` bytes, `to` at least `n` more; the buffers
                // are distinct allocations.
                let ret = unsafe { nvprobe_memcpy(to, from, n) };
                assert_eq!(ret, dst.as_mut_ptr().wrapping_add(16 + d_off), "n={n}");
                assert_eq!(dst[16 + d_off..16 + d_off + n], src[so..so + n], "n={n}");
                assert_eq!(
                    dst[..16 + d_off],
                    before[..16 + d_off],
                    "n={n}: wrote before"
                );
                assert_eq!(
                    dst[16 + d_off + n..],
                    before[16 + d_off + n..],
                    "n={n}: wrote after"
                );
            }
        }
    }

    #[test]
    fn memmove_handles_overlap_in_both_directions() {
        for n in lengths() {
            for shift in [1usize, 2, 7, 8, 15, 16, 17, 33, 64, 65, 200] {
                // Destination above the source (backwards), then below it (forwards, which
                // `memcpy` must get right too: `memmove` hands it that case).
                for up in [true, false] {
                    let buf = pattern(n + shift + 32, 5);
                    let (src_at, dst_at) = if up { (8, 8 + shift) } else { (8 + shift, 8) };
                    let mut want = buf.clone();
                    want.copy_within(src_at..src_at + n, dst_at);
                    // memcpy promises nothing for a destination above the source.
                    let fs: &[Copy] = if up {
                        &[nvprobe_memmove]
                    } else {
                        &[nvprobe_memmove, nvprobe_memcpy]
                    };
                    for f in fs {
                        let mut got = buf.clone();
                        let base = got.as_mut_ptr();
                        let (to, from) = (base.wrapping_add(dst_at), base.wrapping_add(src_at));
                        // SAFETY: both ranges lie inside `got` (its length is n + shift + 32).
                        unsafe { f(to, from, n) };
                        assert_eq!(got, want, "n={n} shift={shift} up={up}");
                    }
                }
            }
        }
    }
}
