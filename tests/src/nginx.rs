//! A real nginx, configured from the shipped recipe `deploy/edge/nginx/nginx.conf`, started on a
//! free port for one test and stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    /// Where it listens.
    pub address: SocketAddr,
    child: Child,
    /// Its prefix directory (config, temp files, error log); removed on drop.
    dir: tempfile::TempDir,
}

/// The nginx recipe shipped in `deploy/edge/nginx/`.
pub fn recipe() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/edge/nginx/nginx.conf")
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (apt-get install nginx-light); .ci/run installs it")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Nginx {
    /// Renders the recipe for `scopegate` and the shopping service and starts nginx on it.
    pub fn start(scopegate: SocketAddr, shopping: SocketAddr) -> Nginx {
        let template = std::fs::read_to_string(recipe()).expect("read nginx recipe");
        // A port picked free can be taken before nginx binds it; try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("static")).expect("static dir");
            std::fs::write(dir.path().join("static/ok.txt"), "ok\n").expect("static file");
            let address = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let conf = template
                .replace("@LISTEN@", &address.to_string())
                .replace("@SCOPEGATE@", &scopegate.to_string())
                .replace("@SHOPPING@", &shopping.to_string())
                .replace("@PREFIX@", &dir.path().display().to_string());
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let mut child = Command::new(nginx_binary())
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .args(["-g", "daemon off; master_process off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start nginx");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(address).is_ok() {
                    return Nginx {
                        address,
                        child,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            eprintln!("nginx did not start on {address}; retrying. error.log:\n{log}");
        }
        panic!("nginx did not start");
    }

    /// `http://address{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// nginx's error log so far (for assertion messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
