//! Throughput of the local embedder (all-MiniLM-L6-v2): sentences per second at batch 1
//! and 64, for short memory-like sentences and for long (~200-token) paragraphs.
//!
//! ```sh
//! cargo run --release -p mnemodb-embed --features local --example embed_bench -- \
//!     [MODEL_DIR] [--threads 2] [--seconds 3]
//! ```
//!
//! `MODEL_DIR` defaults to `$MNEMODB_MINILM_DIR`; `--threads` takes a list (`1,2`). Each
//! figure: the median and the best of 10 rounds (the best is the least disturbed by other
//! processes on a shared machine).
#![allow(clippy::print_stdout)]

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use mnemodb_embed::{LocalEmbedder, LocalOptions, TextEmbedder};

/// Short, memory-like sentences (the texts of the reference fixture).
const SHORT: &[&str] = &[
    "A python is a large snake that squeezes its prey.",
    "Actually, let's switch to MySQL instead",
    "Add error handling too",
    "Authentication will use JWT tokens",
    "Can you suggest a snack to order for me?",
    "Coding in Python is my favorite thing to do.",
    "Good choice for relational data!",
    "Great stack! Let's plan the architecture.",
    "He drove to the stadium.",
    "How should I set up tests?",
    "I decide to use PostgreSQL for the database",
    "I love programming in Python.",
    "I prefer pytest for testing with coverage reports",
    "I'll set up Express routes",
    "I'll set up pytest-cov in the project config.",
    "I'm building a SaaS dashboard with React and PostgreSQL",
    "It's so sunny outside!",
    "Let's work on the API layer",
    "Now let's set up the deployment pipeline",
    "Project uses PostgreSQL 16 with pgvector extension",
    "The weather is lovely today.",
    "User had a sandwich for lunch today",
    "User is severely allergic to peanuts",
    "User prefers pytest with verbose output and coverage reports",
    "User said the cafe downstairs has good snacks",
    "We're building with React and PostgreSQL",
    "What's next?",
    "Which database should the CI pipeline test against?",
    "fast car",
    "sounds good",
    "speedy vehicles",
    "The user wants all answers in British English.",
];

const ROUNDS: usize = 10;

struct Args {
    dir: PathBuf,
    threads: Vec<usize>,
    seconds: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = std::env::var_os("MNEMODB_MINILM_DIR").map(PathBuf::from);
    let mut threads = vec![2];
    let mut seconds = 3.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                let list = args.next().ok_or("--threads needs a value")?;
                threads = list
                    .split(',')
                    .map(|t| {
                        t.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("--threads {t}: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--seconds" => {
                let s = args.next().ok_or("--seconds needs a value")?;
                seconds = s.parse().map_err(|e| format!("--seconds {s}: {e}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other if !other.starts_with('-') => dir = Some(PathBuf::from(other)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let dir = dir.ok_or("no model directory: pass MODEL_DIR or set MNEMODB_MINILM_DIR")?;
    Ok(Args {
        dir,
        threads,
        seconds,
    })
}

/// Throughput of `batch`: one warm-up call, then `ROUNDS` rounds of at least
/// `seconds / ROUNDS` (and at least 2 calls) each. Returns (median, best) sentences per
/// second: on a shared machine the best round is the closest to the uncontended figure.
fn measure(
    embedder: &LocalEmbedder,
    batch: &[&str],
    seconds: f64,
) -> Result<(f64, f64), mnemodb_embed::EmbedError> {
    embedder.embed_batch(batch)?;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut calls = 0u32;
        while calls < 2 || start.elapsed() < Duration::from_secs_f64(seconds / ROUNDS as f64) {
            std::hint::black_box(embedder.embed_batch(batch)?);
            calls += 1;
        }
        rounds.push(f64::from(calls) * batch.len() as f64 / start.elapsed().as_secs_f64());
    }
    rounds.sort_by(f64::total_cmp);
    Ok((rounds[ROUNDS / 2], rounds[ROUNDS - 1]))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("usage: embed_bench [MODEL_DIR] [--threads 1,2] [--seconds 3]");
            std::process::exit(2);
        }
    };
    let long_text = SHORT.join(" ").repeat(2); // ~240 word pieces: truncated at 256 tokens
    let short: Vec<&str> = SHORT.iter().copied().cycle().take(64).collect();
    let long: Vec<&str> = (0..64).map(|_| long_text.as_str()).collect();

    println!(
        "all-MiniLM-L6-v2, local (candle, CPU), model dir {}",
        args.dir.display()
    );
    println!(
        "| texts | batch | threads | sentences/s (median) | sentences/s (best) | ms/batch (best) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for &threads in &args.threads {
        let load = Instant::now();
        let embedder =
            match LocalEmbedder::load(&args.dir, LocalOptions::default().with_threads(threads)) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            };
        eprintln!("loaded in {:.0} ms", load.elapsed().as_secs_f64() * 1000.0);
        for (name, texts) in [("short (~9 tokens)", &short), ("long (256 tokens)", &long)] {
            for batch in [1usize, 64] {
                let slice = texts.get(..batch).unwrap_or(texts);
                match measure(&embedder, slice, args.seconds) {
                    Ok((median, best)) => println!(
                        "| {name} | {batch} | {threads} | {median:.1} | {best:.1} | {:.2} |",
                        1000.0 * batch as f64 / best
                    ),
                    Err(e) => {
                        eprintln!("error: {e}");
                        std::process::exit(1);
                    }
                }
            }
        }
    }
}
