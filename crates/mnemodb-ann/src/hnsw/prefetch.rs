//! The crate's only `unsafe`: a cache prefetch hint.

/// Hint the CPU to bring the cache line holding `p` into L1. Never faults, whatever the
/// address; a no-op on targets without the instruction.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `prefetch` is a hint: it never dereferences the pointer architecturally
        // and cannot fault, even for an invalid or unmapped address; SSE is baseline on
        // x86-64, so the instruction exists.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = p;
    }
}

/// Hint the CPU to bring the cache line holding `p` into L2 (not L1): uses the L2's
/// larger pool of outstanding misses, so a burst of prefetches does not stall on full L1
/// miss buffers.
#[inline(always)]
pub(crate) fn prefetch_l2<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        // SAFETY: as for `prefetch`: a hint that never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(p.cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = p;
    }
}

/// Prefetch `lines` cache lines starting at `p` (into L1, or L2 when `l2`).
#[inline(always)]
pub(crate) fn prefetch_lines(p: *const f32, lines: usize, l2: bool) {
    for l in 0..lines {
        if l2 {
            prefetch_l2(p.wrapping_add(l * 16));
        } else {
            prefetch(p.wrapping_add(l * 16));
        }
    }
}

/// Prefetch `lines` cache lines of bytes starting at `p` (into L1).
#[inline(always)]
pub(crate) fn prefetch_bytes(p: *const u8, lines: usize) {
    for l in 0..lines {
        prefetch(p.wrapping_add(l * 64));
    }
}
