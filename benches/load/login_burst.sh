#!/usr/bin/env bash
# Memory under sign-in bursts: a release scopegate with the quickstart policy gets bursts of
# parallel password grants (each an argon2id verification, 19 MiB of argon2 memory), and its
# resident memory is read from outside, from /proc/PID/status (VmRSS now, VmHWM the peak).
#
#   benches/load/login_burst.sh                       # default hash_workers, bursts 6 16 64
#   HASH_WORKERS=16 benches/load/login_burst.sh
#   BIN=/path/to/other/scopegate benches/load/login_burst.sh   # another build, same bursts
set -euo pipefail
cd "$(dirname "$0")/../.."

BURSTS=${BURSTS:-"6 16 64 64"}
BIN=${BIN:-./target/release/scopegate}
[ "$BIN" = ./target/release/scopegate ] && cargo build --release -q -p scopegate-server

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cp examples/quickstart/policy.toml "$tmp/"
{
  printf '[storage]\npolicy_file = "policy.toml"\ndata_dir = "data"\n[log]\nlevel = "warn"\n'
  printf '[tokens]\nhash_queue = 512\n'
  [ -n "${HASH_WORKERS:-}" ] && printf 'hash_workers = %s\n' "$HASH_WORKERS"
} > "$tmp/scopegate.toml"
"$BIN" serve --config "$tmp/scopegate.toml" --listen 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^scopegate listening on //p' "$tmp/out")
[ -n "$base" ] || { echo "server did not start:"; cat "$tmp/err"; exit 1; }

mem() { awk -v k="$1:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
grant() {
  curl -s -o /dev/null -w '%{http_code}\n' -u shopping-app:shopping-secret \
    -d grant_type=password -d username=alex -d password=alex123 "$base/oauth2/token"
}
export -f grant
export base

echo "scopegate at $BIN, $(nproc) cores, hash_workers ${HASH_WORKERS:-default}"
printf '%-14s %8s %8s %s\n' "after" "VmRSS" "VmHWM" "answers"
printf '%-14s %6s MB %5s MB\n' "start" "$(mem VmRSS)" "$(mem VmHWM)"
for n in $BURSTS; do
  codes=$(seq "$n" | xargs -P "$n" -I{} bash -c grant | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
  printf '%-14s %6s MB %5s MB  %s\n' "burst of $n" "$(mem VmRSS)" "$(mem VmHWM)" "$codes"
done
