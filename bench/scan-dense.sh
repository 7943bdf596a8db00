#!/usr/bin/env bash
# Benchmark `keyward scan` against gitleaks v8 on a secret-dense repository:
# a clone of gitleaks itself, whose tests and rule definitions hold
# hundreds of fake credentials (issue 17, item 6).
#
#   git clone https://github.com/gitleaks/gitleaks /tmp/gitleaks-repo
#   bash bench/scan-dense.sh /tmp/gitleaks-repo [RUNS]
#
# Both tools use their built-in rules: gitleaks is given its default
# config file explicitly and an empty ignore directory, so the repository's
# own .gitleaks.toml (which allowlists its test files and rule sources) and
# .gitleaksignore (944 fingerprints) do not apply; keyward runs with
# --no-managed. Tree: `keyward scan --no-ignore DIR` vs `gitleaks dir DIR` on
# a `git archive` export of HEAD. History: `keyward scan --history` vs
# `gitleaks git --log-opts=--all`. Each command runs RUNS times (default 3);
# the table gives the median CPU seconds (user+sys, children included, from
# /usr/bin/time -v), MB of input per CPU second and the number of findings.
# Set GITLEAKS (and GITLEAKS_RE2 for the -tags gore2regex build) to use
# existing binaries.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPO=${1:?usage: scan-dense.sh REPO [RUNS]}
RUNS=${2:-3}
W=${BENCH_DIR:-/tmp/keyward-scan-dense}
VER=${GITLEAKS_VERSION:-v8.30.1}
rm -rf "$W/tree" "$W/out" "$W/noignore"
mkdir -p "$W/out" "$W/bin" "$W/bin-re2" "$W/tree" "$W/noignore"

(cd "$ROOT" && go build -o "$W/bin/keyward" ./cmd/keyward)
GL=${GITLEAKS:-$W/bin/gitleaks}
[ -x "$GL" ] || GOBIN="$W/bin" GOFLAGS=-mod=mod go install "github.com/zricethezav/gitleaks/v8@$VER"
GL_RE2=${GITLEAKS_RE2:-$W/bin-re2/gitleaks}
[ -x "$GL_RE2" ] || GOBIN="$W/bin-re2" GOFLAGS=-mod=mod go install -tags gore2regex "github.com/zricethezav/gitleaks/v8@$VER" || true
(cd "$ROOT" && GOFLAGS=-mod=mod go mod download "github.com/zricethezav/gitleaks/v8@$VER")
CFG=$(go env GOMODCACHE)/github.com/zricethezav/gitleaks/v8@$VER/config/gitleaks.toml

git -C "$REPO" archive HEAD | tar -x -C "$W/tree"
tree_bytes=$(find "$W/tree" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')
hist_bytes=$(git -C "$REPO" rev-list --all --objects | awk '{print $1}' | git -C "$REPO" cat-file --batch-check='%(objecttype) %(objectsize)' | awk '$1=="blob"{s+=$2} END{print s}')
commits=$(git -C "$REPO" rev-list --all | wc -l)

rows=()
run() { # run NAME BYTES REPORT CMD...
	local name=$1 bytes=$2 report=$3; shift 3
	local cpus=()
	for i in $(seq "$RUNS"); do
		/usr/bin/time -v -o "$W/out/time" "$@" >/dev/null 2>"$W/out/stderr" || true
		cpus+=("$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$W/out/time")")
	done
	local med all n
	med=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
	all=$(IFS=/; echo "${cpus[*]}")
	n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])) or []))' "$report")
	rows+=("| $name | $med ($all) | $(awk -v b="$bytes" -v c="$med" 'BEGIN{printf "%.1f", b/1e6/c}') | $n |")
}

KW="$W/bin/keyward"
run "keyward tree" "$tree_bytes" "$W/out/kw-tree.json" sh -c "'$KW' scan --no-managed --no-ignore --json '$W/tree' > '$W/out/kw-tree.json'"
run "keyward history" "$hist_bytes" "$W/out/kw-hist.json" sh -c "'$KW' scan --no-managed --history --json '$REPO' > '$W/out/kw-hist.json'"
for b in "$GL" "$GL_RE2"; do
	[ -x "$b" ] || continue
	label=gitleaks
	[ "$b" = "$GL_RE2" ] && label="gitleaks (gore2regex)"
	run "$label tree" "$tree_bytes" "$W/out/gl-tree.json" "$b" dir "$W/tree" -c "$CFG" -i "$W/noignore" --no-banner --log-level error --exit-code 0 --report-format json --report-path "$W/out/gl-tree.json"
	run "$label history" "$hist_bytes" "$W/out/gl-hist.json" "$b" git "$REPO" -c "$CFG" -i "$W/noignore" --no-banner --log-level error --exit-code 0 --log-opts=--all --report-format json --report-path "$W/out/gl-hist.json"
done

{
	echo "Repository: $(git -C "$REPO" describe --tags --always), $commits commits; tree $(awk -v b="$tree_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB, history $(awk -v b="$hist_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of distinct reachable blobs. gitleaks $VER. $(nproc) CPUs, $RUNS runs each."
	echo
	echo "| run | CPU s, median (all runs) | MB per CPU s | findings |"
	echo "|---|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
} | tee "$W/results.md"
