//! A small OpenAI-compatible embeddings server on 127.0.0.1 for the HTTP client's tests.
//!
//! It answers `POST /v1/embeddings` like OpenAI (auth, model check, input limits, empty
//! inputs refused, `dimensions`), with the vectors of `HashEmbedder(dim)`, unless a
//! scripted [`Reply`] says otherwise. Bounded: it stops when dropped, after
//! [`MAX_CONNECTIONS`] connections or after [`MAX_LIFETIME`], whichever comes first.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use mnemodb_embed::{HashEmbedder, TextEmbedder};
use serde_json::{Value, json};

pub const MAX_CONNECTIONS: usize = 500;
pub const MAX_LIFETIME: Duration = Duration::from_secs(120);

/// What to answer to the next request (a queue; when empty, [`Reply::Normal`]).
#[derive(Debug, Clone)]
pub enum Reply {
    /// A correct answer.
    Normal,
    /// A status with a body and extra headers.
    Status(u16, String, Vec<(String, String)>),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Close the connection without answering.
    Close,
    /// A 200 with this body.
    Body(String),
    /// A correct answer with vectors of this many dimensions.
    WrongDim(usize),
    /// A correct answer, `data` in reverse order (indexes kept).
    Reversed,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn inputs(&self) -> Vec<String> {
        self.body["input"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct State {
    api_key: Option<String>,
    model: String,
    dim: usize,
    max_inputs: usize,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `model` with `dim`-dimensional vectors; requires `Bearer <api_key>` if set;
    /// refuses requests of more than `max_inputs` texts.
    pub fn start(model: &str, dim: usize, api_key: Option<&str>, max_inputs: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            api_key: api_key.map(str::to_string),
            model: model.to_string(),
            dim,
            max_inputs,
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || accept_loop(&listener, &state, &stop))
        };
        Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The base URL (`http://127.0.0.1:<port>/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>, stop: &AtomicBool) {
    let started = Instant::now();
    let connections = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) && started.elapsed() < MAX_LIFETIME {
        match listener.accept() {
            Ok((stream, _)) => {
                if connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    return;
                }
                let state = Arc::clone(state);
                // Detached: each handler ends on its own (bounded reads, bounded delays).
                std::thread::spawn(move || {
                    let _ = handle(stream, &state);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return,
        }
    }
}

fn read_request(stream: &TcpStream) -> std::io::Result<Recorded> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = get("content-length") {
        let len: usize = len.parse().unwrap_or(0).min(64 << 20);
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn respond(
    mut stream: &TcpStream,
    status: u16,
    body: &str,
    extra: &[(String, String)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

fn openai_error(status: u16, message: &str, kind: &str) -> (u16, String) {
    (
        status,
        json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
            .to_string(),
    )
}

/// The answer of a correct server to `request`.
fn normal(state: &State, request: &Recorded, dim_override: Option<usize>) -> (u16, String) {
    if request.method != "POST" || request.path != "/v1/embeddings" {
        return openai_error(404, "Not found", "invalid_request_error");
    }
    if let Some(key) = &state.api_key
        && request.header("authorization") != Some(&format!("Bearer {key}"))
    {
        return openai_error(
            401,
            "Incorrect API key provided: sk-wr***ng.",
            "invalid_request_error",
        );
    }
    let model = request.body["model"].as_str().unwrap_or_default();
    if model != state.model {
        return openai_error(
            404,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
        );
    }
    let inputs = request.inputs();
    if inputs.is_empty() || inputs.len() > state.max_inputs {
        return openai_error(
            400,
            &format!(
                "'$.input' must have between 1 and {} items",
                state.max_inputs
            ),
            "invalid_request_error",
        );
    }
    if inputs.iter().any(|t| t.is_empty()) {
        return openai_error(400, "'$.input' is invalid.", "invalid_request_error");
    }
    let dim = dim_override
        .or(request.body["dimensions"].as_u64().map(|d| d as usize))
        .unwrap_or(state.dim);
    let texts: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let vectors = HashEmbedder::new(dim).embed_batch(&texts).unwrap();
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": texts.len(), "total_tokens": texts.len()},
    });
    (200, body.to_string())
}

fn handle(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let request = read_request(&stream)?;
    state.requests.lock().unwrap().push(request.clone());
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Normal);
    match reply {
        Reply::Normal => {
            let (status, body) = normal(state, &request, None);
            respond(&stream, status, &body, &[])
        }
        Reply::Status(status, body, headers) => respond(&stream, status, &body, &headers),
        Reply::Delay(d) => {
            std::thread::sleep(d.min(Duration::from_secs(10)));
            let (status, body) = normal(state, &request, None);
            respond(&stream, status, &body, &[])
        }
        Reply::Close => Ok(()),
        Reply::Body(body) => respond(&stream, 200, &body, &[]),
        Reply::WrongDim(dim) => {
            let (status, body) = normal(state, &request, Some(dim));
            respond(&stream, status, &body, &[])
        }
        Reply::Reversed => {
            let (status, body) = normal(state, &request, None);
            let mut v: Value = serde_json::from_str(&body).unwrap();
            if let Some(data) = v["data"].as_array_mut() {
                data.reverse();
            }
            respond(&stream, status, &v.to_string(), &[])
        }
    }
}
