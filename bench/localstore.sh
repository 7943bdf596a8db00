#!/usr/bin/env bash
# Local store v2 measurements (bench/README.md, "Local store v2"):
# CPU of `keyward get` of one key from a 10- and a 10,000-secret store,
# `keyward copy` of 10,000 secrets into a new store, and 300 sets of one key.
# Usage: bash bench/localstore.sh [RUNS]   (needs python3 for rusage)
set -euo pipefail
runs=${1:-25}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kw=$work/keyward
(cd "$root" && go build -o "$kw" ./cmd/keyward)
# A private identity for keyward only (set after the build: go uses HOME).
export HOME=$work XDG_CONFIG_HOME=$work/.config
cd "$work"
"$kw" init >/dev/null
python3 -c "
for i in range(10000): print(f'SECRET_{i:05d}=bench-value-{i:05d}-0123456789abcdef0123456789abcdef')" > big.env
head -10 big.env > small.env
"$kw" copy --from dotenv://small.env --to local://s10.age >/dev/null 2>&1
/usr/bin/time -f "copy of 10,000 secrets into a new store: %e s elapsed, %U s user, %S s sys, %M KB max RSS" \
	"$kw" copy --from dotenv://big.env --to local://s10000.age >/dev/null
cat > cpu.py <<'PY'
import os, sys, statistics
n=int(sys.argv[1]); label=sys.argv[2]; args=sys.argv[3:]
cpu=[]; rss=[]
for _ in range(n):
    pid=os.fork()
    if pid==0:
        fd=os.open(os.devnull, os.O_WRONLY); os.dup2(fd,1); os.dup2(fd,2); os.execv(args[0], args)
    _, status, ru = os.wait4(pid, 0)
    assert status==0, status
    cpu.append((ru.ru_utime+ru.ru_stime)*1000); rss.append(ru.ru_maxrss/1024)
print(f"{label}: CPU median {statistics.median(cpu):.1f} ms, max RSS median {statistics.median(rss):.0f} MB ({n} runs)")
PY
for s in s10 s10000; do python3 cpu.py "$runs" "get 1 key of $s.age" "$kw" get SECRET_00005 --store local://$s.age; done
for i in $(seq 300); do echo "value-$i" | "$kw" set ROTATED --store local://sets.age >/dev/null 2>&1; done
echo "300 sets of one key keep $("$kw" history ROTATED --store local://sets.age 2>/dev/null | wc -l) versions"
"$kw" history ROTATED --store local://sets.age 2>&1 >/dev/null
