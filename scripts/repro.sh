#!/usr/bin/env bash
# Reproducible bytes: builds the package twice, from two fresh clones of one commit in
# directories of different names and depths (each with its own target/ and Node tools, nothing
# shared but the toolchain and the download caches), then checks that every file of the two
# pkg/ and the two `npm pack` tarballs are byte for byte the same, and that no file names a
# path of the machine (the clone, the cargo home, the toolchain). Two whole release builds:
# about 8 minutes on 2 cores. Uncommitted changes are not part of it.
# Usage: scripts/repro.sh [COMMIT]   (default HEAD)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
commit=$(git rev-parse "${1:-HEAD}^{commit}")
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "repro: building $commit; the working tree's uncommitted changes are not in it"
work=$(mktemp -d "${TMPDIR:-/tmp}/gu1-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$SECONDS

build() { # clone-dir
  local dir=$1
  mkdir -p "$(dirname "$dir")"
  git clone --quiet --no-local --no-checkout "$root" "$dir"
  git -C "$dir" checkout --quiet --detach "$commit"
  (cd "$dir/tools" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
  # The clone's own tools come first on PATH (lib.sh, sourced by build.sh, puts them there).
  (cd "$dir" && bash scripts/build.sh >"$work/$(basename "$dir").log" 2>&1) || { cat "$work/$(basename "$dir").log"; return 1; }
  (cd "$dir/pkg" && npm pack --silent --pack-destination .. >/dev/null)
  echo "repro: built in $dir ($((SECONDS - start)) s so far)"
}
a="$work/a"
b="$work/second-directory/clone-b"
build "$a"
build "$b"

failed=0
files=$(cd "$a/pkg" && find . -type f | sort)
[ "$files" = "$(cd "$b/pkg" && find . -type f | sort)" ] || { echo "repro: the two pkg/ hold different files"; failed=1; }
for f in $files; do
  if ! cmp -s "$a/pkg/$f" "$b/pkg/$f"; then
    echo "repro: pkg/${f#./} differs"
    failed=1
  fi
done
cmp -s "$a"/gu1-kyc-web-*.tgz "$b"/gu1-kyc-web-*.tgz || { echo "repro: the npm pack tarballs differ"; failed=1; }
# Paths that would make the bytes depend on where the build ran, even if both builds here agree.
sysroot=$(rustc --print sysroot)
if leaks=$(grep -rlF -e "$work" -e "$HOME" -e "$sysroot" -e "${CARGO_HOME:-$HOME/.cargo}" "$a/pkg"); then
  echo "repro: files naming a path of this machine: $leaks"
  failed=1
fi
[ "$failed" -eq 0 ] || { echo "repro: NOT reproducible ($((SECONDS - start)) s)"; exit 1; }
echo "repro: $(echo "$files" | wc -l) files of pkg/ and the npm tarball identical in both builds of ${commit:0:12}"
(cd "$a/pkg" && sha256sum $files | sed 's|  \./|  pkg/|')
echo "repro: reproducible ($((SECONDS - start)) s)"
