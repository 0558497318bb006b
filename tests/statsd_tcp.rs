//! TCP statsd against the real binary: connections that dribble bytes
//! without ever finishing a line are idle, so at the connection cap they
//! make room for real senders instead of locking them out.

mod common;

use common::{wait_until, Server, TempDir};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn dribbling_connections_do_not_lock_out_real_senders() {
    let dir = TempDir::new("statsd-tcp-dribble");
    // The default cap, 256 connections.
    let server = Server::start_at_info_level(dir.path(), "");
    let addr = server.tcp.expect("tcp listener");
    // 300 connections, each sending a byte now and one every second after
    // (never a `\n`): before the fix each looked busy and held its slot.
    let mut dribblers = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(addr).expect("connect");
        let _ = s.write_all(b"d");
        dribblers.push(s);
    }
    let dribblers = Arc::new(Mutex::new(dribblers));
    let stop = Arc::new(AtomicBool::new(false));
    let dribble = {
        let (dribblers, stop) = (Arc::clone(&dribblers), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for s in dribblers.lock().expect("lock").iter_mut() {
                    let _ = s.write_all(b"d");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let mut real = Vec::new();
    for i in 0..4 {
        let mut s = TcpStream::connect(addr).expect("connect");
        let line = format!("real.{i}.beat:1|c\n");
        let _ = s.write_all(line.as_bytes());
        real.push(s);
    }
    let landed = |i: usize| server.service(&format!("real.{i}")).is_some();
    let all = wait_until(Duration::from_secs(20), || (0..4).all(landed));
    let count = (0..4).filter(|&i| landed(i)).count();
    stop.store(true, Ordering::SeqCst);
    let _ = dribble.join();
    assert!(
        all,
        "{count} of 4 real beats landed behind 300 dribbling connections; log:\n{}",
        server.log_text()
    );
    // A sender that keeps its connection and its lines flowing stays served
    // while dribblers keep arriving.
    let mut keeper = TcpStream::connect(addr).expect("connect");
    keeper.write_all(b"keeper.beat:1|c\n").expect("write");
    assert!(wait_until(Duration::from_secs(20), || server
        .service("keeper")
        .is_some()));
    let mut late = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(addr).expect("connect");
        let _ = s.write_all(b"d");
        late.push(s);
    }
    let _ = keeper.write_all(b"keeper.2.beat:1|c\n");
    assert!(
        wait_until(Duration::from_secs(20), || server
            .service("keeper.2")
            .is_some()),
        "a line on a connection with a recent line was lost; log:\n{}",
        server.log_text()
    );
}
