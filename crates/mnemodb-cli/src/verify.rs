//! `mnemodb verify`: every checksum and structural invariant of one file or of a whole
//! database; one line per problem naming the file and byte offset; exit 3 on corruption.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Args;
use mnemodb_format::{FileKind, HnswHeader, HnswLayout, crc32};
use mnemodb_io::StdFs;
use mnemodb_metastore::{MetaState, Schema};
use mnemodb_segment::SegmentReader;
use mnemodb_wal::{RecoveryMode, Tail};
use serde_json::json;

use crate::dbformat::{self, Manifest};
use crate::error::{CliError, Code, Result};
use crate::files;
use crate::inspect::{self, index_of};
use crate::output::{self, Format};

/// `mnemodb verify`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mnemodb verify ./db                      # every file of a database\n  \
    mnemodb verify ./db/c1/seg-0000000000000003.vec\n  \
    mnemodb verify x.hnsw --segment x.vec --json\n\n\
    Exit status: 0 clean, 3 corruption found (one line per problem on stdout), 1 I/O error, 2 bad usage.")]
pub struct VerifyArgs {
    /// A database directory or a single file (segment, index, WAL, checkpoint, manifest).
    path: PathBuf,
    /// For an index file: the segment it indexes (default: the `.vec` file beside it).
    #[arg(long)]
    segment: Option<PathBuf>,
    /// List every file checked, not only the problems.
    #[arg(long, short)]
    verbose: bool,
}

/// One problem found.
#[derive(Debug)]
struct Problem {
    file: PathBuf,
    code: Code,
    message: String,
}

#[derive(Debug, Default)]
struct Report {
    checked: Vec<(PathBuf, String)>,
    problems: Vec<Problem>,
    notes: Vec<String>,
    bytes: u64,
}

impl Report {
    fn ok(&mut self, file: &Path, what: impl Into<String>) {
        self.bytes += std::fs::metadata(file).map_or(0, |m| m.len());
        self.checked.push((file.to_path_buf(), what.into()));
    }

    fn problem(&mut self, file: &Path, e: CliError) {
        self.bytes += std::fs::metadata(file).map_or(0, |m| m.len());
        let message = if e.message.contains(&file.display().to_string()) {
            e.message
        } else {
            format!("{}: {}", file.display(), e.message)
        };
        self.problems.push(Problem {
            file: file.to_path_buf(),
            code: e.code,
            message,
        });
    }

    /// Record `result` for `file`.
    fn record(&mut self, file: &Path, result: Result<String>) {
        match result {
            Ok(what) => self.ok(file, what),
            Err(e) => self.problem(file, e),
        }
    }
}

/// Check a segment's every byte; its content CRC must be `expect_crc` when given.
fn check_segment(path: &Path, expect_crc: Option<u32>) -> Result<(SegmentReader, String)> {
    let seg = inspect::segment_load(path)?;
    seg.verify()?;
    if let Some(crc) = expect_crc
        && crc != seg.content_crc()
    {
        return Err(CliError::corrupt(format!(
            "{}: corrupted at byte offset 88: content crc {:#010x}, but the manifest records {crc:#010x} (file replaced?)",
            path.display(),
            seg.content_crc()
        )));
    }
    let what = format!(
        "segment: {} rows × {} dims, checksums ok",
        seg.len(),
        seg.dim()
    );
    Ok((seg, what))
}

fn check_index(path: &Path, seg: &SegmentReader) -> Result<String> {
    let bytes = files::read(path)?;
    let what = match index_of(bytes, path, seg)? {
        inspect::Index::Hnsw(ix) => {
            ix.verify()?;
            format!(
                "HNSW index: {} nodes, links in range, checksums ok",
                ix.graph().len()
            )
        }
        inspect::Index::Ivf(ix) => {
            ix.verify()?;
            format!("IVF index: {} lists, checksums ok", ix.nlist())
        }
    };
    Ok(what)
}

fn check_wal_file(path: &Path, report: &mut Report) -> Result<String> {
    let bytes = files::read(path)?;
    let mut bad_payload: Option<String> = None;
    let r = mnemodb_wal::decode_file(&bytes, path, |lsn, payload| {
        if bad_payload.is_none()
            && !payload.is_empty()
            && dbformat::decode_payload(payload).is_err()
            && mnemodb_metastore::MetaOp::decode(payload).is_err()
        {
            bad_payload = Some(format!(
                "record at LSN {lsn} is neither an engine nor a metastore record"
            ));
        }
        Ok(())
    })?;
    match r.tail {
        Tail::Clean => {}
        Tail::Torn { offset, what } => report.notes.push(format!(
            "{}: torn tail at byte offset {offset} ({what}): an interrupted write, cut off when the database opens",
            path.display()
        )),
        Tail::Corrupt { offset, what } => {
            return Err(CliError::corrupt(format!(
                "{}: corrupted WAL at byte offset {offset}: {what}",
                path.display()
            )));
        }
    }
    if let Some(b) = bad_payload {
        report.notes.push(format!("{}: {b}", path.display()));
    }
    Ok(format!(
        "WAL: {} frames, {} records, LSN {}..{}",
        r.frames, r.records, r.header.first_lsn, r.next_lsn
    ))
}

fn check_checkpoint(path: &Path, expect_crc: Option<u32>) -> Result<String> {
    let bytes = files::read(path)?;
    if let Some(crc) = expect_crc
        && crc32(&bytes) != crc
    {
        return Err(CliError::corrupt(format!(
            "{}: corrupted at byte offset 0: file crc {:#010x}, but the manifest records {crc:#010x}",
            path.display(),
            crc32(&bytes)
        )));
    }
    let (_, info) = MetaState::decode_checkpoint(&bytes, path, Schema::new())?;
    Ok(format!(
        "checkpoint: {} documents at LSN {}",
        info.document_count, info.lsn
    ))
}

/// Verify one file, whatever its kind.
fn verify_file(path: &Path, segment: Option<&Path>, report: &mut Report) {
    let kind = files::read(path).and_then(|b| files::kind_of(&b, path));
    let kind = match kind {
        Ok(k) => k,
        Err(e) => return report.problem(path, e),
    };
    let result = match kind {
        FileKind::Segment => check_segment(path, None).map(|(_, w)| w),
        FileKind::HnswIndex | FileKind::IvfIndex => {
            let seg_path = segment.map_or_else(|| files::sibling_segment(path), Path::to_path_buf);
            if seg_path.is_file() {
                inspect::segment_load(&seg_path).and_then(|seg| check_index(path, &seg))
            } else {
                report.notes.push(format!(
                    "{}: segment {} not found: only the header was checked (pass --segment)",
                    path.display(),
                    seg_path.display()
                ));
                header_only(path)
            }
        }
        FileKind::Wal => check_wal_file(path, report),
        FileKind::Checkpoint => check_checkpoint(path, None),
        FileKind::Manifest => files::read(path)
            .and_then(|b| dbformat::decode_manifest(&b, path))
            .map(|m| format!("manifest {}: {} collections", m.seq, m.collections().len())),
        other => {
            report.notes.push(format!(
                "{}: {other} files have no verifier yet",
                path.display()
            ));
            return;
        }
    };
    report.record(path, result);
}

fn header_only(path: &Path) -> Result<String> {
    let bytes = files::read(path)?;
    let len = bytes.len() as u64;
    match files::kind_of(&bytes, path)? {
        FileKind::HnswIndex => HnswHeader::decode(&bytes, path, len).map(|_| ())?,
        _ => mnemodb_format::IvfHeader::decode(&bytes, path, len).map(|_| ())?,
    }
    Ok("index header ok (structure not checked)".into())
}

/// Verify a whole database directory.
fn verify_db(dir: &Path, report: &mut Report) -> Result<()> {
    let manifests = dbformat::manifests(dir)?;
    let wal_dir = dir.join("wal");
    if manifests.is_empty() && !wal_dir.is_dir() {
        return Err(CliError::invalid(format!(
            "{}: no MANIFEST-* file and no wal/ directory: not a mnemodb database",
            dir.display()
        )));
    }
    let mut newest: Option<Manifest> = None;
    for (_, path) in &manifests {
        match files::read(path).and_then(|b| dbformat::decode_manifest(&b, path)) {
            Ok(m) => {
                report.ok(
                    path,
                    format!("manifest {}: {} collections", m.seq, m.collections().len()),
                );
                newest = Some(m);
            }
            Err(e) => report.problem(path, e),
        }
    }
    let mut referenced = BTreeSet::new();
    if let Some(m) = &newest {
        let refs = m.file_refs();
        let mut segments = std::collections::BTreeMap::new();
        // Vectors first, so indexes can be bound to their segment.
        let mut order: Vec<&dbformat::FileRef> = refs.iter().collect();
        order.sort_by_key(|r| r.role != "vectors");
        for r in order {
            if !dbformat::plain_relative(&r.path) {
                report.problem(
                    &m.path,
                    CliError::corrupt(format!(
                        "{}: corrupted at byte offset 40: file path `{}` leaves the database directory",
                        m.path.display(),
                        r.path
                    )),
                );
                continue;
            }
            let path = dir.join(&r.path);
            referenced.insert(path.clone());
            match std::fs::metadata(&path) {
                Ok(meta) if meta.len() == r.len => {}
                Ok(meta) => {
                    report.problem(
                        &path,
                        CliError::corrupt(format!(
                            "{}: corrupted at byte offset {}: {} bytes, but {} records {} (truncated, extended or replaced)",
                            path.display(),
                            meta.len().min(r.len),
                            meta.len(),
                            m.path.display(),
                            r.len
                        )),
                    );
                    continue;
                }
                Err(_) => {
                    report.problem(
                        &path,
                        CliError::corrupt(format!(
                            "{}: corrupted at byte offset 0: missing, but {} references it ({} of collection `{}`)",
                            path.display(),
                            m.path.display(),
                            r.role,
                            r.collection
                        )),
                    );
                    continue;
                }
            }
            match r.role {
                "vectors" => match check_segment(&path, Some(r.crc)) {
                    Ok((seg, what)) => {
                        segments.insert((r.collection.clone(), r.generation), seg);
                        report.ok(&path, what);
                    }
                    Err(e) => report.problem(&path, e),
                },
                "index" => {
                    let result = files::read(&path).and_then(|b| {
                        let fp = crc32(b.get(..HnswLayout::HEADER_SIZE as usize).unwrap_or(&b));
                        if fp != r.crc {
                            return Err(CliError::corrupt(format!(
                                "{}: corrupted at byte offset 0: header crc {fp:#010x}, but the manifest records {:#010x}",
                                path.display(),
                                r.crc
                            )));
                        }
                        match segments.get(&(r.collection.clone(), r.generation)) {
                            Some(seg) => check_index(&path, seg),
                            None => header_only(&path).map(|w| format!("{w}; its segment failed")),
                        }
                    });
                    report.record(&path, result);
                }
                _ => {
                    let result = check_checkpoint(&path, Some(r.crc));
                    report.record(&path, result);
                }
            }
        }
    }
    if wal_dir.is_dir() {
        verify_wal_dir(&wal_dir, report);
    }
    // Files nobody references: leftovers of an interrupted seal or compaction.
    for sub in files::list_dir(dir)? {
        if !sub.is_dir() || sub == wal_dir {
            continue;
        }
        for f in files::list_dir(&sub)? {
            if f.is_file() && !referenced.contains(&f) {
                report.notes.push(format!(
                    "{}: not referenced by the manifest (left over from an interrupted write; removed when the database next opens)",
                    f.display()
                ));
            }
        }
    }
    Ok(())
}

fn verify_wal_dir(wal_dir: &Path, report: &mut Report) {
    let mut undecodable = 0u64;
    let mut first_bad = None;
    let result = mnemodb_wal::read_records(
        &StdFs,
        wal_dir,
        0,
        RecoveryMode::TolerateTornTail,
        |lsn, p| {
            if !p.is_empty() && dbformat::decode_payload(p).is_err() {
                undecodable += 1;
                first_bad.get_or_insert(lsn);
            }
            Ok(())
        },
    );
    match result {
        Ok(r) => {
            if r.truncated_bytes > 0 {
                report.notes.push(format!(
                    "{}: torn tail of {} bytes after LSN {} (an interrupted write; cut off when the database opens)",
                    wal_dir.display(),
                    r.truncated_bytes,
                    r.last_lsn
                ));
            }
            if let Some(lsn) = first_bad {
                report.problem(
                    wal_dir,
                    CliError::corrupt(format!(
                        "{}: {undecodable} records do not decode as engine records (first at LSN {lsn})",
                        wal_dir.display()
                    )),
                );
            }
            for f in inspect::wal_files(wal_dir).unwrap_or_default() {
                report.ok(&f, format!("WAL file of {} records in all", r.records));
            }
        }
        Err(e) => {
            let file = match &e {
                mnemodb_wal::Error::Corrupted { file, .. } => file.clone(),
                _ => wal_dir.to_path_buf(),
            };
            report.problem(&file, CliError::from(e));
        }
    }
}

/// Run `verify`.
pub fn run(a: VerifyArgs, format: Format) -> Result<()> {
    let mut report = Report::default();
    if a.path.is_dir() {
        verify_db(&a.path, &mut report)?;
    } else if a.path.exists() {
        verify_file(&a.path, a.segment.as_deref(), &mut report);
    } else {
        return Err(CliError::invalid(format!(
            "{}: no such file or directory",
            a.path.display()
        )));
    }
    let problems = report.problems.len();
    match format {
        Format::Json => output::print_json(&json!({
            "path": a.path.display().to_string(),
            "ok": problems == 0,
            "files_checked": report.checked.len() + report.problems.len(),
            "bytes_checked": report.bytes,
            "problems": report.problems.iter().map(|p| json!({
                "file": p.file.display().to_string(), "message": p.message,
            })).collect::<Vec<_>>(),
            "notes": report.notes,
            "checked": report.checked.iter().map(|(f, w)| json!({
                "file": f.display().to_string(), "result": w,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Human => {
            let mut text = String::new();
            if a.verbose {
                for (f, w) in &report.checked {
                    text.push_str(&format!("ok       {}: {w}\n", f.display()));
                }
            }
            for p in &report.problems {
                text.push_str(&format!("CORRUPT  {}\n", p.message));
            }
            for n in &report.notes {
                text.push_str(&format!("note     {n}\n"));
            }
            text.push_str(&format!(
                "{} files, {} checked: {}\n",
                report.checked.len() + problems,
                output::bytes(report.bytes),
                match problems {
                    0 => "no problems".to_string(),
                    1 => "1 problem".to_string(),
                    n => format!("{n} problems"),
                }
            ));
            output::print(&text)?;
        }
    }
    if problems == 0 {
        return Ok(());
    }
    let code = if report.problems.iter().any(|p| p.code == Code::Corrupt) {
        Code::Corrupt
    } else {
        report
            .problems
            .iter()
            .map(|p| p.code)
            .next()
            .unwrap_or(Code::Runtime)
    };
    Err(CliError::new(
        code,
        format!(
            "verify {}: {problems} problem{} found (listed on stdout)",
            a.path.display(),
            if problems == 1 { "" } else { "s" }
        ),
    ))
}
