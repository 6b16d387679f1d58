//! Scanning one WAL file: frames in order, then the decision between a torn tail and
//! corruption. Works over an in-memory slice ([`decode_file`], fuzzed) and over a file read
//! in bounded chunks (recovery and replay), with the same code.
//!
//! **The tail rule.** Scanning stops at the first invalid frame, at offset `X`, where LSN
//! `n` was expected. What follows decides:
//!
//! - a later valid frame (checksummed with this file's salt) whose `synced_lsn ≥ n` proves
//!   that the writer had synced LSN `n` before writing it: the bytes at `X` were durable and
//!   are now damaged, so this is **corruption**;
//! - anything else (zeros, garbage, stale bytes of an older file, or valid frames written
//!   while LSN `n` was still unsynced, which a power loss may legitimately keep while losing
//!   the one at `X`) is a **torn tail**, cut at `X`.
//!
//! A valid frame at `X` with the wrong LSN is corruption too, and so is a length whose
//! checksum matches but exceeds `max_record_bytes` (refusing is safer than cutting off a
//! record written under a larger limit).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_format::WalHeader;
use mnemodb_io::{FileHandle, IoContext};

use crate::error::{Error, Result};
use crate::frame::{self, FRAME_ALIGN, FrameError, FrameRef, MIN_FRAME};
use crate::options::Lsn;

/// How a file's frames end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The last frame ends exactly at the end of the file.
    Clean,
    /// Bytes after the last valid frame that a crash can explain (see the module doc).
    Torn {
        /// Where the first invalid frame starts.
        offset: u64,
        /// Why it is invalid.
        what: String,
    },
    /// Damage a crash cannot explain.
    Corrupt {
        /// Where the damage is.
        offset: u64,
        /// What is wrong.
        what: String,
    },
}

/// What [`decode_file`] found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file's header.
    pub header: WalHeader,
    /// End of the last valid frame (the header size when there is none).
    pub valid_len: u64,
    /// LSN one past the last valid record (`header.first_lsn` when there is none).
    pub next_lsn: Lsn,
    /// Valid frames.
    pub frames: u64,
    /// Records in them.
    pub records: u64,
    /// How the valid frames end.
    pub tail: Tail,
}

/// Random access to the bytes of one file.
pub(crate) trait Source {
    /// Length of the file (or of the part to read).
    fn len(&self) -> u64;
    /// Bytes `offset .. offset + len`; the caller guarantees they lie within [`Source::len`]
    /// and that `len` is bounded (by `max_record_bytes` or a small constant).
    fn read(&mut self, offset: u64, len: usize) -> Result<&[u8]>;
}

/// A whole file in memory.
pub(crate) struct SliceSource<'a> {
    bytes: &'a [u8],
    file: &'a Path,
}

impl<'a> SliceSource<'a> {
    pub(crate) fn new(bytes: &'a [u8], file: &'a Path) -> Self {
        SliceSource { bytes, file }
    }
}

impl Source for SliceSource<'_> {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read(&mut self, offset: u64, len: usize) -> Result<&[u8]> {
        usize::try_from(offset)
            .ok()
            .and_then(|start| self.bytes.get(start..start.checked_add(len)?))
            .ok_or_else(|| Error::corrupted(self.file, offset, "read past the end"))
    }
}

/// The chunk a [`FileSource`] reads at once.
const CHUNK: usize = 1 << 20;

/// A file read through a handle in chunks of [`CHUNK`] bytes (more only for one larger
/// frame, which `max_record_bytes` bounds). A read error is [`Error::Io`], never a tail.
pub(crate) struct FileSource {
    file: Arc<dyn FileHandle>,
    path: PathBuf,
    len: u64,
    buf: Vec<u8>,
    buf_offset: u64,
}

impl FileSource {
    /// Read `file` (at `path`) up to `len` bytes.
    pub(crate) fn new(file: Arc<dyn FileHandle>, path: PathBuf, len: u64) -> Self {
        FileSource {
            file,
            path,
            len,
            buf: Vec::new(),
            buf_offset: 0,
        }
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read(&mut self, offset: u64, len: usize) -> Result<&[u8]> {
        let end = offset.saturating_add(len as u64);
        let buf_end = self.buf_offset + self.buf.len() as u64;
        if offset < self.buf_offset || end > buf_end {
            let want = (len.max(CHUNK) as u64).min(self.len.saturating_sub(offset));
            if want < len as u64 {
                return Err(Error::corrupted(&self.path, offset, "read past the end"));
            }
            self.buf.resize(want as usize, 0);
            self.buf_offset = offset;
            self.file
                .read_exact_at(&mut self.buf, offset)
                .at("read", &self.path)?;
        }
        let start = (offset - self.buf_offset) as usize;
        self.buf
            .get(start..start + len)
            .ok_or_else(|| Error::corrupted(&self.path, offset, "read past the end"))
    }
}

/// The frames of one file after its header.
#[derive(Debug, Clone)]
pub(crate) struct FramesScan {
    pub(crate) valid_end: u64,
    pub(crate) next_lsn: Lsn,
    pub(crate) frames: u64,
    pub(crate) records: u64,
    pub(crate) tail: Tail,
}

/// Scan the frames of a file whose header holds `salt` and `first_lsn`, calling `on_frame`
/// for each valid one, and classify how they end (module doc).
pub(crate) fn scan_frames<E: From<Error>>(
    src: &mut dyn Source,
    salt: u64,
    first_lsn: Lsn,
    max_len: u32,
    on_frame: &mut dyn FnMut(&FrameRef<'_>) -> Result<(), E>,
) -> Result<FramesScan, E> {
    let len = src.len();
    let mut off = WalHeader::SIZE as u64;
    let mut next = first_lsn;
    let (mut frames, mut records) = (0u64, 0u64);
    let tail = loop {
        let left = len.saturating_sub(off);
        if left == 0 {
            break Tail::Clean;
        }
        let word = src.read(off, left.min(8) as usize)?;
        let flen = match frame::check_len(word, salt, max_len, left) {
            Ok(l) => l,
            Err(e @ FrameError::TooLarge { .. }) => {
                break Tail::Corrupt {
                    offset: off,
                    what: e.to_string(),
                };
            }
            Err(e) => break classify(src, salt, max_len, off, next, e.to_string())?,
        };
        let bytes = src.read(off, flen as usize)?;
        let fr = match frame::decode_frame(bytes, salt, max_len) {
            Ok(fr) => fr,
            Err(e) => {
                let what = match e.offset() {
                    0 => e.to_string(),
                    inner => format!("{e} at byte offset {}", off + inner),
                };
                break classify(src, salt, max_len, off, next, what)?;
            }
        };
        if fr.first_lsn != next {
            break Tail::Corrupt {
                offset: off + 8,
                what: format!(
                    "record has LSN {} where LSN {next} was expected (LSNs must be contiguous)",
                    fr.first_lsn
                ),
            };
        }
        on_frame(&fr)?;
        next = fr.next_lsn();
        frames += 1;
        records += u64::from(fr.count);
        off += u64::from(flen);
    };
    Ok(FramesScan {
        valid_end: off,
        next_lsn: next,
        frames,
        records,
        tail,
    })
}

/// Torn tail or corruption, for an invalid frame at `at` where LSN `next` was expected.
fn classify(
    src: &mut dyn Source,
    salt: u64,
    max_len: u32,
    at: u64,
    next: Lsn,
    what: String,
) -> Result<Tail> {
    let len = src.len();
    let mut p = at - at % FRAME_ALIGN + FRAME_ALIGN;
    while p.saturating_add(u64::from(MIN_FRAME)) <= len {
        let word = src.read(p, 8)?;
        if word.iter().all(|b| *b == 0) {
            p += FRAME_ALIGN;
            continue;
        }
        let Ok(flen) = frame::check_len(word, salt, max_len, len - p) else {
            p += FRAME_ALIGN;
            continue;
        };
        let bytes = src.read(p, flen as usize)?;
        match frame::decode_frame(bytes, salt, max_len) {
            Ok(fr) if fr.synced_lsn >= next => {
                return Ok(Tail::Corrupt {
                    offset: at,
                    what: format!(
                        "{what}; a valid record (LSN {}, written after LSN {} was durable) \
                         follows at byte offset {p}",
                        fr.first_lsn, fr.synced_lsn
                    ),
                });
            }
            Ok(_) => p += u64::from(flen),
            Err(_) => p += FRAME_ALIGN,
        }
    }
    Ok(Tail::Torn { offset: at, what })
}

/// Decode one whole WAL file held in memory: check its header, call `f` with every valid
/// record in order, and report how the records end (a torn tail or corruption is reported in
/// [`FileReport::tail`], not as an error). Errors: a bad header ([`Error::Corrupted`] or
/// [`Error::Format`]) or an error returned by `f`. Never panics, never allocates per record.
///
/// ```
/// use mnemodb_wal::{decode_file, Tail};
/// use std::path::Path;
///
/// let mut file = mnemodb_format::WalHeader::new(7, 1).as_bytes().to_vec();
/// mnemodb_wal::encode_frame(&mut file, 7, 1, 0, &[b"hello", b"world"])?;
/// file.extend_from_slice(b"torn");
/// let mut seen = Vec::new();
/// let report = decode_file(&file, Path::new("1.log"), |lsn, p| {
///     seen.push((lsn, p.to_vec()));
///     Ok(())
/// })?;
/// assert_eq!(seen, [(1, b"hello".to_vec()), (2, b"world".to_vec())]);
/// assert_eq!(report.next_lsn, 3);
/// assert!(matches!(report.tail, Tail::Torn { .. }));
/// # Ok::<(), mnemodb_wal::Error>(())
/// ```
pub fn decode_file(
    bytes: &[u8],
    file: &Path,
    mut f: impl FnMut(Lsn, &[u8]) -> Result<()>,
) -> Result<FileReport> {
    decode_frames(bytes, file, |fr| {
        for (lsn, payload) in fr.entries() {
            f(lsn, payload)?;
        }
        Ok(())
    })
}

/// Like [`decode_file`], one call per frame (a record or a whole batch), for tools that
/// show the framing.
pub fn decode_frames(
    bytes: &[u8],
    file: &Path,
    mut f: impl FnMut(&FrameRef<'_>) -> Result<()>,
) -> Result<FileReport> {
    let header = WalHeader::decode(bytes, file)?;
    let mut src = SliceSource::new(bytes, file);
    let scan = scan_frames(&mut src, header.salt, header.first_lsn, u32::MAX, &mut f)?;
    Ok(FileReport {
        header,
        valid_len: scan.valid_end,
        next_lsn: scan.next_lsn,
        frames: scan.frames,
        records: scan.records,
        tail: scan.tail,
    })
}
