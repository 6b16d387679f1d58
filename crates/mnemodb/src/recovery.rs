//! Opening a database: newest valid manifest (falling back to the previous one only when
//! the newest file itself is damaged and everything the previous one needs still exists),
//! every referenced file checked against the manifest, metadata checkpoints loaded, then
//! WAL replay; files no manifest references are orphans of an interrupted seal or
//! compaction and are removed.
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use mnemodb_ann::hnsw::HnswIndex;
use mnemodb_io::{Fs, IoContext};
use mnemodb_metastore::MetaState;
use mnemodb_segment::SegmentReader;

use crate::config::IndexKind;
use crate::error::{Error, Result};
use crate::files::{check_len, index_fingerprint};
use crate::manifest::{self, CollectionEntry, ManifestBody, SegmentEntry};
use crate::options::Verify;
use crate::parts::{SealedPart, SealedSegment};
use crate::state::{CollectionState, DbState, new_growing, tombstones_from_live};

/// The manifest a database opens from.
#[derive(Debug, Clone)]
pub(crate) struct LoadedManifest {
    pub seq: u64,
    pub body: ManifestBody,
    /// The previous manifest, kept for fallback (its files are kept too).
    pub previous: Option<(u64, ManifestBody)>,
    /// Set when the newest manifest was damaged and this older one was used.
    pub fallback: Option<String>,
}

/// Sequence numbers of the manifests in `dir`, newest first.
pub(crate) fn list_manifests(fs: &dyn Fs, dir: &Path) -> Result<Vec<u64>> {
    let mut seqs: Vec<u64> = fs
        .read_dir(dir)
        .at("list directory", dir)?
        .iter()
        .filter_map(|n| manifest::parse_name(&n.to_string_lossy()))
        .collect();
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    Ok(seqs)
}

fn read_manifest(fs: &dyn Fs, dir: &Path, seq: u64) -> Result<ManifestBody> {
    let path = dir.join(manifest::file_name(seq));
    let bytes = fs.map_readonly(&path).at("read", &path)?;
    let (stored, body) = manifest::decode(&bytes, &path)?;
    if stored != seq {
        return Err(Error::corrupted(
            &path,
            16,
            format!("holds sequence number {stored}, its name says {seq}"),
        ));
    }
    Ok(body)
}

/// Load the newest valid manifest; `None` when the directory holds none.
pub(crate) fn load_manifest(fs: &dyn Fs, dir: &Path) -> Result<Option<LoadedManifest>> {
    let seqs = list_manifests(fs, dir)?;
    let Some(&newest) = seqs.first() else {
        return Ok(None);
    };
    let previous = seqs.get(1).copied();
    match read_manifest(fs, dir, newest) {
        Ok(body) => {
            let previous = previous.and_then(|p| read_manifest(fs, dir, p).ok().map(|b| (p, b)));
            Ok(Some(LoadedManifest {
                seq: newest,
                body,
                previous,
                fallback: None,
            }))
        }
        Err(damage @ Error::Corrupted { .. }) => {
            let Some(prev) = previous else {
                return Err(damage);
            };
            let body = read_manifest(fs, dir, prev)
                .map_err(|_| damage_with(&damage, "and no intact older manifest"))?;
            // Usable only if every file it references is still there, unchanged in length.
            let name = manifest::file_name(prev);
            for f in body.files() {
                check_len(fs, dir, f, &name).map_err(|e| {
                    damage_with(
                        &damage,
                        &format!("and the previous manifest cannot be used: {e}"),
                    )
                })?;
            }
            Ok(Some(LoadedManifest {
                seq: prev,
                body,
                previous: None,
                fallback: Some(format!(
                    "{damage}; opened the previous manifest {name} instead (writes after it are recovered from the WAL)"
                )),
            }))
        }
        Err(other) => Err(other),
    }
}

fn damage_with(damage: &Error, more: &str) -> Error {
    match damage {
        Error::Corrupted { file, offset, what } => Error::Corrupted {
            file: file.clone(),
            offset: *offset,
            what: format!("{what} {more}"),
        },
        other => Error::Internal(format!("{other} {more}")),
    }
}

/// Open one sealed segment (and its index) as the manifest describes it. Checks what is
/// cheap and what later code relies on (length, header, generation and content CRC as
/// the header records them, row count, first and last id, the index's header, binding
/// and upper levels); with `verify` = [`Verify::Full`] also every byte (a damaged file
/// fails here), else the segment starts unchecked for the background scrub or
/// [`crate::Database::verify`].
pub(crate) fn open_sealed(
    fs: &dyn Fs,
    dir: &Path,
    entry: &SegmentEntry,
    index: &IndexKind,
    manifest_name: &str,
    verify: Verify,
) -> Result<SealedSegment> {
    let path = check_len(fs, dir, &entry.vectors, manifest_name)?;
    let reader = SegmentReader::open(fs, &path)?;
    if reader.generation() != entry.generation || reader.content_crc() != entry.vectors.crc {
        return Err(Error::corrupted(
            &path,
            0,
            format!(
                "generation {} / content crc {:#010x}, but {manifest_name} expects generation {} / crc {:#010x} (a stale or swapped file)",
                reader.generation(),
                reader.content_crc(),
                entry.generation,
                entry.vectors.crc
            ),
        ));
    }
    // First and last id only (two reads): the sorted id column in between is under the
    // block checksums, checked with every other byte by the scrub (or here, `Full`).
    let (first, last) = (
        reader.id(0),
        reader.len().checked_sub(1).and_then(|i| reader.id(i)),
    );
    let in_range = first == Some(u64::from(entry.min_id)) && last == Some(u64::from(entry.max_id));
    if reader.len() as u64 != entry.rows || !in_range {
        return Err(Error::corrupted(
            &path,
            0,
            format!(
                "{} rows with ids {first:?}..={last:?}, but {manifest_name} records {} rows with ids {}..={}",
                reader.len(),
                entry.rows,
                entry.min_id,
                entry.max_id
            ),
        ));
    }
    let index = match &entry.index {
        Some(file) => {
            let ipath = check_len(fs, dir, file, manifest_name)?;
            if index_fingerprint(fs, &ipath)? != file.crc {
                return Err(Error::corrupted(
                    &ipath,
                    0,
                    format!(
                        "header differs from the one {manifest_name} records (a stale or swapped file)"
                    ),
                ));
            }
            let mut idx = HnswIndex::open(fs, &ipath, &reader)?;
            if let IndexKind::Hnsw(p) = index {
                idx = idx.with_params(p);
            }
            Some(idx)
        }
        None => None,
    };
    let seg = SealedSegment::with_check(entry.clone(), reader, index, Default::default());
    if verify == Verify::Full
        && let Some(damage) = seg.verify()
    {
        return Err(Error::Corrupted {
            file: damage.file.clone(),
            offset: damage.offset,
            what: damage.what.clone(),
        });
    }
    Ok(seg)
}

/// Build a collection's state from its manifest entry.
pub(crate) fn open_collection(
    fs: &dyn Fs,
    dir: &Path,
    entry: &CollectionEntry,
    manifest_name: &str,
    verify: Verify,
    previous: Option<&CollectionState>,
) -> Result<CollectionState> {
    let config = entry.spec.to_config().map_err(|e| {
        Error::corrupted(
            dir.join(manifest_name),
            0,
            format!("collection `{}`: {e}", entry.spec.name),
        )
    })?;
    let meta = match &entry.checkpoint {
        Some(file) => {
            let path = check_len(fs, dir, file, manifest_name)?;
            let bytes = fs.map_readonly(&path).at("read", &path)?;
            // Layout-2 checkpoints are used in place: the mapping is kept, documents are
            // decoded on first use. Opening checks every part's CRC and computes the whole
            // file's in the same read, compared here with the manifest's.
            let (state, info) = MetaState::open_checkpoint(bytes, &path, config.schema.clone())?;
            if info.file_crc != file.crc {
                return Err(Error::corrupted(
                    &path,
                    0,
                    format!(
                        "checksum differs from the one {manifest_name} records (damaged, stale or swapped)"
                    ),
                ));
            }
            // The checkpoint holds the collection as of its last write (`info.lsn`); the
            // manifest's `applied_lsn` can be later (the collection was frozen at a later
            // LSN, or untouched since and carried forward by `install`): no record in
            // between touched it. Only a checkpoint ahead of the manifest is wrong.
            if info.lsn > entry.applied_lsn {
                return Err(Error::corrupted(
                    &path,
                    0,
                    format!(
                        "checkpoint at LSN {}, but {manifest_name} expects at most {}",
                        info.lsn, entry.applied_lsn
                    ),
                ));
            }
            state
        }
        None => MetaState::new(config.schema.clone())?,
    };
    // A read-only handle's refresh keeps the segments it has open (the same file: the
    // manifest entry is equal, generations are never reused), with their checks.
    let previous = previous.filter(|p| p.id == entry.id);
    let mut sealed = Vec::with_capacity(entry.segments.len());
    let live = meta.live_ids();
    for s in &entry.segments {
        let kept = previous.and_then(|p| {
            p.sealed
                .iter()
                .find(|part| part.seg.entry == *s)
                .map(|part| Arc::clone(&part.seg))
        });
        let seg = match kept {
            Some(seg) => seg,
            None => Arc::new(open_sealed(
                fs,
                dir,
                s,
                &config.index,
                manifest_name,
                verify,
            )?),
        };
        let tombstones = tombstones_from_live(&seg, &live);
        sealed.push(SealedPart {
            seg,
            tombstones: Arc::new(tombstones),
        });
    }
    let growing = config
        .has_vectors()
        .then(|| new_growing(&config, meta.next_internal_id()))
        .transpose()?;
    if let Some(last) = entry.segments.last()
        && meta.next_internal_id() <= last.max_id
    {
        return Err(Error::corrupted(
            dir.join(manifest_name),
            0,
            format!(
                "collection `{}`: segment ids reach {} but its checkpoint hands out ids from {}",
                config.name,
                last.max_id,
                meta.next_internal_id()
            ),
        ));
    }
    Ok(CollectionState {
        id: entry.id,
        config: Arc::new(config),
        meta,
        sealed,
        frozen: Vec::new(),
        growing,
        applied_lsn: entry.applied_lsn,
        touched_lsn: entry.applied_lsn,
        checkpoint: entry.checkpoint.clone(),
    })
}

/// The state a manifest describes (before WAL replay).
pub(crate) fn state_from_manifest(
    fs: &dyn Fs,
    dir: &Path,
    loaded: &LoadedManifest,
    verify: Verify,
    previous: Option<&DbState>,
) -> Result<DbState> {
    let name = manifest::file_name(loaded.seq);
    let mut state = DbState {
        collections: Default::default(),
        lsn: loaded.body.wal_start_lsn.saturating_sub(1),
    };
    for c in &loaded.body.collections {
        let before = previous.and_then(|p| p.by_id(c.id)).map(|c| &**c);
        let cs = open_collection(fs, dir, c, &name, verify, before)?;
        state
            .collections
            .insert(cs.config.name.clone(), Arc::new(cs));
    }
    Ok(state)
}

/// Remove files under the collection and metadata directories that none of `keep`
/// references (orphans of interrupted seals and compactions, temp files), and manifests
/// older than the oldest kept one. Returns how many files were removed.
pub(crate) fn remove_unreferenced(
    fs: &dyn Fs,
    dir: &Path,
    keep: &[(u64, &ManifestBody)],
) -> Result<usize> {
    let referenced: BTreeSet<String> = keep
        .iter()
        .flat_map(|(_, b)| b.files().map(|f| f.path.clone()))
        .collect();
    let oldest_kept = keep.iter().map(|(s, _)| *s).min().unwrap_or(0);
    let mut removed = 0;
    let mut sync = BTreeSet::new();
    for name in fs.read_dir(dir).at("list directory", dir)? {
        let name = name.to_string_lossy().to_string();
        let path = dir.join(&name);
        let is_data_dir = name == "meta"
            || (name.starts_with('c')
                && name.len() > 1
                && name[1..].bytes().all(|b| b.is_ascii_digit()));
        if is_data_dir {
            for f in fs.read_dir(&path).at("list directory", &path)? {
                let f = f.to_string_lossy().to_string();
                let rel = format!("{name}/{f}");
                if !referenced.contains(&rel) {
                    fs.remove_file(&path.join(&f))
                        .at("remove orphan", &path.join(&f))?;
                    sync.insert(path.clone());
                    removed += 1;
                }
            }
        } else if let Some(seq) = manifest::parse_name(&name) {
            if seq < oldest_kept {
                fs.remove_file(&path).at("remove old manifest", &path)?;
                sync.insert(dir.to_path_buf());
                removed += 1;
            }
        } else if mnemodb_io::is_temp_path(std::ffi::OsStr::new(&name)) {
            fs.remove_file(&path).at("remove temp file", &path)?;
            sync.insert(dir.to_path_buf());
            removed += 1;
        }
    }
    for d in sync {
        fs.sync_dir(&d).at("sync directory", &d)?;
    }
    Ok(removed)
}
