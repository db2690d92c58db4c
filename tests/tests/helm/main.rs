//! The Helm chart `helm/scopegate`, rendered and linted offline by Helm's own Go SDK (through
//! helm-python-sdk, driven by `driver.py`), then checked three ways:
//!
//! - `manifests`: every rendered object passes `kubernetes-validate --strict` for the oldest
//!   Kubernetes the chart supports (1.25) and the newest the validator knows (1.37); the one CRD
//!   kind (ServiceMonitor) against `servicemonitor.schema.json`; `helm lint --strict`; and the
//!   content: probes, security context, env names, Secret and ConfigMap wiring, HPA, PDB.
//! - `settings`: a pod is simulated the way the kubelet builds it (volumes written to a temp
//!   directory at the mount paths, env from literals, the downward API and the Secret), and the
//!   rendered scopegate.toml is loaded by `scopegate_server::Settings::load`, exactly as
//!   `scopegate serve --config` loads it: every value must land where intended and every file
//!   it names must be one a volume provides. Two configurations are then started for real (one
//!   embedded, one behind a Redis Sentinel requiring the rendered password) and answer on the
//!   probes' paths.
//! - `refusals`: what the chart must refuse (more than one replica without Redis, cluster mode
//!   without a public URL or a key-encryption key, typos) fails with the chart's message.
//!
//! The driver runs once for every case ([`support::rendered`]); a missing tool fails the test
//! with the command that installs it.

mod manifests;
mod refusals;
mod settings;
mod support;
