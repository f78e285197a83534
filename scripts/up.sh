#!/usr/bin/env bash
# `npm run up`: the main job. Deploys the local stack (stacks/Pulumi.local.yaml) on this
# machine's Docker engine with the Pulumi CLI, then prints how to reach each tenant.
#  0. the node of package.json's engines.node: the machine's, or a pinned Node 24 installed
#     into .octw/node (scripts/ensure-node.sh); dependencies from the lockfile with it;
#  1. a Docker engine: one that answers is used as it is (never restarted or reconfigured);
#     with none, as root on Debian, Debian's docker.io is installed and started with its own
#     container DNS (scripts/test-env/engine.sh, ensure_engine_running); else what to run;
#  2. the Pulumi CLI: the one on PATH, or a pinned version installed into .octw/pulumi after
#     verifying its SHA-256 against the release's published checksums (never `curl | sh`);
#  3. a local file backend and a generated passphrase in .octw/ (0600, git-ignored);
#  4. the images, built locally from images/* (no registry pulls), pinned by image id;
#  5. `pulumi up` on the `local` stack.
# Whatever cannot be had is named, with how to provide it, and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
STATE="$ROOT/.octw"
PULUMI_VERSION="${OCTW_PULUMI_VERSION:-3.270.0}"
STACK="${OCTW_STACK:-local}"
mkdir -p "$STATE"
say() { printf '[octw up] %s\n' "$*"; }
missing() { printf '[octw up] MISSING: %s\n' "$*" >&2; exit 1; }

# 0. Node and the dependencies.
# shellcheck source=scripts/ensure-node.sh
. scripts/ensure-node.sh
ensure_node
ensure_node_modules

# 1. Docker engine (the same install and start functions as the test environment's).
OCTW_SCRIPTS_DIR="$ROOT/scripts"
# shellcheck source=scripts/test-env/common.sh
. scripts/test-env/common.sh
# shellcheck source=scripts/test-env/engine.sh
. scripts/test-env/engine.sh
ensure_engine_running || missing "$ENGINE_MISSING"
say "docker engine: $("$DOCKER" version --format '{{.Server.Version}}') on $DOCKER_HOST"
if [ "$DOCKER_HOST" = "$OCTW_DEFAULT_DOCKER_HOST" ] && dockerd_uses_test_dns; then
  # npm test's environment restarted this engine so; restarting it back would stop the tests'
  # containers, so that is the user's call.
  say "NOTE: this engine forwards container DNS to the test address $OCTW_TEST_DNS_ADDR (set by npm test's scripts/test-env.sh): the stack deploys, but the tenants' egress proxies cannot resolve their allowlisted hosts. For real egress, restart the engine without it (this stops the tests' containers): $(if systemd_is_init; then echo "rm $OCTW_TEST_DNS_DROPIN && systemctl daemon-reload && systemctl restart docker.service"; else echo "kill \$(cat $OCTW_DOCKERD_PIDFILE), wait until dockerd has exited, then npm run up (it starts dockerd without --dns)"; fi)."
fi

# 2. Pulumi CLI.
PULUMI="$(command -v pulumi || true)"
if [ -z "$PULUMI" ] && [ -x "$STATE/pulumi/bin/pulumi" ]; then PULUMI="$STATE/pulumi/bin/pulumi"; fi
if [ -z "$PULUMI" ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) missing "a Pulumi CLI for $(uname -m); install one on PATH" ;; esac
  tarball="pulumi-v${PULUMI_VERSION}-linux-${arch}.tar.gz"
  base="https://github.com/pulumi/pulumi/releases/download/v${PULUMI_VERSION}"
  say "no pulumi on PATH: installing Pulumi ${PULUMI_VERSION} into .octw/pulumi (checksum-verified)"
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  if ! curl -fsSL --max-time 120 -o "$dl/$tarball" "$base/$tarball" \
     || ! curl -fsSL --max-time 60 -o "$dl/checksums.txt" "$base/pulumi-${PULUMI_VERSION}-checksums.txt"; then
    missing "the Pulumi CLI ${PULUMI_VERSION}: it could not be downloaded from its GitHub release (offline?). Install it yourself and put 'pulumi' on PATH, or unpack ${tarball} so that .octw/pulumi/bin/pulumi exists, then run npm run up again."
  fi
  expected="$(awk -v f="$tarball" '$2 == f { print $1 }' "$dl/checksums.txt")"
  actual="$(sha256sum "$dl/$tarball" | awk '{ print $1 }')"
  [ -n "$expected" ] || missing "a checksum line for $tarball in the release's checksums file"
  [ "$expected" = "$actual" ] || missing "a Pulumi tarball matching its published SHA-256 (expected $expected, got $actual): refusing to install it"
  rm -rf "$STATE/pulumi" && mkdir -p "$STATE/pulumi/bin"
  tar -xzf "$dl/$tarball" -C "$STATE/pulumi/bin" --strip-components=1
  PULUMI="$STATE/pulumi/bin/pulumi"
fi
say "pulumi: $("$PULUMI" version)"

# 3. Local backend and passphrase (never committed: .octw/ is git-ignored).
export PULUMI_BACKEND_URL="file://$STATE/pulumi-state"
mkdir -p "$STATE/pulumi-state"
if [ ! -s "$STATE/pulumi-passphrase" ]; then
  ( umask 077 && head -c 32 /dev/urandom | base64 > "$STATE/pulumi-passphrase" )
fi
chmod 0600 "$STATE/pulumi-passphrase"
export PULUMI_CONFIG_PASSPHRASE_FILE="$STATE/pulumi-passphrase"
export PULUMI_SKIP_UPDATE_CHECK=1

# 4. Images, built locally and pinned by id (the same recipes the tests use).
# (The test environment also checks that the engine forwards DNS only to its test address; the
# main job's engine forwards to the host's resolvers, so no check here.)
# shellcheck source=scripts/test-env/images.sh
. scripts/test-env/images.sh
ensure_images
export OCTW_IMAGE_OPENCLAW="${OCTW_ENV[OCTW_IMAGE_OPENCLAW]}"
export OCTW_IMAGE_EGRESS="${OCTW_ENV[OCTW_IMAGE_EGRESS]}"
export OCTW_IMAGE_POSTGRES="${OCTW_ENV[OCTW_IMAGE_POSTGRES]}"
export OCTW_IMAGE_EDGE="${OCTW_ENV[OCTW_IMAGE_EDGE]:-}"
export OCTW_IMAGE_INFERENCE_ROUTER="${OCTW_ENV[OCTW_IMAGE_INFERENCE_ROUTER]:-}"
[ -n "$OCTW_IMAGE_INFERENCE_ROUTER" ] || missing "the inference router image (images/inference-router): scripts/test-env/images.sh did not build it"
[ -n "$OCTW_IMAGE_EDGE" ] || missing "the edge image (images/edge): scripts/test-env/images.sh did not build it"

# The local edge trusts a dev issuer whose key pair lives in .octw/dev-issuer (created here).
npx tsx packages/cli/src/main.ts token --tenant alpha --role viewer --ttl 60s >/dev/null

# 5. Deploy.
"$PULUMI" stack select "$STACK" --create --non-interactive >/dev/null
"$PULUMI" up --stack "$STACK" --yes --non-interactive --skip-preview=false
say "deployed. Tenants (gateway address on its own network, egress proxy, what is not enforced):"
"$PULUMI" stack output tenants --stack "$STACK" --json
say "Each gateway is reachable only from its tenant network; users come in through the edge:"
say "  TOKEN=\$(npm run -s octw -- token --tenant alpha --role member)"
say "  curl -H \"Authorization: Bearer \$TOKEN\" http://127.0.0.1:8443/t/alpha/healthz"
say "Inspect: docker ps --filter label=octw.tenant ; tear down: $PULUMI destroy --stack $STACK"
