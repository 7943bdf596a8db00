#!/usr/bin/env bash
# Benchmark keyward run's output redaction, in CPU seconds (user+sys,
# children included), which a shared machine distorts less than wall time.
#
#  1. the filter alone vs io.Copy (go run ./bench/redact), and the Go
#     benchmarks BenchmarkFilter / BenchmarkCat / BenchmarkNew;
#  2. end to end: `keyward run -- cat BIG` (filtered), `keyward run
#     --no-redact -- cat BIG` and plain `cat BIG`, each into a pipe read by
#     another cat (so the filter path is measured as users see it), with
#     50 secrets in a dotenv store.
#
#   bash bench/redact/run.sh        # BENCH_DIR defaults to /tmp/keyward-redact-bench
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${BENCH_DIR:-/tmp/keyward-redact-bench}
MB=${MB:-256}
mkdir -p "$W"
cd "$ROOT"

echo "## filter alone (CPU time)"
go run ./bench/redact -mb "$MB" -secrets 50
go run ./bench/redact -mb "$MB" -secrets 50 -hits 100 | sed -n '/^filter/s/^/with hits: /p'

echo
echo "## go test -bench (wall time per op; informative only on a shared machine)"
go test -run '^$' -bench 'Filter|Cat|New' -benchtime 2s ./internal/redact/ | grep -E '^Benchmark'

echo
echo "## end to end, $MB MiB through a pipe (user+sys seconds, children included)"
go build -o "$W/keyward" ./cmd/keyward
big="$W/big.log"
if [ ! -f "$big" ] || [ "$(stat -c %s "$big")" -ne $((MB << 20)) ]; then
	line='2026-11-27T10:00:00Z INFO request handled path=/api/v1/users status=200 duration=12ms user=alice'
	{ yes "$line" || true; } | head -c $((MB << 20)) > "$big"
fi
env_file="$W/bench.env"
: > "$env_file"
for i in $(seq -w 1 50); do
	printf 'SECRET_%s=%s\n' "$i" "$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')" >> "$env_file"
done
measure() { # label, command...
	local label=$1 best=""
	shift
	for _ in 1 2 3; do
		/usr/bin/time -f '%U %S' -o "$W/time" sh -c "$* | cat > /dev/null"
		s=$(awk '{printf "%.2f", $1 + $2}' "$W/time")
		if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; fi
	done
	awk -v l="$label" -v s="$best" -v mb="$MB" 'BEGIN{printf "%-34s %6.2f CPU-s  %6.0f MiB/CPU-s\n", l, s, (s > 0 ? mb / s : 0)}'
}
export KEYWARD_STORE="dotenv://$env_file"
measure "cat" cat "$big"
measure "keyward run --no-redact -- cat" "$W/keyward" run --no-redact -- cat "$big"
measure "keyward run -- cat (redacting)" "$W/keyward" run -- cat "$big"
