//! A real Envoy, configured from the shipped recipe `deploy/edge/envoy/envoy.yaml`, started on a
//! free port for one test and stopped when dropped.

use std::fs::File;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::proxy::{Proxy, probe, render};
use crate::tools::{repo_root, venv_bin};

/// A running Envoy.
pub struct Envoy(Proxy);

/// The Envoy recipe shipped in `deploy/edge/envoy/`.
pub fn recipe() -> PathBuf {
    repo_root().join("deploy/edge/envoy/envoy.yaml")
}

impl Envoy {
    /// Renders the recipe for `scopegate` and the shopping service and starts Envoy on it;
    /// returns once a request through it is answered.
    pub fn start(scopegate: SocketAddr, shopping: SocketAddr) -> Envoy {
        let template = std::fs::read_to_string(recipe()).expect("read envoy recipe");
        let envoy = venv_bin("envoy");
        let spawn = |dir: &Path, listen: SocketAddr| {
            let conf = render(
                "envoy.yaml",
                &template,
                &[
                    ("@LISTEN_ADDRESS@", listen.ip().to_string()),
                    ("@LISTEN_PORT@", listen.port().to_string()),
                    ("@SCOPEGATE_HOST@", scopegate.ip().to_string()),
                    ("@SCOPEGATE_PORT@", scopegate.port().to_string()),
                    ("@SHOPPING_HOST@", shopping.ip().to_string()),
                    ("@SHOPPING_PORT@", shopping.port().to_string()),
                ],
            );
            let conf_path = dir.join("envoy.yaml");
            std::fs::write(&conf_path, conf).expect("write envoy.yaml");
            let log = File::create(dir.join("envoy.log")).expect("log file");
            Command::new(&envoy)
                .arg("-c")
                .arg(&conf_path)
                // Several Envoys run at once in the test binary: no shared memory between them.
                .arg("--disable-hot-restart")
                .args(["--concurrency", "1", "--log-level", "warning"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", envoy.display()))
        };
        let ready = |address| probe(address, "/").is_some();
        Envoy(Proxy::start(
            "envoy",
            "envoy.log",
            Duration::from_secs(30),
            spawn,
            ready,
        ))
    }
}

impl Deref for Envoy {
    type Target = Proxy;

    fn deref(&self) -> &Proxy {
        &self.0
    }
}
