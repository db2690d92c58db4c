//! A real Envoy, configured from the shipped recipe `deploy/edge/envoy/envoy.yaml`, started on a
//! free port for one test and stopped when dropped.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::{repo_root, venv_bin};

/// How long Envoy may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Envoy.
pub struct Envoy {
    /// Where it listens.
    pub address: SocketAddr,
    child: Child,
    /// Its directory (rendered config, log); removed on drop.
    dir: tempfile::TempDir,
}

/// The Envoy recipe shipped in `deploy/edge/envoy/`.
pub fn recipe() -> PathBuf {
    repo_root().join("deploy/edge/envoy/envoy.yaml")
}

/// The recipe with its placeholders replaced. Panics when one is left over.
pub fn render(
    template: &str,
    listen: SocketAddr,
    scopegate: SocketAddr,
    shopping: SocketAddr,
) -> String {
    let conf = template
        .replace("@LISTEN_ADDRESS@", &listen.ip().to_string())
        .replace("@LISTEN_PORT@", &listen.port().to_string())
        .replace("@SCOPEGATE_HOST@", &scopegate.ip().to_string())
        .replace("@SCOPEGATE_PORT@", &scopegate.port().to_string())
        .replace("@SHOPPING_HOST@", &shopping.ip().to_string())
        .replace("@SHOPPING_PORT@", &shopping.port().to_string());
    let left = placeholders_left(&conf);
    assert!(left.is_empty(), "placeholders left in envoy.yaml: {left:?}");
    conf
}

/// The `@NAME@` placeholders still in `text` (also used by the Traefik harness).
pub(crate) fn placeholders_left(text: &str) -> Vec<String> {
    let mut left = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('@') {
        let after = &rest[start + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('@') {
            left.push(format!("@{}@", &after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            rest = after;
        }
    }
    left
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Sends `GET path` and returns the answer's status, or `None` when nothing answered (also used
/// by the Traefik harness).
pub(crate) fn probe(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Envoy {
    /// Renders the recipe for `scopegate` and the shopping service and starts Envoy on it;
    /// returns once a request through it is answered.
    pub fn start(scopegate: SocketAddr, shopping: SocketAddr) -> Envoy {
        let template = std::fs::read_to_string(recipe()).expect("read envoy recipe");
        let envoy = venv_bin("envoy");
        // A port picked free can be taken before Envoy binds it; try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let conf_path = dir.path().join("envoy.yaml");
            std::fs::write(&conf_path, render(&template, address, scopegate, shopping))
                .expect("write envoy.yaml");
            let log = File::create(dir.path().join("envoy.log")).expect("log file");
            let mut child = Command::new(&envoy)
                .arg("-c")
                .arg(&conf_path)
                // Several Envoys run at once in the test binary: no shared memory between them.
                .arg("--disable-hot-restart")
                .args(["--concurrency", "1", "--log-level", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", envoy.display()));
            let deadline = Instant::now() + START_TIMEOUT;
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                if probe(address, "/").is_some() {
                    return Envoy {
                        address,
                        child,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default();
            if !exited {
                panic!("envoy did not answer on {address} within {START_TIMEOUT:?}. log:\n{log}");
            }
            eprintln!("envoy exited before answering on {address}; retrying. log:\n{log}");
        }
        panic!("envoy did not start");
    }

    /// `http://address{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Envoy's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
