//! `mnemodb`: the command-line tool of the mnemodb vector store — create, import, search,
//! inspect, verify and benchmark a database. See `crates/mnemodb-cli/README.md`.
//!
//! Exit codes: 0 ok, 1 I/O or runtime failure, 2 invalid input or usage, 3 corruption,
//! 4 database locked (see [`error`]).
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod bench;
mod db;
mod dbformat;
mod demo;
mod embed;
mod error;
mod files;
mod import;
mod input;
mod inspect;
mod json;
mod memory;
mod output;
mod records;
mod verify;

use output::Format;

const AFTER_HELP: &str = "Exit status: 0 ok, 1 I/O or runtime failure, 2 invalid input or usage, \
3 corruption, 4 database locked.\n\nStart with `mnemodb demo`, then `mnemodb <command> --help`.";

/// The mnemodb command-line tool.
#[derive(Debug, Parser)]
#[command(name = "mnemodb", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Print results as JSON (for scripts) instead of aligned tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a database, or add a collection to one.
    Create(admin::CreateArgs),
    /// Show collections, segments, WAL, checkpoint and disk usage.
    Info(admin::InfoArgs),
    /// Import vectors and metadata from .fvecs, .npy or .jsonl.
    Import(import::ImportArgs),
    /// Nearest neighbours of a vector, with an optional filter.
    Search(records::SearchArgs),
    /// Fetch records by id.
    Get(records::GetArgs),
    /// Delete records by id or by filter.
    Delete(records::DeleteArgs),
    /// Merge segments and drop deleted rows.
    Compact(admin::CompactArgs),
    /// Seal, checkpoint metadata and trim the WAL.
    Checkpoint(admin::CheckpointArgs),
    /// Copy a consistent snapshot of the database to a new directory.
    Backup(admin::BackupArgs),
    /// Create a demo database, search it, and show what mnemodb does (the main job).
    Demo(demo::DemoArgs),
    /// The memory layer: add, recall, facts, history, consolidate, prune, context.
    Memory(memory::MemoryArgs),
    /// Show the headers and records of one file.
    Inspect(inspect::InspectArgs),
    /// Check every checksum and invariant of a database or one file.
    Verify(verify::VerifyArgs),
    /// Benchmark an index on a dataset: recall@k, QPS, latency; CSV, JSON and plots.
    Bench(bench::BenchArgs),
}

fn run(cli: Cli) -> error::Result<()> {
    let format = if cli.json {
        Format::Json
    } else {
        Format::Human
    };
    match cli.command {
        Command::Create(a) => admin::create(a, format),
        Command::Info(a) => admin::info(a, format),
        Command::Import(a) => import::run(a, format),
        Command::Search(a) => records::search(a, format),
        Command::Get(a) => records::get(a, format),
        Command::Delete(a) => records::delete(a, format),
        Command::Compact(a) => admin::compact(a, format),
        Command::Checkpoint(a) => admin::checkpoint(a, format),
        Command::Backup(a) => admin::backup(a, format),
        Command::Demo(a) => demo::run(a, format),
        Command::Memory(a) => memory::run(a, format),
        Command::Inspect(a) => inspect::run(a, format),
        Command::Verify(a) => verify::run(a, format),
        Command::Bench(a) => bench::run(a, format),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.quiet => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("mnemodb: error: {e}"));
            ExitCode::from(e.code as u8)
        }
    }
}
