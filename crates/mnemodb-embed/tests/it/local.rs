//! The local embedder on a tiny random BERT written by the test (no model download):
//! loading, bad model directories, batching, truncation, pooling and normalisation.

use std::{collections::HashMap, path::Path};

use candle_core::{Device, Tensor};
use mnemodb_embed::{EmbedError, LocalEmbedder, LocalOptions, TextEmbedder, cosine};
use serde_json::json;

const HIDDEN: usize = 8;
const WORDS: &[&str] = &[
    "the", "a", "cat", "dog", "sat", "on", "mat", "hello", "world", "user", "prefers", "pytest",
    "lives", "in", "lisbon", ".", ",", "!",
];

/// A deterministic pseudo-random tensor.
fn tensor(shape: &[usize], seed: &mut u64, scale: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
        })
        .collect();
    Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
}

fn vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(WORDS.iter().map(|s| s.to_string()));
    v
}

/// Writes a tiny BERT model (2 layers, 8 dimensions, 2 heads) into `dir`.
fn write_tiny_model(dir: &Path) {
    let vocab = vocab();
    let max_pos = 512;
    let config = json!({
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": vocab.len(), "hidden_size": HIDDEN, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": max_pos, "type_vocab_size": 2, "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute",
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();

    let ids: serde_json::Map<String, serde_json::Value> = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = json!({
        "version": "1.0",
        // Like the real tokenizer.json: fixed padding and truncation that the embedder
        // must override.
        "truncation": {"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();

    let mut seed = 42u64;
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let mut add = |name: &str, shape: &[usize], scale: f32| {
        t.insert(name.to_string(), tensor(shape, &mut seed, scale));
    };
    add(
        "embeddings.word_embeddings.weight",
        &[vocab.len(), HIDDEN],
        1.0,
    );
    add(
        "embeddings.position_embeddings.weight",
        &[max_pos, HIDDEN],
        0.2,
    );
    add("embeddings.token_type_embeddings.weight", &[2, HIDDEN], 0.1);
    let ln = |t: &mut HashMap<String, Tensor>, prefix: &str| {
        t.insert(
            format!("{prefix}.weight"),
            Tensor::ones(HIDDEN, candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
        t.insert(
            format!("{prefix}.bias"),
            Tensor::zeros(HIDDEN, candle_core::DType::F32, &Device::Cpu).unwrap(),
        );
    };
    let mut rest: Vec<(String, Vec<usize>)> = Vec::new();
    for l in 0..2 {
        let p = format!("encoder.layer.{l}");
        for m in ["query", "key", "value"] {
            rest.push((
                format!("{p}.attention.self.{m}.weight"),
                vec![HIDDEN, HIDDEN],
            ));
            rest.push((format!("{p}.attention.self.{m}.bias"), vec![HIDDEN]));
        }
        rest.push((
            format!("{p}.attention.output.dense.weight"),
            vec![HIDDEN, HIDDEN],
        ));
        rest.push((format!("{p}.attention.output.dense.bias"), vec![HIDDEN]));
        rest.push((format!("{p}.intermediate.dense.weight"), vec![16, HIDDEN]));
        rest.push((format!("{p}.intermediate.dense.bias"), vec![16]));
        rest.push((format!("{p}.output.dense.weight"), vec![HIDDEN, 16]));
        rest.push((format!("{p}.output.dense.bias"), vec![HIDDEN]));
    }
    for (name, shape) in &rest {
        add(name, shape, 0.5);
    }
    ln(&mut t, "embeddings.LayerNorm");
    for l in 0..2 {
        ln(
            &mut t,
            &format!("encoder.layer.{l}.attention.output.LayerNorm"),
        );
        ln(&mut t, &format!("encoder.layer.{l}.output.LayerNorm"));
    }
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).unwrap();
}

fn tiny_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_model(dir.path());
    dir
}

fn tiny_options() -> LocalOptions {
    LocalOptions::default()
        .with_model_id("test/tiny-bert")
        .with_expected_dim(Some(HIDDEN))
        .with_threads(2)
}

fn load_err(dir: &Path, options: LocalOptions) -> EmbedError {
    match LocalEmbedder::load(dir, options) {
        Ok(e) => panic!("loaded {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn tiny_model_loads_and_embeds() {
    let dir = tiny_dir();
    let e = LocalEmbedder::load(dir.path(), tiny_options()).unwrap();
    assert_eq!(
        (e.dim(), e.model_id(), e.threads()),
        (HIDDEN, "test/tiny-bert", 2)
    );
    assert_eq!(e.max_tokens(), 256);
    let texts = [
        "The cat sat on the mat.",
        "Hello world!",
        "the dog",
        "user prefers pytest",
    ];
    let v = e.embed_batch(&texts).unwrap();
    assert_eq!(v.len(), 4);
    for x in &v {
        assert_eq!(x.len(), HIDDEN);
        let norm: f32 = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    // Deterministic, and case-insensitive like the real (uncased) tokenizer.
    assert_eq!(e.embed_batch(&texts).unwrap(), v);
    let upper = e.embed("THE CAT SAT ON THE MAT.").unwrap();
    assert!(cosine(&upper, &v[0]) > 0.99999);
    assert!(cosine(&v[0], &v[1]) < 0.999);
    assert!(e.embed_batch(&[]).unwrap().is_empty());
}

#[test]
fn batching_and_padding_do_not_change_results() {
    let dir = tiny_dir();
    // Chunks of 2, texts of very different lengths: sorting, padding and unsorting.
    let e = LocalEmbedder::load(dir.path(), tiny_options().with_batch_size(2)).unwrap();
    let texts = [
        "a",
        "the cat sat on the mat and the dog sat on the cat",
        "hello",
        "hello world",
        "lisbon , lisbon , lisbon !",
    ];
    let batched = e.embed_batch(&texts).unwrap();
    for (text, b) in texts.iter().zip(&batched) {
        let single = e.embed(text).unwrap();
        assert!(cosine(&single, b) > 0.99999, "{text}");
        for (x, y) in single.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{text}: {x} vs {y}");
        }
    }
    let one_thread = LocalEmbedder::load(dir.path(), tiny_options().with_threads(1)).unwrap();
    assert_eq!(one_thread.threads(), 1);
    for (x, y) in one_thread.embed_batch(&texts).unwrap().iter().zip(&batched) {
        assert!(cosine(x, y) > 0.99999);
    }
}

#[test]
fn over_long_texts_are_truncated() {
    let dir = tiny_dir();
    let e = LocalEmbedder::load(dir.path(), tiny_options().with_max_tokens(16)).unwrap();
    // 14 word pieces + [CLS] + [SEP] = 16: the rest is ignored.
    let head = "the cat sat on the mat the dog sat on the mat hello world";
    let a = format!("{head} {}", "lisbon ".repeat(5000));
    let b = format!("{head} {}", "pytest user ".repeat(300));
    assert!(!e.is_truncated(head).unwrap());
    assert!(e.is_truncated(&a).unwrap());
    let v = e.embed_batch(&[head, &a, &b]).unwrap();
    assert!(cosine(&v[0], &v[1]) > 0.99999);
    assert!(cosine(&v[0], &v[2]) > 0.99999);
    // Below the limit the tail matters.
    let short = e.embed("the cat sat on the mat lisbon").unwrap();
    assert!(cosine(&short, &v[0]) < 0.99999);
    // Default: 256 tokens; a very long text is fine.
    let default = LocalEmbedder::load(dir.path(), tiny_options()).unwrap();
    assert!(!default.is_truncated(&"hello ".repeat(254)).unwrap());
    assert!(default.is_truncated(&"hello ".repeat(255)).unwrap());
    assert_eq!(
        default.embed(&"world ".repeat(100_000)).unwrap().len(),
        HIDDEN
    );
}

#[test]
fn empty_texts_are_typed_errors() {
    let dir = tiny_dir();
    let e = LocalEmbedder::load(dir.path(), tiny_options()).unwrap();
    assert!(matches!(
        e.embed_batch(&["fine", "\t\n "]),
        Err(EmbedError::EmptyText { index: 1 })
    ));
    assert!(matches!(
        e.embed(""),
        Err(EmbedError::EmptyText { index: 0 })
    ));
    // Unknown words and odd characters are not errors.
    assert_eq!(e.embed("zzzz \u{0} \u{200b} 東京").unwrap().len(), HIDDEN);
}

#[test]
fn missing_directory_and_files_are_named() {
    let dir = tiny_dir();
    let nowhere = dir.path().join("nope");
    match load_err(&nowhere, tiny_options()) {
        EmbedError::ModelDirNotFound { dir } => assert_eq!(dir, nowhere),
        other => panic!("{other:?}"),
    }
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let d = tiny_dir();
        std::fs::remove_file(d.path().join(file)).unwrap();
        match load_err(d.path(), tiny_options()) {
            e @ EmbedError::MissingModelFile { .. } => {
                let EmbedError::MissingModelFile { file: named, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(named, file);
                assert!(e.to_string().contains(file), "{e}");
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    let empty = tempfile::tempdir().unwrap();
    match load_err(empty.path(), tiny_options()) {
        EmbedError::MissingModelFile { file, .. } => {
            assert_eq!(file, "config.json, tokenizer.json, model.safetensors")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_model_of_another_dimension_is_refused() {
    let dir = tiny_dir();
    // Default options expect all-MiniLM-L6-v2's 384 dimensions.
    match load_err(dir.path(), LocalOptions::default()) {
        EmbedError::DimensionMismatch {
            expected: 384,
            actual: HIDDEN,
            model,
        } => assert_eq!(model, "sentence-transformers/all-MiniLM-L6-v2"),
        other => panic!("{other:?}"),
    }
    // No expectation: any dimension.
    let any = LocalEmbedder::load(dir.path(), tiny_options().with_expected_dim(None)).unwrap();
    assert_eq!(any.dim(), HIDDEN);
}

#[test]
fn corrupt_files_are_typed_errors() {
    let cases: [(&str, &[u8], &str); 6] = [
        ("config.json", b"{not json", "config.json"),
        (
            "config.json",
            br#"{"vocab_size": 22, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 3,
                "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
                "layer_norm_eps": 1e-12, "pad_token_id": 0}"#,
            "not a multiple",
        ),
        ("tokenizer.json", b"[]", "tokenizer.json"),
        ("model.safetensors", b"garbage bytes", "model.safetensors"),
        (
            "model.safetensors",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 90868376\n",
            "Git LFS pointer",
        ),
        ("model.safetensors", b"", "model.safetensors"),
    ];
    for (file, bytes, expected) in cases {
        let d = tiny_dir();
        std::fs::write(d.path().join(file), bytes).unwrap();
        match load_err(d.path(), tiny_options()) {
            e @ EmbedError::InvalidModel { .. } => {
                assert!(e.to_string().contains(expected), "{file}: {e}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    // Weights that lack a tensor.
    let d = tiny_dir();
    let mut tensors =
        candle_core::safetensors::load(d.path().join("model.safetensors"), &Device::Cpu).unwrap();
    tensors.remove("encoder.layer.1.output.dense.weight");
    candle_core::safetensors::save(&tensors, d.path().join("model.safetensors")).unwrap();
    match load_err(d.path(), tiny_options()) {
        e @ EmbedError::InvalidModel { .. } => {
            assert!(e.to_string().contains("model.safetensors"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // A tensor of the wrong shape.
    let d = tiny_dir();
    let mut tensors =
        candle_core::safetensors::load(d.path().join("model.safetensors"), &Device::Cpu).unwrap();
    let mut seed = 1;
    tensors.insert(
        "embeddings.word_embeddings.weight".into(),
        tensor(&[5, HIDDEN], &mut seed, 1.0),
    );
    candle_core::safetensors::save(&tensors, d.path().join("model.safetensors")).unwrap();
    assert!(matches!(
        load_err(d.path(), tiny_options()),
        EmbedError::InvalidModel { .. }
    ));
}

#[test]
fn bad_options_are_config_errors() {
    let dir = tiny_dir();
    for options in [
        tiny_options().with_max_tokens(1),
        tiny_options().with_max_tokens(513), // the tiny model has 512 positions
        tiny_options().with_batch_size(0),
    ] {
        assert!(matches!(
            load_err(dir.path(), options),
            EmbedError::Config { .. }
        ));
    }
}

#[test]
fn shared_between_threads() {
    let dir = tiny_dir();
    let e = std::sync::Arc::new(LocalEmbedder::load(dir.path(), tiny_options()).unwrap());
    let expected = e.embed("hello world").unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            let e = std::sync::Arc::clone(&e);
            let expected = expected.clone();
            s.spawn(move || {
                for _ in 0..5 {
                    let v = e.embed_batch(&["hello world", "the cat"]).unwrap();
                    assert!(cosine(&v[0], &expected) > 0.99999);
                }
            });
        }
    });
}
