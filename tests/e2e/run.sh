#!/usr/bin/env bash
# Runs the end-to-end suite (pytest) against the test stack. Uses the stack
# that is up (build/stack.env, or SLUICE_STACK_ENV); when none is, brings one
# up for the run and down afterwards, also when a test fails.
# Extra arguments go to pytest (e.g. -k kafka, -x).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# helm from scripts/deps.sh (built with go install, cached by version).
# shellcheck source=scripts/versions.sh
. scripts/versions.sh
export PATH="$SLUICE_CACHE/helm-$HELM_VERSION/bin:$PATH"
env_file=${SLUICE_STACK_ENV:-$root/build/stack.env}
own_stack=0
if [ ! -f "$env_file" ]; then
	own_stack=1
	trap 'tests/e2e/stack.sh down' EXIT
	tests/e2e/stack.sh up >/dev/null
fi
mkdir -p build
python3 -m pytest -p no:cacheprovider -ra --junitxml=build/e2e-junit.xml tests/e2e "$@"
