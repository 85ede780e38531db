#!/usr/bin/env bash
# Redraws every docs/*.dot as the SVG beside it (Graphviz `dot`, Debian's `graphviz`), stamping the
# SVG with the SHA-256 of its source so that scripts/check-docs.py can tell a stale picture without
# relying on file times (a clone sets them all to the checkout's time).
#   scripts/render-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dot >/dev/null || { echo "render-docs: needs Graphviz (apt-get install graphviz)" >&2; exit 1; }
for source in docs/*.dot; do
  target="${source%.dot}.svg"
  digest=$(sha256sum "$source" | cut -d' ' -f1)
  # The stamp goes after the XML declaration, where a comment is allowed.
  dot -Tsvg "$source" | sed "1a <!-- source: $(basename "$source") sha256:$digest -->" > "$target.tmp"
  mv "$target.tmp" "$target"
  echo "render-docs: $target"
done
