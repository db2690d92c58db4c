#!/usr/bin/env bash
# Load harness: /authz/check with a realistic token mix against the trivial /healthz endpoint of
# the same server, in the same run, with wrk on the same machine. Prints both throughputs,
# p50/p99 latency and their ratio.
#
#   benches/load/check.sh                     # 300 tokens, 64 connections, 10 s each
#   TOKENS_N=50 CONNS=128 benches/load/check.sh
#   ALG=RS256 benches/load/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
ALG=${ALG:-EdDSA}
TOKENS_N=${TOKENS_N:-300}
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

# A few hundred distinct access tokens (inventory-service holds order_view through its role).
for _ in $(seq "$TOKENS_N"); do
  curl -s -w '\n' -u inventory-service:inventory-secret -d grant_type=client_credentials \
    -d scope=order_view "$base/oauth2/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
done >"$tmp/tokens"
[ "$(wc -l <"$tmp/tokens")" -eq "$TOKENS_N" ] || { echo "could not issue the tokens" >&2; exit 1; }

run() { # name, wrk args...
  local name=$1; shift
  local out rps p50 p99 non2xx
  out=$(TOKENS="$tmp/tokens" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  printf '%-22s %12s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  echo "$rps" >"$tmp/$name.rps"
}

echo "scopegate $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $CONNS connections, $DURATION each, key $ALG, $TOKENS_N tokens"
run healthz "$base/healthz"
run check "$base/authz/check" -s benches/load/check_mix.lua
awk -v a="$(cat "$tmp/check.rps")" -v b="$(cat "$tmp/healthz.rps")" \
  'BEGIN { printf "ratio check/healthz: %.2f\n", a / b }'
