//! Input files: datasets (`.fvecs`, `.bvecs`, `.npy`) and JSON Lines records, read as
//! hostile input — dimensions checked before anything is sized by them, lines bounded,
//! serde_json's recursion limit on, every error naming the file, the record and the byte
//! offset.
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use mnemodb_dataset::{FileKind, FvecsReader, NpyReader, Vectors, read_vectors};
use mnemodb_distance::Metric;
use mnemodb_metastore::{Document, ExternalId};
use serde_json::Value as Json;

use crate::error::{CliError, Result};
use crate::json;

/// Longest JSON line accepted (a record holds at most a 65,536-d vector and a 1 MiB
/// document: this bound is far above both).
pub const MAX_LINE: u64 = 64 << 20;

/// `--metric` values.
pub fn parse_metric(s: &str) -> std::result::Result<Metric, String> {
    s.parse()
        .map_err(|_| format!("unknown metric `{s}` (use cosine, ip or l2)"))
}

/// Where the first non-finite component of a vector is.
pub fn first_non_finite(v: &[f32]) -> Option<(usize, f32)> {
    v.iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite())
        .map(|(i, x)| (i, *x))
}

/// Read a whole dataset file and refuse non-finite values.
pub fn read_dataset(path: &Path) -> Result<Vectors> {
    if !path.is_file() {
        return Err(CliError::invalid(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let v = read_vectors(path)?;
    if let Some((row, col)) = v.first_non_finite() {
        let x = v
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .unwrap_or(f32::NAN);
        return Err(CliError::invalid(format!(
            "{}: record {row}, column {col}: non-finite value {x}",
            path.display()
        )));
    }
    Ok(v)
}

/// One record to import.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its id.
    pub id: ExternalId,
    /// Its vector.
    pub vector: Vec<f32>,
    /// Its metadata.
    pub metadata: Document,
}

/// A stream of records from one file.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    kind: SourceKind,
    /// Records returned so far.
    read: u64,
    id_offset: u64,
}

#[derive(Debug)]
enum SourceKind {
    Fvecs(FvecsReader),
    Npy(NpyReader<f32>),
    Jsonl(JsonlReader),
}

#[derive(Debug)]
struct JsonlReader {
    reader: BufReader<File>,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl Source {
    /// Open `path` by its extension (`.fvecs`, `.npy`, `.jsonl` / `.ndjson`). Vectors of
    /// `.fvecs` / `.npy` files get ids `id_offset + row`.
    pub fn open(path: &Path, id_offset: u64) -> Result<Source> {
        if !path.is_file() {
            return Err(CliError::invalid(format!(
                "{}: no such file",
                path.display()
            )));
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let kind = match (ext.as_str(), FileKind::from_path(path)) {
            (_, Some(FileKind::Fvecs)) => SourceKind::Fvecs(FvecsReader::open(path)?),
            (_, Some(FileKind::Npy)) => SourceKind::Npy(NpyReader::<f32>::open(path)?),
            ("jsonl" | "ndjson" | "json", _) => {
                let file = File::open(path).map_err(|e| CliError::io("open", path, &e))?;
                SourceKind::Jsonl(JsonlReader {
                    reader: BufReader::with_capacity(1 << 20, file),
                    line: 0,
                    offset: 0,
                    buf: Vec::new(),
                })
            }
            _ => {
                return Err(CliError::invalid(format!(
                    "{}: unsupported file type; import reads .fvecs, .npy (float32) and .jsonl",
                    path.display()
                )));
            }
        };
        Ok(Source {
            path: path.to_path_buf(),
            kind,
            read: 0,
            id_offset,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vectors' dimension when the format says it up front.
    pub fn dim(&self) -> Option<usize> {
        match &self.kind {
            SourceKind::Fvecs(r) => r.dim(),
            SourceKind::Npy(r) => Some(r.dim()),
            SourceKind::Jsonl(_) => None,
        }
    }

    /// Records the file holds, when known without reading it all (else `None`).
    pub fn total(&self) -> Option<u64> {
        match &self.kind {
            SourceKind::Fvecs(r) => Some(r.expected_records().unwrap_or(0)),
            SourceKind::Npy(r) => Some(r.rows() as u64),
            SourceKind::Jsonl(_) => None,
        }
    }

    /// Records returned so far.
    pub fn records_read(&self) -> u64 {
        self.read
    }

    /// The next record, checked: a finite vector (`dim` components when given).
    pub fn next(&mut self) -> Result<Option<Record>> {
        let record = self.read;
        let rec = match &mut self.kind {
            SourceKind::Fvecs(r) => {
                let mut v = Vec::new();
                if !r.next_into(&mut v)? {
                    return Ok(None);
                }
                Record {
                    id: ExternalId::U64(self.id_offset.saturating_add(record)),
                    vector: v,
                    metadata: Document::new(),
                }
            }
            SourceKind::Npy(r) => {
                let mut v = Vec::new();
                if !r.next_into(&mut v)? {
                    return Ok(None);
                }
                Record {
                    id: ExternalId::U64(self.id_offset.saturating_add(record)),
                    vector: v,
                    metadata: Document::new(),
                }
            }
            SourceKind::Jsonl(j) => match j.next_record(&self.path, record)? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        if let Some((col, x)) = first_non_finite(&rec.vector) {
            return Err(CliError::invalid(format!(
                "{}: record {record}, column {col}: non-finite value {x} (fix or drop the record)",
                self.path.display()
            )));
        }
        self.read += 1;
        Ok(Some(rec))
    }
}

impl JsonlReader {
    /// The next non-blank line as a record.
    fn next_record(&mut self, path: &Path, record: u64) -> Result<Option<Record>> {
        loop {
            self.buf.clear();
            let start = self.offset;
            let n = (&mut self.reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| CliError::io("read", path, &e))? as u64;
            if n == 0 {
                return Ok(None);
            }
            self.offset += n;
            self.line += 1;
            if n > MAX_LINE {
                return Err(CliError::invalid(format!(
                    "{}: line {} (record {record}, byte offset {start}): longer than {} MiB",
                    path.display(),
                    self.line,
                    MAX_LINE >> 20
                )));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let at = |what: String| {
                CliError::invalid(format!(
                    "{}: line {} (record {record}, byte offset {start}): {what}",
                    path.display(),
                    self.line
                ))
            };
            let value: Json =
                serde_json::from_slice(&self.buf).map_err(|e| at(format!("invalid JSON: {e}")))?;
            return parse_record(&value).map(Some).map_err(at);
        }
    }
}

/// A record from a JSON object `{"id": …, "vector": […], "metadata": {…}}`.
pub fn parse_record(value: &Json) -> std::result::Result<Record, String> {
    let Json::Object(map) = value else {
        return Err(format!(
            "expected an object {{\"id\", \"vector\", \"metadata\"}}, found {}",
            json::json_type(value)
        ));
    };
    if let Some(k) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "id" | "vector" | "metadata"))
    {
        return Err(format!(
            "unknown key `{k}` (a record has id, vector and metadata)"
        ));
    }
    let id = json::id_from_json(map.get("id").ok_or("missing `id`")?)?;
    let vector = match map.get("vector") {
        Some(v) => json::vector_from_json(v)?,
        None => Vec::new(),
    };
    let metadata = match map.get("metadata") {
        Some(m) => json::document_from_json(m)?,
        None => Document::new(),
    };
    Ok(Record {
        id,
        vector,
        metadata,
    })
}

/// A query vector: inline JSON (`[0.1, …]`), or row `row` of a file (`.fvecs`, `.bvecs`,
/// `.npy`, `.jsonl`), or a `.json` file holding an array or a record.
pub fn query_vector(
    inline: Option<&str>,
    file: Option<&Path>,
    row: Option<u64>,
) -> Result<Vec<f32>> {
    match (inline, file) {
        (Some(text), None) => {
            if row.is_some() {
                return Err(CliError::invalid("--row needs --vector-file"));
            }
            let v: Json = serde_json::from_str(text)
                .map_err(|e| CliError::invalid(format!("--vector: invalid JSON: {e}")))?;
            json::vector_from_json(&v).map_err(|e| CliError::invalid(format!("--vector: {e}")))
        }
        (None, Some(path)) => file_row(path, row.unwrap_or(0)),
        (Some(_), Some(_)) => Err(CliError::invalid(
            "give the query either inline (--vector) or from a file (--vector-file), not both",
        )),
        (None, None) => Err(CliError::invalid(
            "no query vector: pass --vector '[0.1, …]' or --vector-file FILE [--row N]",
        )),
    }
}

fn file_row(path: &Path, row: u64) -> Result<Vec<f32>> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        if row != 0 {
            return Err(CliError::invalid(format!(
                "{}: a .json file holds one vector; --row applies to .fvecs, .npy and .jsonl files",
                path.display()
            )));
        }
        let meta = std::fs::metadata(path).map_err(|e| CliError::io("read", path, &e))?;
        if meta.len() > MAX_LINE {
            return Err(CliError::invalid(format!(
                "{}: too large for one vector",
                path.display()
            )));
        }
        let text = std::fs::read(path).map_err(|e| CliError::io("read", path, &e))?;
        let v: Json = serde_json::from_slice(&text)
            .map_err(|e| CliError::invalid(format!("{}: invalid JSON: {e}", path.display())))?;
        let v = match &v {
            Json::Object(_) => parse_record(&v).map(|r| r.vector),
            other => json::vector_from_json(other),
        };
        return v.map_err(|e| CliError::invalid(format!("{}: {e}", path.display())));
    }
    let mut src = Source::open(path, 0)?;
    if let Some(total) = src.total()
        && row >= total
    {
        return Err(CliError::invalid(format!(
            "{}: --row {row} is past the end ({total} records)",
            path.display()
        )));
    }
    loop {
        let Some(r) = src.next()? else {
            return Err(CliError::invalid(format!(
                "{}: --row {row} is past the end ({} records)",
                path.display(),
                src.records_read()
            )));
        };
        if src.records_read() == row + 1 {
            return Ok(r.vector);
        }
    }
}
