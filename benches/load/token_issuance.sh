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
source benches/load/common.sh

echo "scopegate $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $CONNS connections, $DURATION each, key $ALG"
# Warm the secret cache (the first request verifies the argon2id hash once).
curl -s -o /dev/null -u inventory-service:inventory-secret -d grant_type=client_credentials "$base/oauth2/token"
run healthz "$base/healthz"
run client_credentials -s benches/load/client_credentials.lua "$base/oauth2/token"
ratio client_credentials healthz
