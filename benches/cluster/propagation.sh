#!/usr/bin/env bash
# Propagation benchmark: admin write acknowledged on node A → applied on nodes B and C, next to
# the raw Redis pub/sub latency measured in the same run; then admin write throughput.
# Starts its own redis-server (free port) and three release scopegate processes.
#
#   benches/cluster/propagation.sh              # 1,000 changes
#   CHANGES=200 benches/cluster/propagation.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install -y redis-server" >&2; exit 1; }
cargo build --release -q -p scopegate-server --bin scopegate --example propagation
./target/release/examples/propagation ./target/release/scopegate
