#!/bin/sh
# Slims a freshly debootstrapped root filesystem (argument: its directory) before it becomes
# an image: no package lists, caches, docs or translations, and nothing of the build host
# (its resolver, hostname, machine id) baked in.
set -eu
root="$1"
[ -x "$root/bin/sh" ] || { echo "slim-rootfs: $root is not a root filesystem" >&2; exit 2; }
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/usr/share/bug \
  "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
# Docker provides these per container; the build host's copies must not leak into the image.
rm -f "$root"/etc/resolv.conf "$root"/etc/hostname "$root"/etc/machine-id
: > "$root/etc/hosts"
# The postgresql packages make a cluster and a snakeoil TLS key while installing: one
# private key shared by every container would be worse than none.
rm -rf "$root"/etc/postgresql/*/main "$root"/var/lib/postgresql/*/main
rm -f "$root"/etc/ssl/private/ssl-cert-snakeoil.key "$root"/etc/ssl/certs/ssl-cert-snakeoil.pem
