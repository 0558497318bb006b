//! A real SMTP server for the alert tests: aiosmtpd (tests/support/
//! smtp_sink.py) on a free loopback port, each received mail written as
//! JSON to a temp dir. Fails the test when python3 or aiosmtpd is missing.

use crate::common::TempDir;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// aiosmtpd on a free loopback port, writing each mail as JSON to a temp dir.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl SmtpSink {
    /// `login`: "USER:PASSWORD" the server then requires.
    pub fn start(login: Option<&str>) -> SmtpSink {
        let dir = TempDir::new("smtp");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .args(login)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is required for the SMTP test (see .ci/run)");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let Some(port) = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
        else {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(stderr) = child.stderr.take() {
                let _ = BufReader::new(stderr).read_line(&mut err);
            }
            let _ = child.wait();
            panic!(
                "the aiosmtpd SMTP server did not start (pip install aiosmtpd; .ci/run does): {line} {err}"
            );
        };
        SmtpSink { child, port, dir }
    }

    pub fn mails(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("mail-") && n.ends_with(".json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort_by_key(|n| {
            n.trim_start_matches("mail-")
                .trim_end_matches(".json")
                .parse::<u32>()
                .unwrap_or(0)
        });
        names
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(self.dir.path().join(n)).expect("read mail");
                serde_json::from_str(&text).expect("mail JSON")
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
