//! A real nginx, configured from the shipped recipe `deploy/edge/nginx/nginx.conf`, started on a
//! free port for one test and stopped when dropped.

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpStream};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::proxy::{Proxy, render};
use crate::tools::{repo_root, system_bin};

/// A running nginx.
pub struct Nginx(Proxy);

/// The nginx recipe shipped in `deploy/edge/nginx/`.
pub fn recipe() -> PathBuf {
    repo_root().join("deploy/edge/nginx/nginx.conf")
}

impl Nginx {
    /// Renders the recipe for `scopegate` and the shopping service and starts nginx on it.
    pub fn start(scopegate: SocketAddr, shopping: SocketAddr) -> Nginx {
        let template = std::fs::read_to_string(recipe()).expect("read nginx recipe");
        let nginx = system_bin(
            "nginx",
            &["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"],
            "nginx-light",
        );
        let spawn = |dir: &std::path::Path, listen: SocketAddr| {
            std::fs::create_dir_all(dir.join("static")).expect("static dir");
            std::fs::write(dir.join("static/ok.txt"), "ok\n").expect("static file");
            let conf = render(
                "nginx.conf",
                &template,
                &[
                    ("@LISTEN@", listen.to_string()),
                    ("@SCOPEGATE@", scopegate.to_string()),
                    ("@SHOPPING@", shopping.to_string()),
                    ("@PREFIX@", dir.display().to_string()),
                ],
            );
            let conf_path = dir.join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            // Startup errors go to stderr before the configured error log is open.
            let stderr = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("error.log"))
                .expect("error log");
            Command::new(&nginx)
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&conf_path)
                .args(["-g", "daemon off; master_process off;"])
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start nginx")
        };
        let ready = |address| TcpStream::connect(address).is_ok();
        Nginx(Proxy::start(
            "nginx",
            "error.log",
            Duration::from_secs(10),
            spawn,
            ready,
        ))
    }
}

impl Deref for Nginx {
    type Target = Proxy;

    fn deref(&self) -> &Proxy {
        &self.0
    }
}
