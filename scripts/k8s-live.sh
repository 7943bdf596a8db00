#!/usr/bin/env bash
# The live Kubernetes tier: a real kube-apiserver backed by a real etcd, on
# loopback, and keyward's `-tags live` Kubernetes tests against it.
#
#   scripts/k8s-live.sh            build once (cached), start, test, stop
#   scripts/k8s-live.sh build      only build the binaries into the cache
#   scripts/k8s-live.sh shell      start the servers and open a shell with
#                                  KUBECONFIG set (exit the shell to stop)
#
# Binaries come from the Go module proxy, not from a release download: a
# throw-away wrapper module (generated in a temp dir, never committed)
# requires k8s.io/kubernetes at $K8S_VERSION and replaces each of its
# staging/ modules with the published k8s.io/* module of the same release
# (v0.X.Y for v1.X.Y). etcd's main package is go.etcd.io/etcd/server/v3, at
# the version k8s.io/kubernetes itself requires. The result lands in
#   ${KEYWARD_CACHE:-$HOME/.cache/keyward}/k8s-$K8S_VERSION/
# and is reused while it exists: a cold build takes tens of minutes on two
# cores, a warm run only starts the servers (seconds).
#
# The servers listen on 127.0.0.1 at random free ports with certificates
# generated for this run (openssl), a fresh service-account signing key,
# client-certificate authentication and RBAC authorization. Everything
# except the binary cache lives in a temp dir removed on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
K8S_VERSION=${K8S_VERSION:-1.37.2}
cache=${KEYWARD_CACHE:-$HOME/.cache/keyward}/k8s-$K8S_VERSION
bin=$cache/bin
mode=${1:-test}

log() { printf 'k8s-live: %s %s\n' "$(date -u +%T)" "$*" >&2; }

build() {
  if [[ -x $bin/kube-apiserver && -x $bin/etcd && -x $bin/kubectl ]]; then
    return 0
  fi
  local w start
  start=$(date +%s)
  w=$(mktemp -d)
  log "building kube-apiserver, kubectl and etcd for v$K8S_VERSION into $bin (cold: tens of minutes)"
  local minor=${K8S_VERSION#*.}
  local staging_version=v0.$minor
  (
    cd "$w"
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
    go mod init keyward.invalid/k8s-live-build >/dev/null 2>&1
    go mod edit -go=1.26
    go mod edit -require=k8s.io/kubernetes@v$K8S_VERSION
    local kmod
    kmod=$(go mod download -json k8s.io/kubernetes@v$K8S_VERSION | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
    # Every `k8s.io/x => ./staging/src/k8s.io/x` replace of the release
    # becomes `k8s.io/x => k8s.io/x v0.MINOR.PATCH` here.
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#\1#p' "$kmod" |
      while read -r m; do go mod edit -replace="$m=$m@$staging_version"; done
    cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
    local etcdv
    etcdv=$(sed -n 's#^\s*go.etcd.io/etcd/server/v3 \(v[^ ]*\).*#\1#p' "$kmod")
    go mod edit -require=go.etcd.io/etcd/server/v3@"$etcdv"
    go mod tidy -e >/dev/null
    mkdir -p "$bin.tmp"
    go build -trimpath -ldflags='-s -w' -o "$bin.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
    go build -trimpath -ldflags='-s -w' -o "$bin.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
    go build -trimpath -ldflags='-s -w' -o "$bin.tmp/etcd" go.etcd.io/etcd/server/v3
  ) || { rm -rf "$w" "$bin.tmp"; log "build failed"; exit 1; }
  rm -rf "$w" "$bin"
  mv "$bin.tmp" "$bin"
  log "built in $(($(date +%s) - start))s"
}

case $mode in
test | build | shell) ;;
*) log "usage: scripts/k8s-live.sh [test|build|shell]"; exit 2 ;;
esac
build
[[ $mode == build ]] && exit 0

# ---- start etcd and kube-apiserver on loopback ----
work=$(mktemp -d)
pids=()
cleanup() {
  local p i
  # The API server first (with etcd gone it retries it for minutes), then
  # etcd; each gets 15s to stop before SIGKILL: they are throw-away.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill "$p" 2>/dev/null || continue
    for _ in {1..15}; do kill -0 "$p" 2>/dev/null || break; sleep 1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
helper() { (cd "$repo" && GOFLAGS= go run ./scripts/k8s-live/helper.go "$@"); }
read -r etcd_port etcd_peer api_port <<<"$(helper ports 3 | tr '\n' ' ')"
helper pki "$work/pki"
pki=$work/pki

"$bin/etcd" --name keyward-live --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "keyward-live=http://127.0.0.1:$etcd_peer" \
  --unsafe-no-fsync --log-level warn >"$work/etcd.log" 2>&1 &
pids+=($!)

"$bin/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --cert-dir "$work/certs" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.0.0.0/24 \
  --endpoint-reconciler-type none \
  --authorization-mode RBAC \
  --profiling=false \
  >"$work/apiserver.log" 2>&1 &
pids+=($!)

kubeconfig() { # kubeconfig FILE USER
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: live
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$pki/$2.crt", client-key: "$pki/$2.key"}
contexts:
- name: live
  context: {cluster: live, user: $2, namespace: keyward-live}
current-context: live
KC
}
kubeconfig "$work/admin.kubeconfig" admin
kubeconfig "$work/user.kubeconfig" user
admin() { "$bin/kubectl" --kubeconfig "$work/admin.kubeconfig" "$@"; }

start=$(date +%s)
until admin get --raw /readyz >/dev/null 2>&1; do
  if (($(date +%s) - start > 180)); then
    log "kube-apiserver did not become ready in 180s; last log lines:"
    tail -n 20 "$work/apiserver.log" >&2
    tail -n 5 "$work/etcd.log" >&2
    exit 1
  fi
  for p in "${pids[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then
      log "a server exited; last log lines:"
      tail -n 20 "$work/etcd.log" "$work/apiserver.log" >&2
      exit 1
    fi
  done
  sleep 1
done
log "kube-apiserver ready on https://127.0.0.1:$api_port after $(($(date +%s) - start))s"

# The tests run as keyward-live, whom RBAC allows Secrets in one namespace
# and nothing else (what a team would grant keyward).
admin apply -f - >/dev/null <<'EOF2'
apiVersion: v1
kind: Namespace
metadata: {name: keyward-live}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: keyward-secrets, namespace: keyward-live}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, patch, delete]
# TestLiveSync (sync kubernetes --rollout) makes a Deployment, reads and
# patches its pod template, and removes it again.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, create, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: keyward-secrets, namespace: keyward-live}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: keyward-secrets}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: keyward-live}
EOF2
if "$bin/kubectl" --kubeconfig "$work/user.kubeconfig" get secrets -n default >/dev/null 2>&1; then
  log "RBAC is not in force: keyward-live can read Secrets outside its namespace"
  exit 1
fi

export KUBECONFIG=$work/user.kubeconfig KEYWARD_LIVE_K8S_NAMESPACE=keyward-live
export PATH=$bin:$PATH
if [[ $mode == shell ]]; then
  log "KUBECONFIG=$KUBECONFIG (namespace keyward-live); exit the shell to stop the servers"
  "${SHELL:-bash}" -i || true
  exit 0
fi

# Every package with a `//go:build live` test that talks to Kubernetes.
cd "$repo"
mapfile -t pkgs < <(grep -rlE '^//go:build .*\blive\b' --include='*_test.go' provider/k8s internal/cli export cmd 2>/dev/null |
  xargs -r grep -lE 'KUBECONFIG|KEYWARD_LIVE_K8S' | xargs -r -n1 dirname | sort -u | sed 's#^#./#')
log "running the live tests in: ${pkgs[*]}"
# -v: the log shows each case as it ran (PASS, or SKIP with its reason).
go test -tags live -count=1 -v -run "${KEYWARD_LIVE_RUN:-Live}" "${pkgs[@]}" 2>&1 |
  grep -vE '^(=== (RUN|PAUSE|CONT)|PASS$)'
