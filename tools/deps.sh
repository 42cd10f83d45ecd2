#!/usr/bin/env bash
# Checks that every Debian package in packages.txt is installed. As root it
# installs what is missing (apt-get); otherwise it prints the exact apt-get line
# and fails, so that a build never half-works for lack of a library.
#   tools/deps.sh          check, install as root
#   tools/deps.sh --check  check only (exit 1 and print the line if missing)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$here/packages.txt")
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$st" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
line="apt-get install -y ${missing[*]}"
if [[ "${1:-}" != "--check" && $(id -u) -eq 0 ]]; then
  echo "deps: installing missing packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be absent on a fresh machine; update once, then install.
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
echo "deps: missing Debian packages. Install them with:" >&2
echo "  sudo $line" >&2
exit 1
