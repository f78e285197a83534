#!/usr/bin/env bash
# `npm test`: the whole test suite, from a fresh clone.
#  1. installs node dependencies from the lockfile when they are missing or stale;
#  2. scripts/test-env.sh installs and starts what the tests need (Docker engine, Postgres,
#     locally built images) and writes their coordinates to .octw/test-env.env;
#  3. lint + strict typecheck, unit tests (mocks), Postgres tests, conformance on Docker.
# A missing service is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci (dependencies missing or older than package-lock.json)"
  npm ci --no-audit --no-fund
fi

echo "== test environment"
bash scripts/test-env.sh
set -a
# shellcheck disable=SC1091
. .octw/test-env.env
set +a

echo "== lint"
npx eslint .
echo "== typecheck"
npx tsc -p tsconfig.json --noEmit
echo "== unit tests (pulumi mocks, pure planners)"
npx vitest run --project unit
echo "== postgres tests"
npx vitest run --project postgres
echo "== conformance (realized stack on the Docker engine)"
npx vitest run --project conformance
