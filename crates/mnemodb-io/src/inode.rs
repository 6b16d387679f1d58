//! The inode table behind [`MemFs`](crate::MemFs): files and directories with a live and a
//! durable state each, and path resolution over the live tree.
//!
//! A file keeps its live bytes, the durable bytes of its data blocks (`disk`, which may
//! extend past the durable length after a `sync_data` of appended bytes), the durable length,
//! and what changed since the last sync: the unsynced writes and the lengths the file had.
//! A directory keeps live and durable entries (name → inode), so a renamed file keeps its
//! content and open handles keep working.
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path};

/// Inode number.
pub(crate) type Ino = u64;

/// The root directory's inode.
pub(crate) const ROOT: Ino = 0;

/// The largest file [`MemFs`](crate::MemFs) holds (4 GiB): a garbage length from a damaged
/// header must give an error, not an abort on allocation.
pub(crate) const MAX_FILE_LEN: u64 = 1 << 32;

/// One unsynced positional write.
#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub(crate) offset: usize,
    pub(crate) bytes: Vec<u8>,
}

/// A regular file.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileNode {
    /// What reads see now.
    pub(crate) live: Vec<u8>,
    /// The durable content of the data blocks; at least `disk_len` long.
    pub(crate) disk: Vec<u8>,
    /// The durable length (metadata): changes only with `sync_all`.
    pub(crate) disk_len: usize,
    /// Writes since the last `sync_data` / `sync_all`, in order.
    pub(crate) unsynced_writes: Vec<Write>,
    /// Each length the file took since the last `sync_all`, in order.
    pub(crate) unsynced_lens: Vec<usize>,
}

impl FileNode {
    /// A file whose live and durable states are both `bytes`.
    pub(crate) fn durable(bytes: Vec<u8>) -> Self {
        FileNode {
            disk_len: bytes.len(),
            disk: bytes.clone(),
            live: bytes,
            ..Default::default()
        }
    }

    pub(crate) fn read(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.live.get(start..start.checked_add(buf.len())?));
        match src {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "failed to fill whole buffer",
            )),
        }
    }

    pub(crate) fn write(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = checked_len(offset.checked_add(bytes.len() as u64))?;
        let start = end - bytes.len();
        if end > self.live.len() {
            self.live.resize(end, 0);
            self.unsynced_lens.push(end);
        }
        self.live[start..end].copy_from_slice(bytes);
        self.unsynced_writes.push(Write {
            offset: start,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    pub(crate) fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = checked_len(Some(len))?;
        if len != self.live.len() {
            self.live.resize(len, 0);
            self.unsynced_lens.push(len);
        }
        Ok(())
    }

    /// `fdatasync`: the data becomes durable, the length does not.
    pub(crate) fn sync_data(&mut self) {
        if self.disk.len() < self.live.len() {
            self.disk.resize(self.live.len(), 0);
        }
        self.disk[..self.live.len()].copy_from_slice(&self.live);
        self.unsynced_writes.clear();
    }

    /// `fsync`: data and length become durable.
    pub(crate) fn sync_all(&mut self) {
        self.disk.clone_from(&self.live);
        self.disk_len = self.live.len();
        self.unsynced_writes.clear();
        self.unsynced_lens.clear();
    }

    /// What a power loss that drops every unsynced change leaves.
    pub(crate) fn durable_image(&self) -> Vec<u8> {
        let mut image = self
            .disk
            .get(..self.disk_len)
            .unwrap_or(&self.disk)
            .to_vec();
        image.resize(self.disk_len, 0);
        image
    }
}

/// A file length as `usize`, or `FileTooLarge` beyond [`MAX_FILE_LEN`] (`None` = overflow).
fn checked_len(len: Option<u64>) -> io::Result<usize> {
    len.filter(|&l| l <= MAX_FILE_LEN)
        .and_then(|l| usize::try_from(l).ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("in-memory files are limited to {MAX_FILE_LEN} bytes"),
            )
        })
}

/// A directory.
#[derive(Clone, Debug, Default)]
pub(crate) struct DirNode {
    /// Entries as the live tree sees them.
    pub(crate) live: BTreeMap<OsString, Ino>,
    /// Entries as of the last `sync_dir`.
    pub(crate) durable: BTreeMap<OsString, Ino>,
}

/// A file or a directory.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    File(FileNode),
    Dir(DirNode),
}

/// All inodes, reachable or orphaned (a removed file stays while a handle may use it).
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    pub(crate) nodes: BTreeMap<Ino, Node>,
    next: Ino,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: BTreeMap::from([(ROOT, Node::Dir(DirNode::default()))]),
            next: ROOT + 1,
        }
    }
}

/// A path as normal components: `/` and `.` are dropped, `..` pops. `MemFs` has one root,
/// so `/a/b` and `a/b` name the same file.
pub(crate) fn components(path: &Path) -> Vec<OsString> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

pub(crate) fn not_found(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no such {what}"))
}

pub(crate) fn is_a_directory() -> io::Error {
    io::Error::new(io::ErrorKind::IsADirectory, "is a directory")
}

pub(crate) fn not_a_directory() -> io::Error {
    io::Error::new(io::ErrorKind::NotADirectory, "not a directory")
}

impl Tree {
    /// A new inode.
    pub(crate) fn alloc(&mut self, node: Node) -> Ino {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, node);
        ino
    }

    /// The live inode at `comps`.
    pub(crate) fn resolve(&self, comps: &[OsString]) -> io::Result<Ino> {
        let mut ino = ROOT;
        for name in comps {
            ino = *self
                .dir(ino)?
                .live
                .get(name)
                .ok_or_else(|| not_found("file or directory"))?;
        }
        Ok(ino)
    }

    /// The live directory holding the last component, and that component.
    pub(crate) fn parent<'a>(&self, comps: &'a [OsString]) -> io::Result<(Ino, &'a OsStr)> {
        let (name, dir) = comps.split_last().ok_or_else(is_a_directory)?;
        let dir_ino = self.resolve(dir)?;
        self.dir(dir_ino)?;
        Ok((dir_ino, name))
    }

    pub(crate) fn dir(&self, ino: Ino) -> io::Result<&DirNode> {
        match self.nodes.get(&ino) {
            Some(Node::Dir(d)) => Ok(d),
            Some(Node::File(_)) => Err(not_a_directory()),
            None => Err(not_found("directory")),
        }
    }

    pub(crate) fn dir_mut(&mut self, ino: Ino) -> io::Result<&mut DirNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::Dir(d)) => Ok(d),
            Some(Node::File(_)) => Err(not_a_directory()),
            None => Err(not_found("directory")),
        }
    }

    pub(crate) fn file(&self, ino: Ino) -> io::Result<&FileNode> {
        match self.nodes.get(&ino) {
            Some(Node::File(f)) => Ok(f),
            Some(Node::Dir(_)) => Err(is_a_directory()),
            None => Err(not_found("file")),
        }
    }

    pub(crate) fn file_mut(&mut self, ino: Ino) -> io::Result<&mut FileNode> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File(f)) => Ok(f),
            Some(Node::Dir(_)) => Err(is_a_directory()),
            None => Err(not_found("file")),
        }
    }

    /// Every live file path, as `/a/b`, sorted.
    pub(crate) fn live_files(&self) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![(ROOT, std::path::PathBuf::from("/"))];
        while let Some((ino, path)) = stack.pop() {
            match self.nodes.get(&ino) {
                Some(Node::Dir(d)) => {
                    stack.extend(d.live.iter().map(|(name, &child)| (child, path.join(name))));
                }
                Some(Node::File(_)) => out.push(path),
                None => {}
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_normalise() {
        assert_eq!(components(Path::new("/a/./b/../c")), ["a", "c"]);
        assert_eq!(components(Path::new("a/c")), ["a", "c"]);
        assert!(components(Path::new("/")).is_empty());
    }

    #[test]
    fn sync_data_keeps_durable_length() {
        let mut f = FileNode::durable(b"abcd".to_vec());
        f.write(b"XY", 3).unwrap();
        f.sync_data();
        assert_eq!(f.durable_image(), b"abcX");
        f.sync_all();
        assert_eq!(f.durable_image(), b"abcXY");
        f.set_len(2).unwrap();
        assert_eq!(f.durable_image(), b"abcXY");
        f.sync_all();
        assert_eq!(f.durable_image(), b"ab");
    }

    #[test]
    fn huge_lengths_are_refused() {
        let mut f = FileNode::default();
        assert_eq!(
            f.set_len(u64::MAX).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert_eq!(
            f.write(b"x", u64::MAX).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        let mut buf = [0; 4];
        assert_eq!(
            f.read(&mut buf, u64::MAX - 1).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
