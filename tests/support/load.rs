//! Steady traffic while something changes underneath (a configuration pushed, a section added):
//! threads each send requests back to back on one keep-alive HTTP/1.1 connection, as wrk does,
//! and check every answer, so one wrong status or one broken connection is seen.

use super::http::{encode_keep_alive, read_response, Request, Response};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What an answer must satisfy; `Err` describes why it does not.
pub type Check = dyn Fn(&Response) -> Result<(), String> + Send + Sync;

/// Traffic in progress.
pub struct Load {
    stop: Arc<AtomicBool>,
    completed: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

/// What the traffic saw, once stopped.
#[derive(Debug)]
pub struct Report {
    pub completed: u64,
    pub failures: Vec<String>,
}

impl Load {
    /// Starts `connections` threads sending `requests` in turn to `addr`, each answer checked.
    pub fn start(
        addr: SocketAddr,
        connections: usize,
        requests: Vec<Request>,
        check: Arc<Check>,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let completed = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(requests);
        let threads = (0..connections)
            .map(|n| {
                let (stop, completed, failures) =
                    (stop.clone(), completed.clone(), failures.clone());
                let (requests, check) = (requests.clone(), check.clone());
                thread::spawn(move || {
                    drive(addr, n, &requests, &*check, &stop, &completed, &failures)
                })
            })
            .collect();
        Load {
            stop,
            completed,
            failures,
            threads,
        }
    }

    /// Answers received so far.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Waits until `more` answers beyond those received now have arrived (bounded by 60 s), so
    /// a change is known to have happened with traffic flowing on both sides of it.
    pub fn wait_for_more(&self, more: u64) {
        let target = self.completed() + more;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.completed() < target {
            assert!(
                Instant::now() < deadline,
                "traffic stalled at {} answers; failures: {:?}",
                self.completed(),
                self.failures.lock().unwrap()
            );
            assert!(
                self.threads.iter().any(|t| !t.is_finished()),
                "every connection stopped; failures: {:?}",
                self.failures.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the traffic and reports what it saw.
    pub fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut failures = std::mem::take(&mut *self.failures.lock().unwrap());
        for (n, t) in self.threads.into_iter().enumerate() {
            if t.join().is_err() {
                failures.push(format!("connection {n} broke (its panic is above)"));
            }
        }
        failures.extend(std::mem::take(&mut *self.failures.lock().unwrap()));
        Report {
            completed: self.completed.load(Ordering::SeqCst),
            failures,
        }
    }
}

fn drive(
    addr: SocketAddr,
    n: usize,
    requests: &[Request],
    check: &Check,
    stop: &AtomicBool,
    completed: &AtomicU64,
    failures: &Mutex<Vec<String>>,
) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut i = n;
    while !stop.load(Ordering::SeqCst) {
        let req = &requests[i % requests.len()];
        i += 1;
        writer
            .write_all(&encode_keep_alive(req, addr))
            .expect("send");
        let resp = read_response(&mut reader, &req.method);
        completed.fetch_add(1, Ordering::SeqCst);
        if let Err(why) = check(&resp) {
            failures
                .lock()
                .unwrap()
                .push(format!("{} {}: {why}", req.method, req.path));
        }
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            failures
                .lock()
                .unwrap()
                .push(format!("connection {n} closed by the proxy"));
            return;
        }
    }
}
