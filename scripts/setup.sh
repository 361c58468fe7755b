#!/usr/bin/env bash
# Installs, idempotently, everything the build, the tests and the demo need on a fresh machine:
# the wasm target and rust-src, wasm-bindgen-cli at the lockfile's version, wasm-pack, geckodriver,
# binaryen (wasm-opt) from npm, Chromium + ChromeDriver, Firefox ESR and WebKitGTK's WebDriver (with
# xvfb for its display), redis-server and promtool (the prometheus package) from Debian.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[setup] %s\n' "$*"; }

# The wasm-bindgen version the lockfile pins (the CLI must match it exactly).
bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock
}

# rust-toolchain.toml pins the version: a machine whose stable toolchain is that version gets it
# linked under the pinned name (no download); any other installs it. Asked outside the repository
# so the pin does not start an install first.
pinned=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
if ! (cd / && rustup toolchain list) | grep -q "^$pinned-"; then
  if [ "$(cd / && rustc +stable --version 2>/dev/null | awk '{print $2}')" = "$pinned" ]; then
    log "linking the stable toolchain as $pinned"
    (cd / && rustup toolchain link "$pinned" "$(rustc +stable --print sysroot)")
  else
    log "installing toolchain $pinned"
    (cd / && rustup toolchain install "$pinned" --profile minimal)
  fi
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || { log "adding wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }

# The release wasm rebuilds the standard library (scripts/build.sh: -Zbuild-std with the
# immediate-abort panic strategy), which needs the toolchain's own sources.
rustup component list --installed | grep -q '^rust-src' \
  || { log "adding rust-src"; rustup component add rust-src; }
for c in clippy rustfmt; do
  rustup component list --installed | grep -q "^$c" || { log "adding $c"; rustup component add "$c"; }
done

want=$(bindgen_version)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (have: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want" --locked --force
fi

command -v wasm-pack >/dev/null || { log "installing wasm-pack"; cargo install wasm-pack --version 0.15.1 --locked; }

# Supply-chain tools, pinned: cargo-deny checks the dependency policy (deny.toml,
# scripts/check-deps.sh); cargo-cyclonedx writes the wasm's bill of materials (scripts/sbom.mjs,
# run by scripts/build.sh). Each is installed when missing or at another version.
cargo_tool() { # crate version
  local have
  have=$(cargo "${1#cargo-}" --version 2>/dev/null | awk '{print $2}' || true)
  [ "$have" = "$2" ] || { log "installing $1 $2 (have: ${have:-none})"; cargo install "$1" --version "$2" --locked --force; }
}
cargo_tool cargo-deny 0.20.2
cargo_tool cargo-cyclonedx 0.5.9

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
command -v firefox-esr >/dev/null || command -v firefox >/dev/null || need_apt+=(firefox-esr)
# The proxy's tests run Python (PyJWT, openapi-spec-validator) in a venv.
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3 python3-venv)
# WebKit, Safari's engine: WebKitWebDriver drives WebKitGTK's MiniBrowser, which needs a display
# (xvfb-run). Without recommends it is about 207 MiB.
need_apt_lean=()
[ -x /usr/bin/WebKitWebDriver ] || need_apt_lean+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || need_apt_lean+=(xvfb)
# Redis for the proxy's multi-instance tests (proxy/tests/multi.sh starts its own on a loopback
# port; the package's service is not used).
command -v redis-server >/dev/null || need_apt_lean+=(redis-server)
# promtool checks the proxy's metrics exposition (proxy/tests/operations.rs and multi.sh).
command -v promtool >/dev/null || need_apt_lean+=(prometheus)
if [ $((${#need_apt[@]} + ${#need_apt_lean[@]})) -gt 0 ]; then
  log "apt-get install ${need_apt[*]} ${need_apt_lean[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  [ ${#need_apt[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  [ ${#need_apt_lean[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt_lean[@]}" >/dev/null
fi

command -v geckodriver >/dev/null || { log "installing geckodriver"; cargo install geckodriver --version 0.37.1 --locked; }

# Node tools (binaryen's wasm-opt, playwright-core) pinned in tools/package.json.
if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ tools/package.json -nt tools/node_modules/.stamp ]; then
  log "npm ci in tools/"
  (cd tools && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi
# The fresh applications the package is tested in (Vite, webpack, Next.js, React, Vue, Svelte,
# Angular): one install, pinned in tests/apps/package-lock.json, shared by all of them.
apps=tests/apps
if [ ! -d $apps/node_modules/next ] || [ $apps/package-lock.json -nt $apps/node_modules/.stamp ]; then
  log "npm ci in $apps/"
  (cd $apps && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi
# gu1-kyc-react's build tools (TypeScript, React's types), pinned in packages/react/package-lock.json.
react=packages/react
if [ ! -d $react/node_modules/typescript ] || [ $react/package-lock.json -nt $react/node_modules/.stamp ]; then
  log "npm ci in $react/"
  (cd $react && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi
# The proxy's tests outside cargo: jose (npm, pinned in proxy/tests/mint/package-lock.json), and
# PyJWT and openapi-spec-validator (PyPI, pinned in proxy/tests/requirements.txt, in a venv).
mint=proxy/tests/mint
if [ ! -d $mint/node_modules/jose ] || [ $mint/package-lock.json -nt $mint/node_modules/.stamp ]; then
  log "npm ci in $mint/"
  (cd $mint && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi
venv=target/proxy-venv
if [ ! -x $venv/bin/python ] || [ proxy/tests/requirements.txt -nt $venv/.stamp ]; then
  log "Python venv for the proxy's tests in $venv/"
  python3 -m venv $venv && $venv/bin/pip install -q -r proxy/tests/requirements.txt && touch $venv/.stamp
fi
log "ready"
