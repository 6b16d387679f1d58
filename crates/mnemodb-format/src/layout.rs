use std::path::Path;

use crate::error::{FormatError, Result};

/// Alignment of every data section in every file: one cache line, and enough for any
/// SIMD load, so a zero-copy cast of a valid file cannot fail.
pub const ALIGN: u64 = 64;

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
pub fn align_up(x: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    x.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// How many zero bytes follow `x` to reach the next multiple of [`ALIGN`].
pub fn padding_to_align(x: u64) -> u64 {
    (ALIGN - x % ALIGN) % ALIGN
}

/// Check that `bytes` (which start at `offset` in `file`) are all zero: padding is data
/// too, so a flipped bit in it is caught.
pub fn check_zero(bytes: &[u8], file: &Path, offset: u64, what: &str) -> Result<()> {
    match bytes.iter().position(|b| *b != 0) {
        None => Ok(()),
        Some(i) => Err(FormatError::corrupted(
            file,
            offset + i as u64,
            format!("non-zero byte in {what}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment() {
        assert_eq!(align_up(0, 64), Some(0));
        assert_eq!(align_up(1, 64), Some(64));
        assert_eq!(align_up(64, 64), Some(64));
        assert_eq!(align_up(u64::MAX, 64), None);
        assert_eq!(padding_to_align(0), 0);
        assert_eq!(padding_to_align(65), 63);
    }

    #[test]
    fn zero_check_names_offset() {
        let err = check_zero(&[0, 0, 7], Path::new("f"), 100, "padding").unwrap_err();
        assert_eq!(err.offset(), Some(102));
        assert!(check_zero(&[0; 9], Path::new("f"), 0, "padding").is_ok());
    }
}
