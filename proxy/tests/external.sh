#!/usr/bin/env bash
# The proxy's tests that run outside cargo, with tools from npm and PyPI (scripts/setup.sh
# installs them):
# - tokens minted by Node (jose) and Python (PyJWT), as integrators' backends would, checked
#   against three `gu1-kyc-proxy upstream` instances in front of a running simulator's gu1 API:
#   HS256 with a shared secret, EdDSA with a PEM public key, ES256 with a JWKS file (mint/);
# - proxy/openapi.yaml linted by openapi-spec-validator (test_openapi_lint.py).
# Usage: external.sh PROXY_BINARY SIMULATOR_URL FIRST_PORT   (uses FIRST_PORT .. FIRST_PORT+2)
# Prints the runners' output, then "proxy-external: N passed, M failed"; exits non-zero on any
# failure.
set -uo pipefail
tests=$(cd "$(dirname "$0")" && pwd)
here=$tests/mint
root=$(cd "$tests/../.." && pwd)
bin=$1 sim=$2 port=$3
keys="$tests/keys"
log="$root/target/test-logs"
mkdir -p "$log"

export GU1_SIM_URL=$sim
export GU1_MINT_SECRET=mint-tests-shared-secret-0123456789
export GU1_MINT_AUDIENCE=mint-tests-proxy
export GU1_MINT_HS256_URL=http://127.0.0.1:$port
export GU1_MINT_EDDSA_URL=http://127.0.0.1:$((port + 1))
export GU1_MINT_ES256_URL=http://127.0.0.1:$((port + 2))

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
start() { # name port flags...
  local name=$1 p=$2; shift 2
  GU1_API_KEY=sk_test_simulator "$bin" upstream --listen "127.0.0.1:$p" --api-base "$sim" \
    --audience "$GU1_MINT_AUDIENCE" "$@" >"$log/mint-proxy-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$p/health" >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log/mint-proxy-$name.log"; return 1; }
    sleep 0.1
  done
  echo "the $name proxy did not answer on port $p" >&2
  return 1
}
start hs256 "$port" --secret "$GU1_MINT_SECRET" || exit 1
start eddsa $((port + 1)) --algorithm EdDSA --public-key "$keys/ed25519-public.pem" || exit 1
start es256 $((port + 2)) --algorithm ES256 --jwks "$keys/es256.jwks.json" || exit 1

passed=0 failed=0
echo "-- Node (jose)"
node --test --test-reporter=spec "$here/mint.test.mjs" 2>&1 | tee "$log/mint-node.log"
p=$(grep -Eo '^ℹ pass [0-9]+' "$log/mint-node.log" | awk '{print $3}')
f=$(grep -Eo '^ℹ fail [0-9]+' "$log/mint-node.log" | awk '{print $3}')
[ -n "$p" ] || { echo "node's test runner did not report"; p=0 f=1; }
passed=$((passed + p)) failed=$((failed + ${f:-0}))

python="$root/target/proxy-venv/bin/python"
python_tests() { # name dir module
  echo "-- $1"
  (cd "$2" && "$python" -m unittest -v "$3" 2>&1) | tee "$log/$3.log"
  local ran bad
  ran=$(grep -Eo '^Ran [0-9]+ tests?' "$log/$3.log" | awk '{print $2}')
  bad=$(grep -Eo '^FAILED \(.*\)' "$log/$3.log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
  [ -n "$ran" ] || { echo "python's test runner did not report"; ran=0 bad=1; }
  passed=$((passed + ran - bad)) failed=$((failed + bad))
}
python_tests "Python (PyJWT)" "$here" test_mint
python_tests "proxy/openapi.yaml (openapi-spec-validator)" "$tests" test_openapi_lint

echo "proxy-external: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
