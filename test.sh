#!/usr/bin/env bash
# Runs Fabric's test suite: installs prerequisites, builds, runs every test project.
# Extra arguments go to `dotnet test`, e.g. ./test.sh --filter Category=Unit
# Categories: Unit, Cluster, Storage, Lab, Interop, Chaos, Cni, Routing, Ops.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$repo"
bash deploy/prerequisites.sh
dotnet build Fabric.sln -c Release --no-restore --verbosity quiet -nologo

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# One test project at a time: the Lab, Cluster and Storage layers start real processes and
# namespaces, and two cores are not enough to run them side by side without timing noise.
dotnet test Fabric.sln -c Release --no-build --verbosity quiet -nologo -m:1 \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?

# One closing line over all test projects, so a reader (or CI) sees the total.
count() { { grep -Eo "^ +$1: +[0-9]+" "$log" || true; } | awk '{s+=$2} END {print s+0}'; }
passed=$(count Passed)
failed=$(count Failed)
skipped=$(count Skipped)
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [[ $status -eq 0 && $passed -eq 0 ]]; then
  echo "no test ran" >&2
  exit 1
fi
exit $status
