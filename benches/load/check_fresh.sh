#!/usr/bin/env bash
# Load harness: /authz/check when every request carries a token the server has never seen (no
# verified-token cache hit possible), against the rate signature verification alone allows on
# the same machine, measured in the same run.
#
#   benches/load/check_fresh.sh                 # EdDSA, 64 connections, 5 s
#   ALG=ES256 benches/load/check_fresh.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-5s}
source benches/load/common.sh
cargo build --release -q -p scopegate-jwt --example verify_rate

echo "scopegate $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $CONNS connections, $DURATION, key $ALG"
# 1. A pool of fresh tokens, one file per wrk thread (issued twice as long as the check runs).
TOKENS_OUT="$tmp/tokens" wrk -t"$THREADS" -c"$CONNS" -d"$(( ${DURATION%s} * 2 ))s" \
  -s benches/load/collect_tokens.lua "$base/oauth2/token" >/dev/null
echo "issued $(cat "$tmp"/tokens.* | wc -l) fresh tokens"
curl -s "$base/oauth2/jwks" >"$tmp/jwks.json"
# 2. The ceiling: verification alone, one thread per core, on copies of the same tokens.
ceiling=$(./target/release/examples/verify_rate "$tmp/jwks.json" "$base" scopegate "$tmp"/tokens.* )
echo "$ceiling"
echo "$ceiling" | awk '{print $2}' >"$tmp/verify.rps"
# 3. The check endpoint, every token presented once.
TOKENS="$tmp/tokens" run check_fresh -s benches/load/check_fresh.lua "$base/authz/check"
ratio check_fresh verify
