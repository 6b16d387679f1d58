//! The value types a dataset file can hold, and how their little-endian bytes decode.

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i32 {}
    impl Sealed for u8 {}
}

/// A value type stored in a dataset file: `f32` (`.fvecs`, `.npy <f4`), `i32` (`.ivecs`,
/// `.npy <i4`) or `u8` (`.bvecs`). Sealed: the crate decides which types files hold.
pub trait Element: sealed::Sealed + Copy + Default + PartialEq + Send + Sync + 'static {
    /// Size of one value in the file, in bytes.
    const SIZE: usize;
    /// Name used in messages, such as `"float32"`.
    const NAME: &'static str;

    /// Decodes `bytes` (little-endian; a length that is a multiple of [`Element::SIZE`]) and
    /// appends the values to `out`. Trailing bytes that do not form a whole value are ignored.
    fn decode_append(bytes: &[u8], out: &mut Vec<Self>);

    /// Appends the little-endian encoding of `values` to `out`.
    fn encode_append(values: &[Self], out: &mut Vec<u8>);
}

impl Element for f32 {
    const SIZE: usize = 4;
    const NAME: &'static str = "float32";

    fn decode_append(bytes: &[u8], out: &mut Vec<Self>) {
        let (words, _) = bytes.as_chunks::<4>();
        out.extend(words.iter().map(|w| f32::from_le_bytes(*w)));
    }

    fn encode_append(values: &[Self], out: &mut Vec<u8>) {
        out.reserve(values.len() * 4);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

impl Element for i32 {
    const SIZE: usize = 4;
    const NAME: &'static str = "int32";

    fn decode_append(bytes: &[u8], out: &mut Vec<Self>) {
        let (words, _) = bytes.as_chunks::<4>();
        out.extend(words.iter().map(|w| i32::from_le_bytes(*w)));
    }

    fn encode_append(values: &[Self], out: &mut Vec<u8>) {
        out.reserve(values.len() * 4);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

impl Element for u8 {
    const SIZE: usize = 1;
    const NAME: &'static str = "uint8";

    fn decode_append(bytes: &[u8], out: &mut Vec<Self>) {
        out.extend_from_slice(bytes);
    }

    fn encode_append(values: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(values);
    }
}

/// An [`Element`] that `.npy` files can hold, with its `descr` string.
pub trait NpyElement: Element {
    /// The header's `descr` for this type (`"<f4"`, `"<i4"`).
    const DESCR: &'static str;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
}

impl NpyElement for i32 {
    const DESCR: &'static str = "<i4";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_little_endian() {
        let vals = [1.5f32, -0.0, f32::MAX, f32::MIN_POSITIVE];
        let mut bytes = Vec::new();
        f32::encode_append(&vals, &mut bytes);
        assert_eq!(&bytes[..4], &1.5f32.to_le_bytes());
        let mut back = Vec::new();
        f32::decode_append(&bytes, &mut back);
        assert_eq!(back, vals);

        let ints = [i32::MIN, -1, 0, 7, i32::MAX];
        let mut bytes = Vec::new();
        i32::encode_append(&ints, &mut bytes);
        let mut back = Vec::new();
        i32::decode_append(&bytes, &mut back);
        assert_eq!(back, ints);
    }

    #[test]
    fn ignores_partial_trailing_value() {
        let mut out = Vec::new();
        f32::decode_append(&[0, 0, 128, 63, 1, 2], &mut out);
        assert_eq!(out, [1.0]);
    }
}
