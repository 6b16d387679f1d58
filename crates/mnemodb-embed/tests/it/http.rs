//! The OpenAI-compatible client against the fake server on 127.0.0.1 (no network).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use mnemodb_embed::{
    CachedEmbedder, EmbedError, EmbeddingCache, HashEmbedder, HttpConfig, HttpEmbedder,
    TextEmbedder,
};

use crate::fake_server::{FakeServer, Reply};

const MODEL: &str = "fake-embed-1";
const KEY: &str = "sk-test-123";

fn server() -> FakeServer {
    FakeServer::start(MODEL, 32, Some(KEY), 2048)
}

/// A config for the fake server: fast backoff, short timeouts, no proxy.
fn config(server: &FakeServer) -> HttpConfig {
    HttpConfig::new(server.base_url(), MODEL)
        .with_api_key(Some(KEY.to_string()))
        .with_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .with_timeout(Duration::from_secs(5))
        .with_proxy_from_env(false)
}

fn hash_vectors(dim: usize, texts: &[&str]) -> Vec<Vec<f32>> {
    HashEmbedder::new(dim).embed_batch(texts).unwrap()
}

#[test]
fn probe_then_embed_a_batch() {
    let server = server();
    let embedder = HttpEmbedder::probe(config(&server)).unwrap();
    assert_eq!(embedder.dim(), 32);
    assert_eq!(embedder.model_id(), MODEL);
    let texts = [
        "User prefers pytest",
        "Lives in Lisbon",
        "Uses PostgreSQL 16",
    ];
    let vectors = embedder.embed_batch(&texts).unwrap();
    assert_eq!(vectors, hash_vectors(32, &texts));
    assert_eq!(embedder.embed(texts[1]).unwrap(), vectors[1]);
    assert!(embedder.embed_batch(&[]).unwrap().is_empty());

    let requests = server.requests();
    assert_eq!(requests.len(), 3); // probe, batch, single; the empty batch sent nothing
    let r = &requests[1];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/embeddings")
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["model"], MODEL);
    assert_eq!(r.body["encoding_format"], "float");
    assert!(r.body.get("dimensions").is_none());
    assert_eq!(r.inputs(), texts);
}

#[test]
fn dimensions_are_requested_and_checked() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(12))).unwrap();
    assert_eq!(
        (embedder.dim(), embedder.model_id()),
        (12, "fake-embed-1@12")
    );
    let v = embedder.embed("hello there").unwrap();
    assert_eq!(v, hash_vectors(12, &["hello there"])[0]);
    assert_eq!(server.requests()[0].body["dimensions"], 12);

    // A server that answers with another dimension is a typed error.
    server.script([Reply::WrongDim(7)]);
    match embedder.embed("hello there") {
        Err(EmbedError::DimensionMismatch {
            expected: 12,
            actual: 7,
            model,
        }) => assert_eq!(model, "fake-embed-1@12"),
        other => panic!("{other:?}"),
    }
    // probe checks the answer against `dimensions` too.
    server.script([Reply::WrongDim(9)]);
    assert!(matches!(
        HttpEmbedder::probe(config(&server).with_dimensions(Some(12))),
        Err(EmbedError::DimensionMismatch {
            expected: 12,
            actual: 9,
            ..
        })
    ));
}

#[test]
fn large_batches_are_split_within_the_limits() {
    let server = FakeServer::start(MODEL, 8, Some(KEY), 3); // refuses more than 3 inputs
    let texts: Vec<String> = (0..10).map(|i| format!("memory number {i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();

    let unlimited = HttpEmbedder::new(config(&server).with_dimensions(Some(8))).unwrap();
    match unlimited.embed_batch(&texts) {
        Err(EmbedError::HttpStatus {
            status: 400,
            attempts: 1,
            message,
            ..
        }) => assert!(message.contains("between 1 and 3"), "{message}"),
        other => panic!("{other:?}"),
    }

    let limited = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(8))
            .with_batch_limits(3, 1 << 20),
    )
    .unwrap();
    assert_eq!(
        limited.embed_batch(&texts).unwrap(),
        hash_vectors(8, &texts)
    );
    let sizes: Vec<usize> = server.requests()[1..]
        .iter()
        .map(|r| r.inputs().len())
        .collect();
    assert_eq!(sizes, [3, 3, 3, 1]);

    // The byte limit splits too.
    let by_bytes = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(8))
            .with_batch_limits(3, 35),
    )
    .unwrap();
    let before = server.requests().len();
    assert_eq!(
        by_bytes.embed_batch(&texts).unwrap(),
        hash_vectors(8, &texts)
    );
    assert!(
        server.requests()[before..]
            .iter()
            .all(|r| r.inputs().len() <= 2)
    );
}

#[test]
fn retries_on_429_and_5xx_then_succeeds() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(32))).unwrap();
    server.script([
        Reply::Status(
            429,
            r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
            vec![("retry-after-ms".into(), "20".into())],
        ),
        Reply::Status(500, "internal".into(), vec![]),
        Reply::Status(502, "<html>bad gateway</html>".into(), vec![]),
        Reply::Status(
            503,
            "overloaded".into(),
            vec![("Retry-After".into(), "30".into())], // capped at max_backoff (50 ms)
        ),
    ]);
    let start = Instant::now();
    let v = embedder.embed_batch(&["a", "b"]).unwrap();
    assert_eq!(v, hash_vectors(32, &["a", "b"]));
    assert_eq!(server.requests().len(), 5);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn retries_are_bounded() {
    let server = server();
    let embedder = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(32))
            .with_max_retries(2),
    )
    .unwrap();
    server.script((0..5).map(|_| Reply::Status(503, "busy".into(), vec![])));
    match embedder.embed("x") {
        Err(
            e @ EmbedError::HttpStatus {
                status: 503,
                attempts: 3,
                ..
            },
        ) => {
            assert!(e.is_transient());
            assert!(e.to_string().contains("HTTP 503"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn client_errors_fail_at_once_with_the_servers_message() {
    let server = server();
    let wrong_key = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(32))
            .with_api_key(Some("sk-wrong".into())),
    )
    .unwrap();
    match wrong_key.embed("x") {
        Err(
            e @ EmbedError::HttpStatus {
                status: 401,
                attempts: 1,
                ..
            },
        ) => {
            let shown = e.to_string();
            assert!(shown.contains("Incorrect API key provided"), "{shown}");
            assert!(shown.contains("OPENAI_API_KEY"), "{shown}");
            assert!(!e.is_transient());
        }
        other => panic!("{other:?}"),
    }
    let no_key =
        HttpEmbedder::new(config(&server).with_dimensions(Some(32)).with_api_key(None)).unwrap();
    assert!(matches!(
        no_key.embed("x"),
        Err(EmbedError::HttpStatus { status: 401, .. })
    ));

    let mut unknown = config(&server).with_dimensions(Some(32));
    unknown.model = "no-such-model".into();
    match HttpEmbedder::new(unknown).unwrap().embed("x") {
        Err(EmbedError::HttpStatus {
            status: 404,
            message,
            ..
        }) => assert!(
            message.contains("`no-such-model` does not exist"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }

    let mut wrong_path = config(&server).with_dimensions(Some(32));
    wrong_path.base_url = server.base_url().replace("/v1", "");
    match HttpEmbedder::new(wrong_path).unwrap().embed("x") {
        Err(EmbedError::HttpStatus {
            status: 404,
            message,
            url,
            ..
        }) => {
            assert!(message.contains("base URL"), "{message}");
            assert!(url.ends_with("/embeddings"));
        }
        other => panic!("{other:?}"),
    }
    // 4xx are not retried: one request each.
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn empty_text_is_refused_before_sending() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(32))).unwrap();
    assert!(matches!(
        embedder.embed_batch(&["fine", "", "also fine"]),
        Err(EmbedError::EmptyText { index: 1 })
    ));
    assert!(matches!(
        embedder.embed(" \n"),
        Err(EmbedError::EmptyText { index: 0 })
    ));
    assert!(server.requests().is_empty());
}

#[test]
fn timeouts_are_typed_and_retried() {
    let server = server();
    let timeout = Duration::from_millis(300);
    let no_retry = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(32))
            .with_timeout(timeout)
            .with_max_retries(0),
    )
    .unwrap();
    server.script([Reply::Delay(Duration::from_millis(2000))]);
    let start = Instant::now();
    match no_retry.embed("slow") {
        Err(
            e @ EmbedError::Timeout {
                attempts: 1,
                timeout: t,
                ..
            },
        ) => {
            assert_eq!(t, timeout);
            assert!(e.is_transient());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );

    // One slow answer, then a normal one: the retry succeeds.
    let retrying = HttpEmbedder::new(
        config(&server)
            .with_dimensions(Some(32))
            .with_timeout(timeout)
            .with_max_retries(2),
    )
    .unwrap();
    server.script([Reply::Delay(Duration::from_millis(2000))]);
    assert_eq!(
        retrying.embed("slow").unwrap(),
        hash_vectors(32, &["slow"])[0]
    );
}

#[test]
fn dropped_connections_and_refused_connections() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(32))).unwrap();
    server.script([Reply::Close, Reply::Close]);
    assert_eq!(embedder.embed("x").unwrap(), hash_vectors(32, &["x"])[0]);
    assert_eq!(server.requests().len(), 3);

    // Nothing listens on this port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = HttpEmbedder::new(
        HttpConfig::new(format!("http://127.0.0.1:{port}/v1"), MODEL)
            .with_dimensions(Some(4))
            .with_max_retries(1)
            .with_backoff(Duration::from_millis(5), Duration::from_millis(10))
            .with_proxy_from_env(false),
    )
    .unwrap();
    match refused.embed("x") {
        Err(e @ EmbedError::Transport { attempts: 2, .. }) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_answers_are_typed_errors() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(2))).unwrap();
    let cases = [
        ("<html>hello</html>", "not an embeddings response"),
        (r#"{"data":[]}"#, "0 embeddings for 1 inputs"),
        (
            r#"{"data":[{"index":3,"embedding":[1,0]}]}"#,
            "out of range",
        ),
    ];
    for (body, expected) in cases {
        server.script([Reply::Body(body.into())]);
        match embedder.embed("x") {
            Err(EmbedError::InvalidResponse { message, .. }) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    server.script([Reply::Body(
        r#"{"data":[{"index":0,"embedding":[1e39,0]}]}"#.into(),
    )]);
    assert!(matches!(
        embedder.embed("x"),
        Err(EmbedError::NonFinite { index: 0, .. })
    ));
}

#[test]
fn answers_are_put_back_in_input_order() {
    let server = server();
    let embedder = HttpEmbedder::new(config(&server).with_dimensions(Some(16))).unwrap();
    server.script([Reply::Reversed]);
    let texts = ["one", "two", "three", "four"];
    assert_eq!(
        embedder.embed_batch(&texts).unwrap(),
        hash_vectors(16, &texts)
    );
}

#[test]
fn cache_in_front_of_the_client_saves_requests() {
    let server = server();
    let cache = Arc::new(EmbeddingCache::new(1000));
    let embedder = CachedEmbedder::new(
        HttpEmbedder::new(config(&server).with_dimensions(Some(16))).unwrap(),
        Arc::clone(&cache),
    );
    let first = embedder.embed_batch(&["a", "b", "a"]).unwrap();
    let second = embedder.embed_batch(&["b", "a"]).unwrap();
    assert_eq!(second, [first[1].clone(), first[0].clone()]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].inputs(), ["a", "b"]);
    assert_eq!(cache.stats().entries, 2);
}
