//! [`FaultyFs`]: wraps any [`Fs`] and fails the Nth call of a kind, for the countdown loops
//! of RELIABILITY (f): "fail the nth write / sync / rename with ENOSPC or EIO, once or
//! forever, then check the store is still consistent".
//!
//! Every call through the file system and through handles it opened is counted per
//! [`FaultOp`]; one rule at a time is armed on the shared [`FaultController`]. A failed call
//! does nothing on the inner file system, except a failed write with torn writes enabled:
//! it first writes the first half of the buffer, leaving a partial record (RELIABILITY
//! pitfall 12).
use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::bytes::ReadOnlyBytes;
use crate::fs::{FileHandle, Fs, LockGuard, OpenOptions};

/// A kind of call [`FaultyFs`] counts and can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultOp {
    /// [`Fs::open`].
    Open,
    /// [`FileHandle::read_exact_at`].
    Read,
    /// [`FileHandle::write_all_at`].
    Write,
    /// [`FileHandle::set_len`].
    SetLen,
    /// [`FileHandle::sync_data`].
    SyncData,
    /// [`FileHandle::sync_all`].
    SyncAll,
    /// [`Fs::sync_dir`].
    SyncDir,
    /// [`Fs::rename`].
    Rename,
    /// [`Fs::remove_file`].
    Remove,
    /// [`Fs::create_dir_all`].
    CreateDir,
    /// [`Fs::read_dir`].
    ReadDir,
    /// [`Fs::exists`], [`Fs::file_len`], [`FileHandle::len`].
    Stat,
    /// [`Fs::map_readonly`].
    Map,
    /// [`Fs::try_lock_exclusive`].
    Lock,
    /// Any of `SyncData`, `SyncAll`, `SyncDir` (a pattern only: no call is of this kind).
    Sync,
    /// Every call (a pattern only).
    Any,
}

impl FaultOp {
    /// The concrete kinds, in counter order.
    const CONCRETE: [FaultOp; 14] = [
        FaultOp::Open,
        FaultOp::Read,
        FaultOp::Write,
        FaultOp::SetLen,
        FaultOp::SyncData,
        FaultOp::SyncAll,
        FaultOp::SyncDir,
        FaultOp::Rename,
        FaultOp::Remove,
        FaultOp::CreateDir,
        FaultOp::ReadDir,
        FaultOp::Stat,
        FaultOp::Map,
        FaultOp::Lock,
    ];

    /// Whether a call of kind `call` matches this pattern.
    pub fn matches(self, call: FaultOp) -> bool {
        self == call
            || self == FaultOp::Any
            || (self == FaultOp::Sync
                && matches!(
                    call,
                    FaultOp::SyncData | FaultOp::SyncAll | FaultOp::SyncDir
                ))
    }
}

/// The error an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectedError {
    /// `ENOSPC` (raw OS error 28): the device is full.
    NoSpace,
    /// `EIO` (raw OS error 5): a device error.
    Io,
}

impl InjectedError {
    /// The `io::Error` it stands for.
    pub fn to_io_error(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            InjectedError::NoSpace => 28,
            InjectedError::Io => 5,
        })
    }
}

#[derive(Debug)]
struct Rule {
    op: FaultOp,
    nth: u64,
    error: InjectedError,
    persistent: bool,
    /// Matching calls since the rule was armed.
    seen: u64,
}

#[derive(Debug, Default)]
struct Inner {
    counts: [u64; FaultOp::CONCRETE.len()],
    rule: Option<Rule>,
    fired: u64,
    torn_write: bool,
}

/// The shared switchboard of a [`FaultyFs`]: counts calls and arms one failure rule.
/// Clones control the same file system.
///
/// ```
/// use mnemodb_io::{FaultOp, FaultyFs, Fs, InjectedError, MemFs, OpenOptions};
/// use std::{path::Path, sync::Arc};
///
/// let fs = FaultyFs::new(Arc::new(MemFs::new()));
/// let f = fs.open(Path::new("/f"), OpenOptions::read_write())?;
/// fs.controller().fail_nth(FaultOp::Write, 2, InjectedError::NoSpace, false);
/// f.write_all_at(b"a", 0)?;
/// assert_eq!(f.write_all_at(b"b", 1).unwrap_err().raw_os_error(), Some(28));
/// f.write_all_at(b"c", 1)?; // fail once: the third write goes through
/// assert_eq!(fs.controller().op_count(FaultOp::Write), 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultController {
    inner: Arc<Mutex<Inner>>,
}

impl FaultController {
    /// A controller with nothing armed and all counts at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fail the `n`th call matching `op` from now on (1-based; 0 counts as 1) with `error`;
    /// when `persistent`, that call and every later matching call fail ("fail forever"),
    /// else only that one ("fail once"). Replaces any armed rule.
    pub fn fail_nth(&self, op: FaultOp, n: u64, error: InjectedError, persistent: bool) {
        self.inner.lock().rule = Some(Rule {
            op,
            nth: n.max(1),
            error,
            persistent,
            seen: 0,
        });
    }

    /// Whether a failed write first writes the first half of its buffer.
    pub fn set_torn_write(&self, torn: bool) {
        self.inner.lock().torn_write = torn;
    }

    /// Stop failing calls (counts are kept).
    pub fn disarm(&self) {
        self.inner.lock().rule = None;
    }

    /// How many calls matching `op` were made (failed ones included).
    pub fn op_count(&self, op: FaultOp) -> u64 {
        let inner = self.inner.lock();
        FaultOp::CONCRETE
            .iter()
            .zip(inner.counts)
            .filter(|(call, _)| op.matches(**call))
            .map(|(_, n)| n)
            .sum()
    }

    /// How many calls failed by injection so far.
    pub fn fired(&self) -> u64 {
        self.inner.lock().fired
    }

    /// Set every call count and the fired count to zero.
    pub fn reset_counts(&self) {
        let mut inner = self.inner.lock();
        inner.counts = Default::default();
        inner.fired = 0;
    }

    /// Count a call of kind `call`; when it is to fail, the error and whether a write tears.
    fn check(&self, call: FaultOp) -> Option<(io::Error, bool)> {
        let mut inner = self.inner.lock();
        if let Some(i) = FaultOp::CONCRETE.iter().position(|&c| c == call)
            && let Some(n) = inner.counts.get_mut(i)
        {
            *n += 1;
        }
        let rule = inner.rule.as_mut().filter(|r| r.op.matches(call))?;
        rule.seen += 1;
        if rule.seen < rule.nth || (rule.seen > rule.nth && !rule.persistent) {
            return None;
        }
        let error = rule.error.to_io_error();
        inner.fired += 1;
        Some((error, inner.torn_write))
    }

    /// Run `f` unless the call is to fail.
    fn guard<T>(&self, call: FaultOp, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        match self.check(call) {
            Some((e, _)) => Err(e),
            None => f(),
        }
    }
}

/// A file system that fails calls as its [`FaultController`] says; see the module doc.
#[derive(Debug, Clone)]
pub struct FaultyFs {
    inner: Arc<dyn Fs>,
    controller: FaultController,
}

impl FaultyFs {
    /// Wrap `inner` with a new controller.
    pub fn new(inner: Arc<dyn Fs>) -> Self {
        Self::with_controller(inner, FaultController::new())
    }

    /// Wrap `inner`, controlled by `controller` (shared with its other clones).
    pub fn with_controller(inner: Arc<dyn Fs>, controller: FaultController) -> Self {
        FaultyFs { inner, controller }
    }

    /// The controller; clone it to keep it.
    pub fn controller(&self) -> &FaultController {
        &self.controller
    }

    /// The wrapped file system (calls to it are neither counted nor failed).
    pub fn inner(&self) -> &Arc<dyn Fs> {
        &self.inner
    }
}

/// A handle opened through a [`FaultyFs`].
#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn FileHandle>,
    controller: FaultController,
}

impl FileHandle for FaultyFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.controller
            .guard(FaultOp::Read, || self.inner.read_exact_at(buf, offset))
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        match self.controller.check(FaultOp::Write) {
            None => self.inner.write_all_at(buf, offset),
            Some((e, torn)) => {
                if torn {
                    let prefix = buf.get(..buf.len() / 2).unwrap_or_default();
                    // The injected error is what the caller sees; a failure of the partial
                    // write itself changes nothing about that.
                    let _ = self.inner.write_all_at(prefix, offset);
                }
                Err(e)
            }
        }
    }
    fn len(&self) -> io::Result<u64> {
        self.controller.guard(FaultOp::Stat, || self.inner.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.controller
            .guard(FaultOp::SetLen, || self.inner.set_len(len))
    }
    fn sync_data(&self) -> io::Result<()> {
        self.controller
            .guard(FaultOp::SyncData, || self.inner.sync_data())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.controller
            .guard(FaultOp::SyncAll, || self.inner.sync_all())
    }
}

impl Fs for FaultyFs {
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        let inner = self
            .controller
            .guard(FaultOp::Open, || self.inner.open(path, opts))?;
        Ok(Arc::new(FaultyFile {
            inner,
            controller: self.controller.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.controller
            .guard(FaultOp::Rename, || self.inner.rename(from, to))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.controller
            .guard(FaultOp::Remove, || self.inner.remove_file(path))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.controller
            .guard(FaultOp::CreateDir, || self.inner.create_dir_all(path))
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.controller
            .guard(FaultOp::ReadDir, || self.inner.read_dir(path))
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.controller
            .guard(FaultOp::SyncDir, || self.inner.sync_dir(path))
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.controller
            .guard(FaultOp::Stat, || self.inner.exists(path))
    }
    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.controller
            .guard(FaultOp::Stat, || self.inner.file_len(path))
    }
    fn map_readonly(&self, path: &Path) -> io::Result<ReadOnlyBytes> {
        self.controller
            .guard(FaultOp::Map, || self.inner.map_readonly(path))
    }
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        self.controller
            .guard(FaultOp::Lock, || self.inner.try_lock_exclusive(path))
    }
}
