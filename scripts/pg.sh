#!/usr/bin/env bash
# Start/stop a throw-away PostgreSQL server for the tests (loopback only, temporary data directory).
# Usage: scripts/pg.sh start DIR PORT   → prints the database URL
#        scripts/pg.sh stop DIR
set -euo pipefail
cmd=$1; dir=$2; port=${3:-55432}
bindir=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")
run_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    run_as "$bindir/initdb" -D "$dir/data" -U fangpin -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || run_as "$bindir/initdb" -D "$dir/data" -U fangpin -A trust -E UTF8 >"$dir/initdb.log" 2>&1
    run_as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    run_as "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fangpin fangpin_test
    echo "postgresql://fangpin@127.0.0.1:$port/fangpin_test"
    ;;
  stop)
    [ -d "$dir/data" ] && run_as "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
esac
