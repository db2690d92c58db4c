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
# 3. The check endpoint, every token presented once, with the server's CPU time measured around
#    the run (utime + stime of the process, in clock ticks) so the ceiling can also be taken for
#    the share of the machine the server actually got while wrk shared it.
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
cpu0=$(cpu); t0=$(date +%s.%N)
TOKENS="$tmp/tokens" run check_fresh -s benches/load/check_fresh.lua "$base/authz/check"
cpu1=$(cpu); t1=$(date +%s.%N)
ratio check_fresh verify
# verification per thread-second × the cores the server used = what verification alone allows
# on the server's share of the machine.
awk -v rps="$(cat "$tmp/check_fresh.rps")" -v verify="$(cat "$tmp/verify.rps")" \
    -v threads="$THREADS" -v ticks="$(( cpu1 - cpu0 ))" -v hz="$(getconf CLK_TCK)" \
    -v t0="$t0" -v t1="$t1" 'BEGIN {
  secs = t1 - t0
  cores = ticks / hz / secs
  ceiling = verify / threads * cores
  printf "server used %.2f cores; verification alone on %.2f cores: %.0f/s; ratio check_fresh/verify_on_server_share: %.2f\n", cores, cores, ceiling, rps / ceiling
}'
