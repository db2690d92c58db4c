#!/usr/bin/env bash
# Load harness: `client_credentials` token issuance against the trivial `/healthz` endpoint of the
# same server, in the same run, with wrk on the same machine. Prints both throughputs, p50/p99
# latency and their ratio.
#
#   benches/load/token_issuance.sh                  # 64 connections, 10 s each
#   CONNS=128 DURATION=20s benches/load/token_issuance.sh
#   ALG=RS256 benches/load/token_issuance.sh        # signing algorithm of the generated key
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
ALG=${ALG:-EdDSA}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q -p scopegate-server
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cp examples/quickstart/policy.toml "$tmp/"
cat > "$tmp/scopegate.toml" <<TOML
[storage]
policy_file = "policy.toml"
data_dir = "data"
[log]
level = "warn"
[keys]
algorithm = "$ALG"
TOML
./target/release/scopegate serve --config "$tmp/scopegate.toml" --listen 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^scopegate listening on //p' "$tmp/out")
[ -n "$base" ] || { echo "server did not start:"; cat "$tmp/err"; exit 1; }

run() { # name, wrk args...
  local name=$1; shift
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@")
  local rps p50 p99 non200
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non200=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  printf '%-22s %12s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non200:-0}"
  echo "$rps" >"$tmp/$name.rps"
}

echo "scopegate $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $CONNS connections, $DURATION each, key $ALG"
# Warm the secret cache (the first request verifies the argon2id hash once).
curl -s -o /dev/null -u inventory-service:inventory-secret -d grant_type=client_credentials "$base/oauth2/token"
run healthz "$base/healthz"
run client_credentials -s benches/load/client_credentials.lua "$base/oauth2/token"
awk -v a="$(cat "$tmp/client_credentials.rps")" -v b="$(cat "$tmp/healthz.rps")" \
  'BEGIN { printf "ratio token/healthz: %.2f\n", a / b }'
