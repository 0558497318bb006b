//! Starts the server the way production runs it: without `-debug` (the
//! shared harness always passes it, and at debug level every invalid
//! statsd line is logged, which would turn a garbage flood into a stderr
//! flood and measure the logger). Returns the shared harness's `Server`.

use crate::common::{base_config, wait_until, Server, BIN};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn logged_addr(log: &Mutex<Vec<String>>, prefix: &str) -> Option<SocketAddr> {
    let log = log.lock().expect("log lock");
    log.iter().find_map(|line| {
        let rest = &line[line.find(prefix)? + prefix.len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Starts the binary at info level with `base_config` plus `extra`.
pub fn start_info_level(dir: &Path, extra: &str) -> Server {
    let path = dir.join("lovebeat.toml");
    std::fs::write(&path, format!("{}{extra}", base_config(dir))).expect("write config");
    let mut child = Command::new(BIN)
        .arg("-config")
        .arg(&path)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lovebeat");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().expect("log lock").push(line);
        }
    });
    let ready = wait_until(Duration::from_secs(20), || {
        logged_addr(&log, "HTTP listening on ").is_some()
            && logged_addr(&log, "statsd UDP listening on ").is_some()
            || matches!(child.try_wait(), Ok(Some(_)))
    });
    let http = logged_addr(&log, "HTTP listening on ");
    let udp = logged_addr(&log, "statsd UDP listening on ");
    let tcp = logged_addr(&log, "statsd TCP listening on ");
    let text = log.lock().expect("log lock").join("\n");
    match (ready, http) {
        (true, Some(http)) if udp.is_some() => Server {
            child,
            dir: dir.to_path_buf(),
            http,
            udp,
            tcp,
            log,
        },
        _ => {
            let _ = child.kill();
            panic!("server did not start; log:\n{text}")
        }
    }
}
