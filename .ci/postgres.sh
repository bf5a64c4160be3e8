#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on 127.0.0.1 only, run as a non-root
# user. `start` installs Debian's postgresql when missing, starts the cluster and
# prints the exports to eval (SHOTLIST_TEST_DATABASE_URL, SHOTLIST_PG_DIR); `stop DIR`
# stops it and removes it. The password comes from SHOTLIST_CI_PG_PASSWORD, else is
# generated; it is never printed except inside the exported URL.
set -euo pipefail
user=shotlist-ci
bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
case "${1:-}" in
start)
  if [ -z "$(bin_dir)" ] || [ ! -x "$(bin_dir)/initdb" ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(bin_dir)
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  dir=$(mktemp -d /tmp/shotlist-pg.XXXXXX)
  chown "$user" "$dir"
  pw=${SHOTLIST_CI_PG_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}
  port=${SHOTLIST_CI_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}
  (umask 077; printf '%s\n' "$pw" > "$dir/pw")
  chown "$user" "$dir/pw"
  runuser -u "$user" -- "$bin/initdb" -D "$dir/data" -U shotlist --pwfile="$dir/pw" -A scram-sha-256 >/dev/null
  rm -f "$dir/pw"
  runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-k $dir -h 127.0.0.1 -p $port -c max_connections=200" -w start >/dev/null
  echo "export SHOTLIST_TEST_DATABASE_URL=postgres://shotlist:$pw@127.0.0.1:$port/postgres"
  echo "export SHOTLIST_PG_DIR=$dir"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  bin=$(bin_dir)
  runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
