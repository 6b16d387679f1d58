//! Power-loss images of a [`MemFs`](crate::MemFs): what the disk holds after the machine
//! stops between two instructions.
//!
//! The model follows RocksDB's `FaultInjectionTestFS`, redb's crash backend and SQLite's
//! crash VFS:
//!
//! - file data is durable after `sync_data` or `sync_all`; a file's **length** only after
//!   `sync_all` (so bytes appended and only `sync_data`'ed are lost);
//! - a directory entry (create, rename, remove) is durable only after `sync_dir` on its
//!   directory (a rename across directories needs both);
//! - in [`CrashMode::Random`], each unsynced write lands or not, in a random order, possibly
//!   torn at a 512-byte sector boundary (a prefix of its sectors lands); the length is the
//!   durable one or any length the file took since its last `sync_all`; bytes past the
//!   durable data that no write reached are garbage, random bytes or zeros (the file size
//!   reaches the disk before the content); each unsynced directory entry shows its durable
//!   or its live target, and a rename inside one directory lands whole: the old name goes
//!   exactly when the new name comes.
//!
//! A file reached by two names in the image (a rename across directories that landed on
//! one side only) becomes two independent copies; a directory reached twice is kept under
//! its first name only, so the image is always a tree.
use std::collections::{BTreeMap, VecDeque};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::inode::{DirNode, FileNode, Ino, Node, ROOT, Tree};

/// The sector size below which a write is never torn.
pub const SECTOR: usize = 512;

/// What a simulated power loss keeps; see [`MemFs::crash_image`](crate::MemFs::crash_image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Exactly the durable state: every unsynced write, length change and directory entry
    /// change is lost.
    DropUnsynced,
    /// The durable state plus a seeded random subset of the unsynced changes, torn and
    /// reordered as the module doc describes. The same seed on the same state gives the same
    /// image.
    Random {
        /// Seed of the random choices.
        seed: u64,
    },
}

/// Build the inode tree a power loss in `mode` leaves of `tree`.
pub(crate) fn crash_tree(tree: &Tree, mode: CrashMode) -> Tree {
    let mut rng = match mode {
        CrashMode::DropUnsynced => None,
        CrashMode::Random { seed } => Some(ChaCha8Rng::seed_from_u64(seed)),
    };
    let mut out = Tree::default();
    let mut images: BTreeMap<Ino, Vec<u8>> = BTreeMap::new();
    let mut dirs: BTreeMap<Ino, Ino> = BTreeMap::from([(ROOT, ROOT)]);
    let mut queue = VecDeque::from([(ROOT, ROOT)]);
    while let Some((old_dir, new_dir)) = queue.pop_front() {
        let Ok(dir) = tree.dir(old_dir) else { continue };
        let mut entries = BTreeMap::new();
        for (name, child) in surviving_entries(dir, rng.as_mut()) {
            let new_child = match tree.nodes.get(&child) {
                Some(Node::File(f)) => {
                    let image = images
                        .entry(child)
                        .or_insert_with(|| file_image(f, rng.as_mut()));
                    out.alloc(Node::File(FileNode::durable(image.clone())))
                }
                Some(Node::Dir(_)) if !dirs.contains_key(&child) => {
                    let new = out.alloc(Node::Dir(DirNode::default()));
                    dirs.insert(child, new);
                    queue.push_back((child, new));
                    new
                }
                Some(Node::Dir(_)) | None => continue,
            };
            entries.insert(name, new_child);
        }
        if let Ok(d) = out.dir_mut(new_dir) {
            d.durable.clone_from(&entries);
            d.live = entries;
        }
    }
    out
}

/// The entries of `dir` after the crash.
fn surviving_entries(
    dir: &DirNode,
    rng: Option<&mut ChaCha8Rng>,
) -> BTreeMap<std::ffi::OsString, Ino> {
    let Some(rng) = rng else {
        return dir.durable.clone();
    };
    let mut out = BTreeMap::new();
    // Whether the change that gave an inode a new name in this directory landed.
    let mut moved: BTreeMap<Ino, bool> = BTreeMap::new();
    for (name, &ino) in &dir.live {
        let durable = dir.durable.get(name).copied();
        if durable == Some(ino) {
            out.insert(name.clone(), ino);
            continue;
        }
        let landed = rng.random_bool(0.5);
        *moved.entry(ino).or_default() |= landed;
        if let Some(target) = if landed { Some(ino) } else { durable } {
            out.insert(name.clone(), target);
        }
    }
    for (name, &ino) in &dir.durable {
        if dir.live.contains_key(name) {
            continue;
        }
        let gone = match moved.get(&ino) {
            Some(&landed) => landed,
            None => rng.random_bool(0.5),
        };
        if !gone {
            out.insert(name.clone(), ino);
        }
    }
    out
}

/// The content of `f` after the crash.
fn file_image(f: &FileNode, rng: Option<&mut ChaCha8Rng>) -> Vec<u8> {
    let Some(rng) = rng else {
        return f.durable_image();
    };
    let choices = f.unsynced_lens.len() + 1;
    let len = match rng.random_range(0..choices) {
        0 => f.disk_len,
        i => f.unsynced_lens.get(i - 1).copied().unwrap_or(f.disk_len),
    };
    let mut image = f.disk.clone();
    if image.len() < len {
        let start = image.len();
        image.resize(len, 0);
        if rng.random_bool(0.5) {
            rng.fill(&mut image[start..]);
        }
    }
    let mut writes: Vec<_> = f
        .unsynced_writes
        .iter()
        .filter(|_| rng.random_ratio(2, 3))
        .collect();
    writes.shuffle(rng);
    for w in writes {
        let landed = landed_len(w.offset, w.bytes.len(), rng);
        let end = (w.offset + landed).min(image.len());
        if let (Some(dst), Some(src)) = (image.get_mut(w.offset..end), w.bytes.get(..landed)) {
            dst.copy_from_slice(&src[..dst.len()]);
        }
    }
    image.truncate(len);
    image
}

/// How many bytes of a write of `len` bytes at `offset` reach the disk: all of it, or the
/// bytes of a non-empty prefix of the sectors it covers.
fn landed_len(offset: usize, len: usize, rng: &mut ChaCha8Rng) -> usize {
    if rng.random_bool(0.5) {
        return len;
    }
    let first = SECTOR - offset % SECTOR;
    if len <= first {
        return len;
    }
    let sectors = 1 + (len - first).div_ceil(SECTOR);
    let k = rng.random_range(1..=sectors);
    (first + (k - 1) * SECTOR).min(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_writes_end_on_sector_boundaries() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut seen_torn = false;
        for _ in 0..1000 {
            let offset = rng.random_range(0..2000);
            let len = rng.random_range(1..3000);
            let landed = landed_len(offset, len, &mut rng);
            assert!(landed > 0 && landed <= len);
            if landed < len {
                seen_torn = true;
                assert_eq!((offset + landed) % SECTOR, 0, "{offset} {len} {landed}");
            }
        }
        assert!(seen_torn);
    }
}
