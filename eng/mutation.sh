#!/usr/bin/env bash
# Mutation testing with Stryker.NET (spec/mutation-testing.md): mutates the state core (state) or the providers'
# concurrency code (providers) and runs the unit and property suites against every mutant.
#
#   eng/mutation.sh state|providers                          # every mutant of the target
#   eng/mutation.sh state|providers --undetected-of REPORT    # only the mutants REPORT (a previous run's
#                                                             # mutation-report.json) left undetected, e.g. after new tests
#
# Reports (HTML, JSON, Markdown) go to TestResults/stryker/<target>/. CPU-heavy: not part of .ci/run.
# For speed the property suite runs with CsCheck_Iter=100 (the full coverage requirement of the model-based property
# applies only at its CI budget), a bounded await fails after 10 s instead of 30 s, and the loopback-server tests
# (Security/, SystemBrowserAuthorization) and the helper self-tests are left out (they cover no mutated line's logic).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
target="${1:-}"
case "$target" in
  state|providers) ;;
  *) echo "usage: eng/mutation.sh state|providers [--undetected-of REPORT.json]" >&2; exit 2 ;;
esac
mutate=()
suffix=""
if [[ "${2:-}" == "--undetected-of" ]]; then
  report=$(realpath "${3:?usage: eng/mutation.sh state|providers --undetected-of REPORT.json}")
  while IFS= read -r pattern; do mutate+=(--mutate "$pattern"); done < <(python3 eng/stryker/undetected-spans.py "$report" "$ROOT")
  [[ ${#mutate[@]} -gt 0 ]] || { echo "no undetected mutant of $report is left to test" >&2; exit 1; }
  suffix="-undetected"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 CsCheck_Iter=100 LOCKFREE_TEST_BOUND_SECONDS=10
dotnet tool restore >/dev/null
out="$ROOT/TestResults/stryker/$target$suffix"
rm -rf "$out"
start=$(date +%s)
(cd eng/stryker && dotnet stryker --config-file "$target.json" --output "$out" "${mutate[@]}")
echo "mutation testing ($target) finished in $(( $(date +%s) - start )) s; reports in ${out#"$ROOT"/}/reports/"
