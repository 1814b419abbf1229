#!/usr/bin/env bash
# with-postgres.sh CMD...: run CMD with TEST_POSTGRES_DSN pointing at a
# throwaway PostgreSQL on a free loopback port (fsync off), then stop it.
# When TEST_POSTGRES_DSN is already set, or no PostgreSQL 15 server binaries
# are installed, CMD runs as is.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [[ -n "${TEST_POSTGRES_DSN:-}" || ! -x "$PGBIN/initdb" ]]; then
  [[ -z "${TEST_POSTGRES_DSN:-}" ]] && echo "with-postgres: $PGBIN/initdb not found; PostgreSQL tests will be skipped" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/flint-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -U flint --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -k $dir" start >/dev/null
export TEST_POSTGRES_DSN="postgres://flint@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port" >&2
"$@"
