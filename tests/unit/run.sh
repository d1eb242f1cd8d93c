#!/usr/bin/env bash
# Runs cmocka unit-test binaries, prints each one's output, and ends with
#   unit: N passed, N failed
# where N counts cmocka test cases over all binaries. Exits non-zero if any
# test failed or any binary crashed, hung or did not report.
#
# Usage: tests/unit/run.sh BINARY...
#   UNIT_TIMEOUT (seconds, default 120) bounds each binary.
set -uo pipefail

timeout_s=${UNIT_TIMEOUT:-120}
passed=0
failed=0
broken=0

for bin in "$@"; do
	printf '== %s\n' "$bin"
	if [ ! -x "$bin" ]; then
		printf 'unit: %s: not an executable file\n' "$bin"
		broken=$((broken + 1))
		continue
	fi
	out=$(timeout "$timeout_s" "$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out"

	# cmocka prints one summary per group:
	#   [  PASSED  ] 12 test(s).
	#   [  FAILED  ] 1 test(s), listed below:
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' |
		awk '{s += $1} END {print s + 0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' |
		awk '{s += $1} END {print s + 0}')
	reported=$(printf '%s\n' "$out" | grep -c '^\[  \(PASSED\|FAILED\)  \] [0-9][0-9]* test(s)')
	passed=$((passed + p))
	failed=$((failed + f))

	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed (signal), timed out (124) or failed outside any test
		# case (a sanitizer report at exit, a failing group setup).
		if [ "$rc" -eq 124 ]; then
			printf 'unit: %s: timed out after %ss\n' "$bin" "$timeout_s"
		elif [ "$rc" -gt 128 ]; then
			printf 'unit: %s: killed by signal %d\n' "$bin" $((rc - 128))
		else
			printf 'unit: %s: exited with status %d\n' "$bin" "$rc"
		fi
		broken=$((broken + 1))
	elif [ "$reported" -eq 0 ]; then
		printf 'unit: %s: printed no cmocka summary\n' "$bin"
		broken=$((broken + 1))
	fi
done

# A binary that broke counts as one failure, so the total never hides it.
failed=$((failed + broken))
printf 'unit: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
