//! A real Traefik, configured from the shipped recipe `deploy/edge/traefik/` (`traefik.yml`, the
//! static configuration, and `dynamic.yml`, read by its file provider), started on a free port
//! for one test and stopped when dropped.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::envoy::{placeholders_left, probe};
use crate::tools::{repo_root, venv_bin};

/// How long Traefik may take to load its routes.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Traefik.
pub struct Traefik {
    /// Where it listens.
    pub address: SocketAddr,
    child: Child,
    /// Its directory (rendered configuration, log); removed on drop.
    dir: tempfile::TempDir,
}

/// The Traefik recipe shipped in `deploy/edge/traefik/` (holds `traefik.yml` and `dynamic.yml`).
pub fn recipe_dir() -> PathBuf {
    repo_root().join("deploy/edge/traefik")
}

/// The static configuration with its placeholders replaced.
pub fn render_static(template: &str, listen: SocketAddr, dynamic_config: &Path) -> String {
    let conf = template
        .replace("@LISTEN@", &listen.to_string())
        .replace("@DYNAMIC_CONFIG@", &dynamic_config.display().to_string());
    let left = placeholders_left(&conf);
    assert!(
        left.is_empty(),
        "placeholders left in traefik.yml: {left:?}"
    );
    conf
}

/// The dynamic configuration with its placeholders replaced.
pub fn render_dynamic(
    template: &str,
    scopegate: SocketAddr,
    shopping: SocketAddr,
    other_apis: SocketAddr,
) -> String {
    let conf = template
        .replace("@SCOPEGATE@", &scopegate.to_string())
        .replace("@SHOPPING@", &shopping.to_string())
        .replace("@OTHER_APIS@", &other_apis.to_string());
    let left = placeholders_left(&conf);
    assert!(
        left.is_empty(),
        "placeholders left in dynamic.yml: {left:?}"
    );
    conf
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
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
        // A port picked free can be taken before Traefik binds it; try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
            // The file provider wants an absolute path.
            let dynamic_path = dir.path().join("dynamic.yml");
            std::fs::write(
                &dynamic_path,
                render_dynamic(&dynamic_template, scopegate, shopping, other_apis),
            )
            .expect("write dynamic.yml");
            let static_path = dir.path().join("traefik.yml");
            std::fs::write(
                &static_path,
                render_static(&static_template, address, &dynamic_path),
            )
            .expect("write traefik.yml");
            let log = File::create(dir.path().join("traefik.log")).expect("log file");
            let mut child = Command::new(&traefik)
                .arg(format!("--configFile={}", static_path.display()))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", traefik.display()));
            let deadline = Instant::now() + START_TIMEOUT;
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                // Until the file provider's routes are loaded every path is a 404.
                if probe(address, "/shopping/1.0.0/").is_some_and(|status| status != 404) {
                    return Traefik {
                        address,
                        child,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("traefik.log")).unwrap_or_default();
            if !exited {
                panic!(
                    "traefik did not route requests on {address} within {START_TIMEOUT:?}. \
                     log:\n{log}"
                );
            }
            eprintln!("traefik exited before answering on {address}; retrying. log:\n{log}");
        }
        panic!("traefik did not start");
    }

    /// `http://address{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Traefik's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("traefik.log")).unwrap_or_default()
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
