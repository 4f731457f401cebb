#!/usr/bin/env bash
# Re-create src/fangpin/web/static/vendor/echarts/ from the npm registry, reproducibly:
# `npm pack echarts@VERSION` → check the tarball's sha256 against the pinned value → extract the minified build
# and its licence files. The result is committed (the web app never loads anything from a CDN).
# Usage: bash scripts/vendor_echarts.sh          (then `git diff --stat` should show no change)
set -euo pipefail
VERSION=5.6.0
TARBALL_SHA256=e1b82487dd7f8d9f0438eec1f1433051148e0095ac7a15d4db890afda45cf610
HERE="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$HERE/src/fangpin/web/static/vendor/echarts"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack "echarts@$VERSION" --silent >/dev/null)
got="$(sha256sum "$TMP/echarts-$VERSION.tgz" | cut -d' ' -f1)"
if [ "$got" != "$TARBALL_SHA256" ]; then
  echo "echarts-$VERSION.tgz: sha256 $got does not match the pinned $TARBALL_SHA256" >&2
  exit 1
fi
tar -xzf "$TMP/echarts-$VERSION.tgz" -C "$TMP" package/dist/echarts.min.js package/LICENSE package/NOTICE \
    package/licenses/LICENSE-d3
mkdir -p "$OUT"
cp "$TMP/package/dist/echarts.min.js" "$OUT/echarts.min.js"
cp "$TMP/package/LICENSE" "$OUT/LICENSE"
cp "$TMP/package/NOTICE" "$OUT/NOTICE"
cp "$TMP/package/licenses/LICENSE-d3" "$OUT/LICENSE-d3"
echo "echarts $VERSION (npm tarball sha256 $TARBALL_SHA256)" > "$OUT/VERSION"
sha256sum "$OUT/echarts.min.js" | cut -d' ' -f1 >> "$OUT/VERSION"
echo "vendored echarts $VERSION into $OUT"
