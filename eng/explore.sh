#!/usr/bin/env bash
# Time-budgeted exploration runs for CI users (spec/exploration-runs.md).
#
#   eng/explore.sh [coyote|cscheck|all] --budget 30m [--out DIR] [--round N] [--seed N] [--no-build]
#   (--round: Coyote iterations per scenario per round, default 200; CsCheck_Iter per property per round, default 1500.
#    --seed: the Coyote run's base seed, default from the clock; each round's seed is in the report.)
#
# coyote : every Coyote scenario (core and providers), round-robin, N iterations each per round (default 200) with a
#          new seed per round, strict, until the budget is spent; traces of any bug + report.md/report.json in
#          DIR/coyote (default TestResults/exploration/coyote).
# cscheck: every CsCheck property, round-robin, CsCheck_Iter = N per round (default 1500), until the budget is spent;
#          the seed and rerun command of any failure + report.md/report.json in DIR/cscheck.
# all    : both, one after the other, each with the whole budget (the default).
# Budget: seconds, or with a unit: 90s, 30m, 1h. The first round always completes (every scenario/property runs once).
# Exit status: 0 when nothing was found, non-zero on a bug (or a build/test-host failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 COYOTE_CLI_TELEMETRY_OPTOUT=1

suite=all; budget=""; out="$ROOT/TestResults/exploration"; round=""; seed=""; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    coyote|cscheck|all) suite="$1" ;;
    --budget) budget="$2"; shift ;;
    --out) out="$2"; shift ;;
    --round) round="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$budget" ] || { echo "--budget is required (for example --budget 30m)" >&2; exit 2; }
case "$budget" in
  *h) seconds=$(( ${budget%h} * 3600 )) ;;
  *m) seconds=$(( ${budget%m} * 60 )) ;;
  *s) seconds=${budget%s} ;;
  *) seconds=$budget ;;
esac
mkdir -p "$out"; out=$(cd "$out" && pwd)
# The test host is killed if one run goes silent for the budget plus 15 minutes (spec/fail-fast.md).
hang="$(( seconds / 60 + 15 ))m"

if [ "$build" -eq 1 ]; then
  dotnet tool restore >/dev/null
  dotnet build tests/LockFree.Auth.CoyoteTests/LockFree.Auth.CoyoteTests.csproj -c Release --nologo -v q -clp:ErrorsOnly
  dotnet build tests/LockFree.Auth.PropertyTests/LockFree.Auth.PropertyTests.csproj -c Release --nologo -v q -clp:ErrorsOnly
fi

status=0
if [ "$suite" = coyote ] || [ "$suite" = all ]; then
  rm -rf "$out/coyote" "$out/coyote.log"
  settings=(RunConfiguration.EnvironmentVariables.COYOTE_EXPLORE_SECONDS="$seconds" RunConfiguration.EnvironmentVariables.COYOTE_EXPLORE_OUT="$out/coyote" RunConfiguration.TestSessionTimeout=0)
  [ -z "$round" ] || settings+=(RunConfiguration.EnvironmentVariables.COYOTE_EXPLORE_ROUND="$round")
  [ -z "$seed" ] || settings+=(RunConfiguration.EnvironmentVariables.COYOTE_SEED="$seed")
  echo "=== Coyote exploration: budget ${seconds} s"
  start=$(date +%s)
  set +e
  dotnet test tests/LockFree.Auth.CoyoteTests -c Release --no-build --nologo --settings coyote.runsettings \
    --filter "FullyQualifiedName~ExplorationRunTests.Explore_" --logger "console;verbosity=normal" \
    --blame-hang --blame-hang-dump-type none --blame-hang-timeout "$hang" -- "${settings[@]}" > "$out/coyote.log" 2>&1
  test_status=$?
  set -e
  grep -E '^EXPLORE|Passed!|Failed!|aborted' "$out/coyote.log" || true
  echo "=== Coyote exploration finished in $(( $(date +%s) - start )) s: $out/coyote/report.md"
  if [ "$test_status" -ne 0 ] || [ ! -f "$out/coyote/report.md" ] || ! grep -q '^\*\*0 bug(s)\*\*' "$out/coyote/report.md"; then status=1; fi
fi

if [ "$suite" = cscheck ] || [ "$suite" = all ]; then
  rm -rf "$out/cscheck" "$out/cscheck.log"
  echo "=== CsCheck soak: budget ${seconds} s"
  start=$(date +%s)
  set +e
  env CSCHECK_SOAK_SECONDS="$seconds" CSCHECK_SOAK_OUT="$out/cscheck" ${round:+CSCHECK_SOAK_ROUND="$round"} \
    dotnet test tests/LockFree.Auth.PropertyTests -c Release --no-build --nologo \
    --filter "FullyQualifiedName~SoakRunTests.Soak_" --logger "console;verbosity=normal" \
    --blame-hang --blame-hang-dump-type none --blame-hang-timeout "$hang" > "$out/cscheck.log" 2>&1
  test_status=$?
  set -e
  grep -E '^SOAK|Passed!|Failed!|aborted' "$out/cscheck.log" || true
  echo "=== CsCheck soak finished in $(( $(date +%s) - start )) s: $out/cscheck/report.md"
  if [ "$test_status" -ne 0 ] || [ ! -f "$out/cscheck/report.md" ] || ! grep -q '^\*\*0 failure(s)\*\*' "$out/cscheck/report.md"; then status=1; fi
fi

exit $status
