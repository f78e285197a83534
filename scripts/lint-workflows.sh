#!/usr/bin/env bash
# Validates the GitHub Actions workflow files of the examples (and .github/workflows, if any)
# against the workflow schema with @action-validator/cli (pinned in package.json). A control
# first: a workflow with a misspelled key must be refused, or the validator is not validating.
set -euo pipefail
cd "$(dirname "$0")/.."

control="$(mktemp --suffix=.yml)"
trap 'rm -f "$control"' EXIT
printf 'name: control\non: [push]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: "true"\n' >"$control"
if npx action-validator "$control" >/dev/null 2>&1; then
  echo "lint-workflows: the validator accepted a workflow with a misspelled key (stepz): it is not validating" >&2
  exit 1
fi

shopt -s nullglob
files=(examples/*/workflows/*.yml examples/*/workflows/*.yaml .github/workflows/*.yml .github/workflows/*.yaml)
if [ "${#files[@]}" -eq 0 ]; then
  echo "lint-workflows: no workflow files found" >&2
  exit 1
fi
for f in "${files[@]}"; do
  npx action-validator "$f"
  echo "workflow ok: $f"
done
