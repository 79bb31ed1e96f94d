//! Loopback HTTP/1.1 servers for tests: they record every request they receive and answer with
//! whatever the test scripts (a response, a hang, or a closed connection).

use super::http::{header, header_all, read_body_and_trailers, read_headers, read_line};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailers of a chunked body, in the order received.
    pub trailers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        header_all(&self.headers, name)
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answer (the connection stays open until the server is dropped).
    Hang,
    /// Close the connection without answering.
    Close,
    /// Write these bytes (the start of an answer, say) and close the connection.
    Cut(Vec<u8>),
    /// Write these bytes and say no more (the connection stays open until the server is
    /// dropped).
    Stall(Vec<u8>),
    /// Send the status line and headers (with the body's `content-length`) at once, then the
    /// body one byte per `every`. Bounded by the body; stops early when the peer goes away or
    /// the server is dropped.
    Trickle {
        status: u16,
        body: Vec<u8>,
        every: Duration,
    },
}

impl Reply {
    pub fn ok(body: &str) -> Self {
        Self::status(200, body)
    }

    pub fn status(status: u16, body: &str) -> Self {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A recording server on a free loopback port.
pub struct Server {
    addr: SocketAddr,
    seen: Arc<(Mutex<Vec<Recorded>>, Condvar)>,
    /// Requests whose headers arrived (their bodies may not have yet).
    heads: Arc<(Mutex<usize>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// A server answering 200 `ok` to everything.
    pub fn ok() -> Self {
        Self::start(|_| Reply::ok("ok"))
    }

    /// A server answering with `handler`.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let heads = Arc::new((Mutex::new(0), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (seen2, heads2, stop2) = (seen.clone(), heads.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (seen, heads) = (seen2.clone(), heads2.clone());
                let (handler, stop) = (handler.clone(), stop2.clone());
                thread::spawn(move || serve(conn, &seen, &heads, &handler, &stop));
            }
        });
        Self {
            addr,
            seen,
            heads,
            stop,
        }
    }

    /// Waits until the headers of at least `n` requests arrived (bounded by 30 s), whether or
    /// not their bodies have: the proxy let those requests go on.
    pub fn wait_for_headers(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (lock, cv) = &*self.heads;
        let mut heads = lock.lock().unwrap();
        while *heads < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "server got the headers of {heads} of {n} requests"
            );
            heads = cv.wait_timeout(heads, left).unwrap().0;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.0.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (bounded by 30 s), then returns them.
    pub fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (lock, cv) = &*self.seen;
        let mut seen = lock.lock().unwrap();
        while seen.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "server got {} of {n} requests", seen.len());
            seen = cv.wait_timeout(seen, left).unwrap().0;
        }
        seen.clone()
    }

    /// The only request received; fails if there were none or several.
    pub fn single(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:?}");
        all.into_iter().next().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
    }
}

fn serve(
    conn: TcpStream,
    seen: &(Mutex<Vec<Recorded>>, Condvar),
    heads: &(Mutex<usize>, Condvar),
    handler: &Handler,
    stop: &AtomicBool,
) {
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    loop {
        let line = read_line(&mut reader);
        if line.is_empty() {
            return; // closed
        }
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let headers = read_headers(&mut reader);
        *heads.0.lock().unwrap() += 1;
        heads.1.notify_all();
        let (body, trailers) = read_body_and_trailers(&mut reader, &headers, false);
        let rec = Recorded {
            method,
            path,
            headers,
            body,
            trailers,
        };
        let reply = handler(&rec);
        seen.0.lock().unwrap().push(rec);
        seen.1.notify_all();
        match reply {
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} X\r\n").into_bytes();
                for (k, v) in &headers {
                    out.extend(format!("{k}: {v}\r\n").bytes());
                }
                out.extend(format!("content-length: {}\r\n\r\n", body.len()).bytes());
                out.extend(&body);
                if writer.write_all(&out).is_err() {
                    return;
                }
            }
            Reply::Hang => {
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Reply::Close => return,
            Reply::Cut(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Stall(bytes) => {
                let _ = writer.write_all(&bytes);
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            Reply::Trickle {
                status,
                body,
                every,
            } => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n",
                    body.len()
                );
                if writer.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for byte in body {
                    thread::sleep(every);
                    if stop.load(Ordering::SeqCst) || writer.write_all(&[byte]).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
