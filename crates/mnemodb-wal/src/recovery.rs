//! Reading a whole log directory: file names, per-file scans, the cross-file checks and the
//! recovery policy ([`RecoveryMode`]); [`read_records`] is its read-only entry point and
//! [`Wal::open`](crate::Wal::open) applies what it decides.
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mnemodb_format::WalHeader;
use mnemodb_io::{FileHandle, Fs, IoContext, OpenOptions, is_temp_path};

use crate::error::{Error, Result};
use crate::options::{Lsn, RecoveryMode, RecoveryReport};
use crate::scan::{FileSource, Source, Tail, scan_frames};

/// Digits in a WAL file name.
const NAME_DIGITS: usize = 20;

/// `<first-lsn>.log`, zero-padded so names sort like LSNs.
pub(crate) fn file_name(first_lsn: Lsn) -> String {
    format!("{first_lsn:0NAME_DIGITS$}.log")
}

/// The first LSN of a WAL file name, or `None` for any other name.
pub(crate) fn parse_name(name: &OsStr) -> Option<Lsn> {
    let digits = name.to_str()?.strip_suffix(".log")?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a log directory holds.
pub(crate) struct Listing {
    /// WAL files with the LSN of their names, sorted.
    pub(crate) files: Vec<(Lsn, PathBuf)>,
    /// Temporary files (an interrupted rotation).
    pub(crate) temps: Vec<OsString>,
}

/// The WAL files of `dir` and its temporary files. Other names are ignored.
pub(crate) fn list(fs: &dyn Fs, dir: &Path) -> Result<Listing> {
    let mut files = Vec::new();
    let mut temps = Vec::new();
    for name in fs.read_dir(dir).at("list directory", dir)? {
        if let Some(lsn) = parse_name(&name) {
            files.push((lsn, dir.join(&name)));
        } else if is_temp_path(&name) {
            temps.push(name);
        }
    }
    files.sort();
    Ok(Listing { files, temps })
}

/// A per-record callback with the caller's error type.
pub(crate) type RecordFn<'a, E> = dyn FnMut(Lsn, &[u8]) -> Result<(), E> + 'a;

/// One file kept by recovery.
#[derive(Debug, Clone)]
pub(crate) struct KeptFile {
    pub(crate) first_lsn: Lsn,
    pub(crate) path: PathBuf,
    pub(crate) salt: u64,
    /// Its length now.
    pub(crate) len: u64,
    /// End of its last valid frame: recovery truncates the file there when shorter than
    /// `len`.
    pub(crate) valid_end: u64,
}

/// What recovery found and decided.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Files to keep, in LSN order; only the last may need truncation.
    pub(crate) kept: Vec<KeptFile>,
    /// Files to delete (salvage), newest first.
    pub(crate) delete: Vec<PathBuf>,
    /// LSN of the next record.
    pub(crate) next_lsn: Lsn,
    pub(crate) records: u64,
    pub(crate) truncated_bytes: u64,
    pub(crate) salvaged: bool,
}

impl Plan {
    pub(crate) fn report(&self) -> RecoveryReport {
        RecoveryReport {
            files: self.kept.len(),
            records: self.records,
            first_lsn: match self.kept.first() {
                Some(f) if self.records > 0 => f.first_lsn,
                _ => 0,
            },
            last_lsn: self.next_lsn.saturating_sub(1),
            truncated_bytes: self.truncated_bytes,
            salvaged: self.salvaged,
            discarded_records: 0,
        }
    }
}

/// A problem that ends the valid prefix of the log.
struct Damage {
    /// Index of the file.
    index: usize,
    /// The valid frames the file keeps (`None`: the file goes whole — bad header, gap).
    keep: Option<Kept>,
    error: Error,
}

/// The valid prefix of a damaged file.
struct Kept {
    file: KeptFile,
    next_lsn: Lsn,
    records: u64,
}

/// Scan every WAL file of `dir` and decide what the log is, calling `f` for each record
/// with LSN ≥ `from` in order (records of the valid prefix are delivered before a
/// [`Error::Corrupted`] ends the scan).
pub(crate) fn scan_dir<E: From<Error>>(
    fs: &dyn Fs,
    dir: &Path,
    mode: RecoveryMode,
    max_record_bytes: u32,
    from: Lsn,
    f: &mut RecordFn<'_, E>,
) -> Result<Plan, E> {
    let files = list(fs, dir)?.files;
    let mut plan = Plan {
        next_lsn: files.first().map_or(1, |(lsn, _)| *lsn),
        ..Plan::default()
    };
    let newest = files.len().saturating_sub(1);
    let mut damage = None;
    for (index, (name_lsn, path)) in files.iter().enumerate() {
        let handle = fs
            .open(path, OpenOptions::read())
            .at("open", path)
            .map_err(Error::from)?;
        let len = handle.len().at("stat", path).map_err(Error::from)?;
        let header = match read_header(&handle, path, len) {
            Ok(h) => h,
            Err(error) => {
                damage = Some(Damage {
                    index,
                    keep: None,
                    error,
                });
                break;
            }
        };
        let whole_file = |what: String, offset: u64| Damage {
            index,
            keep: None,
            error: Error::corrupted(path, offset, what),
        };
        if header.first_lsn != *name_lsn {
            damage = Some(whole_file(
                format!(
                    "header says the file starts at LSN {}, its name says {name_lsn}",
                    header.first_lsn
                ),
                WalHeader::FIRST_LSN_OFFSET,
            ));
            break;
        }
        if index > 0 && header.first_lsn != plan.next_lsn {
            let what = if header.first_lsn > plan.next_lsn {
                "a gap"
            } else {
                "an overlap"
            };
            let previous = files
                .get(index.wrapping_sub(1))
                .and_then(|(_, p)| p.file_name())
                .unwrap_or_default()
                .to_string_lossy();
            damage = Some(whole_file(
                format!(
                    "file starts at LSN {} but the previous file ({previous}) ends before \
                     LSN {}: {what} between WAL files",
                    header.first_lsn, plan.next_lsn
                ),
                WalHeader::FIRST_LSN_OFFSET,
            ));
            break;
        }
        let mut src = FileSource::new(handle, path.clone(), len);
        let mut on_frame = |fr: &crate::frame::FrameRef<'_>| -> Result<(), E> {
            if fr.last_lsn() >= from {
                for (lsn, payload) in fr.entries() {
                    if lsn >= from {
                        f(lsn, payload)?;
                    }
                }
            }
            Ok(())
        };
        let scan = scan_frames(
            &mut src,
            header.salt,
            header.first_lsn,
            max_record_bytes,
            &mut on_frame,
        )?;
        debug_assert_eq!(src.len(), len);
        let kept = KeptFile {
            first_lsn: header.first_lsn,
            path: path.clone(),
            salt: header.salt,
            len,
            valid_end: scan.valid_end,
        };
        let problem = match &scan.tail {
            Tail::Clean => None,
            Tail::Torn { .. } if index == newest => None,
            Tail::Torn { offset, what } => Some((
                *offset,
                format!("{what} (in an older WAL file, which must end with a complete record)"),
            )),
            Tail::Corrupt { offset, what } => Some((*offset, what.clone())),
        };
        if let Some((offset, what)) = problem {
            damage = Some(Damage {
                index,
                keep: Some(Kept {
                    file: kept,
                    next_lsn: scan.next_lsn,
                    records: scan.records,
                }),
                error: Error::corrupted(path, offset, what),
            });
            break;
        }
        plan.truncated_bytes += len - scan.valid_end;
        plan.next_lsn = scan.next_lsn;
        plan.records += scan.records;
        plan.kept.push(kept);
    }
    if let Some(d) = damage {
        if mode == RecoveryMode::TolerateTornTail {
            return Err(d.error.into());
        }
        plan.salvaged = true;
        let first_dropped = match d.keep {
            Some(k) => {
                plan.truncated_bytes += k.file.len - k.file.valid_end;
                plan.next_lsn = k.next_lsn;
                plan.records += k.records;
                plan.kept.push(k.file);
                d.index + 1
            }
            None => d.index,
        };
        for (_, path) in files.iter().skip(first_dropped).rev() {
            plan.truncated_bytes += fs.file_len(path).at("stat", path).map_err(Error::from)?;
            plan.delete.push(path.clone());
        }
    }
    Ok(plan)
}

/// Read and check the header of a WAL file.
pub(crate) fn read_header(
    handle: &Arc<dyn FileHandle>,
    path: &Path,
    len: u64,
) -> Result<WalHeader> {
    if len < WalHeader::SIZE as u64 {
        return Err(Error::corrupted(
            path,
            len,
            format!(
                "file is {len} bytes, shorter than the {}-byte WAL header",
                WalHeader::SIZE
            ),
        ));
    }
    let mut buf = [0u8; WalHeader::SIZE];
    handle.read_exact_at(&mut buf, 0).at("read", path)?;
    Ok(WalHeader::decode(&buf, path)?)
}

/// Read every record of the log in `dir` with LSN ≥ `from`, in order, without changing
/// anything: for inspection tools and read-only openers. The report says what a read-write
/// open would do (`truncated_bytes` of a torn tail, `salvaged`), but nothing is cut. A
/// missing directory is an empty log.
///
/// With [`RecoveryMode::TolerateTornTail`], damage other than a torn tail is
/// [`Error::Corrupted`] — after `f` has seen the records before it. With
/// [`RecoveryMode::SalvagePrefix`], `f` sees the valid prefix and the report says
/// `salvaged`.
///
/// ```
/// use mnemodb_io::MemFs;
/// use mnemodb_wal::{read_records, RecoveryMode, Wal, WalOptions};
/// use std::{path::Path, sync::Arc};
///
/// let fs = Arc::new(MemFs::new());
/// let (wal, _) = Wal::open(fs.clone(), Path::new("/db/wal"), WalOptions::default())?;
/// wal.append(b"one")?;
/// wal.append(b"two")?;
/// let mut seen = Vec::new();
/// let report = read_records(&*fs, Path::new("/db/wal"), 2, RecoveryMode::default(), |lsn, p| {
///     seen.push((lsn, p.to_vec()));
///     Ok(())
/// })?;
/// assert_eq!(seen, [(2, b"two".to_vec())]);
/// assert_eq!((report.records, report.last_lsn), (2, 2));
/// # Ok::<(), mnemodb_wal::Error>(())
/// ```
pub fn read_records(
    fs: &dyn Fs,
    dir: &Path,
    from: Lsn,
    mode: RecoveryMode,
    f: impl FnMut(Lsn, &[u8]) -> Result<()>,
) -> Result<RecoveryReport> {
    read_records_with(fs, dir, from, mode, f)
}

/// [`read_records`] with a callback returning the caller's own error type `E` (any type
/// a WAL [`Error`] converts into): the first error `f` returns stops the scan and is
/// returned as is.
///
/// ```
/// use mnemodb_io::MemFs;
/// use mnemodb_wal::{read_records_with, RecoveryMode, Wal, WalOptions};
/// use std::{path::Path, sync::Arc};
///
/// #[derive(Debug)]
/// enum MyError { Wal(mnemodb_wal::Error), Refused(u64) }
/// impl From<mnemodb_wal::Error> for MyError {
///     fn from(e: mnemodb_wal::Error) -> Self { MyError::Wal(e) }
/// }
///
/// let fs = Arc::new(MemFs::new());
/// let (wal, _) = Wal::open(fs.clone(), Path::new("/db/wal"), WalOptions::default()).unwrap();
/// wal.append(b"ok").unwrap();
/// wal.append(b"bad").unwrap();
/// let err = read_records_with(&*fs, Path::new("/db/wal"), 1, RecoveryMode::default(), |lsn, p| {
///     if p == b"bad" { Err(MyError::Refused(lsn)) } else { Ok(()) }
/// })
/// .unwrap_err();
/// assert!(matches!(err, MyError::Refused(2)));
/// ```
pub fn read_records_with<E: From<Error>>(
    fs: &dyn Fs,
    dir: &Path,
    from: Lsn,
    mode: RecoveryMode,
    mut f: impl FnMut(Lsn, &[u8]) -> Result<(), E>,
) -> Result<RecoveryReport, E> {
    if !fs.exists(dir).at("stat", dir).map_err(Error::from)? {
        return Ok(RecoveryReport::default());
    }
    let plan = scan_dir(fs, dir, mode, u32::MAX, from, &mut f)?;
    Ok(plan.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(1), "00000000000000000001.log");
        assert_eq!(parse_name(OsStr::new(&file_name(u64::MAX))), Some(u64::MAX));
        assert_eq!(parse_name(OsStr::new("1.log")), None);
        assert_eq!(parse_name(OsStr::new("0000000000000000000x.log")), None);
        assert_eq!(parse_name(OsStr::new("00000000000000000001.log.tmp")), None);
        assert!(file_name(9) < file_name(10));
    }
}
