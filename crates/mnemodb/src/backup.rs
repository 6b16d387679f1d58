//! Consistent copies ([`backup`]) and read-only handles following a writer ([`refresh`]).
use std::path::Path;
use std::sync::Arc;

use mnemodb_io::{Fs, IoContext, OpenOptions};
use mnemodb_wal::RecoveryMode;

use crate::db::{Inner, WAL_DIR, write_manifest};
use crate::error::{Error, Result};
use crate::payload;
use crate::recovery;
use crate::stats::BackupReport;

/// Copy the database into `to` while writes go on: the files of the current manifest (all
/// immutable) and the WAL up to the last committed record, then the manifest, each
/// fsynced. Background work pauses during the copy; writers and readers do not.
pub(crate) fn backup(inner: &Inner, to: &Path) -> Result<BackupReport> {
    let fs = &*inner.fs;
    if fs.exists(to).at("stat", to)? && !fs.read_dir(to).at("list directory", to)?.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: backup target must be empty or missing",
            to.display()
        )));
    }
    let _m = inner.maintenance.lock();
    let (seq, body, wal_files, last_lsn) = {
        let guard = inner.writer.lock();
        let w = guard.as_ref().ok_or(Error::ReadOnly)?;
        w.wal.flush()?;
        let wal_dir = inner.dir.join(WAL_DIR);
        let mut files = Vec::new();
        for name in fs.read_dir(&wal_dir).at("list directory", &wal_dir)? {
            if mnemodb_io::is_temp_path(&name) {
                continue;
            }
            let p = wal_dir.join(&name);
            files.push((name, fs.file_len(&p).at("stat", &p)?));
        }
        (w.seq, w.manifest.clone(), files, w.wal.last_lsn())
    };
    // Durably: a backup must survive a power loss once `backup` returns.
    crate::files::create_dir_durably(fs, to)?;
    let mut report = BackupReport {
        manifest: seq,
        last_lsn,
        ..Default::default()
    };
    let mut dirs = std::collections::BTreeSet::new();
    for f in body.files() {
        let (src, dst) = (inner.dir.join(&f.path), to.join(&f.path));
        report.bytes += copy_file(fs, &src, &dst, f.len)?;
        report.files += 1;
        dirs.insert(dst.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    let wal_to = to.join(WAL_DIR);
    crate::files::create_dir_durably(fs, &wal_to)?;
    for (name, len) in wal_files {
        report.bytes += copy_file(
            fs,
            &inner.dir.join(WAL_DIR).join(&name),
            &wal_to.join(&name),
            len,
        )?;
        report.files += 1;
    }
    dirs.insert(wal_to);
    for d in dirs {
        fs.sync_dir(&d).at("sync directory", &d)?;
    }
    write_manifest(fs, to, seq, &body)?;
    report.files += 1;
    Ok(report)
}

/// Copy the first `len` bytes of `src` to a new file `dst`, fsynced.
fn copy_file(fs: &dyn Fs, src: &Path, dst: &Path, len: u64) -> Result<u64> {
    if let Some(parent) = dst.parent() {
        crate::files::create_dir_durably(fs, parent)?;
    }
    let from = fs.open(src, OpenOptions::read()).at("open", src)?;
    let out = fs.open(dst, OpenOptions::create_new()).at("create", dst)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        from.read_exact_at(chunk, at).at("read", src)?;
        out.write_all_at(chunk, at).at("write", dst)?;
        at += n as u64;
    }
    out.sync_all().at("sync", dst)?;
    Ok(len)
}

/// Bring a read-only handle up to date with the writer.
pub(crate) fn refresh(inner: &Inner) -> Result<bool> {
    let mut last_err = None;
    // Files can vanish between listing and reading while the writer installs a newer
    // manifest: retry a few times from the top.
    for _ in 0..5 {
        match try_refresh(inner) {
            Ok(changed) => return Ok(changed),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| Error::Internal("refresh failed".into())))
}

fn try_refresh(inner: &Inner) -> Result<bool> {
    let fs = &*inner.fs;
    let mut cursor = inner.ro_cursor.lock();
    let newest = recovery::list_manifests(fs, &inner.dir)?
        .first()
        .copied()
        .unwrap_or(0);
    let wal_dir = inner.dir.join(WAL_DIR);
    if newest != cursor.0 {
        let loaded = recovery::load_manifest(fs, &inner.dir)?
            .ok_or_else(|| Error::corrupted(&inner.dir, 0, "no MANIFEST any more"))?;
        let current = inner.state.load_full();
        let mut state = recovery::state_from_manifest(
            fs,
            &inner.dir,
            &loaded,
            inner.options.verify,
            Some(&current),
        )?;
        mnemodb_wal::read_records_with(
            fs,
            &wal_dir,
            loaded.body.wal_start_lsn,
            RecoveryMode::TolerateTornTail,
            |lsn, bytes| state.apply_record(lsn, &payload::decode(bytes, lsn)?),
        )?;
        *cursor = (loaded.seq, state.lsn);
        inner.state.store(Arc::new(state));
        return Ok(true);
    }
    let mut state = (*inner.state.load_full()).clone();
    let before = state.lsn;
    mnemodb_wal::read_records_with(
        fs,
        &wal_dir,
        before + 1,
        RecoveryMode::TolerateTornTail,
        |lsn, bytes| state.apply_record(lsn, &payload::decode(bytes, lsn)?),
    )?;
    if state.lsn == before {
        return Ok(false);
    }
    cursor.1 = state.lsn;
    inner.state.store(Arc::new(state));
    Ok(true)
}
