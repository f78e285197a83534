#!/usr/bin/env bash
# `npm run up`: the main job. Deploys the local stack (stacks/Pulumi.local.yaml) on this
# machine's Docker engine with the Pulumi CLI, then prints how to reach each tenant.
#  1. a Docker engine must answer (this script does not install or reconfigure one);
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

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node dependencies from the lockfile"
  npm ci --no-audit --no-fund
fi

# 1. Docker engine.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
command -v "$DOCKER" >/dev/null || missing "the docker client. Install Debian's docker.io (apt-get install docker.io) or Docker Engine."
"$DOCKER" info >/dev/null 2>&1 || missing "a Docker engine answering on ${DOCKER_HOST:-unix:///var/run/docker.sock}. Start dockerd (e.g. systemctl start docker) or set DOCKER_HOST."
say "docker engine: $("$DOCKER" version --format '{{.Server.Version}}')"

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
# shellcheck source=scripts/test-env/common.sh
. scripts/test-env/common.sh
. scripts/test-env/images.sh
# The test environment also checks that the engine forwards DNS only to its test address; a real
# engine forwards to the host's resolvers, which is what the main job wants.
check_engine_dns() { :; }
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
