#!/usr/bin/env bash
# Installs and starts what the tests need and writes their coordinates to .octw/test-env.env
# (see docs/contracts.md, "Test environment"):
#   1. the Docker engine (Debian's docker.io), its container DNS pointed at a test address on
#      an interface this script creates, never at the machine's resolver;
#   2. Postgres (Debian's cluster) on 127.0.0.1:5432 with the superuser octw_test;
#   3. the container images, built locally from images/* (never pulled), tagged by the hash of
#      their recipe so a second run re-uses them;
#   4. Debian's chromium for the browser end-to-end suite (scripts/test-env/browser.sh).
# Idempotent; needs root; reads no stdin. Usage: bash scripts/test-env.sh [--no-images]
# Any failure exits non-zero with the reason and leaves the previous env file untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
OCTW_SCRIPTS_DIR="$PWD/scripts"
# shellcheck source=scripts/test-env/common.sh
. scripts/test-env/common.sh
# shellcheck source=scripts/test-env/engine.sh
. scripts/test-env/engine.sh
# shellcheck source=scripts/test-env/postgres.sh
. scripts/test-env/postgres.sh

with_images=1
for arg in "$@"; do
  case "$arg" in
    --no-images) with_images=0 ;;
    *) die "unknown argument '$arg' (allowed: --no-images)" ;;
  esac
done

[ "$(id -u)" -eq 0 ] || die "scripts/test-env.sh must run as root (it installs packages and starts dockerd); uid is $(id -u)"
exec </dev/null
# One run at a time on the machine: the engine, Postgres and the image tags are shared by
# every checkout, and two concurrent builds of one recipe would only race.
mkdir -p /run/lock
exec 9>/run/lock/octw-test-env.lock
if ! flock -n 9; then
  log "another scripts/test-env.sh is running; waiting for it (at most 30 min)"
  flock -w 1800 9 || die "another scripts/test-env.sh held the lock for 30 min"
fi
log "test environment in $OCTW_STATE_DIR (CI=${CI:-})"
mkdir -p "$OCTW_STATE_DIR"

ensure_engine
ensure_postgres
# shellcheck source=scripts/test-env/browser.sh
. scripts/test-env/browser.sh
ensure_browser
# shellcheck source=scripts/test-env/images.sh
. scripts/test-env/images.sh
if [ "$with_images" = 1 ]; then
  ensure_images check_engine_dns
else
  keep_previous_image_ids
fi
env_write
log "done: $OCTW_ENV_FILE"
