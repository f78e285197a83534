#!/bin/sh
# Writes the squid.conf handed over base64-encoded in OCTW_SQUID_CONFIG_B64 (an allowlist,
# not a secret) to /run/squid/squid.conf and runs squid in the foreground on it.
# Runs as any UID: every path squid writes is on a tmpfs the container declares
# (/run/squid, /var/spool/squid, /var/log/squid, /tmp).
set -eu
conf=/run/squid/squid.conf
if [ -z "${OCTW_SQUID_CONFIG_B64:-}" ]; then
  echo "octw-squid: OCTW_SQUID_CONFIG_B64 is empty; it must hold a complete squid.conf, base64-encoded" >&2
  exit 64
fi
if ! touch "$conf" 2>/dev/null; then
  echo "octw-squid: cannot write $conf as uid $(id -u); /run/squid must be a writable tmpfs" >&2
  exit 73
fi
{
  # Defaults that fit a read-only root; the handed-over config comes after and may override.
  echo "pid_filename /run/squid/squid.pid"
  echo "cache_log /dev/stderr"
  echo "coredump_dir /var/spool/squid"
  printf '%s' "$OCTW_SQUID_CONFIG_B64" | base64 -d || {
    echo "octw-squid: OCTW_SQUID_CONFIG_B64 is not valid base64" >&2
    exit 65
  }
} > "$conf"
unset OCTW_SQUID_CONFIG_B64
# TLS interception (L7 rules): the certificate generator's database must exist, empty, before
# squid starts; it lives where the config says (`sslcrtd_program … -s <dir>`), on a tmpfs.
certdb=$(sed -n 's/^sslcrtd_program .* -s \([^ ]*\).*/\1/p' "$conf" | head -n 1)
if [ -n "$certdb" ]; then
  rm -rf "$certdb"
  /usr/lib/squid/security_file_certgen -c -s "$certdb" -M 4MB >/dev/null || {
    echo "octw-squid: cannot create the certificate database $certdb as uid $(id -u)" >&2
    exit 73
  }
fi
exec /usr/sbin/squid -N -f "$conf"
