#!/usr/bin/env bash
# The dependency policy of deny.toml, checked by cargo-deny against Cargo.lock (no advisory
# database: this needs no network once the crates are fetched):
#   1. what the wasm links (gu1-kyc-web for wasm32, no dev-dependencies): permissive licences,
#      crates.io only, no crate in two versions;
#   2. the whole workspace (the client with its test dependencies, gu1-kyc-proxy): permissive
#      licences, crates.io only (a second version of a crate is allowed there).
# Prints "check-deps: N passed, M failed". Usage: scripts/check-deps.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
passed=0 failed=0
run() {
  local name=$1
  shift
  if cargo deny --locked "$@"; then
    echo "check-deps: $name: ok"
    passed=$((passed + 1))
  else
    echo "check-deps: $name: FAILED"
    failed=$((failed + 1))
  fi
}
run "the wasm's crates" --exclude-dev --target wasm32-unknown-unknown check licenses bans sources
run "the workspace (client and proxy)" --workspace check --allow duplicate licenses bans sources
echo "check-deps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
