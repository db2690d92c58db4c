# Shared by the load harnesses: start a release scopegate with the quickstart policy on a free
# port, and run wrk printing throughput, p50/p99 and non-2xx count. Sourced, not run.
#
# Inputs (environment): CONNS, DURATION, THREADS, ALG. Sets: base (http://addr), tmp (a temp
# dir removed on exit).
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

# run NAME WRK-ARGS...: one wrk run, one line of figures; the req/s is kept in $tmp/NAME.rps.
run() {
  local name=$1; shift
  local out rps p50 p99 non2xx
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  printf '%-22s %12s req/s   p50 %9s   p99 %9s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  echo "$rps" >"$tmp/$name.rps"
}

# ratio A B: prints A's throughput over B's.
ratio() {
  awk -v a="$(cat "$tmp/$1.rps")" -v b="$(cat "$tmp/$2.rps")" -v n="$1/$2" \
    'BEGIN { printf "ratio %s: %.2f\n", n, a / b }'
}
