#!/usr/bin/env bash
# `make test`: build with warnings as errors, lint and format checks, unit
# tests plain and under
# AddressSanitizer + UndefinedBehaviorSanitizer, the real-server stack, the
# end-to-end suite, teardown (also on failure or Ctrl-C). Ends with one line:
# "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build
rm -f build/unit-*.log build/e2e-junit.xml
failed_steps=()

step() { # step NAME COMMAND...: runs a step, records its outcome
	local name=$1
	shift
	printf '\n==== %s\n' "$name"
	local t0=$SECONDS
	if "$@"; then
		printf '==== %s: ok (%ss)\n' "$name" $((SECONDS - t0))
	else
		printf '==== %s: FAILED (%ss)\n' "$name" $((SECONDS - t0))
		failed_steps+=("$name")
		return 1
	fi
}

stack_up() {
	# A stack left over from an interrupted run would make `up` refuse.
	tests/e2e/stack.sh down >/dev/null 2>&1 || true
	tests/e2e/stack.sh up >/dev/null
}

# The unit runner writes "unit: N passed, N failed" lines; pytest a junit file.
unit_counts() { grep -h '^unit: ' build/unit-*.log 2>/dev/null; }

# Builds and unit tests use every core (CI has two): each test binary is a
# target of its own and the runners' summaries do not depend on order.
export MAKEFLAGS="-j$(nproc) ${MAKEFLAGS:-}"

trap 'tests/e2e/stack.sh down >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

step build make --no-print-directory build
step "lint (cppcheck)" make --no-print-directory lint
step "format (clang-format)" make --no-print-directory format-check
step "unit tests" bash -c 'set -o pipefail; make --no-print-directory unit 2>&1 | tee build/unit-plain.log'
step "unit tests (ASan+UBSan)" bash -c 'set -o pipefail; make --no-print-directory unit-asan 2>&1 | tee build/unit-asan.log'
# Every fuzz target replays its seeds once (the crashes found so far among
# them): ~50 s on two cores, the build included; `make fuzz` fuzzes.
step "fuzz seeds (libFuzzer replay)" make --no-print-directory fuzz-seeds
step "images (podman)" make --no-print-directory images
if step "stack up" stack_up; then
	step "integration tests" bash -c 'set -o pipefail; make --no-print-directory integration 2>&1 | tee build/unit-integration.log'
	step "end-to-end tests" tests/e2e/run.sh
	step "stack down" tests/e2e/stack.sh down
fi

python3 - "${#failed_steps[@]}" <<'PY'
import re, sys, pathlib, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for log in sorted(pathlib.Path("build").glob("unit-*.log")):
    for m in re.finditer(r"^unit: (\d+) passed, (\d+) failed", log.read_text(), re.M):
        print(f"  {log.stem}: {m.group(1)} passed, {m.group(2)} failed")
        passed += int(m.group(1)); failed += int(m.group(2))
j = pathlib.Path("build/e2e-junit.xml")
if j.exists():
    root = ET.parse(j).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    t, f, e, s = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    print(f"  e2e: {t - f - e - s} passed, {f + e} failed, {s} skipped")
    passed += t - f - e - s; failed += f + e; skipped += s
steps_failed = int(sys.argv[1])
print()
if steps_failed:
    print(f"test: {steps_failed} step(s) failed (see ==== lines above)")
    failed = failed or steps_failed
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
[ ${#failed_steps[@]} -eq 0 ]
