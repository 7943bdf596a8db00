#!/bin/sh
# bench/run/run.sh — how much time does `keyward run` add to a command?
#
# Creates a throwaway local store (age-encrypted, the embedded default) with
# 50 secrets, then times, with hyperfine when installed (else a Go timing
# loop, bench/run/main.go), in ONE hyperfine run per round, ROUNDS rounds
# in alternating order (times merged):
#   1. `true` executed bare, and `env true`;
#   2. `keyward --version` (the binary's start-up alone);
#   3. `keyward run -- true` (decrypts the store, injects all 50 secrets,
#      audit on: the default);
#   4. the same through env(1) with KEYWARD_AUDIT=off (compared with `env true`);
#   5. the floors (bench/run/floor, CGO_ENABLED=0): a Go hello world, a
#      cobra root answering --version, the same root with every library the
#      default keyward links (their package init, no keyward code), a Go
#      parent that runs `true` and waits, and the run essentials (cobra and
#      age only: decrypt an age file of the same 50 values, append one
#      audit record fsynced while `true` starts, wait);
#   6. `keyward run --no-redact -- true`, to show the share of the default
#      redaction of the child's output (two pipes and their readers);
#   7. `sops exec-env FILE true` on the same 50 secrets in a sops-encrypted
#      dotenv file with the same age key, when sops is on PATH (or $SOPS);
# for two builds of keyward: `go build` as is (with a C compiler present Go
# links net's and os/user's cgo code: a dynamically linked binary) and
# CGO_ENABLED=0 (static: no dynamic loader, no libc start-up; the build
# README.md recommends). It prints a Markdown table: mean, median, min,
# ms added over bare `true` (median and min), and keyward's added time as a
# share of sops'.
#
# With BASE=REV (a git revision, e.g. the previous round's last commit),
# that revision's two builds are timed in the same run ("base:" rows), so a
# before/after comparison shares one machine state.
#
# Usage: [BASE=REV] [SOPS=PATH] bench/run/run.sh [RUNS] [ROUNDS]   (default 300 runs per command per round, 2 rounds)
# Run from the repository root. Nothing outside a temp dir is touched but
# BASE's git worktree (removed at the end).
set -eu

RUNS=${1:-300}
ROUNDS=${2:-2}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyward-bench-run.XXXXXX")
cleanup() {
	if [ -n "${BASE:-}" ] && [ -d "$WORK/base-src" ]; then git -C "$ROOT" worktree remove --force "$WORK/base-src" >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config" XDG_STATE_HOME="$WORK/state"
export KEYWARD_AUDIT_FILE="$WORK/state/audit.log"
unset KEYWARD_STORE SECRET_PROVIDER || true
mkdir -p "$HOME"

echo "building keyward…" >&2
(cd "$ROOT" && go build -o "$WORK/keyward" ./cmd/keyward && CGO_ENABLED=0 go build -o "$WORK/keyward-static" ./cmd/keyward)
if [ -n "${BASE:-}" ]; then
	echo "building keyward at $BASE…" >&2
	git -C "$ROOT" worktree add --detach "$WORK/base-src" "$BASE" >/dev/null 2>&1
	(cd "$WORK/base-src" && go build -o "$WORK/keyward-base" ./cmd/keyward && CGO_ENABLED=0 go build -o "$WORK/keyward-base-static" ./cmd/keyward)
	BASE_REV=$(git -C "$ROOT" rev-parse --short "$BASE")
fi
# The floors (bench/run/floor): what any static Go CLI pays here.
for f in hello cobra libs spawn essential; do (cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/floor-$f" ./bench/run/floor/$f); done
KWS="$WORK/keyward-static"
# The default binary links only the embedded providers; the remote ones
# are plugin programs (docs/plugins.md), not started by a local-store run.
KW="$WORK/keyward"
TRUE=$(command -v true)

cd "$WORK"
"$KW" init >/dev/null 2>&1
: > plain.env
i=1
while [ "$i" -le 50 ]; do
	v=$("$KW" generate --recipe urlsafe)
	printf '%s' "$v" | "$KW" set "BENCH_SECRET_$i" 2>/dev/null
	printf 'BENCH_SECRET_%s=%s\n' "$i" "$v" >> plain.env
	i=$((i + 1))
done
n=$("$KW" list | wc -l)
[ "$n" -eq 50 ] || { echo "expected 50 secrets, store has $n" >&2; exit 1; }
size=$(wc -c < keyward.age)
echo "store: 50 secrets, keyward.age is $size bytes" >&2

SOPS=${SOPS:-$(command -v sops || true)}
if [ -z "$SOPS" ] && [ -x "$(go env GOPATH)/bin/sops" ]; then SOPS="$(go env GOPATH)/bin/sops"; fi
if [ -n "$SOPS" ]; then
	recipient=$(sed -n 's/^# public key: //p' "$XDG_CONFIG_HOME/keyward/identity.txt")
	export SOPS_AGE_KEY_FILE="$XDG_CONFIG_HOME/keyward/identity.txt"
	"$SOPS" encrypt --age "$recipient" --input-type dotenv --output-type dotenv plain.env > "$WORK/secrets.enc.env"
	# sanity: sops sees the same 50 values
	m=$("$SOPS" exec-env "$WORK/secrets.enc.env" 'env' | grep -c '^BENCH_SECRET_')
	[ "$m" -eq 50 ] || { echo "sops exposed $m secrets, want 50" >&2; exit 1; }
fi
# The run-essentials floor reads the same 50 values from a plain age file.
"$WORK/floor-essential" seal "$XDG_CONFIG_HOME/keyward/identity.txt" < plain.env > "$WORK/plain.env.age"
m=$("$WORK/floor-essential" run "$XDG_CONFIG_HOME/keyward/identity.txt" "$WORK/plain.env.age" "$WORK/floor-audit.log" -- sh -c 'env | grep -c "^BENCH_SECRET_"')
[ "$m" -eq 50 ] || { echo "the essentials floor exposed $m secrets, want 50" >&2; exit 1; }
rm -f plain.env

# The child really receives the secrets.
got=$("$KW" run -- sh -c 'env | grep -c "^BENCH_SECRET_"')
[ "$got" -eq 50 ] || { echo "keyward run exposed $got secrets, want 50" >&2; exit 1; }

echo "timing $RUNS runs per command…" >&2
# timeit OUT.json NAME::COMMAND... : hyperfine if installed, else the Go loop.
timeit() {
	out=$1
	shift
	if command -v hyperfine >/dev/null 2>&1; then
		for a in "$@"; do
			set -- "$@" --command-name "${a%%::*}" "${a#*::}"
			shift
		done
		hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$out" "$@" >&2
	else
		(cd "$ROOT" && go run ./bench/run time -n "$RUNS" -warmup 20 -o "$out" -- "$@")
	fi
}
if command -v hyperfine >/dev/null 2>&1; then
	timer="hyperfine $(hyperfine --version | cut -d' ' -f2) (-N: no shell; 20 warm-up runs)"
else
	timer="Go timing loop (bench/run/main.go; commands interleaved; 20 warm-up runs)"
fi

ENV=$(command -v env)
set -- "true (bare)::$TRUE" "env true::$ENV $TRUE" \
	"keyward --version::$KW --version" "keyward run -- true::$KW run -- $TRUE" \
	"keyward run -- true (KEYWARD_AUDIT=off, via env)::$ENV KEYWARD_AUDIT=off $KW run -- $TRUE" \
	"CGO_ENABLED=0 keyward --version::$KWS --version" "CGO_ENABLED=0 keyward run -- true::$KWS run -- $TRUE" \
	"CGO_ENABLED=0 keyward run -- true (KEYWARD_AUDIT=off, via env)::$ENV KEYWARD_AUDIT=off $KWS run -- $TRUE" \
	"CGO_ENABLED=0 keyward run --no-redact -- true::$KWS run --no-redact -- $TRUE" \
	"floor: Go hello world::$WORK/floor-hello" "floor: cobra --version::$WORK/floor-cobra --version" \
	"floor: cobra + keyward's libraries --version::$WORK/floor-libs --version" \
	"floor: Go parent runs true::$WORK/floor-spawn $TRUE" \
	"floor: run essentials (age, audit fsync, spawn)::$WORK/floor-essential run $XDG_CONFIG_HOME/keyward/identity.txt $WORK/plain.env.age $WORK/floor-audit.log -- $TRUE"
if [ -n "${BASE:-}" ]; then
	set -- "$@" "base $BASE_REV: keyward --version::$WORK/keyward-base --version" \
		"base $BASE_REV: keyward run -- true::$WORK/keyward-base run -- $TRUE" \
		"base $BASE_REV: CGO_ENABLED=0 keyward --version::$WORK/keyward-base-static --version" \
		"base $BASE_REV: CGO_ENABLED=0 keyward run -- true::$WORK/keyward-base-static run -- $TRUE"
fi
if [ -n "$SOPS" ]; then
	set -- "$@" "sops exec-env FILE true::$SOPS exec-env $WORK/secrets.enc.env $TRUE"
fi
# The audit log is on by default (3 records per run, one fsync in parallel
# with the child's start); the KEYWARD_AUDIT=off rows show its share.
round=1
files=
while [ "$round" -le "$ROUNDS" ]; do
	timeit "$WORK/r$round.json" "$@"
	files="$files $WORK/r$round.json"
	# next round in the opposite order
	rev=
	for a in "$@"; do rev="$a
$rev"; done
	old_ifs=$IFS; IFS='
'
	# shellcheck disable=SC2086
	set -- $rev
	IFS=$old_ifs
	round=$((round + 1))
done
echo
echo "keyward $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(go version | cut -d' ' -f3), $(uname -sm), $(nproc) CPUs; $timer; store $size bytes, 50 secrets"
[ -n "$SOPS" ] && echo "sops: $("$SOPS" --version 2>/dev/null | head -1)"
echo
# shellcheck disable=SC2086
(cd "$ROOT" && go run ./bench/run report $files)
echo
echo "sizes: keyward $(wc -c < "$KW") bytes, CGO_ENABLED=0 $(wc -c < "$KWS") bytes"
