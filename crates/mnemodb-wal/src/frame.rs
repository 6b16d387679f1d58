//! Record frames: the encoder the writer uses and a decoder that never panics.
//!
//! One frame holds one record or one batch (so a batch is atomic by construction):
//!
//! | offset        | size | field        | meaning                                                   |
//! |--------------:|-----:|--------------|-----------------------------------------------------------|
//! | 0             | 4    | `len`        | frame length in bytes, a multiple of 8, ≥ [`MIN_FRAME`]   |
//! | 4             | 4    | `len_crc`    | CRC32(salt ‖ `len`): a torn length never drives a read    |
//! | 8             | 8    | `first_lsn`  | LSN of the first entry (≥ 1)                              |
//! | 16            | 8    | `synced_lsn` | the writer's durable LSN when it wrote the frame (< `first_lsn`) |
//! | 24            | 4    | `count`      | number of entries (≥ 1); entry `i` has LSN `first_lsn + i` |
//! | 28            | …    | entries      | per entry: `u32` length, then that many payload bytes     |
//! | …             | 0–7  | padding      | zero, up to `len - 4`                                     |
//! | `len - 4`     | 4    | `crc`        | CRC32(salt ‖ bytes `0 .. len-4`)                          |
//!
//! The salt is the file's ([`WalHeader::salt`](mnemodb_format::WalHeader)), as 8
//! little-endian bytes. Every byte is covered by `crc` or checked to be zero, and the
//! encoding is canonical (`len` is exactly the entries rounded up), so a frame that decodes
//! re-encodes to the same bytes.
use mnemodb_format::{Crc32Hasher, crc32_parts};

use crate::error::{Error, Result};
use crate::options::Lsn;

/// Bytes before the first entry.
pub const FRAME_HEADER: usize = 28;
/// The trailing CRC.
pub const FRAME_TRAILER: usize = 4;
/// The smallest valid frame: one empty entry.
pub const MIN_FRAME: u32 = 40;
/// Frames start and end on multiples of this (relative to the file start).
pub const FRAME_ALIGN: u64 = 8;

/// Framed size of a record or batch whose payloads have these lengths, or `None` when it
/// does not fit in a `u32`.
pub fn frame_len(payload_lens: impl IntoIterator<Item = usize>) -> Option<u32> {
    let mut n = (FRAME_HEADER + FRAME_TRAILER) as u64;
    for len in payload_lens {
        n = n.checked_add(4)?.checked_add(u64::try_from(len).ok()?)?;
    }
    let n = n.checked_add(FRAME_ALIGN - 1)? & !(FRAME_ALIGN - 1);
    u32::try_from(n).ok()
}

/// CRC32(salt ‖ len): the check of a frame's length field.
pub fn len_crc(salt: u64, len: u32) -> u32 {
    crc32_parts(&[&salt.to_le_bytes(), &len.to_le_bytes()])
}

/// A decoded, fully validated frame borrowing the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// Frame length in bytes.
    pub len: u32,
    /// LSN of the first entry.
    pub first_lsn: Lsn,
    /// The writer's durable LSN when it wrote the frame.
    pub synced_lsn: Lsn,
    /// Number of entries.
    pub count: u32,
    /// The entries region (length-prefixed payloads, no padding).
    entries: &'a [u8],
}

impl<'a> FrameRef<'a> {
    /// LSN of the last entry.
    pub fn last_lsn(&self) -> Lsn {
        self.first_lsn + u64::from(self.count) - 1
    }

    /// LSN one past the last entry.
    pub fn next_lsn(&self) -> Lsn {
        self.first_lsn + u64::from(self.count)
    }

    /// The entries as `(lsn, payload)`, in order.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            rest: self.entries,
            lsn: self.first_lsn,
        }
    }

    /// The payloads, in order.
    pub fn payloads(&self) -> Vec<&'a [u8]> {
        self.entries().map(|(_, p)| p).collect()
    }
}

/// Iterator over the entries of a [`FrameRef`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    rest: &'a [u8],
    lsn: Lsn,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Lsn, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (len, rest) = split_u32(self.rest)?;
        let payload = rest.get(..len as usize)?;
        self.rest = rest.get(len as usize..)?;
        let lsn = self.lsn;
        self.lsn += 1;
        Some((lsn, payload))
    }
}

/// Why bytes are not a valid frame. Offsets are relative to the frame start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the frame needs.
    Truncated {
        /// Bytes the frame needs (8 until its length is known).
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// The length word and its check are zero: unwritten (zero-filled) space.
    Zeroes,
    /// The length's checksum does not match: torn, garbage or stale bytes.
    LengthChecksum,
    /// A length whose checksum matches but that exceeds the configured maximum.
    TooLarge {
        /// The length.
        len: u32,
        /// The maximum.
        max: u32,
    },
    /// A length whose checksum matches but that is not a valid frame length.
    BadLength {
        /// The length.
        len: u32,
    },
    /// The frame checksum does not match.
    Checksum {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// The checksum matches but the content is inconsistent.
    Malformed {
        /// Offset of the bad field in the frame.
        at: u32,
        /// What is wrong.
        what: String,
    },
}

impl FrameError {
    /// Offset in the frame of the first byte the error is about.
    pub fn offset(&self) -> u64 {
        match self {
            FrameError::Truncated { .. }
            | FrameError::Zeroes
            | FrameError::LengthChecksum
            | FrameError::TooLarge { .. }
            | FrameError::BadLength { .. }
            | FrameError::Checksum { .. } => 0,
            FrameError::Malformed { at, .. } => u64::from(*at),
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Truncated { need, have } => write!(
                f,
                "record truncated: needs {need} bytes, {have} left in the file"
            ),
            FrameError::Zeroes => f.write_str("zero bytes where a record should start"),
            FrameError::LengthChecksum => f.write_str("record length checksum mismatch"),
            FrameError::TooLarge { len, max } => write!(
                f,
                "record of {len} bytes exceeds max_record_bytes {max} \
                 (reopen with a larger WalOptions::max_record_bytes)"
            ),
            FrameError::BadLength { len } => write!(f, "invalid record length {len}"),
            FrameError::Checksum { stored, computed } => write!(
                f,
                "record checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            FrameError::Malformed { at, what } => write!(f, "malformed record (+{at}): {what}"),
        }
    }
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(*b.get(at..)?.first_chunk::<4>()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*b.get(at..)?.first_chunk::<8>()?))
}

/// Check the first 8 bytes of a would-be frame with `left` bytes available from its start:
/// its length, when the length is trustworthy and fits.
pub fn check_len(word: &[u8], salt: u64, max_len: u32, left: u64) -> Result<u32, FrameError> {
    let (Some(len), Some(stored)) = (u32_at(word, 0), u32_at(word, 4)) else {
        return Err(FrameError::Truncated {
            need: 8,
            have: left.min(word.len() as u64),
        });
    };
    if len == 0 && stored == 0 {
        return Err(FrameError::Zeroes);
    }
    if stored != len_crc(salt, len) {
        return Err(FrameError::LengthChecksum);
    }
    if len > max_len {
        return Err(FrameError::TooLarge { len, max: max_len });
    }
    if len < MIN_FRAME || u64::from(len) % FRAME_ALIGN != 0 {
        return Err(FrameError::BadLength { len });
    }
    if u64::from(len) > left {
        return Err(FrameError::Truncated {
            need: u64::from(len),
            have: left,
        });
    }
    Ok(len)
}

/// Decode the frame at the start of `bytes` (which may continue past it), checking every
/// byte. Never panics; never allocates.
pub fn decode_frame(bytes: &[u8], salt: u64, max_len: u32) -> Result<FrameRef<'_>, FrameError> {
    let len = check_len(bytes, salt, max_len, bytes.len() as u64)?;
    let frame = bytes.get(..len as usize).ok_or(FrameError::Truncated {
        need: u64::from(len),
        have: bytes.len() as u64,
    })?;
    let body_end = frame.len() - FRAME_TRAILER;
    let (Some(body), Some(stored)) = (frame.get(..body_end), u32_at(frame, body_end)) else {
        return Err(FrameError::BadLength { len });
    };
    let computed = crc32_parts(&[&salt.to_le_bytes(), body]);
    if stored != computed {
        return Err(FrameError::Checksum { stored, computed });
    }
    let malformed = |at: usize, what: String| FrameError::Malformed {
        at: at as u32,
        what,
    };
    let (Some(first_lsn), Some(synced_lsn), Some(count)) =
        (u64_at(body, 8), u64_at(body, 16), u32_at(body, 24))
    else {
        return Err(FrameError::BadLength { len });
    };
    if first_lsn == 0 {
        return Err(malformed(8, "first LSN is 0".into()));
    }
    if synced_lsn >= first_lsn {
        return Err(malformed(
            16,
            format!("synced LSN {synced_lsn} is not below the first LSN {first_lsn}"),
        ));
    }
    if count == 0 {
        return Err(malformed(24, "no entries".into()));
    }
    if first_lsn.checked_add(u64::from(count)).is_none() {
        return Err(malformed(24, "LSN overflow".into()));
    }
    let region = body.get(FRAME_HEADER..).unwrap_or_default();
    let mut rest = region;
    for i in 0..count {
        let at = FRAME_HEADER + (region.len() - rest.len());
        let Some((elen, after)) = split_u32(rest) else {
            return Err(malformed(at, format!("entry {i} of {count} is cut off")));
        };
        match after.get(elen as usize..) {
            Some(r) => rest = r,
            None => {
                return Err(malformed(
                    at,
                    format!("entry {i} of {count}: length {elen} exceeds the record"),
                ));
            }
        }
    }
    let entries_len = region.len() - rest.len();
    let canonical = frame_len_of_entries(entries_len);
    if canonical != Some(len) {
        return Err(malformed(
            FRAME_HEADER + entries_len,
            format!(
                "record length {len} does not match its entries ({} bytes of padding)",
                rest.len()
            ),
        ));
    }
    if let Some(i) = rest.iter().position(|b| *b != 0) {
        return Err(malformed(
            FRAME_HEADER + entries_len + i,
            "non-zero padding".into(),
        ));
    }
    Ok(FrameRef {
        len,
        first_lsn,
        synced_lsn,
        count,
        entries: region.get(..entries_len).unwrap_or_default(),
    })
}

/// Frame length for an entries region of `entries_len` bytes.
fn frame_len_of_entries(entries_len: usize) -> Option<u32> {
    let n = (FRAME_HEADER + FRAME_TRAILER) as u64 + entries_len as u64;
    u32::try_from(n.checked_add(FRAME_ALIGN - 1)? & !(FRAME_ALIGN - 1)).ok()
}

/// A record or batch checked and checksummed before it is queued: its frame length, entry
/// count and the CRC of its body (entries + padding), so that the frame can be sealed with
/// its LSN and salt later, at write time, without hashing the payloads again.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) len: u32,
    pub(crate) count: u32,
    pub(crate) crc: Crc32Hasher,
}

impl Body {
    /// Check `payloads` against `max_len` and hash them.
    pub(crate) fn prepare(payloads: &[&[u8]], max_len: u32) -> Result<Body> {
        if payloads.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let too_large = || Error::RecordTooLarge {
            len: payloads
                .iter()
                .map(|p| p.len() as u64 + 4)
                .sum::<u64>()
                .saturating_add(FRAME_HEADER as u64 + FRAME_TRAILER as u64),
            max: max_len,
        };
        let len = frame_len(payloads.iter().map(|p| p.len())).ok_or_else(too_large)?;
        if len > max_len {
            return Err(Error::RecordTooLarge {
                len: u64::from(len),
                max: max_len,
            });
        }
        let count = u32::try_from(payloads.len()).map_err(|_| too_large())?;
        let mut crc = Crc32Hasher::new();
        let mut entries = 0usize;
        for p in payloads {
            // Lengths fit: the frame length fits in a u32.
            crc.update(&(p.len() as u32).to_le_bytes());
            crc.update(p);
            entries += 4 + p.len();
        }
        let pad = len as usize - FRAME_HEADER - FRAME_TRAILER - entries;
        crc.update([0u8; 8].get(..pad).unwrap_or_default());
        Ok(Body { len, count, crc })
    }

    /// Append the unsealed frame (zero header and trailer) to `buf`.
    pub(crate) fn write_unsealed(&self, buf: &mut Vec<u8>, payloads: &[&[u8]]) {
        let start = buf.len();
        buf.extend_from_slice(&[0u8; FRAME_HEADER]);
        for p in payloads {
            buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            buf.extend_from_slice(p);
        }
        buf.resize(start + self.len as usize, 0);
    }

    /// Fill in the header and trailer of the unsealed frame `frame` (exactly `self.len`
    /// bytes).
    pub(crate) fn seal(&self, frame: &mut [u8], salt: u64, first_lsn: Lsn, synced_lsn: Lsn) {
        debug_assert_eq!(frame.len(), self.len as usize);
        debug_assert!(synced_lsn < first_lsn);
        let mut header = [0u8; FRAME_HEADER];
        let fields: [&[u8]; 5] = [
            &self.len.to_le_bytes(),
            &len_crc(salt, self.len).to_le_bytes(),
            &first_lsn.to_le_bytes(),
            &synced_lsn.to_le_bytes(),
            &self.count.to_le_bytes(),
        ];
        let mut at = 0;
        for f in fields {
            if let Some(dst) = header.get_mut(at..at + f.len()) {
                dst.copy_from_slice(f);
            }
            at += f.len();
        }
        let mut h = Crc32Hasher::new();
        h.update(&salt.to_le_bytes());
        h.update(&header);
        h.combine(&self.crc);
        let crc = h.finalize();
        if let Some(dst) = frame.get_mut(..FRAME_HEADER) {
            dst.copy_from_slice(&header);
        }
        let end = frame.len();
        if let Some(dst) = frame.get_mut(end.saturating_sub(FRAME_TRAILER)..) {
            dst.copy_from_slice(&crc.to_le_bytes());
        }
    }
}

/// Encode one frame into `out`: the reference encoder (the writer builds the same bytes in
/// two steps). Fails like [`Wal::append_batch`](crate::Wal::append_batch) on an empty or
/// oversized batch.
pub fn encode_frame(
    out: &mut Vec<u8>,
    salt: u64,
    first_lsn: Lsn,
    synced_lsn: Lsn,
    payloads: &[&[u8]],
) -> Result<()> {
    let body = Body::prepare(payloads, u32::MAX)?;
    let start = out.len();
    body.write_unsealed(out, payloads);
    if let Some(frame) = out.get_mut(start..) {
        body.seal(frame, salt, first_lsn, synced_lsn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    const SALT: u64 = 0x5eed_1234_abcd_0001;

    fn frame(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, SALT, 7, 3, payloads).unwrap();
        out
    }

    #[test]
    fn round_trip_shapes() {
        let big = vec![0xabu8; 1000];
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![b""],
            vec![b"a"],
            vec![b"hello world"],
            vec![b"1234", b"", b"xyz"],
            vec![&big, b"tail"],
            (0..50).map(|_| &b"q"[..]).collect(),
        ];
        for payloads in cases {
            let bytes = frame(&payloads);
            assert_eq!(bytes.len() % 8, 0);
            assert_eq!(
                Some(bytes.len() as u32),
                frame_len(payloads.iter().map(|p| p.len()))
            );
            // Trailing bytes after the frame do not matter.
            let mut padded = bytes.clone();
            padded.extend_from_slice(&[0xff; 13]);
            for input in [&bytes, &padded] {
                let f = decode_frame(input, SALT, u32::MAX).unwrap();
                assert_eq!(f.len as usize, bytes.len());
                assert_eq!((f.first_lsn, f.synced_lsn), (7, 3));
                assert_eq!(f.payloads(), payloads);
                let lsns: Vec<_> = f.entries().map(|(l, _)| l).collect();
                assert_eq!(lsns, (7..7 + payloads.len() as u64).collect::<Vec<_>>());
                assert_eq!(f.last_lsn(), 6 + payloads.len() as u64);
            }
        }
        assert_eq!(frame(&[b""]).len() as u32, MIN_FRAME);
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        for payloads in [vec![&b"x"[..]], vec![b"hello", b"", b"wal!"]] {
            let bytes = frame(&payloads);
            for bit in 0..bytes.len() * 8 {
                let mut b = bytes.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    decode_frame(&b, SALT, u32::MAX).is_err(),
                    "flip of bit {bit} not detected"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = frame(&[b"some payload", b"and another one"]);
        for len in 0..bytes.len() {
            let err = decode_frame(&bytes[..len], SALT, u32::MAX).unwrap_err();
            assert!(
                matches!(err, FrameError::Truncated { .. }),
                "len {len}: {err:?}"
            );
        }
    }

    #[test]
    fn other_salt_or_zeroes_never_validate() {
        let bytes = frame(&[b"stale"]);
        assert_eq!(
            decode_frame(&bytes, SALT ^ 1, u32::MAX).unwrap_err(),
            FrameError::LengthChecksum
        );
        assert_eq!(
            decode_frame(&[0u8; 64], SALT, u32::MAX).unwrap_err(),
            FrameError::Zeroes
        );
    }

    #[test]
    fn limits_and_bad_batches() {
        let bytes = frame(&[&[1u8; 100]]);
        assert!(matches!(
            decode_frame(&bytes, SALT, 64).unwrap_err(),
            FrameError::TooLarge { .. }
        ));
        assert!(matches!(Body::prepare(&[], 1000), Err(Error::EmptyBatch)));
        assert!(matches!(
            Body::prepare(&[&[0u8; 100]], 64),
            Err(Error::RecordTooLarge { len: 136, max: 64 })
        ));
    }

    /// A checksum-valid frame whose fields are inconsistent is refused (the encoder can
    /// never produce one; the check guards against bugs and forged files).
    #[test]
    fn consistent_fields_are_required() {
        fn reseal(mut b: Vec<u8>) -> Vec<u8> {
            let n = b.len();
            let crc = crc32_parts(&[&SALT.to_le_bytes(), &b[..n - 4]]);
            b[n - 4..].copy_from_slice(&crc.to_le_bytes());
            b
        }
        let good = frame(&[b"abc"]);
        let mut zero_count = good.clone();
        zero_count[24..28].copy_from_slice(&0u32.to_le_bytes());
        let mut synced_ahead = good.clone();
        synced_ahead[16..24].copy_from_slice(&7u64.to_le_bytes());
        let mut long_entry = good.clone();
        long_entry[28..32].copy_from_slice(&100u32.to_le_bytes());
        let mut dirty_pad = good.clone();
        dirty_pad[35] = 1;
        for bad in [zero_count, synced_ahead, long_entry, dirty_pad] {
            assert!(matches!(
                decode_frame(&reseal(bad), SALT, u32::MAX).unwrap_err(),
                FrameError::Malformed { .. }
            ));
        }
    }
}
