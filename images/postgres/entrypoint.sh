#!/bin/sh
# First start: initdb in $PGDATA with the superuser password read from the file named by
# POSTGRES_PASSWORD_FILE. Every start: postgres in the foreground on 0.0.0.0:5432, all logins
# scram-sha-256, plus the container's arguments (`-c name=value` settings: the AuditStore's TLS
# mode passes ssl and hba_file this way). The password never goes through the environment or a
# command line.
set -eu
fail() { code="$1"; shift; echo "octw-postgres: $*" >&2; exit "$code"; }
: "${PGDATA:?PGDATA must be set}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="${POSTGRES_PASSWORD_FILE:-}"
  [ -n "$pwfile" ] || fail 64 "POSTGRES_PASSWORD_FILE is not set; on first start it must name the file holding the superuser password"
  [ -r "$pwfile" ] || fail 66 "POSTGRES_PASSWORD_FILE ($pwfile) is not readable by uid $(id -u)"
  [ -s "$pwfile" ] || fail 65 "POSTGRES_PASSWORD_FILE ($pwfile) is empty"
  [ -w "$PGDATA" ] || fail 73 "PGDATA ($PGDATA) is not writable by uid $(id -u); the volume must be owned by 5432:5432, mode 0700"
  umask 077
  tmp=$(mktemp /tmp/octw-pw.XXXXXX) || fail 73 "cannot create a file in /tmp (it must be a writable tmpfs)"
  cp "$pwfile" "$tmp"
  # initdb only accepts an empty directory, and the password file may have been uploaded
  # into the volume; its content is in $tmp now.
  case "$pwfile" in "$PGDATA"/*) rm -f "$pwfile" ;; esac
  if ! initdb -D "$PGDATA" -U postgres --pwfile="$tmp" --auth-local=scram-sha-256 \
       --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2; then
    rm -f "$tmp"
    fail 70 "initdb failed"
  fi
  rm -f "$tmp"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses=0.0.0.0 -c port=5432 \
  -c unix_socket_directories=/run/postgresql -c password_encryption=scram-sha-256 "$@"
