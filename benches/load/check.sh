#!/usr/bin/env bash
# Load harness: /authz/check with a realistic token mix against the trivial /healthz endpoint of
# the same server, in the same run, with wrk on the same machine. Prints both throughputs,
# p50/p99 latency and their ratio.
#
#   benches/load/check.sh                     # 300 tokens, 64 connections, 10 s each
#   TOKENS_N=50 CONNS=128 benches/load/check.sh
#   THREADS=1 ALG=RS256 benches/load/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
TOKENS_N=${TOKENS_N:-300}
source benches/load/common.sh

# A few hundred distinct access tokens (inventory-service holds order_view through its role).
for _ in $(seq "$TOKENS_N"); do
  curl -s -w '\n' -u inventory-service:inventory-secret -d grant_type=client_credentials \
    -d scope=order_view "$base/oauth2/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
done >"$tmp/tokens"
[ "$(wc -l <"$tmp/tokens")" -eq "$TOKENS_N" ] || { echo "could not issue the tokens" >&2; exit 1; }
export TOKENS="$tmp/tokens"

echo "scopegate $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $CONNS connections, $DURATION each, key $ALG, $TOKENS_N tokens"
run healthz "$base/healthz"
run check -s benches/load/check_mix.lua "$base/authz/check"
ratio check healthz
