# shellcheck shell=bash
# A whole Storefleet on one machine, on loopback: Postgres and Redis (scripts/services.sh), kube-sim or
# a real cluster, the gateway and any number of workers, each a process whose log and PID live under
# $STACK_DIR. Sourced by scripts/run.sh, e2e.sh, chaos.sh, bench-scale.sh and browser-test.sh.
#
#   stack_init DIR [BIN_DIR]     where state, logs and PIDs go; BIN_DIR holds the built executables
#   stack_services               start Postgres and Redis; exports DATABASE_URL, REDIS_URL
#   stack_sim [kube-sim args]    start kube-sim; exports KUBECONFIG, SIM_URL, SIM_TOKEN, SIM_CA
#   stack_gateway [PORT]         start the gateway; exports GATEWAY_URL, ADMIN_TOKEN
#   stack_worker NAME [ID]       start (or restart) worker NAME, with WORKER_ID ID (default NAME)
#   stack_worker_env NAME K=V... settings for worker NAME alone, applied at its every (re)start
#   stack_kill NAME [SIGNAL]     kill a process and everything it started (a pod's processes die with it)
#   stack_stop                   stop every process, then the servers
#   stack_platform_identities    the chart's RBAC and admission policy in kube-sim; workers and the
#                                gateway then run as its service accounts
#   stack_simulated_cluster      Postgres, Redis, kube-sim (quick timing), the platform identities and
#                                the helm stand-in
#   sim_api METHOD PATH [BODY]   an admin call to kube-sim
# Settings for the processes come from the environment (STACK_WORKER_ENV adds "K=V" words for workers,
# after which stack_worker_env's words for one worker come, overriding them).

STACK_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

stack_init() {
  STACK_DIR=$1
  STACK_BIN=${2:-$STACK_REPO/.build/debug}
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/pids"
  chmod 755 "$STACK_DIR"
  STACK_KEEP_SERVICES=${STACK_KEEP_SERVICES:-0}
  export STACK_DIR STACK_BIN
}

stack_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stack_random_token() { # 40 characters from the OS CSPRNG, after the API's token prefix
  python3 -c 'import secrets; print("sfk_" + secrets.token_urlsafe(30))'
}

stack_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stack_services() {
  DATABASE_URL="$("$STACK_REPO/scripts/services.sh" postgres start "$STACK_DIR/postgres")"
  REDIS_URL="$("$STACK_REPO/scripts/services.sh" redis start "$STACK_DIR/redis")"
  export DATABASE_URL REDIS_URL
}

# Starts a process in the background with its output in logs/NAME.log; its PID in pids/NAME.
stack_spawn() {
  local name=$1
  shift
  "$@" >>"$STACK_DIR/logs/$name.log" 2>&1 &
  echo $! >"$STACK_DIR/pids/$name"
}

stack_pid() { cat "$STACK_DIR/pids/$1" 2>/dev/null || true; }

stack_alive() {
  local pid
  pid=$(stack_pid "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Waits until FILE contains PATTERN, or fails naming the log to read.
stack_wait_for() {
  local name=$1 pattern=$2 seconds=${3:-60} waited=0
  until grep -q "$pattern" "$STACK_DIR/logs/$name.log" 2>/dev/null; do
    if ! stack_alive "$name"; then
      echo "stack: $name exited; the end of its log:" >&2
      tail -n 20 "$STACK_DIR/logs/$name.log" >&2
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -ge $((seconds * 5)) ]; then
      echo "stack: $name did not say '$pattern' within ${seconds}s; see $STACK_DIR/logs/$name.log" >&2
      return 1
    fi
  done
}

stack_sim() {
  SIM_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  # A fresh log: the readiness line of an earlier run (kept in .data/ by run.sh) must not count.
  rm -f "$STACK_DIR/logs/kube-sim.log" "$STACK_DIR/logs/admission.log"
  # ValidatingAdmissionPolicies are evaluated by cel-python (scripts/install-tools.sh puts it in the
  # tools' venv); without it kube-sim refuses writes once a policy is stored, as failurePolicy Fail does.
  local evaluator=() python=$STACK_REPO/.tools/venv/bin/python
  if [ -x "$python" ] && "$python" -c 'import celpy' 2>/dev/null; then
    stack_spawn admission "$python" "$STACK_REPO/scripts/lib/vap.py" serve 0
    stack_wait_for admission '^[0-9]' 30
    evaluator=(--admission-evaluator "http://127.0.0.1:$(head -n 1 "$STACK_DIR/logs/admission.log")")
  fi
  # Field validation against the schemas of the version kube-sim reports, as kubernetes-validate ships them.
  local schemas=()
  for file in "$STACK_REPO"/.tools/venv/lib/python3*/site-packages/kubernetes_validate/kubernetes-json-schema/v1.35.0-local/_definitions.json; do
    [ -f "$file" ] && schemas=(--schemas "$file")
  done
  stack_spawn kube-sim "$STACK_BIN/kube-sim" --state-dir "$STACK_DIR/kube-sim" --token "$SIM_TOKEN" "${evaluator[@]}" "${schemas[@]}" "$@"
  stack_wait_for kube-sim "kube-sim ready" 60
  SIM_URL=$(cat "$STACK_DIR/kube-sim/url")
  SIM_CA="$STACK_DIR/kube-sim/ca.crt"
  KUBECONFIG="$STACK_DIR/kube-sim/kubeconfig"
  export SIM_TOKEN SIM_URL SIM_CA KUBECONFIG
}

# The platform's identities as charts/platform renders them (release sf, namespace storefleet): its
# ServiceAccounts, ClusterRoles, bindings and admission policy applied to kube-sim as its admin, and a
# token of each account in a kubeconfig of its own. Workers then run as the chart's worker account
# (STACK_WORKER_ENV gains KUBECONFIG and STORE_ROLE_BINDINGS) and the gateway as its gateway account;
# KUBECONFIG itself stays the admin's, for the scripts' own checks.
stack_platform_identities() {
  local helm=helm kubectl=kubectl account token
  [ -x "$STACK_REPO/.tools/bin/helm" ] && helm=$STACK_REPO/.tools/bin/helm
  [ -x "$STACK_REPO/.tools/bin/kubectl" ] && kubectl=$STACK_REPO/.tools/bin/kubectl
  local render=("$helm" template sf "$STACK_REPO/charts/platform" -n storefleet --set host=storefleet.example.com
                --set stores.domain=stores.example.com)
  { printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: storefleet\n---\n'
    "${render[@]}" --show-only templates/rbac.yaml; } | "$kubectl" apply -f - >/dev/null || return 1
  STORE_ROLE_BINDINGS=$("${render[@]}" --show-only templates/worker.yaml \
    | sed -n '/name: STORE_ROLE_BINDINGS/{n;s/.*value: "\(.*\)"/\1/p;}')
  [ -n "$STORE_ROLE_BINDINGS" ] || { echo "stack: the worker Deployment sets no STORE_ROLE_BINDINGS" >&2; return 1; }
  for account in worker gateway; do
    token=$("$kubectl" create token "sf-$account" -n storefleet --duration 24h) || return 1
    (umask 077 && sed "s/$SIM_TOKEN/$token/" "$KUBECONFIG" >"$STACK_DIR/kube-sim/$account.kubeconfig")
  done
  WORKER_KUBECONFIG=$STACK_DIR/kube-sim/worker.kubeconfig
  GATEWAY_KUBECONFIG=$STACK_DIR/kube-sim/gateway.kubeconfig
  STACK_WORKER_ENV="${STACK_WORKER_ENV:-} KUBECONFIG=$WORKER_KUBECONFIG STORE_ROLE_BINDINGS=$STORE_ROLE_BINDINGS"
  export STORE_ROLE_BINDINGS WORKER_KUBECONFIG GATEWAY_KUBECONFIG STACK_WORKER_ENV
}

sim_api() {
  local method=$1 path=$2 body=${3:-}
  local args=(-sS --fail-with-body --max-time 30 --cacert "$SIM_CA" -H "Authorization: Bearer $SIM_TOKEN" -X "$method")
  [ -z "$body" ] || args+=(-H "Content-Type: application/json" --data-binary "$body")
  curl "${args[@]}" "$SIM_URL$path"
}

stack_gateway() {
  local port=${1:-$(stack_free_port)}
  ADMIN_TOKEN=${ADMIN_TOKEN:-$(stack_random_token)}
  GATEWAY_URL="http://127.0.0.1:$port"
  export ADMIN_TOKEN GATEWAY_URL
  KUBECONFIG="${GATEWAY_KUBECONFIG:-${KUBECONFIG:-}}" BOOTSTRAP_ADMIN_TOKEN="$ADMIN_TOKEN" GATEWAY_HOST=127.0.0.1 GATEWAY_PORT="$port" \
    stack_spawn gateway "$STACK_BIN/storefleet-gateway"
  local waited=0
  until curl -sf --max-time 2 "$GATEWAY_URL/readyz" >/dev/null 2>&1; do
    if ! stack_alive gateway || [ "$waited" -ge 600 ]; then
      echo "stack: the gateway did not become ready; the end of its log:" >&2
      tail -n 20 "$STACK_DIR/logs/gateway.log" >&2
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

stack_worker() { # stack_worker NAME [WORKER_ID]: a restarted worker may take a new ID
  local name=$1 id=${2:-$1} own=()
  if [ -f "$STACK_DIR/env/$name" ]; then mapfile -t own <"$STACK_DIR/env/$name"; fi
  # shellcheck disable=SC2086 # STACK_WORKER_ENV is a list of K=V words on purpose
  stack_spawn "$name" env WORKER_ID="$id" WORKER_HTTP_PORT=0 ${STACK_WORKER_ENV:-} "${own[@]}" "$STACK_BIN/storefleet-worker"
}

# One worker's own settings, kept in a file so that whoever restarts it (chaos.sh's kill loop) need not
# know them: say, a DATABASE_URL through a proxy that can partition it.
stack_worker_env() { # stack_worker_env NAME K=V...
  local name=$1
  shift
  mkdir -p "$STACK_DIR/env"
  # The words may hold passwords (a DATABASE_URL): readable by the owner only.
  (umask 077 && printf '%s\n' "$@" >"$STACK_DIR/env/$name")
}

# Every descendant of a PID, deepest first. The worker runs helm in a process group of its own (so
# that a step timeout can kill helm and its children), so killing the worker's group would not reach it.
stack_descendants() {
  python3 - "$1" <<'PY'
import os, sys
parents = {}
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parents.setdefault(int(handle.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
        except OSError:
            pass
def walk(pid):
    for child in parents.get(pid, []):
        yield from walk(child)
        yield child
print(" ".join(str(p) for p in walk(int(sys.argv[1]))))
PY
}

# Kills a process and everything it started; STACK_KILLED lists the PIDs. With KILL the tree is frozen
# first (SIGSTOP) so that nothing it forks in between escapes.
stack_kill() {
  local name=$1 signal=${2:-KILL} pid tree previous=""
  pid=$(stack_pid "$name")
  export STACK_KILLED=""
  [ -n "$pid" ] || return 0
  if [ "$signal" = KILL ]; then
    kill -STOP "$pid" 2>/dev/null || true
    tree=$(stack_descendants "$pid")
    while [ "$tree" != "$previous" ]; do
      # shellcheck disable=SC2086
      [ -z "$tree" ] || kill -STOP $tree 2>/dev/null || true
      previous=$tree
      tree=$(stack_descendants "$pid")
    done
  else
    tree=$(stack_descendants "$pid")
  fi
  kill "-$signal" "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086
  [ -z "$tree" ] || kill "-$signal" $tree 2>/dev/null || true
  STACK_KILLED="$pid $tree"
  if [ "$signal" = KILL ]; then
    wait "$pid" 2>/dev/null || true
  fi
}

stack_stop() {
  local file name
  for file in "$STACK_DIR"/pids/*; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    stack_alive "$name" && stack_kill "$name" TERM
  done
  sleep 1
  for file in "$STACK_DIR"/pids/*; do
    [ -e "$file" ] || continue
    name=$(basename "$file")
    stack_alive "$name" && stack_kill "$name" KILL
    rm -f "$file"
  done
  if [ "$STACK_KEEP_SERVICES" != 1 ]; then
    "$STACK_REPO/scripts/services.sh" postgres stop "$STACK_DIR/postgres" >/dev/null 2>&1 || true
    "$STACK_REPO/scripts/services.sh" redis stop "$STACK_DIR/redis" >/dev/null 2>&1 || true
  fi
}

# An EXIT trap for a script that runs its own stack: on failure the end of the gateway's log, then
# everything stopped and the work folder removed (kept with KEEP_WORK=1).
stack_finish() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$STACK_DIR/logs/gateway.log" ]; then
    echo "the end of the gateway log:" >&2
    tail -n 30 "$STACK_DIR/logs/gateway.log" | cut -c1-2000 >&2
  fi
  stack_stop
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$STACK_DIR"
}

# Fails, showing them, when a process logged error or critical lines: what hostile or fuzzed clients
# do is theirs, and must not page anyone. stack_no_errors NAME WHAT
stack_no_errors() {
  if grep -a -E '^[^ ]+ (error|critical) ' "$STACK_DIR/logs/$1.log" | cut -c1-300 | head -5 | grep .; then
    echo "$2: $1 logged errors (above)" >&2
    return 1
  fi
}

# Postgres, Redis, kube-sim with quick timing and the helm stand-in rendering the real charts: the
# cluster side of the whole-system runs.
stack_simulated_cluster() {
  stack_services
  stack_sim --ready-delay 1 --job-delay 1 --namespace-delete-delay 0.5
  stack_platform_identities
  export HELM_BIN="$STACK_BIN/helm-sim" CHARTS_DIR="$STACK_REPO/charts"
}

# An authenticated API call to the gateway; prints the body, fails on HTTP errors.
api() {
  local method=$1 path=$2 body=${3:-} token=${API_TOKEN:-$ADMIN_TOKEN}
  local args=(-sS --fail-with-body --max-time 30 -H "Authorization: Bearer $token" -X "$method")
  [ -z "$body" ] || args+=(-H "Content-Type: application/json" --data-binary "$body")
  curl "${args[@]}" "$GATEWAY_URL$path"
}
