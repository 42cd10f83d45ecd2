#!/usr/bin/env bash
# docs/configuration.md is generated from the key declarations
# (build/logship --doc-config); this fails when the two differ, so the
# reference can never drift from the code. Regenerate with:
#   build/logship --doc-config > docs/configuration.md
# Also: the shipped config (conf.d/logship.yaml) passes --check.
set -u
root=${LOGSHIP_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${LOGSHIP_BUILD:-$root/build}/logship
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if "$bin" --doc-config >"$tmp" && diff -u "$root/docs/configuration.md" "$tmp" >/dev/null; then
  echo "ok - docs/configuration.md is what build/logship --doc-config generates"
else
  echo "not ok - docs/configuration.md differs from build/logship --doc-config (regenerate it)"
  diff -u "$root/docs/configuration.md" "$tmp" | head -40 | sed 's/^/# /'
fi
for m in generate stdin file stdout parse grep modify throttle; do
  if grep -q "^### \`type: $m\`" "$root/docs/configuration.md"; then
    echo "ok - docs/configuration.md documents module $m"
  else
    echo "not ok - docs/configuration.md lacks module $m"
  fi
done
if out=$(env -u LOGSHIP_DATA_DIR -u LOGSHIP_HTTP -u LOGSHIP_LOG_LEVEL "$bin" --check -c "$root/conf.d/logship.yaml" 2>&1) &&
   grep -q "listen: 127.0.0.1:2020" <<<"$out"; then
  echo "ok - the shipped conf.d/logship.yaml is valid, status endpoint on 127.0.0.1:2020"
else
  echo "not ok - the shipped conf.d/logship.yaml does not pass --check"
  sed 's/^/# /' <<<"$out" | head -5
fi
