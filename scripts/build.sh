#!/usr/bin/env bash
# Builds the npm package into pkg/ (wasm-pack, release, wasm-opt from tools/), adds the drop-in
# loader, and prints the sizes a page loads. Usage: scripts/build.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
# Release wasm: the standard library is rebuilt with the immediate-abort panic strategy, so no
# panic message, location or formatting machinery is linked (a panic would trap at once; the code
# does not panic by design). Without reference types, JavaScript values live in the glue's heap
# array rather than in a wasm table reached through a shim per import: measured smaller overall
# (docs/size.md). These are unstable flags, enabled on the pinned toolchain (rust-toolchain.toml) with
# RUSTC_BOOTSTRAP for this build only; the tests build with plain stable. A separate target
# directory keeps these artifacts from invalidating the test builds'.
release_rustflags="-Ctarget-feature=-reference-types,-multivalue -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none"
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$release_rustflags" CARGO_TARGET_DIR="$root/target/wasm-release" \
  wasm-pack --quiet build . --target web --release -- -Zbuild-std=std,panic_abort
# The wasm features the release wasm is built and optimised with (wasm-opt must be told; they are
# what the three engines the tests run support).
features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals)
# wasm-bindgen keeps every function a descriptor once took the address of in the function table;
# prune-table.mjs empties the slots nothing can call (js-sys's unused callback shims and task waker),
# then wasm-opt drops what they held (docs/size.md).
# -ocimfs=20: a function with one caller is inlined into it only when small (binaryen's default
# inlines every such function): 0.9 KB more raw, 255 B less gzip. Then -Oz, the control flow
# rebuilt (--flatten --rereloop) and -Oz again, to a fixed point. --low-memory-unused lets it
# fold constant offsets into loads and stores: Rust's wasm layout puts the 1 MiB stack below the
# data, so the lowest 1 KiB is reached only by a stack that has already overflowed.
node scripts/prune-table.mjs pkg/gu1_kyc_web_bg.wasm target/wasm-release/pruned.wat
wasm-opt target/wasm-release/pruned.wat --low-memory-unused -ocimfs=20 -Oz --flatten --rereloop -Oz --converge \
  --strip-debug --strip-producers --strip-target-features "${features[@]}" -o pkg/gu1_kyc_web_bg.wasm
# Shorter names on the JS/wasm boundary: binaryen renames the wasm's imports (one module "a") and
# exports, and minify-names.mjs applies its mapping to the glue, failing unless the two match both
# ways. `memory` keeps its name: pages read it from the exports object init() returns.
node scripts/minify-names.mjs pkg/gu1_kyc_web_bg.wasm pkg/gu1_kyc_web.js --keep memory \
  --dts pkg/gu1_kyc_web_bg.wasm.d.ts -- "${features[@]}"
# The wasm is final. Its SRI hash goes into the glue's init() fetch (scripts/integrity.mjs) and,
# below, into the drop-in's: each loads only the wasm it was built with, so a page that pins the
# script it loads (integrity.json, written by package.mjs) pins the wasm too.
wasm_integrity=$(node scripts/integrity.mjs pin pkg/gu1_kyc_web_bg.wasm pkg/gu1_kyc_web.js)
# The shipped JS is minified like the peers' dist files: the glue in place (same exports, same
# .d.ts), the drop-in loader from js/.
# The glue is bundled: the one inline JavaScript helper (driver.rs) joins it instead of being a
# further module to fetch.
esbuild --log-level=warning --bundle --minify --format=esm --allow-overwrite pkg/gu1_kyc_web.js --outfile=pkg/gu1_kyc_web.js
rm -rf pkg/snippets
# The drop-in is one classic script: the loader (js/gu1-kyc.js) with the glue bundled in, so a
# page fetches the script and the wasm, nothing else. It compiles the wasm itself and instantiates
# it with initSync(), so the glue's init() (and its default wasm URL, import.meta.url, which a
# classic script lacks) is left out of the bundle; the check below makes sure of it.
esbuild --log-level=warning --bundle --minify --define:GU1_WASM_INTEGRITY="\"$wasm_integrity\"" \
  --format=iife js/gu1-kyc.js --outfile=pkg/gu1-kyc.js
! grep -q 'import\.meta' pkg/gu1-kyc.js || { echo "build: the drop-in bundle reads import.meta" >&2; exit 1; }
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("pkg/package.json", "utf8"));
  p.files = p.files.filter((f) => f !== "snippets");
  if (!p.files.includes("gu1-kyc.js")) p.files.push("gu1-kyc.js");
  p.exports = { ".": { types: "./gu1_kyc_web.d.ts", default: "./gu1_kyc_web.js" },
                "./gu1-kyc.js": "./gu1-kyc.js", "./gu1_kyc_web_bg.wasm": "./gu1_kyc_web_bg.wasm",
                "./package.json": "./package.json" };
  fs.writeFileSync("pkg/package.json", JSON.stringify(p, null, 2) + "\n");
'
total=0
for f in pkg/gu1_kyc_web_bg.wasm pkg/gu1_kyc_web.js pkg/gu1-kyc.js; do
  gz=$(gzip -9c "$f" | wc -c)
  printf '%-28s %7d bytes  %6d gzip\n' "$f" "$(stat -c %s "$f")" "$gz"
  [ "$f" = pkg/gu1_kyc_web.js ] || total=$((total + gz))
done
# What a drop-in page loads: gu1-kyc.js (loader and glue) and the wasm. An npm page loads the
# glue (in its bundle) and the wasm instead.
printf '%-28s %22d gzip (budget 24000)\n' "drop-in page (script + wasm)" "$total"
node scripts/package.mjs
# The bills of materials, CycloneDX: the wasm's crates (cargo-cyclonedx, with the standard library
# and each crate's place in the wasm from the unit graph of the build above) and the package's
# files (npm sbom). scripts/sbom.mjs says what is in each.
RUSTFLAGS="$release_rustflags" node scripts/sbom.mjs
