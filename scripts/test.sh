#!/usr/bin/env bash
# The README's test command (`make test`) runs this: the whole suite on SQLite, then the database
# tests again on a real PostgreSQL server that this script starts and always stops.
set -euo pipefail
cd "$(dirname "$0")/.."
PGDIR=$(mktemp -d /tmp/fangpin-pg.XXXXXX)
PORT=${FANGPIN_TEST_PG_PORT:-55432}
cleanup() { bash scripts/pg.sh stop "$PGDIR" || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
export FANGPIN_TEST_PG_URL=$(bash scripts/pg.sh start "$PGDIR" "$PORT")
export FANGPIN_REQUIRE_PG=1
export FANGPIN_REQUIRE_BROWSER=1   # a missing Chromium fails the run instead of skipping the browser tests
mkdir -p test-artifacts
.venv/bin/pytest -q -n 2 --dist loadgroup -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
