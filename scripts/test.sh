#!/usr/bin/env bash
# Runs every suite: native unit and property tests (client and proxy), the browser and leak
# suites in headless Chromium, headless Firefox and WebKit (WebKitGTK under xvfb) against the
# simulator over HTTP, the package build checks, the npm pack tarball as the ecosystem checks it,
# the end-to-end suites against the proxy serving the demo pages, and fresh apps (Vite, webpack,
# Next.js, React, Vue, Svelte, Angular) on the tarballs; also the proxy's tests outside cargo
# (tokens minted with jose and PyJWT, proxy/openapi.yaml linted; two proxies sharing Redis).
# Prints each section's time.
# Installs what is missing first (scripts/setup.sh). Usage: scripts/test.sh
# One failure policy: every suite runs whatever an earlier one did, each one's tests are counted
# (a suite that exits non-zero without a counted failure counts as one failure), the summary line
# is always printed, and the exit status is non-zero when anything failed. A lint stage runs first.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
# Each section's wall time, printed at the end (what CI spends where).
timings=() section_name="" section_start=$SECONDS
section() {
  [ -z "$section_name" ] || timings+=("$(printf '%5ds  %s' $((SECONDS - section_start)) "$section_name")")
  section_name=$1 section_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

logs="$root/target/test-logs"
mkdir -p "$logs"
passed=0 failed=0 failing=()
summary() {
  section ""
  echo
  printf '%s\n' "${timings[@]}"
  [ ${#failing[@]} -eq 0 ] || printf 'failing: %s\n' "${failing[@]}"
  echo "summary: $passed passed, $failed failed"
}
AT_EXIT=summary
# Adds a suite's counts: `count NAME RC PASSED FAILED`. A non-zero exit with no failure counted
# (a build error, a crash, a missing report) counts as one.
count() {
  local name=$1 rc=$2 p=${3:-0} f=${4:-0}
  [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
  passed=$((passed + p)) failed=$((failed + f))
  [ "$f" -eq 0 ] || failing+=("$name ($f)")
}
# Runs `cmd...` with its output shown and kept in target/test-logs/LOG.log; sets $rc.
run() {
  local log=$1
  shift
  "$@" 2>&1 | tee "$logs/$log.log"
  rc=${PIPESTATUS[0]}
}
cargo_counts() { # the sums of a log's "test result:" lines
  grep -o 'test result: [A-Za-z]*\. [0-9]* passed; [0-9]* failed' "$1" | awk '{p+=$4; f+=$6} END {print p+0, f+0}'
}
node_counts() { # a node --test spec log's totals
  local p f
  p=$(grep -Eo '^ℹ pass [0-9]+' "$1" | awk '{s+=$3} END {print s+0}')
  f=$(grep -Eo '^ℹ fail [0-9]+' "$1" | awk '{s+=$3} END {print s+0}')
  grep -qE '^ℹ pass [0-9]+' "$1" || { echo "$1: no report" >&2; f=$((f + 1)); }
  echo "$p $f"
}
line_counts() { # "NAME: N passed, M failed" anywhere in a log (a missing line is a failure)
  local l
  l=$(grep -Eo "$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1)
  [ -n "$l" ] || { echo "0 1"; return; }
  echo "$l" | awk '{print $2, $4}'
}
# `suite NAME LOG COUNTER cmd...`: runs a suite and counts it.
suite() {
  local name=$1 log=$2 counter=$3
  shift 3
  run "$log" "$@"
  # shellcheck disable=SC2046
  count "$name" "$rc" $($counter "$logs/$log.log")
}
# `check NAME cmd...`: one pass or one failure.
check() {
  local name=$1
  shift
  local log=${name//[^A-Za-z0-9]/-}
  run "$log" "$@"
  if [ "$rc" -eq 0 ]; then count "$name" 0 1 0; else count "$name" "$rc" 0 1; fi
}

section "setup: what is missing gets installed"
check "setup" bash scripts/setup.sh

section "lint: rustfmt, clippy (native and wasm32, warnings denied), rustdoc (warnings denied), module graph"
check "cargo fmt --check" cargo fmt --all --check
check "clippy (native, both crates)" cargo clippy --workspace --all-targets --quiet -- -D warnings
check "clippy (wasm32)" cargo clippy -p gu1-kyc-web --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
check "rustdoc (both crates)" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
check "module graphs without circles" python3 scripts/module-graph.py src proxy/src

section "native unit tests (client, proxy) and property tests"
suite "native tests" native cargo_counts env PROPTEST_CASES="${PROPTEST_CASES:-2000}" cargo test --workspace

section "dependency policy (deny.toml): permissive licences, crates.io only, one version of each crate in the wasm"
check_deps() { line_counts "$1" check-deps; }
suite "dependency policy" deps check_deps bash scripts/check-deps.sh

section "simulator"
check "proxy build" cargo build -p gu1-kyc-proxy --quiet
# Fixed ports stay below 32768, out of Linux's ephemeral range (32768-60999): a port in that
# range can be held for a moment as the source port of any outgoing connection (the browsers',
# the drivers'), and a listener started then fails with EADDRINUSE.
proxy=127.0.0.1:${GU1_SIM_PORT:-27871}
hosted=127.0.0.1:${GU1_HOSTED_PORT:-27872}
# Started in this shell (not through `check`, whose pipeline is a subshell) so it is stopped at exit.
started() { local name=$1; shift; if "$@"; then count "$name" 0 1 0; else count "$name" 1 0 1; fi; }
started "simulator start" start_simulator "$proxy" "$hosted" "$logs/simulator.log"
export GU1_SIM_URL="http://$proxy"

# The proxy's suites outside cargo print "NAME: N passed, M failed" (read unanchored: a log once
# had the line glued to the output before it).
proxy_external() { line_counts "$1" proxy-external; }
proxy_multi() { line_counts "$1" proxy-multi; }

section "proxy: tokens minted by Node (jose) and Python (PyJWT) against upstream-mode proxies; openapi.yaml linted"
suite "proxy-external" proxy-external proxy_external \
  bash proxy/tests/external.sh "$root/target/debug/gu1-kyc-proxy" "http://$proxy" "${GU1_EXTERNAL_PORT:-27873}"

section "proxy-multi: two upstream-mode proxies sharing a real Redis (wake-ups, rate limit, outage)"
suite "proxy-multi" proxy-multi proxy_multi bash proxy/tests/multi.sh "$root/target/debug/gu1-kyc-proxy" "${GU1_MULTI_PORT:-27890}"

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
  suite "browser suites: $browser" "$browser" cargo_counts \
    in_group "${driver[@]}" cargo test --target wasm32-unknown-unknown --test browser
  section "leak suite: $browser"
  suite "leak suite: $browser" "$browser-leaks" cargo_counts \
    in_group "${driver[@]}" cargo test --target wasm32-unknown-unknown --test leaks -- --nocapture
  grep -o 'leaks: .*' "$logs/$browser-leaks.log" | sed "s/^/[$browser] /"
done

section "package build"
check "package build" bash scripts/build.sh
check "package checks" node scripts/check-package.mjs

section "the package as integrators get it: the npm pack tarball, publint, attw, fresh TypeScript, plain Node"
pack() {
  rm -rf target/pack && mkdir -p target/pack &&
    (cd pkg && npm pack --silent --pack-destination ../target/pack >/dev/null) &&
    mv target/pack/gu1-kyc-web-*.tgz target/pack/gu1-kyc-web.tgz &&
    tar -xzf target/pack/gu1-kyc-web.tgz -C target/pack # target/pack/package/: what the demo serves
}
check "npm pack" pack
export GU1_TARBALL="$root/target/pack/gu1-kyc-web.tgz"
suite "package suite" package node_counts node --test --test-reporter=spec tests/package/

section "end-to-end: demo pages against the proxy, the package from the tarball"
check "demo pages build" env GU1_PACKAGE="$GU1_TARBALL" bash scripts/build-www.sh
demo=127.0.0.1:${GU1_DEMO_TEST_PORT:-27881}
started "demo server start" start_simulator "$demo" "127.0.0.1:${GU1_DEMO_TEST_HOSTED_PORT:-27882}" "$logs/demo-proxy.log" --www www --pkg target/pack/package
suite "end-to-end suite" e2e node_counts env GU1_DEMO_URL="http://$demo" node --test --test-reporter=spec tests/e2e/

section "gu1-kyc-react (packages/react), built against the tarball and packed"
react() {
  rm -rf packages/react/node_modules/gu1-kyc-web packages/react/dist && mkdir -p packages/react/node_modules/gu1-kyc-web &&
    tar -xzf "$GU1_TARBALL" --strip-components=1 -C packages/react/node_modules/gu1-kyc-web &&
    (cd packages/react && npm run --silent build && npm pack --silent --pack-destination ../../target/pack >/dev/null) &&
    mv target/pack/gu1-kyc-react-*.tgz target/pack/gu1-kyc-react.tgz &&
    printf 'gu1-kyc-react dist/index.js: %d bytes, %d gzip; minified %d gzip\n' "$(stat -c %s packages/react/dist/index.js)" \
      "$(gzip -9c packages/react/dist/index.js | wc -c)" "$(esbuild --minify packages/react/dist/index.js | gzip -9 | wc -c)"
}
check "gu1-kyc-react build" react
export GU1_REACT_TARBALL="$root/target/pack/gu1-kyc-react.tgz"

section "fresh apps on the tarballs: Vite, webpack 5, Next.js (App Router), React, Vue, Svelte, Angular, the drop-in from another origin"
# Both tarballs in one install (a later --no-save install would drop an earlier one). Not
# --offline: npm 11 then cannot check gu1-kyc-react's peer dependency on React (ERESOLVE, "Found:
# react@undefined") though React is installed; --prefer-offline takes what the cache has.
apps_install() {
  cd tests/apps && npm install --no-audit --no-fund --loglevel=error --no-save --prefer-offline "$GU1_TARBALL" "$GU1_REACT_TARBALL" >/dev/null
}
check "apps install" apps_install
suite "apps suite" apps node_counts node --test --test-reporter=spec --test-concurrency=1 tests/apps/

[ "$failed" -eq 0 ]
