//! `mnemodb memory add | recall | facts | history | consolidate | prune | context`: the
//! memory layer (`mnemodb-memory`) on a database. Vectors are given as JSON or a file row
//! (no embedder is configured in the CLI yet).
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use mnemodb::Database;
use mnemodb_dataset::Vectors;
use mnemodb_memory::{
    ConsolidateOptions, ContextRequest, FactInput, MemoryConfig, MemoryKind, MemoryStore,
    NewMemory, PruneOptions, RecallRequest, Scope, Timestamp,
};
use serde_json::{Value as Json, json};

use crate::db::{self, DbArg};
use crate::error::{CliError, Code, Result};
use crate::input;
use crate::output::{self, Format, Table, clip};

/// `mnemodb memory ...`
#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    what: What,
}

/// Who the memories belong to.
#[derive(Debug, Args, Clone)]
struct ScopeArgs {
    /// User the memories belong to.
    #[arg(long)]
    user: String,
    /// Agent (optional narrower scope).
    #[arg(long)]
    agent: Option<String>,
    /// Session (optional narrower scope).
    #[arg(long)]
    session: Option<String>,
    /// Collection name prefix of the memory store.
    #[arg(long, default_value = "memory")]
    namespace: String,
}

/// A vector from the command line.
#[derive(Debug, Args, Clone)]
struct VectorArgs {
    /// The embedding as a JSON array.
    #[arg(long, allow_hyphen_values = true)]
    vector: Option<String>,
    /// Read the embedding from a file (.fvecs / .npy / .jsonl row --row, or .json).
    #[arg(long)]
    vector_file: Option<PathBuf>,
    /// Row of --vector-file.
    #[arg(long)]
    row: Option<u64>,
    /// Embedder for text (when no vector is given): http | local:<model dir> | hash:<dim>;
    /// default $MNEMODB_EMBEDDER.
    #[arg(long)]
    embedder: Option<String>,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Remember one thing.
    #[command(
        after_help = "Examples:\n  mnemodb memory add ./db --user alice --text 'Allergic to peanuts' --kind fact --importance 1 --vector '[0.7, 0.7, 0.1]'\n  MNEMODB_EMBEDDER=http mnemodb memory add ./db --user alice --text 'Prefers pytest over unittest' --kind preference"
    )]
    Add {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        vector: VectorArgs,
        /// The memory's text.
        #[arg(long)]
        text: String,
        /// Kind: fact, preference, event, decision, ... (free text allowed).
        #[arg(long, default_value = "fact")]
        kind: String,
        /// Importance in [0, 1].
        #[arg(long, default_value_t = 0.5)]
        importance: f32,
        /// When it was stated (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// Recall the memories that matter for a query (similarity × importance × decay).
    #[command(
        after_help = "Examples:\n  mnemodb memory recall ./db --user alice --vector '[0.9, 0.5, 0.0]' -k 3\n  MNEMODB_EMBEDDER=http mnemodb memory recall ./db --user alice --text 'How should I set up tests?'"
    )]
    Recall {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        vector: VectorArgs,
        /// The query as text, embedded by --embedder (or $MNEMODB_EMBEDDER).
        #[arg(long, conflicts_with_all = ["vector", "vector_file"])]
        text: Option<String>,
        /// Memories to return.
        #[arg(short, long, default_value_t = 5)]
        k: u64,
        /// Only these kinds (repeatable).
        #[arg(long)]
        kind: Vec<String>,
        /// Recall as of this time (RFC 3339): what was valid then.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// List current entity facts, or state one with --set entity.attribute=value.
    #[command(
        after_help = "Examples:\n  mnemodb memory facts ./db --user alice\n  mnemodb memory facts ./db --user alice --set alice.city=Lisbon --at 2026-03-01T00:00:00Z"
    )]
    Facts {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Only this entity.
        #[arg(long)]
        entity: Option<String>,
        /// State a fact: `entity.attribute=value`.
        #[arg(long)]
        set: Option<String>,
        /// When the fact was stated (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
    },
    /// History of a memory (by id) or of an entity fact (--entity and --attribute).
    #[command(
        after_help = "Examples:\n  mnemodb memory history ./db --user alice --id m-12\n  mnemodb memory history ./db --user alice --entity alice --attribute city"
    )]
    History {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Memory id.
        #[arg(long, conflicts_with_all = ["entity", "attribute"])]
        id: Option<String>,
        /// Fact entity.
        #[arg(long, requires = "attribute")]
        entity: Option<String>,
        /// Fact attribute.
        #[arg(long, requires = "entity")]
        attribute: Option<String>,
    },
    /// Merge near-duplicate memories of a scope (merged ones stay stored, archived).
    #[command(after_help = "Example:\n  mnemodb memory consolidate ./db --user alice --dry-run")]
    Consolidate {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Report the groups without merging.
        #[arg(long)]
        dry_run: bool,
    },
    /// Archive (or delete) memories whose retention has faded.
    #[command(
        after_help = "Example:\n  mnemodb memory prune ./db --user alice --dry-run --threshold 0.05"
    )]
    Prune {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Retention below which a memory fades, in [0, 1].
        #[arg(long, default_value_t = 0.02)]
        threshold: f64,
        /// Delete instead of archiving.
        #[arg(long)]
        delete: bool,
        /// Report without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Assemble the context for a message under a token budget.
    #[command(
        after_help = "Example:\n  mnemodb memory context ./db --user alice --session s1 --message 'Suggest a snack' --vector '[0.9, 0.5, 0.0]' --budget 300"
    )]
    Context {
        #[command(flatten)]
        db: DbArg,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        vector: VectorArgs,
        /// The user's message.
        #[arg(long)]
        message: String,
        /// Token budget.
        #[arg(long, default_value_t = 500)]
        budget: usize,
    },
}

impl From<mnemodb_memory::Error> for CliError {
    fn from(e: mnemodb_memory::Error) -> Self {
        use mnemodb_memory::Error as E;
        match e {
            E::Engine(inner) => inner.into(),
            E::NotFound(_) => CliError::invalid(e.to_string()),
            E::Embedder { .. } => CliError::runtime(e.to_string()),
            other => CliError::new(Code::Invalid, other.to_string()),
        }
    }
}

impl ScopeArgs {
    fn scope(&self) -> Scope {
        let mut s = Scope::user(self.user.clone());
        if let Some(a) = &self.agent {
            s = s.agent(a.clone());
        }
        if let Some(x) = &self.session {
            s = s.session(x.clone());
        }
        s
    }
}

impl VectorArgs {
    fn get(&self) -> Result<Vec<f32>> {
        input::query_vector(
            self.vector.as_deref(),
            self.vector_file.as_deref(),
            self.row,
        )
    }

    /// The given vector, or `text` embedded when no vector is given.
    fn or_embed(&self, text: Option<&str>, dim: Option<usize>) -> Result<Vec<f32>> {
        match (self.vector.is_some() || self.vector_file.is_some(), text) {
            (false, Some(t)) => crate::embed::embed_text(self.embedder.as_deref(), t, dim),
            _ => self.get(),
        }
    }
}

fn time(text: Option<&str>) -> Result<Option<Timestamp>> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t).ok_or_else(|| {
            CliError::invalid(format!(
                "`{t}` is not an RFC 3339 time (e.g. 2026-01-01T12:00:00Z)"
            ))
        })
    })
    .transpose()
}

/// Dimension of the memory store's collection, when it exists.
fn memories_dim(db: &Database, ns: &str) -> Option<usize> {
    db.collections()
        .into_iter()
        .find(|c| c.name == format!("{ns}.memories"))
        .map(|c| c.dim)
}

/// Open the store: its dimension is the existing memories collection's, else `dim`.
fn store(db: &Database, ns: &str, dim: Option<usize>) -> Result<MemoryStore> {
    let dim = memories_dim(db, ns).or(dim).ok_or_else(|| {
        CliError::invalid(format!(
            "{}: no memory store `{ns}` yet; add a memory first (`mnemodb memory add`)",
            db.path().display()
        ))
    })?;
    Ok(MemoryStore::open(db, MemoryConfig::new(dim).namespace(ns))?)
}

/// Run `memory`.
pub fn run(a: MemoryArgs, format: Format) -> Result<()> {
    let (text, json) = match a.what {
        What::Add {
            db,
            scope,
            vector,
            text,
            kind,
            importance,
            at,
        } => {
            let database = db::open_or_create(&db.db, db::cli_options())?;
            let v = vector.or_embed(Some(&text), memories_dim(&database, &scope.namespace))?;
            let st = store(&database, &scope.namespace, Some(v.len()))?;
            let mut m = NewMemory::new(scope.scope(), text)
                .kind(MemoryKind::parse(&kind))
                .importance(importance)
                .vector(v);
            if let Some(t) = time(at.as_deref())? {
                m = m.at(t);
            }
            let id = st.remember(m)?;
            database.flush()?;
            (format!("remembered {id}\n"), json!({"id": id}))
        }
        What::Recall {
            db,
            scope,
            vector,
            text,
            k,
            kind,
            as_of,
        } => {
            if k == 0 {
                return Err(CliError::invalid("-k must be at least 1"));
            }
            let database = db::open_rw(&db.db, db::cli_options())?;
            let v = vector.or_embed(text.as_deref(), memories_dim(&database, &scope.namespace))?;
            let st = store(&database, &scope.namespace, None)?;
            let k = usize::try_from(k)
                .unwrap_or(usize::MAX)
                .min(st.config().max_k);
            let mut req = RecallRequest::new(scope.scope(), v).k(k);
            if !kind.is_empty() {
                req = req.kinds(kind.iter().map(|k| MemoryKind::parse(k)));
            }
            if let Some(t) = time(as_of.as_deref())? {
                req = req.as_of(t);
            }
            let t = Instant::now();
            let r = st.recall(&req)?;
            let secs = t.elapsed().as_secs_f64();
            let mut table = Table::new(&[
                ">rank", "id", ">score", ">sim", ">imp", ">decay", "kind", "text",
            ]);
            let mut hits = Vec::new();
            for (i, h) in r.hits.iter().enumerate() {
                let m = &h.memory;
                table.row(vec![
                    (i + 1).to_string(),
                    m.id.clone(),
                    format!("{:.4}", h.score.score),
                    format!("{:.3}", h.score.similarity),
                    format!("{:.2}", h.score.importance),
                    format!("{:.3}", h.score.decay),
                    m.kind.as_str().to_string(),
                    clip(&m.text, 60),
                ]);
                hits.push(json!({
                    "id": m.id, "text": m.text, "kind": m.kind.as_str(), "score": h.score.score,
                    "similarity": h.score.similarity, "importance": h.score.importance,
                    "decay": h.score.decay, "created_at": m.created_at.to_string(),
                }));
            }
            let mut text = if hits.is_empty() {
                String::new()
            } else {
                table.render()
            };
            text.push_str(&format!(
                "{} memories recalled in {}\n",
                hits.len(),
                output::secs(secs)
            ));
            (text, json!({"hits": hits, "seconds": secs}))
        }
        What::Facts {
            db,
            scope,
            entity,
            set,
            at,
        } => {
            let database = if set.is_some() {
                db::open_rw(&db.db, db::cli_options())?
            } else {
                db::open_ro(&db.db)?
            };
            let st = store(&database, &scope.namespace, None)?;
            let mut text = String::new();
            let mut changed = Json::Null;
            if let Some(spec) = set {
                let (key, value) = spec.split_once('=').ok_or_else(|| {
                    CliError::invalid(format!("--set `{spec}`: expected entity.attribute=value"))
                })?;
                let (ent, attr) = key.split_once('.').ok_or_else(|| {
                    CliError::invalid(format!("--set `{spec}`: expected entity.attribute=value"))
                })?;
                let mut input = FactInput::new(scope.scope(), ent, attr, value);
                if let Some(t) = time(at.as_deref())? {
                    input = input.at(t);
                }
                let u = st.assert_fact(input)?;
                database.flush()?;
                text.push_str(&format!("{} ({:?})\n", u.current.line(), u.change));
                changed = json!({"fact": u.current.line(), "change": format!("{:?}", u.change)});
            }
            let facts = st.facts(&scope.scope(), entity.as_deref())?;
            let mut t = Table::new(&["entity", "attribute", "value", "since"]);
            for f in &facts {
                t.row(vec![
                    f.entity.clone(),
                    f.attribute.clone(),
                    f.value.clone(),
                    f.since.to_string(),
                ]);
            }
            if !facts.is_empty() {
                text.push_str(&t.render());
            }
            text.push_str(&format!("{} facts\n", facts.len()));
            let list: Vec<Json> = facts
                .iter()
                .map(|f| json!({"entity": f.entity, "attribute": f.attribute, "value": f.value, "since": f.since.to_string()}))
                .collect();
            (text, json!({"set": changed, "facts": list}))
        }
        What::History {
            db,
            scope,
            id,
            entity,
            attribute,
        } => {
            let database = db::open_ro(&db.db)?;
            let st = store(&database, &scope.namespace, None)?;
            match (id, entity, attribute) {
                (Some(id), _, _) => {
                    let h = st.history(&id)?;
                    let mut t = Table::new(&["at", "action", "other", "reason"]);
                    for e in &h {
                        t.row(vec![
                            e.at.to_string(),
                            e.action.clone(),
                            e.other.clone().unwrap_or_default(),
                            e.reason.clone().unwrap_or_default(),
                        ]);
                    }
                    let text = format!(
                        "{}{} events for {id}\n",
                        if h.is_empty() {
                            String::new()
                        } else {
                            t.render()
                        },
                        h.len()
                    );
                    let list: Vec<Json> = h.iter().map(|e| json!({"at": e.at.to_string(), "action": e.action, "other": e.other, "reason": e.reason})).collect();
                    (text, json!({"id": id, "history": list}))
                }
                (None, Some(ent), Some(attr)) => {
                    let h = st.fact_history(&scope.scope(), &ent, &attr)?;
                    let mut t = Table::new(&["stated at", "value"]);
                    for e in &h.entries {
                        t.row(vec![e.at.to_string(), e.value.clone()]);
                    }
                    let text = format!(
                        "{}{ent}.{attr}: {}\n",
                        if h.entries.is_empty() {
                            String::new()
                        } else {
                            t.render()
                        },
                        h.values.join(" → ")
                    );
                    (
                        text,
                        json!({"entity": ent, "attribute": attr, "values": h.values}),
                    )
                }
                _ => return Err(CliError::invalid("give --id, or --entity and --attribute")),
            }
        }
        What::Consolidate { db, scope, dry_run } => {
            let database = db::open_rw(&db.db, db::cli_options())?;
            let st = store(&database, &scope.namespace, None)?;
            let opts = ConsolidateOptions {
                dry_run,
                ..ConsolidateOptions::default()
            };
            let r = st.consolidate(&scope.scope(), &opts)?;
            database.flush()?;
            let merged: usize = r.groups.iter().map(|g| g.merged.len()).sum();
            (
                format!(
                    "{} groups of near-duplicates, {merged} memories {} (probed {}, {} pairs compared)\n",
                    r.groups.len(),
                    if dry_run { "would be merged" } else { "merged" },
                    r.probed,
                    r.pairs_compared
                ),
                json!({"groups": r.groups.iter().map(|g| json!({"survivor": g.survivor, "merged": g.merged})).collect::<Vec<_>>(), "dry_run": dry_run}),
            )
        }
        What::Prune {
            db,
            scope,
            threshold,
            delete,
            dry_run,
        } => {
            let database = db::open_rw(&db.db, db::cli_options())?;
            let st = store(&database, &scope.namespace, None)?;
            let opts = PruneOptions {
                threshold,
                delete,
                dry_run,
                ..PruneOptions::default()
            };
            let r = st.prune(&scope.scope(), &opts, None)?;
            database.flush()?;
            (
                format!(
                    "examined {}, {} below retention {threshold}, {} {}\n",
                    r.examined,
                    r.low_retention.len(),
                    r.evicted.len(),
                    match (dry_run, delete) {
                        (true, _) => "would be removed",
                        (false, true) => "deleted",
                        (false, false) => "archived",
                    }
                ),
                json!({"examined": r.examined, "low_retention": r.low_retention, "evicted": r.evicted}),
            )
        }
        What::Context {
            db,
            scope,
            vector,
            message,
            budget,
        } => {
            let v = vector.get()?;
            let database = db::open_rw(&db.db, db::cli_options())?;
            let st = store(&database, &scope.namespace, None)?;
            let mut req = ContextRequest::new(scope.scope(), message, budget);
            req.query = Some(v.into());
            let c = st.build_context(&req)?;
            let text = format!("{}\n({} of {budget} tokens)\n", c.render(), c.tokens);
            (
                text,
                json!({"facts": c.facts, "memories": c.memories, "tokens": c.tokens, "budget": c.budget, "rendered": c.render()}),
            )
        }
    };
    match format {
        Format::Json => output::print_json(&json),
        Format::Human => output::print(&text),
    }
}

/// The demo's memory-layer step: remember a few generated memories for one user, then
/// recall for a query near one of them. Returns (human text, JSON).
pub fn demo_recall(
    db: &Database,
    base: &Vectors,
    step: &mut dyn FnMut(&str, f64, String),
) -> Result<(String, Json)> {
    let t = Instant::now();
    let st = MemoryStore::open(db, MemoryConfig::new(base.dim))?;
    let alice = Scope::user("alice");
    let now = Timestamp::now_system();
    let texts = [
        ("Severely allergic to peanuts", MemoryKind::Fact, 1.0, 200.0),
        (
            "Prefers pytest over unittest",
            MemoryKind::parse("preference"),
            0.7,
            30.0,
        ),
        (
            "Decided to move the service to PostgreSQL",
            MemoryKind::parse("decision"),
            0.8,
            10.0,
        ),
        ("Had a sandwich for lunch", MemoryKind::Event, 0.1, 1.0),
        ("Lives in Lisbon", MemoryKind::Fact, 0.6, 90.0),
    ];
    let mut memories = Vec::new();
    for (i, (text, kind, importance, days_ago)) in texts.iter().enumerate() {
        let v = base.get(i * 7).unwrap_or_default().to_vec();
        memories.push(
            NewMemory::new(alice.clone(), *text)
                .kind(kind.clone())
                .importance(*importance)
                .at(now.plus_days(-days_ago))
                .vector(v),
        );
    }
    st.remember_batch(memories)?;
    let write_s = t.elapsed().as_secs_f64();
    // A query close to the peanut memory (row 0) and the sandwich (row 21) alike.
    let q: Vec<f32> = base
        .get(0)
        .unwrap_or_default()
        .iter()
        .zip(base.get(21).unwrap_or_default())
        .map(|(a, b)| a + b)
        .collect();
    let t = Instant::now();
    let r = st.recall(&RecallRequest::new(alice, q).k(3))?;
    let recall_s = t.elapsed().as_secs_f64();
    let mut table = Table::new(&[
        ">rank",
        ">score",
        ">similarity",
        ">importance",
        ">decay",
        "memory",
    ]);
    for (i, h) in r.hits.iter().enumerate() {
        table.row(vec![
            (i + 1).to_string(),
            format!("{:.4}", h.score.score),
            format!("{:.3}", h.score.similarity),
            format!("{:.2}", h.score.importance),
            format!("{:.3}", h.score.decay),
            h.memory.text.clone(),
        ]);
    }
    step(
        "memory: remember 5",
        write_s,
        "5 memories of user alice, 1 to 200 days old".into(),
    );
    step(
        "memory: recall",
        recall_s,
        format!(
            "top {} by similarity × importance × time decay",
            r.hits.len()
        ),
    );
    let text = format!(
        "\nmemory layer: recall for alice (a query as close to \"peanuts\" as to \"sandwich\")\n{}",
        table.render()
    );
    let json = json!(
        r.hits
            .iter()
            .map(|h| json!({"text": h.memory.text, "score": h.score.score}))
            .collect::<Vec<_>>()
    );
    Ok((text, json))
}
