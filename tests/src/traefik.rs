//! A real Traefik, configured from the shipped recipe `deploy/edge/traefik/` (`traefik.yml`, the
//! static configuration, and `dynamic.yml`, read by its file provider), started on a free port
//! for one test and stopped when dropped.

use std::fs::File;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::proxy::{Proxy, probe, render};
use crate::tools::{repo_root, venv_bin};

/// A running Traefik.
pub struct Traefik(Proxy);

/// The Traefik recipe shipped in `deploy/edge/traefik/` (holds `traefik.yml` and `dynamic.yml`).
pub fn recipe_dir() -> PathBuf {
    repo_root().join("deploy/edge/traefik")
}

impl Traefik {
    /// Renders the recipe for `scopegate`, the shopping service and the service behind the other
    /// APIs, and starts Traefik on it; returns once its routes are in place (a request to the
    /// API is answered by something other than Traefik's own 404 for an unknown route).
    pub fn start(scopegate: SocketAddr, shopping: SocketAddr, other_apis: SocketAddr) -> Traefik {
        let static_template =
            std::fs::read_to_string(recipe_dir().join("traefik.yml")).expect("read traefik.yml");
        let dynamic_template =
            std::fs::read_to_string(recipe_dir().join("dynamic.yml")).expect("read dynamic.yml");
        let traefik = venv_bin("traefik");
        let spawn = |dir: &Path, listen: SocketAddr| {
            // The file provider wants an absolute path.
            let dynamic_path = dir.join("dynamic.yml");
            let dynamic = render(
                "dynamic.yml",
                &dynamic_template,
                &[
                    ("@SCOPEGATE@", scopegate.to_string()),
                    ("@SHOPPING@", shopping.to_string()),
                    ("@OTHER_APIS@", other_apis.to_string()),
                ],
            );
            std::fs::write(&dynamic_path, dynamic).expect("write dynamic.yml");
            let static_conf = render(
                "traefik.yml",
                &static_template,
                &[
                    ("@LISTEN@", listen.to_string()),
                    ("@DYNAMIC_CONFIG@", dynamic_path.display().to_string()),
                ],
            );
            let static_path = dir.join("traefik.yml");
            std::fs::write(&static_path, static_conf).expect("write traefik.yml");
            let log = File::create(dir.join("traefik.log")).expect("log file");
            Command::new(&traefik)
                .arg(format!("--configFile={}", static_path.display()))
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", traefik.display()))
        };
        // Until the file provider's routes are loaded every path is a 404.
        let ready =
            |address| probe(address, "/shopping/1.0.0/").is_some_and(|status| status != 404);
        Traefik(Proxy::start(
            "traefik",
            "traefik.log",
            Duration::from_secs(30),
            spawn,
            ready,
        ))
    }
}

impl Deref for Traefik {
    type Target = Proxy;

    fn deref(&self) -> &Proxy {
        &self.0
    }
}
