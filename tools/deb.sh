#!/usr/bin/env bash
# make deb: builds the Debian packages logship and logship-broker with
# dpkg-buildpackage from packaging/debian/, then runs lintian on them.
#   tools/deb.sh              -> build/deb/*.deb, build/deb/lintian.txt
# The source tree (tracked and untracked-but-not-ignored files) is copied to
# build/deb/src with its timestamps, packaging/debian/ becomes its debian/,
# and objects go to build/deb/obj, kept between runs: a rebuild only compiles
# what changed. Exit status: non-zero if the build fails or lintian reports
# an error (warnings are printed and kept in lintian.txt; docs/install.md
# explains the ones that remain).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/deb"
src="$out/src"
mkdir -p "$out"
rm -rf "$src" "$out"/*.deb "$out"/*.ddeb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"

cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    grep -zv -e '^build' -e '^run/' -e '^debian/' |
    while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$src" -xf -
else
  tar --exclude=./build --exclude=./build-* --exclude=./run --exclude=./.git -cf - . |
    tar -C "$src" -xf -
fi
cp -a packaging/debian "$src/debian"

jobs=$(nproc 2>/dev/null || echo 1); ((jobs > 2)) && jobs=2
cd "$src"
export LOGSHIP_DEB_OBJ="$out/obj"
export DEB_BUILD_OPTIONS="nocheck parallel=$jobs${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
echo "deb: dpkg-buildpackage in $src (objects in $LOGSHIP_DEB_OBJ)"
if ! dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  echo "deb: dpkg-buildpackage failed; full log: $out/build.log" >&2
  exit 1
fi
cd "$out"
ls -1 "$out"/*.deb
# lintian on the .changes checks the binary packages and the upload as a whole.
changes=$(ls "$out"/*.changes)
set +e
lintian --display-info --no-tag-display-limit "$changes" >"$out/lintian.txt" 2>&1
lrc=$?
set -e
cat "$out/lintian.txt"
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
echo "deb: lintian: $errors error(s), $warnings warning(s) (exit $lrc); $out/lintian.txt"
[[ $errors -eq 0 ]]
