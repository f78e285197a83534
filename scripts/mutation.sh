#!/usr/bin/env bash
# `npm run mutation [-- <module>...]`: StrykerJS mutation testing of the security-critical
# modules (scripts/mutation.ts), from a fresh clone. StrykerJS needs node >= 22: the node of
# package.json's engines.node, as `npm test` uses (scripts/ensure-node.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-node.sh
. scripts/ensure-node.sh
ensure_node
ensure_node_modules
exec npx tsx scripts/mutation.ts "$@"
