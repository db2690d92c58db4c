//! What the nginx, Envoy and Traefik harnesses share: start a proxy on a free port in its own
//! temporary directory, wait until it serves, retry on another port if it lost the race for
//! the one picked, kill it when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Ports tried before giving up: a port picked free can be taken before the proxy binds it.
const ATTEMPTS: usize = 5;

/// A running proxy process.
pub struct Proxy {
    /// Where it listens.
    pub address: SocketAddr,
    child: Child,
    /// Its directory (rendered configuration, logs); removed on drop.
    dir: tempfile::TempDir,
    /// The log file in `dir` that [`Proxy::log`] reads.
    log: &'static str,
}

impl Proxy {
    /// Starts `name`: `spawn` writes the configuration for a listen address into the directory
    /// and starts the process, logging to the file `log` in it; `ready` says whether the proxy
    /// serves yet. Panics with the proxy's log when it never becomes ready.
    pub fn start(
        name: &str,
        log: &'static str,
        timeout: Duration,
        mut spawn: impl FnMut(&Path, SocketAddr) -> Child,
        ready: impl Fn(SocketAddr) -> bool,
    ) -> Proxy {
        for _ in 0..ATTEMPTS {
            let dir = tempfile::tempdir().expect("tempdir");
            let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut child = spawn(dir.path(), address);
            let deadline = Instant::now() + timeout;
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                if ready(address) {
                    return Proxy {
                        address,
                        child,
                        dir,
                        log,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
            assert!(
                exited,
                "{name} did not serve on {address} within {timeout:?}. {log}:\n{text}"
            );
            eprintln!("{name} exited before serving on {address}; retrying. {log}:\n{text}");
        }
        panic!("{name} did not start in {ATTEMPTS} attempts");
    }

    /// `http://address{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The proxy's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(self.log)).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Sends `GET path` and returns the answer's status, or `None` when nothing answered.
pub fn probe(address: SocketAddr, path: &str) -> Option<u16> {
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

/// Replaces every `(placeholder, value)` in `template`; panics naming any `@NAME@` placeholder
/// left over, so a recipe and its harness cannot drift apart silently.
pub fn render(file: &str, template: &str, values: &[(&str, String)]) -> String {
    let text = values
        .iter()
        .fold(template.to_owned(), |text, (placeholder, value)| {
            text.replace(placeholder, value)
        });
    let left = placeholders_left(&text);
    assert!(left.is_empty(), "placeholders left in {file}: {left:?}");
    text
}

/// The `@NAME@` placeholders still in `text`.
fn placeholders_left(text: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_left_over() {
        assert_eq!(
            placeholders_left("a @LISTEN@ b user@example.com @X_Y@"),
            ["@LISTEN@", "@X_Y@"]
        );
        assert!(placeholders_left("no placeholders, an e-mail a@b.c").is_empty());
    }
}
