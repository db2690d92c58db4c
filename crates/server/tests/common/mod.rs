//! Shared by the binary-level tests: the `scopegate` binary as a child process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod cluster;

/// The binary under test (Cargo sets the variable for integration tests; the propagation
/// benchmark, an example, passes the path to [`Node::start_bin`] instead).
pub const BIN: &str = match option_env!("CARGO_BIN_EXE_scopegate") {
    Some(bin) => bin,
    None => "scopegate",
};

pub fn quickstart_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/policy.toml")
}

/// A `scopegate serve` child process; killed on drop.
pub struct Node {
    child: Child,
    base: String,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Node {
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Node {
        Self::start_bin(BIN, config, env)
    }

    /// Starts `bin serve` on a free port and waits for its address.
    pub fn start_bin(bin: &str, config: &Path, env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn scopegate");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read address line");
        let base = line
            .trim()
            .strip_prefix("scopegate listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut all = String::new();
            let _ = stderr.read_to_string(&mut all);
            let _ = tx.send(all);
        });
        Node {
            child,
            base,
            stderr: rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILLs the process (no graceful shutdown) and returns what it logged.
    /// The process id, to read `/proc/{pid}/status` from outside.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(mut self) -> String {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        self.stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
