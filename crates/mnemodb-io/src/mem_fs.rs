//! [`MemFs`]: an in-memory file system that models durability, for tests and fuzzing.
//!
//! It behaves like a POSIX file system for a live process (same results as
//! [`StdFs`](crate::StdFs) on the conformance suite), and additionally tracks what is
//! durable, so that [`MemFs::crash_image`] can build what a power loss would leave; the
//! durability rules are in the [`crash`](crate::CrashMode) module doc.
//!
//! POSIX details kept: handles refer to inodes, so they stay valid after a rename, and after
//! `remove_file` an open handle keeps reading and writing the orphaned file (which no crash
//! image contains). One root: `/a` and `a` are the same path.
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::bytes::ReadOnlyBytes;
use crate::crash::{CrashMode, crash_tree};
use crate::fs::{FileHandle, Fs, LockGuard, OpenOptions};
use crate::inode::{
    DirNode, FileNode, Ino, Node, Tree, components, is_a_directory, not_a_directory, not_found,
};

/// The raw OS error a write to a read-only handle gets on Linux (`EBADF`).
const EBADF: i32 = 9;

#[derive(Default)]
struct State {
    tree: Tree,
    /// Paths (as components) locked by a live [`MemLock`].
    locks: BTreeSet<Vec<OsString>>,
    /// `sync_data` + `sync_all` + `sync_dir` calls so far.
    syncs: u64,
}

/// An in-memory file system with a power-loss model. Clones share the same files.
///
/// ```
/// use mnemodb_io::{CrashMode, Fs, MemFs, OpenOptions};
/// use std::path::Path;
///
/// let fs = MemFs::new();
/// let f = fs.open(Path::new("/log"), OpenOptions::read_write())?;
/// f.write_all_at(b"hello", 0)?;
/// fs.sync_dir(Path::new("/"))?; // the name is durable, the bytes are not
/// assert_eq!(fs.crash_image(CrashMode::DropUnsynced).read_all(Path::new("/log"))?, b"");
/// f.sync_all()?;
/// assert_eq!(fs.crash_image(CrashMode::DropUnsynced).read_all(Path::new("/log"))?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

impl MemFs {
    /// An empty file system: only the root directory, which is durable.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new, independent file system holding what a power loss in `mode` would leave of
    /// this one. Everything in it is durable; no locks are held in it.
    pub fn crash_image(&self, mode: CrashMode) -> MemFs {
        let tree = crash_tree(&self.state.lock().tree, mode);
        MemFs {
            state: Arc::new(Mutex::new(State {
                tree,
                ..State::default()
            })),
        }
    }

    /// Every live file (not directories), as absolute paths, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        self.state.lock().tree.live_files()
    }

    /// The live content of the file at `path`.
    pub fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let st = self.state.lock();
        let ino = st.tree.resolve(&components(path))?;
        Ok(st.tree.file(ino)?.live.clone())
    }

    /// How many `sync_data`, `sync_all` and `sync_dir` calls succeeded so far (crash tests
    /// use it to enumerate crash points).
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("MemFs")
            .field("inodes", &st.tree.nodes.len())
            .field("syncs", &st.syncs)
            .finish()
    }
}

/// An open file of a [`MemFs`]: an inode number, valid across renames and removal.
struct MemFile {
    state: Arc<Mutex<State>>,
    ino: Ino,
    writable: bool,
}

impl fmt::Debug for MemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemFile")
            .field("ino", &self.ino)
            .field("writable", &self.writable)
            .finish()
    }
}

impl MemFile {
    /// Run `op` on the file node, for a write when `write` (refused on read-only handles).
    fn with<T>(&self, write: bool, op: impl FnOnce(&mut FileNode) -> T) -> io::Result<T> {
        if write && !self.writable {
            return Err(io::Error::from_raw_os_error(EBADF));
        }
        let mut st = self.state.lock();
        Ok(op(st.tree.file_mut(self.ino)?))
    }

    /// Run a sync of the file node and count it.
    fn sync(&self, op: fn(&mut FileNode)) -> io::Result<()> {
        let mut st = self.state.lock();
        op(st.tree.file_mut(self.ino)?);
        st.syncs += 1;
        Ok(())
    }
}

impl FileHandle for MemFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.with(false, |f| f.read(buf, offset))?
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.with(true, |f| f.write(buf, offset))?
    }
    fn len(&self) -> io::Result<u64> {
        self.with(false, |f| f.live.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(true, |f| f.set_len(len))?
    }
    fn sync_data(&self) -> io::Result<()> {
        self.sync(FileNode::sync_data)
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync(FileNode::sync_all)
    }
}

/// A held in-process lock on a [`MemFs`] path.
struct MemLock {
    state: Arc<Mutex<State>>,
    key: Vec<OsString>,
}

impl fmt::Debug for MemLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemLock").field("path", &self.key).finish()
    }
}

impl LockGuard for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        self.state.lock().locks.remove(&self.key);
    }
}

fn invalid_options() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "create, create_new and truncate need write access",
    )
}

impl State {
    /// Open (maybe create) the file at `comps`; returns its inode.
    fn open(&mut self, comps: &[OsString], opts: OpenOptions) -> io::Result<Ino> {
        if !opts.write && (opts.create || opts.create_new || opts.truncate) {
            return Err(invalid_options());
        }
        let (dir, name) = self.tree.parent(comps)?;
        match self.tree.dir(dir)?.live.get(name).copied() {
            Some(_) if opts.create_new => {
                Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"))
            }
            Some(ino) => {
                let file = self.tree.file_mut(ino)?;
                if opts.truncate {
                    file.set_len(0)?;
                }
                Ok(ino)
            }
            None if opts.create || opts.create_new => {
                let ino = self.tree.alloc(Node::File(FileNode::default()));
                self.tree
                    .dir_mut(dir)?
                    .live
                    .insert(name.to_os_string(), ino);
                Ok(ino)
            }
            None => Err(not_found("file")),
        }
    }

    fn rename(&mut self, from: &[OsString], to: &[OsString]) -> io::Result<()> {
        let (from_dir, from_name) = self.tree.parent(from)?;
        let ino = *self
            .tree
            .dir(from_dir)?
            .live
            .get(from_name)
            .ok_or_else(|| not_found("file or directory"))?;
        let (to_dir, to_name) = self.tree.parent(to)?;
        if from == to {
            return Ok(());
        }
        let moving_dir = matches!(self.tree.nodes.get(&ino), Some(Node::Dir(_)));
        if moving_dir && to.starts_with(from) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot move a directory into itself",
            ));
        }
        if let Some(&target) = self.tree.dir(to_dir)?.live.get(to_name) {
            match (moving_dir, self.tree.nodes.get(&target)) {
                (false, Some(Node::Dir(_))) => return Err(is_a_directory()),
                (true, Some(Node::File(_))) => return Err(not_a_directory()),
                (true, Some(Node::Dir(d))) if !d.live.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::DirectoryNotEmpty,
                        "directory not empty",
                    ));
                }
                _ => {}
            }
        }
        self.tree.dir_mut(from_dir)?.live.remove(from_name);
        self.tree
            .dir_mut(to_dir)?
            .live
            .insert(to_name.to_os_string(), ino);
        Ok(())
    }

    fn remove_file(&mut self, comps: &[OsString]) -> io::Result<()> {
        let (dir, name) = self.tree.parent(comps)?;
        let ino = *self
            .tree
            .dir(dir)?
            .live
            .get(name)
            .ok_or_else(|| not_found("file"))?;
        self.tree.file(ino)?;
        self.tree.dir_mut(dir)?.live.remove(name);
        Ok(())
    }

    fn create_dir_all(&mut self, comps: &[OsString]) -> io::Result<()> {
        let mut dir = crate::inode::ROOT;
        for name in comps {
            dir = match self.tree.dir(dir)?.live.get(name).copied() {
                Some(ino) => {
                    self.tree.dir(ino).map_err(|_| {
                        io::Error::new(io::ErrorKind::AlreadyExists, "a file is in the way")
                    })?;
                    ino
                }
                None => {
                    let ino = self.tree.alloc(Node::Dir(DirNode::default()));
                    self.tree.dir_mut(dir)?.live.insert(name.clone(), ino);
                    ino
                }
            };
        }
        Ok(())
    }
}

impl MemFs {
    fn handle(&self, ino: Ino, writable: bool) -> Arc<dyn FileHandle> {
        Arc::new(MemFile {
            state: Arc::clone(&self.state),
            ino,
            writable,
        })
    }
}

impl Fs for MemFs {
    fn open(&self, path: &Path, opts: OpenOptions) -> io::Result<Arc<dyn FileHandle>> {
        let ino = self.state.lock().open(&components(path), opts)?;
        Ok(self.handle(ino, opts.write))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.state.lock().rename(&components(from), &components(to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.state.lock().remove_file(&components(path))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.state.lock().create_dir_all(&components(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let st = self.state.lock();
        let ino = st.tree.resolve(&components(path))?;
        Ok(st.tree.dir(ino)?.live.keys().cloned().collect())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        let ino = st.tree.resolve(&components(path))?;
        let dir = st.tree.dir_mut(ino)?;
        dir.durable.clone_from(&dir.live);
        st.syncs += 1;
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        match self.state.lock().tree.resolve(&components(path)) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let st = self.state.lock();
        let ino = st.tree.resolve(&components(path))?;
        Ok(st.tree.file(ino)?.live.len() as u64)
    }

    fn map_readonly(&self, path: &Path) -> io::Result<ReadOnlyBytes> {
        let st = self.state.lock();
        let ino = st.tree.resolve(&components(path))?;
        Ok(ReadOnlyBytes::copy_from_slice(&st.tree.file(ino)?.live))
    }

    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Box<dyn LockGuard>> {
        let key = components(path);
        let mut st = self.state.lock();
        st.open(&key, OpenOptions::read_write())?;
        if !st.locks.insert(key.clone()) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another holder", path.display()),
            ));
        }
        Ok(Box::new(MemLock {
            state: Arc::clone(&self.state),
            key,
        }))
    }
}
