#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on 127.0.0.1 only, run as a non-root
# user. `start` installs Debian's postgresql when missing, starts the cluster and
# prints the exports to eval (SHOTLIST_TEST_DATABASE_URL, SHOTLIST_PG_DIR, and
# SHOTLIST_TEST_DATABASE_CA: the CA of its TLS certificate); `stop DIR`
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
  # TLS for the sslmode tests: a throwaway CA and a certificate for 127.0.0.1; the role
  # shotlist_tls may log in over TLS only (so a login of it proves TLS was spoken).
  command -v openssl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=shotlist-ci-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  rm -f "$dir/ca.key" "$dir/server.csr" "$dir/server.ext"
  chown "$user" "$dir/server.key" "$dir/server.crt" && chmod 600 "$dir/server.key" && chmod 644 "$dir/ca.crt"
  hba="$dir/data/pg_hba.conf"
  { printf 'hostssl all shotlist_tls 127.0.0.1/32 scram-sha-256\nhostnossl all shotlist_tls 127.0.0.1/32 reject\n'; cat "$hba"; } > "$hba.new"
  mv "$hba.new" "$hba" && chown "$user" "$hba"
  ssl="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -o "-k $dir -h 127.0.0.1 -p $port -c max_connections=200 $ssl" -w start >/dev/null
  echo "export SHOTLIST_TEST_DATABASE_URL=postgres://shotlist:$pw@127.0.0.1:$port/postgres"
  echo "export SHOTLIST_PG_DIR=$dir"
  echo "export SHOTLIST_TEST_DATABASE_CA=$dir/ca.crt"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  bin=$(bin_dir)
  runuser -u "$user" -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
