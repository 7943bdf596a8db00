#!/usr/bin/env bash
# keyward's main job on the embedded default, start to finish, in a scratch
# directory: create an identity and an age-encrypted store, generate and
# store a secret, and run a child process that receives it. Safe to re-run;
# it touches nothing outside the scratch directory.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building keyward…"
(cd "$repo" && go build -o "$work/keyward" ./cmd/keyward)
export PATH="$work:$PATH" XDG_CONFIG_HOME="$work/config" XDG_STATE_HOME="$work/state"
cd "$work"
run() { printf '\n$ %s\n' "$*"; "$@"; }
run keyward init
run keyward set JWT_SECRET_KEY --generate urlsafe
printf 'postgresql://app:%s@db.internal:5432/app' "$(keyward generate --recipe alnum --bytes 24)" > db-url.txt
run keyward set DATABASE_URL --from-file db-url.txt
rm db-url.txt
run keyward list
run keyward run -- sh -c 'echo "child sees JWT_SECRET_KEY (${#JWT_SECRET_KEY} chars); printing DATABASE_URL: $DATABASE_URL"'
echo "(the child had the real value; keyward redacted it from the child's output)"
run keyward history JWT_SECRET_KEY
run keyward audit tail -n 5
echo
echo "done: the store was $work/keyward.age (age-encrypted; safe to commit), removed on exit"
