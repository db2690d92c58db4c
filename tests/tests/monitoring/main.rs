//! Monitoring tests: the Prometheus rules (`deploy/prometheus/`) pass promtool's checks and
//! their unit tests, the Grafana dashboard (`deploy/grafana/`) is importable and sound, and
//! every metric the contract (`docs/metrics.md`), the dashboard and the rules name is what a
//! real node exposes at `/metrics`.

mod live;
mod names;
mod rules;
mod scrape;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scopegate_tests::tools;

/// A file of the repository.
pub fn repo_file(relative: &str) -> PathBuf {
    tools::repo_root().join(relative)
}

/// The text of a file of the repository.
pub fn read_repo_file(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// What a promtool run printed, and whether it succeeded.
pub struct PromtoolRun {
    pub success: bool,
    pub output: String,
}

/// Runs `promtool args…` in the repository root, feeding it `stdin` when given.
pub fn promtool<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&str>) -> PromtoolRun {
    let mut command = Command::new(tools::promtool());
    command
        .args(args)
        .current_dir(tools::repo_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run promtool");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("promtool stdin");
        pipe.write_all(input.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("wait for promtool");
    PromtoolRun {
        success: out.status.success(),
        output: format!(
            "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Asserts that promtool succeeded, showing everything it printed when it did not.
pub fn assert_promtool_ok(what: &str, run: &PromtoolRun) {
    assert!(run.success, "promtool {what} failed:\n{}", run.output);
}

/// The display form of a path for promtool arguments.
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}
