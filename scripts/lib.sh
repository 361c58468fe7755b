# Shared by the scripts: paths, PATH, and starting/stopping the simulator.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Simulators started by this script, stopped when it exits; then $AT_EXIT runs, when set.
SIM_PIDS=()
at_exit() {
  [ ${#SIM_PIDS[@]} -eq 0 ] || kill "${SIM_PIDS[@]}" 2>/dev/null || true
  ${AT_EXIT:-:}
}
trap at_exit EXIT

# Starts `gu1-kyc-proxy simulate` on $1 (proxy) and $2 (hosted pages) in the background,
# waits until it answers, and stops it when the calling script exits.
start_simulator() {
  local proxy=$1 hosted=$2 log=${3:-$root/target/simulator.log}
  shift 3 || true
  "$root/target/debug/gu1-kyc-proxy" simulate --listen "$proxy" --hosted-listen "$hosted" "$@" >"$log" 2>&1 &
  SIM_PID=$!
  SIM_PIDS+=("$SIM_PID")
  for _ in $(seq 1 100); do
    if curl -sf "http://$proxy/health" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SIM_PID" 2>/dev/null; then cat "$log"; echo "simulator exited" >&2; return 1; fi
    sleep 0.1
  done
  echo "simulator did not answer on $proxy" >&2
  return 1
}
