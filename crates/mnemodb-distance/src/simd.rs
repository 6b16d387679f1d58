//! SIMD kits and run-time dispatch of the blocked kernels: the crate's only
//! `unsafe`.
//!
//! [`crate::blocked`] writes the kernels once over a kit of vector operations.
//! This module supplies the AVX-512 and AVX2 + FMA kits (`std::arch`
//! intrinsics; arithmetic intrinsics are safe inside `#[target_feature]`
//! functions, only the unaligned loads are `unsafe`), expands the kernels with
//! those features enabled, and calls them only after `is_x86_feature_detected!`
//! confirmed the features on this CPU. Anything else (other architectures, or
//! an instruction set the CPU lacks) runs the portable kit.
//!
//! AVX-512 also enables AVX-512VL: without it the 128/256-bit instructions
//! LLVM emits (zeroing an accumulator is a 128-bit `vxorps`) cannot name
//! zmm16–31, so the sixteen 4 × 4 accumulators were confined to zmm0–15 and
//! spilled in the inner loop.
//!
//! Block shapes (queries × rows) per instruction set, chosen so that the
//! accumulators, one query chunk per query and one row chunk per row fit the
//! register file:
//!
//! | isa | tile | one query | registers per accumulator |
//! |---|---|---|---|
//! | AVX-512 (32 zmm) | 4 × 4 | 1 × 8 | 1 zmm |
//! | AVX2 + FMA (16 ymm) | 2 × 2 | 1 × 4 | 2 ymm |
//! | portable | 2 × 1 | 1 × 2 | 4 xmm with SSE2 |

use crate::blocked::{self, Job};
use crate::tile::Isa;

/// Whether `isa` can run on this CPU (cached by std after the first query).
#[inline]
pub(crate) fn detected(isa: Isa) -> bool {
    match isa {
        Isa::Portable => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Avx512 | Isa::Avx2Fma => false,
    }
}

/// The raw sums of `job` (dot products, or squared L2 distances when `l2`)
/// into `out`, with the kernels of `isa`, or the portable ones when this CPU
/// lacks `isa`. Returns the instruction set that ran. Same contract as the
/// `sums` that [`blocked::blocked_kernels!`] generates (e.g.
/// [`blocked::portable::sums`]).
pub(crate) fn sums(isa: Isa, l2: bool, job: &Job<'_>, out: &mut [f32]) -> Isa {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if detected(Isa::Avx512) => {
            // SAFETY: the guard just checked with `is_x86_feature_detected!`
            // that this CPU has avx512f, avx512vl and fma, the features `avx512` is
            // compiled for; that is the only precondition of calling it.
            unsafe { x86::avx512(l2, job, out) };
            Isa::Avx512
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma if detected(Isa::Avx2Fma) => {
            // SAFETY: the guard just checked with `is_x86_feature_detected!`
            // that this CPU has avx2 and fma, the features `avx2_fma` is
            // compiled for; that is the only precondition of calling it.
            unsafe { x86::avx2_fma(l2, job, out) };
            Isa::Avx2Fma
        }
        _ => {
            portable(l2, job, out);
            Isa::Portable
        }
    }
}

/// The instantiation for any CPU: unfused multiply and add.
#[inline(never)]
fn portable(l2: bool, job: &Job<'_>, out: &mut [f32]) {
    if l2 {
        blocked::portable::sums::<2, 1, 2, true>(job, out);
    } else {
        blocked::portable::sums::<2, 1, 2, false>(job, out);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::blocked::Job;

    /// AVX-512 instantiation: 4 × 4 tiles, 1 × 8 for a single query.
    #[target_feature(enable = "avx512f,avx512vl,fma")]
    pub(super) fn avx512(l2: bool, job: &Job<'_>, out: &mut [f32]) {
        if l2 {
            avx512::sums::<4, 4, 8, true>(job, out);
        } else {
            avx512::sums::<4, 4, 8, false>(job, out);
        }
    }

    /// AVX2 + FMA instantiation: 2 × 2 tiles, 1 × 4 for a single query.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn avx2_fma(l2: bool, job: &Job<'_>, out: &mut [f32]) {
        if l2 {
            avx2::sums::<2, 2, 4, true>(job, out);
        } else {
            avx2::sums::<2, 2, 4, false>(job, out);
        }
    }

    /// The AVX-512 kit: one zmm register per accumulator.
    mod avx512 {
        use std::arch::x86_64::{
            __m256, __m512, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
            _mm256_add_ps, _mm256_castpd_ps, _mm256_castps256_ps128, _mm256_extractf128_ps,
            _mm512_castps_pd, _mm512_castps512_ps256, _mm512_extractf64x4_pd, _mm512_fmadd_ps,
            _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_setzero_ps, _mm512_sub_ps,
        };

        use crate::blocked::LANES;

        type V = __m512;

        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn zero() -> V {
            _mm512_setzero_ps()
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn load(v: &[f32; LANES]) -> V {
            // SAFETY: `v` is 16 initialised f32, exactly the 64 bytes
            // `_mm512_loadu_ps` reads; it has no alignment requirement.
            unsafe { _mm512_loadu_ps(v.as_ptr()) }
        }

        /// The first `v.len()` (at most 16) values of `v`, zero-padded.
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn load_partial(v: &[f32]) -> V {
            let len = v.len().min(LANES);
            let mask = ((1u32 << len) - 1) as u16;
            // SAFETY: `_mm512_maskz_loadu_ps` reads only the lanes whose mask
            // bit is set, the first `len <= v.len()` f32 of `v`, and suppresses
            // faults on the others; it has no alignment requirement.
            unsafe { _mm512_maskz_loadu_ps(mask, v.as_ptr()) }
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn dot(acc: V, q: V, r: V) -> V {
            _mm512_fmadd_ps(q, r, acc)
        }

        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn l2(acc: V, q: V, r: V) -> V {
            let d = _mm512_sub_ps(q, r);
            _mm512_fmadd_ps(d, d, acc)
        }

        /// The lane tree: `l + 8`, `l + 4`, `l + 2`, `l + 1`.
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn reduce(v: V) -> f32 {
            let lo = _mm512_castps512_ps256(v);
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            reduce8(_mm256_add_ps(lo, hi))
        }

        /// Lanes `l + 4`, `l + 2`, `l + 1` of an 8-lane partial sum.
        #[inline]
        #[target_feature(enable = "avx512f,avx512vl,fma")]
        fn reduce8(v: __m256) -> f32 {
            let s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2));
            _mm_cvtss_f32(s1)
        }

        crate::blocked::blocked_kernels!(#[target_feature(enable = "avx512f,avx512vl,fma")]);
    }

    /// The AVX2 kit: two ymm registers (lanes 0..8, 8..16) per accumulator.
    mod avx2 {
        use std::arch::x86_64::{
            __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
            _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps,
            _mm256_loadu_ps, _mm256_setzero_ps, _mm256_sub_ps,
        };

        use crate::blocked::LANES;

        type V = [__m256; 2];

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn zero() -> V {
            [_mm256_setzero_ps(); 2]
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn load(v: &[f32; LANES]) -> V {
            let (lo, hi) = v.split_at(LANES / 2);
            // SAFETY: `lo` is 8 initialised f32, exactly the 32 bytes
            // `_mm256_loadu_ps` reads; it has no alignment requirement.
            let lo = unsafe { _mm256_loadu_ps(lo.as_ptr()) };
            // SAFETY: as above, for the 8 f32 of `hi`.
            let hi = unsafe { _mm256_loadu_ps(hi.as_ptr()) };
            [lo, hi]
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn load_partial(v: &[f32]) -> V {
            load(&crate::blocked::padded(v))
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn dot(acc: V, q: V, r: V) -> V {
            [
                _mm256_fmadd_ps(q[0], r[0], acc[0]),
                _mm256_fmadd_ps(q[1], r[1], acc[1]),
            ]
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn l2(acc: V, q: V, r: V) -> V {
            let d0 = _mm256_sub_ps(q[0], r[0]);
            let d1 = _mm256_sub_ps(q[1], r[1]);
            [
                _mm256_fmadd_ps(d0, d0, acc[0]),
                _mm256_fmadd_ps(d1, d1, acc[1]),
            ]
        }

        /// The lane tree: `l + 8` (the two registers), `l + 4`, `l + 2`, `l + 1`.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn reduce(v: V) -> f32 {
            let v = _mm256_add_ps(v[0], v[1]);
            let s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2));
            _mm_cvtss_f32(s1)
        }

        crate::blocked::blocked_kernels!(#[target_feature(enable = "avx2,fma")]);
    }
}
