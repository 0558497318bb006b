//! Real HTTP peers for the alert tests: a plain `TcpListener` on 127.0.0.1
//! (port 0) that records every request (method, path, headers, body) and
//! answers with the status a test chooses per path and attempt, or a peer
//! that accepts connections and never answers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When its head had been read.
    pub at: Instant,
}

/// A full answer: status, extra headers, body.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: "ok".into(),
        }
    }
}

/// Chooses the whole answer for the `n`th (1-based) request to `path`.
pub type Replies = dyn Fn(&str, usize) -> Reply + Send + Sync;

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// The body as an urlencoded form.
    pub fn form(&self) -> HashMap<String, String> {
        self.text()
            .split('&')
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                Some((decode(k), decode(v)))
            })
            .collect()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Chooses the status for the `n`th (1-based) request to `path`.
pub type Answer = dyn Fn(&str, usize) -> u16 + Send + Sync;

pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    /// Streams a hanging receiver holds open (never answered).
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Receiver {
    /// Answers every request with `answer(path, n)`.
    pub fn start(answer: Box<Answer>) -> Receiver {
        Receiver::start_with(Box::new(move |path, n| Reply::status(answer(path, n))))
    }

    /// Answers every request with the whole `reply(path, n)`.
    pub fn start_with(answer: Box<Replies>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let answer: Arc<Replies> = Arc::from(answer);
        let (reqs, conns) = (Arc::clone(&requests), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                conns.fetch_add(1, Ordering::SeqCst);
                let (reqs, answer) = (Arc::clone(&reqs), Arc::clone(&answer));
                std::thread::spawn(move || serve(stream, &reqs, &*answer));
            }
        });
        Receiver {
            addr,
            requests,
            connections,
            held: Arc::default(),
        }
    }

    /// Accepts connections and never reads or answers.
    pub fn hanging() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (conns, keep) = (Arc::clone(&connections), Arc::clone(&held));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                keep.lock().expect("held lock").push(stream);
                conns.fetch_add(1, Ordering::SeqCst);
            }
        });
        Receiver {
            addr,
            requests: Arc::default(),
            connections,
            held,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self, path: &str) -> Vec<Received> {
        self.requests
            .lock()
            .expect("requests lock")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Every request so far, whatever its path.
    pub fn all(&self) -> Vec<Received> {
        self.requests.lock().expect("requests lock").clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, requests: &Mutex<Vec<Received>>, answer: &Replies) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let n = {
        let mut all = requests.lock().expect("requests lock");
        all.push(Received {
            method,
            path: path.clone(),
            headers,
            body,
            at,
        });
        all.iter().filter(|r| r.path == path).count()
    };
    let reply = answer(&path, n);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let _ = stream.write_all(out.as_bytes());
}
