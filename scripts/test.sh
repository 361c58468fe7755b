#!/usr/bin/env bash
# Runs every suite: native unit and property tests (client and proxy), the browser and leak
# suites in headless Chromium, headless Firefox and WebKit (WebKitGTK under xvfb) against the
# simulator over HTTP, the package build checks, the npm pack tarball as the ecosystem checks it,
# the end-to-end suites against the proxy serving the demo pages, and fresh apps (Vite, webpack,
# Next.js, React, Vue, Svelte, Angular) on the tarballs; also the proxy's tests outside cargo
# (tokens minted with jose and PyJWT, proxy/openapi.yaml linted; two proxies sharing Redis).
# Prints each section's time.
# Installs what is missing first (scripts/setup.sh). Usage: scripts/test.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
# Each section's wall time, printed at the end (what CI spends where).
timings=() section_name="" section_start=$SECONDS
section() {
  [ -z "$section_name" ] || timings+=("$(printf '%5ds  %s' $((SECONDS - section_start)) "$section_name")")
  section_name=$1 section_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

section "setup: what is missing gets installed"
bash scripts/setup.sh

logs="$root/target/test-logs"
mkdir -p "$logs"
passed=0 failed=0
tally() { # adds the counts of every "test result:" line in a log
  local p f
  p=$(grep -o 'test result: [A-Za-z]*\. [0-9]* passed' "$1" | awk '{s+=$4} END {print s+0}')
  f=$(grep -o '[0-9]* failed' "$1" | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)) failed=$((failed + f))
}
node_tally() { # adds the counts of a node --test spec log; a log without them counts as a failure
  local p f
  p=$(grep -Eo '^ℹ pass [0-9]+' "$1" | awk '{s+=$3} END {print s+0}')
  f=$(grep -Eo '^ℹ fail [0-9]+' "$1" | awk '{s+=$3} END {print s+0}')
  grep -qE '^ℹ pass [0-9]+' "$1" || { echo "$2 did not report"; f=$((f + 1)); }
  passed=$((passed + p)) failed=$((failed + f))
}

section "native unit tests (client, proxy) and property tests"
PROPTEST_CASES=${PROPTEST_CASES:-2000} cargo test --workspace 2>&1 | tee "$logs/native.log"
tally "$logs/native.log"

section "simulator"
cargo build -p gu1-kyc-proxy --quiet
# Fixed ports stay below 32768, out of Linux's ephemeral range (32768-60999): a port in that
# range can be held for a moment as the source port of any outgoing connection (the browsers',
# the drivers'), and a listener started then fails with EADDRINUSE.
proxy=127.0.0.1:${GU1_SIM_PORT:-27871}
hosted=127.0.0.1:${GU1_HOSTED_PORT:-27872}
start_simulator "$proxy" "$hosted" "$logs/simulator.log"
export GU1_SIM_URL="http://$proxy"

section "proxy: tokens minted by Node (jose) and Python (PyJWT) against upstream-mode proxies; openapi.yaml linted"
bash proxy/tests/external.sh "$root/target/debug/gu1-kyc-proxy" "http://$proxy" "${GU1_EXTERNAL_PORT:-27873}" 2>&1 | tee "$logs/proxy-external.log" || true
# Not anchored, and a missing line does not stop the script: it counts as a failure below. (A
# run's log once had the line glued to the output before it, and grep's no-match ended CI.)
p=$(grep -Eo 'proxy-external: [0-9]+ passed' "$logs/proxy-external.log" | awk '{print $2}' || true)
f=$(grep -Eo 'proxy-external: [0-9]+ passed, [0-9]+ failed' "$logs/proxy-external.log" | awk '{print $4}' || true)
[ -n "$p" ] || { echo "the proxy's external tests did not report"; p=0 f=1; }
passed=$((passed + p)) failed=$((failed + f))

section "proxy-multi: two upstream-mode proxies sharing a real Redis (wake-ups, rate limit, outage)"
bash proxy/tests/multi.sh "$root/target/debug/gu1-kyc-proxy" "${GU1_MULTI_PORT:-27890}" 2>&1 | tee "$logs/proxy-multi.log" || true
# Not anchored, and a missing line does not stop the script: it counts as a failure below. (A
# run's log once had the line glued to the output before it, and grep's no-match ended CI.)
p=$(grep -Eo 'proxy-multi: [0-9]+ passed' "$logs/proxy-multi.log" | awk '{print $2}' || true)
f=$(grep -Eo 'proxy-multi: [0-9]+ passed, [0-9]+ failed' "$logs/proxy-multi.log" | awk '{print $4}' || true)
[ -n "$p" ] || { echo "the proxy's multi-instance tests did not report"; p=0 f=1; }
passed=$((passed + p)) failed=$((failed + f))

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=600
# The runner's page is cross-origin isolated by default (COEP require-corp), which blocks a
# hosted page that does not opt in; integrators' pages are not, so neither is the test page.
export WASM_BINDGEN_TEST_NO_ORIGIN_ISOLATION=1

# Runs a command in a process group of its own and stops whatever is left of the group after it:
# WebKitWebDriver's browser and xvfb-run's X server are not reaped when their parent is killed.
in_group() {
  local pid rc=0
  setsid "$@" &
  pid=$!
  wait "$pid" || rc=$?
  kill -- "-$pid" 2>/dev/null || true
  return "$rc"
}

for browser in chromium firefox webkit; do
  case $browser in
    chromium) driver=(env CHROMEDRIVER=/usr/bin/chromedriver) ;;
    firefox) driver=(env GECKODRIVER="$(command -v geckodriver)") ;;
    # WebKitWebDriver needs a display; wasm-bindgen-test-runner starts it with --port=N.
    webkit) driver=(xvfb-run -a env SAFARIDRIVER=/usr/bin/WebKitWebDriver) ;;
  esac
  section "browser suites: $browser"
  in_group "${driver[@]}" cargo test --target wasm32-unknown-unknown --test browser 2>&1 | tee "$logs/$browser.log"
  tally "$logs/$browser.log"
  section "leak suite: $browser"
  in_group "${driver[@]}" cargo test --target wasm32-unknown-unknown --test leaks -- --nocapture 2>&1 | tee "$logs/$browser-leaks.log"
  tally "$logs/$browser-leaks.log"
  grep -o 'leaks: .*' "$logs/$browser-leaks.log" | sed "s/^/[$browser] /" || true
done

section "package build"
bash scripts/build.sh
node scripts/check-package.mjs && passed=$((passed + 1)) || failed=$((failed + 1))

section "the package as integrators get it: the npm pack tarball, publint, attw, fresh TypeScript, plain Node"
rm -rf target/pack && mkdir -p target/pack
(cd pkg && npm pack --silent --pack-destination ../target/pack >/dev/null)
mv target/pack/gu1-kyc-web-*.tgz target/pack/gu1-kyc-web.tgz
tar -xzf target/pack/gu1-kyc-web.tgz -C target/pack # target/pack/package/: what the demo serves
export GU1_TARBALL="$root/target/pack/gu1-kyc-web.tgz"
node --test --test-reporter=spec tests/package/ 2>&1 | tee "$logs/package.log" || true
node_tally "$logs/package.log" "the package suite"

section "end-to-end: demo pages against the proxy, the package from the tarball"
GU1_PACKAGE="$GU1_TARBALL" bash scripts/build-www.sh
demo=127.0.0.1:${GU1_DEMO_TEST_PORT:-27881}
SIM_PID_UNIT=$SIM_PID
start_simulator "$demo" "127.0.0.1:${GU1_DEMO_TEST_HOSTED_PORT:-27882}" "$logs/demo-proxy.log" --www www --pkg target/pack/package
trap 'kill $SIM_PID $SIM_PID_UNIT 2>/dev/null || true' EXIT
GU1_DEMO_URL="http://$demo" node --test --test-reporter=spec tests/e2e/ 2>&1 | tee "$logs/e2e.log" || true
node_tally "$logs/e2e.log" "end-to-end suite"

section "gu1-kyc-react (packages/react), built against the tarball and packed"
rm -rf packages/react/node_modules/gu1-kyc-web packages/react/dist && mkdir -p packages/react/node_modules/gu1-kyc-web
tar -xzf "$GU1_TARBALL" --strip-components=1 -C packages/react/node_modules/gu1-kyc-web
(cd packages/react && npm run --silent build && npm pack --silent --pack-destination ../../target/pack >/dev/null)
mv target/pack/gu1-kyc-react-*.tgz target/pack/gu1-kyc-react.tgz
export GU1_REACT_TARBALL="$root/target/pack/gu1-kyc-react.tgz"
printf 'gu1-kyc-react dist/index.js: %d bytes, %d gzip; minified %d gzip\n' "$(stat -c %s packages/react/dist/index.js)" \
  "$(gzip -9c packages/react/dist/index.js | wc -c)" "$(esbuild --minify packages/react/dist/index.js | gzip -9 | wc -c)"

section "fresh apps on the tarballs: Vite, webpack 5, Next.js (App Router), React, Vue, Svelte, Angular, the drop-in from another origin"
# Both tarballs in one install (a later --no-save install would drop an earlier one). Not
# --offline: npm 11 then cannot check gu1-kyc-react's peer dependency on React (ERESOLVE, "Found:
# react@undefined") though React is installed; --prefer-offline takes what the cache has.
(cd tests/apps && npm install --no-audit --no-fund --loglevel=error --no-save --prefer-offline "$GU1_TARBALL" "$GU1_REACT_TARBALL" >/dev/null)
node --test --test-reporter=spec --test-concurrency=1 tests/apps/ 2>&1 | tee "$logs/apps.log" || true
node_tally "$logs/apps.log" "the apps suite"

section ""
echo
printf '%s\n' "${timings[@]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
