#!/usr/bin/env bash
# `npm test`: the whole test suite, from a fresh clone.
#  0. the node of package.json's engines.node: the machine's, or a pinned Node 24 installed
#     into .octw/node (scripts/ensure-node.sh); every later step runs on it;
#  1. installs node dependencies from the lockfile when they are missing, stale, or were
#     installed by another node;
#  2. scripts/test-env.sh installs and starts what the tests need (Docker engine, Postgres,
#     locally built images) and writes their coordinates to .octw/test-env.env;
#  3. lint + strict typecheck, the packed libraries in consumer projects outside the repo,
#     unit tests (mocks), Postgres tests, conformance on Docker.
# A missing service is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== node"
# shellcheck source=scripts/ensure-node.sh
. scripts/ensure-node.sh
ensure_node
ensure_node_modules
echo "node $(node --version) ($(command -v node)); vitest runs on: $(npx vitest --version)"

echo "== test environment"
bash scripts/test-env.sh
set -a
# shellcheck disable=SC1091
. .octw/test-env.env
set +a

echo "== lint"
npx eslint .
bash scripts/lint-workflows.sh
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== packages: packed, installed and evaluated outside the monorepo (scripts/pack)"
npx tsx scripts/pack/consumer-check.ts
echo "== unit tests (pulumi mocks, pure planners)"
npx vitest run --project unit
echo "== postgres tests"
npx vitest run --project postgres
echo "== conformance (realized stack on the Docker engine)"
npx vitest run --project conformance
