# Shared helpers of scripts/test-env.sh and scripts/smoke-images.sh (sourced, not run).
# Everything here is about output, failure and the env file, so each step can stay short.

OCTW_STATE_DIR="${OCTW_STATE_DIR:-$PWD/.octw}"
OCTW_ENV_FILE="$OCTW_STATE_DIR/test-env.env"
# The test addresses live on an interface this script creates, in 198.18.0.0/15 (the
# benchmarking range): nothing on the machine or beyond it uses them, so a test that sends
# traffic there can only reach the fake servers the suite itself runs.
OCTW_TEST_IFACE="${OCTW_TEST_IFACE:-octw-test0}"
OCTW_TEST_DNS_ADDR="${OCTW_TEST_DNS_ADDR:-198.18.53.53}"
OCTW_TEST_OUTSIDE_ADDR="${OCTW_TEST_OUTSIDE_ADDR:-198.18.80.80}"
# The Debian client talks the engine's own API version; the newer client some machines have
# in /usr/local/bin drops the legacy builder that is the only one working here.
# shellcheck disable=SC2034 # used by the scripts that source this file
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"

OCTW_T0=$(date +%s)
log() { printf '[%s +%4ss] %s\n' "$(date -u +%H:%M:%S)" "$(( $(date +%s) - OCTW_T0 ))" "$*"; }
warn() { log "WARNING: $*" >&2; }
die() { log "FAILED: $*" >&2; exit 1; }

is_ci() { [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; }

# Runs a command with a deadline, polling every second until it succeeds.
wait_until() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { warn "$what: not ready after ${seconds}s"; return 1; }
    sleep 1
  done
}

# Installs Debian packages that are missing; `apt-get update` only when something is.
ensure_debian_packages() {
  # (No `cmd | grep -q` under pipefail anywhere here: grep's early exit can SIGPIPE cmd.)
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local aptlog="$OCTW_STATE_DIR/apt.log"
  mkdir -p "$OCTW_STATE_DIR"
  { apt-get -o DPkg::Lock::Timeout=300 update -qq \
    && apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; } \
    > "$aptlog" 2>&1 || { tail -n 20 "$aptlog" >&2; die "apt-get install ${missing[*]} failed (full log: $aptlog)"; }
}

# The env file is written once, at the end of a successful run, so it never mixes ids of two
# runs and readers (other checkouts' tests) keep a consistent file while a build runs.
declare -A OCTW_ENV=()
declare -a OCTW_ENV_ORDER=()
env_set() {
  [ -n "${OCTW_ENV[$1]+x}" ] || OCTW_ENV_ORDER+=("$1")
  OCTW_ENV[$1]="$2"
}
env_write() {
  local tmp="$OCTW_ENV_FILE.tmp.$$" k
  mkdir -p "$OCTW_STATE_DIR"
  # 0600: it holds the test Postgres password.
  ( umask 077
    { echo "# written by scripts/test-env.sh at $(date -u +%FT%TZ); do not edit"
      for k in "${OCTW_ENV_ORDER[@]}"; do printf '%s=%s\n' "$k" "${OCTW_ENV[$k]}"; done
    } > "$tmp" )
  mv -f "$tmp" "$OCTW_ENV_FILE"
}
