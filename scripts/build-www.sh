#!/usr/bin/env bash
# Builds the npm-import demo page with Vite from the built package (run scripts/build.sh first).
# GU1_PACKAGE installs another copy of the package instead of pkg/ (scripts/test.sh: its tarball).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root/www/npm"
if [ -n "${GU1_PACKAGE:-}" ]; then
  [ -d node_modules/vite ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
  npm install --no-audit --no-fund --loglevel=error --no-save "$GU1_PACKAGE" >/dev/null
elif [ ! -d node_modules/vite ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  # The package is linked from pkg/; refresh the link in case pkg/ was rebuilt.
  npm install --no-audit --no-fund --loglevel=error --no-save ../../pkg >/dev/null
fi
npm run --silent build
