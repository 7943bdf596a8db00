#!/bin/sh
# bench/plugins.sh — what a command on a remote store pays for its provider:
# the start-up of that one plugin program (process start, the SDK's package
# init, the protocol's hello), measured per provider with hyperfine against
# bare `true`, plus each program's size. Nothing is contacted: hello needs
# no backend.
#
# Usage: bench/plugins.sh [RUNS]     (default 100; run from the repository root)
set -eu
RUNS=${1:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyward-bench-plugins.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
(cd "$ROOT" && go build -o "$WORK/" ./cmd/...)
printf '{"id":1,"method":"hello","params":{"protocol":1}}\n' > "$WORK/hello.json"
set -- --command-name "true (bare)" "true"
for s in vault awssm gcpsm azurekv k8s; do
	set -- "$@" --command-name "keyward-provider-$s hello" "$WORK/keyward-provider-$s < $WORK/hello.json"
done
hyperfine --warmup 10 --runs "$RUNS" --export-markdown "$WORK/plugins.md" "$@" >&2
cat "$WORK/plugins.md"
echo
echo "| program | size |"
echo "|---|---:|"
for f in keyward keyward-provider-vault keyward-provider-awssm keyward-provider-gcpsm keyward-provider-azurekv keyward-provider-k8s; do
	printf '| %s | %s MB |\n' "$f" "$(awk -v b="$(wc -c < "$WORK/$f")" 'BEGIN{printf "%.1f", b/1e6}')"
done
