#!/usr/bin/env bash
# `npm run fuzz`: the hostile-upstream fuzz tests of the edge and the inference router
# (*.fuzz.test.ts) and the egress-denial property test (Squid log line → stored event,
# packages/egress-audit/test/denial-path.test.ts) with many more generated cases than `npm test`
# runs (OCTW_FUZZ_RUNS, default 1000). The router's needs the test Postgres: the test environment is set up first, as npm test
# does it (scripts/test-env.sh is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-node.sh
. scripts/ensure-node.sh
ensure_node
ensure_node_modules
bash scripts/test-env.sh --no-images
set -a
# shellcheck disable=SC1091
. .octw/test-env.env
set +a
OCTW_FUZZ_RUNS="${OCTW_FUZZ_RUNS:-1000}" exec npx vitest run --project unit fuzz denial-path
