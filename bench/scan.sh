#!/usr/bin/env bash
# Benchmark `keyward scan` against gitleaks v8 on a reproducible corpus.
#
# No network is needed beyond the Go module proxy (to install gitleaks):
# the corpus is the Go standard library's source tree ($(go env GOROOT)/src)
# committed as a git repository of a few dozen commits, with fake secrets
# planted by bench/scan/plant (some only in deleted history, some base64-,
# hex-, URL- or JSON-encoded) and a list of what was planted.
#
# Measures, for the work tree and the full history: CPU seconds (user+sys,
# children included, from /usr/bin/time -v), MB of input per CPU second, peak
# RSS, recall on the planted list and findings where nothing was planted.
# Prints a markdown table (and writes it to $BENCH_DIR/results.md).
#
#   bash bench/scan.sh            # BENCH_DIR defaults to /tmp/keyward-scan-bench
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${BENCH_DIR:-/tmp/keyward-scan-bench}
GITLEAKS_VERSION=${GITLEAKS_VERSION:-latest}
rm -rf "$W/corpus" "$W/tree" "$W/out"
mkdir -p "$W/out" "$W/bin" "$W/bin-re2"

if [ ! -x /usr/bin/time ]; then
	apt-get install -y -q time >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi

echo "building keyward and gitleaks..." >&2
(cd "$ROOT" && go build -o "$W/bin/keyward" ./cmd/keyward)
[ -x "$W/bin/gitleaks" ] || GOBIN="$W/bin" GOFLAGS=-mod=mod go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
if [ ! -x "$W/bin-re2/gitleaks" ]; then
	GOBIN="$W/bin-re2" GOFLAGS=-mod=mod go install -tags gore2regex "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" ||
		echo "gitleaks -tags gore2regex did not build; skipping it" >&2
fi
GL_VERSION=$(cd "$ROOT" && go version -m "$W/bin/gitleaks" | awk '$1=="mod"{print $3}')

echo "building the corpus..." >&2
cp -r "$(go env GOROOT)/src" "$W/corpus"
(cd "$ROOT" && go run ./bench/scan/plant -dir "$W/corpus" -out "$W/planted.tsv" -env "$W/managed.env")
mkdir -p "$W/tree"
git -C "$W/corpus" archive HEAD | tar -x -C "$W/tree"
set -a; . "$W/managed.env"; set +a

tree_bytes=$(find "$W/tree" -type f -printf '%s\n' | awk '{s+=$1} END{print s}')
hist_bytes=$(git -C "$W/corpus" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' | awk '$1=="blob"{s+=$2} END{print s}')
commits=$(git -C "$W/corpus" rev-list --all | wc -l)

# measure NAME CMD... : runs CMD under /usr/bin/time -v; sets CPU and RSS.
measure() {
	local name=$1; shift
	/usr/bin/time -v -o "$W/out/$name.time" "$@" >"$W/out/$name.stdout" 2>"$W/out/$name.stderr" || true
	CPU=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$W/out/$name.time")
	RSS=$(awk -F': ' '/Maximum resident/{printf "%.0f", $2/1024}' "$W/out/$name.time")
}

rows=()
run() { # run NAME MODE TOOL BYTES REPORT STRIP CMD...
	local name=$1 mode=$2 tool=$3 bytes=$4 report=$5 strip=$6; shift 6
	echo "running $name..." >&2
	measure "$name" "$@"
	[ -s "$report" ] || echo "[]" >"$report"
	local score
	score=$(cd "$ROOT" && go run ./bench/scan/eval -planted "$W/planted.tsv" -mode "$mode" -tool "$tool" -strip "$strip" -missed "$report" 2>"$W/out/$name.eval")
	local rr rm other total
	IFS=$'\t' read -r rr rm other total <<<"$score"
	local mbs
	mbs=$(awk -v b="$bytes" -v c="$CPU" 'BEGIN{ if (c>0) printf "%.1f", b/1e6/c; else print "inf" }')
	rows+=("| $name | $CPU | $mbs | $RSS | $rr | $rm | $other | $total |")
}

KW="$W/bin/keyward"
STORE='env://?prefix=BENCH_'
run "keyward tree" tree keyward "$tree_bytes" "$W/out/kw-tree.json" "$W/tree" \
	sh -c "'$KW' scan --store '$STORE' --no-ignore --json '$W/tree' > '$W/out/kw-tree.json'"
run "keyward history" history keyward "$hist_bytes" "$W/out/kw-hist.json" "" \
	sh -c "'$KW' scan --store '$STORE' --history --json '$W/corpus' > '$W/out/kw-hist.json'"
for build in bin bin-re2; do
	GL="$W/$build/gitleaks"
	[ -x "$GL" ] || continue
	label=gitleaks
	[ "$build" = bin-re2 ] && label="gitleaks (gore2regex)"
	run "$label tree" tree gitleaks "$tree_bytes" "$W/out/gl-$build-tree.json" "$W/tree" \
		"$GL" dir "$W/tree" --no-banner --log-level error --exit-code 0 --report-format json --report-path "$W/out/gl-$build-tree.json"
	run "$label history" history gitleaks "$hist_bytes" "$W/out/gl-$build-hist.json" "" \
		"$GL" git "$W/corpus" --no-banner --log-level error --exit-code 0 --log-opts=--all --report-format json --report-path "$W/out/gl-$build-hist.json"
done

{
	echo "Corpus: Go $(go env GOVERSION) src, $commits commits, tree $(awk -v b="$tree_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB, history $(awk -v b="$hist_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of distinct blobs; $(grep -c $'\trule\t' "$W/planted.tsv") planted format secrets and $(grep -c $'\tmanaged\t' "$W/planted.tsv") planted managed values ($(grep -c $'\ttree\t' "$W/planted.tsv") in the tree, the rest only in deleted history). gitleaks $GL_VERSION. $(nproc) CPUs."
	echo
	echo "| run | CPU s | MB per CPU s | peak RSS MB | recall, format rules | recall, managed values | non-planted findings (distinct path:line) | findings |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
} | tee "$W/results.md"
