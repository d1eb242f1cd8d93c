#!/usr/bin/env bash
# tests/fuzz/run.sh OUTDIR FUZZER... -- runs each libFuzzer target in turn
# (one at a time: the machine's cores are shared) and ends with a table of
# what each did: executions, exec/s, coverage (cov, ft: the last status
# line's), corpus size and the result. `make fuzz` calls it.
#
#   FUZZ_TIME=seconds   each target's run (default 20); 0: replay the seeds
#                       once (tests/fuzz/corpus/<name>/), no fuzzing
#   FUZZ_ONLY=a,b       only these targets (names without fuzz_)
#   FUZZ_MERGE=1        afterwards, merge the inputs that reached new coverage
#                       into tests/fuzz/corpus/<name>/ (at most FUZZ_MERGE_LEN
#                       bytes each, default 4096: small files only)
#
# Each target's log is OUTDIR/<name>.log, its new inputs OUTDIR/corpus-<name>/,
# a crash OUTDIR/<name>-crash-*. Exits 1 when any target failed.
set -uo pipefail
out=$1
shift
time_s=${FUZZ_TIME:-20}
merge_len=${FUZZ_MERGE_LEN:-4096}
seeds_dir=$(cd "$(dirname "$0")" && pwd)/corpus
rows=()
failed=0

# The value after "name:" in the last libFuzzer status line of a log.
last_status() { grep -E '^#[0-9]+' "$1" | tail -n 1 | sed -nE "s/.* $2: ([0-9]+).*/\1/p"; }
final_stat() { sed -nE "s/^stat::$2: *([0-9]+)/\1/p" "$1" | tail -n 1; }

for bin in "$@"; do
	name=${bin##*/fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ] && [[ ",$FUZZ_ONLY," != *",$name,"* ]]; then
		continue
	fi
	seeds=$seeds_dir/$name
	[ -d "$seeds" ] || seeds=
	log=$out/$name.log
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	if [ "$time_s" = 0 ]; then
		echo "fuzz: $name: replaying its seeds"
		# -runs=0: every seed once, then stop.
		"$bin" -runs=0 -timeout=10 -print_final_stats=1 \
			-artifact_prefix="$out/$name-" $seeds >"$log" 2>&1
	else
		echo "fuzz: $name for ${time_s}s"
		"$bin" -max_total_time="$time_s" -timeout=10 -max_len=65536 -print_final_stats=1 \
			-artifact_prefix="$out/$name-" "$corpus" $seeds >"$log" 2>&1
	fi
	rc=$?
	result=ok
	if [ $rc -ne 0 ] || grep -qE '^(==[0-9]+==ERROR|SUMMARY: )' "$log"; then
		result="FAILED (rc $rc, $log)"
		failed=1
		grep -E 'ERROR|SUMMARY|check failed|runtime error|Test unit written' "$log" | head -n 5
	fi
	execs=$(final_stat "$log" number_of_executed_units)
	rate=$(final_stat "$log" average_exec_per_sec)
	rows+=("$(printf '%-18s %12s %9s %6s %7s %7s  %s' "$name" "${execs:-?}" "${rate:-?}" \
		"$(last_status "$log" cov)" "$(last_status "$log" ft)" \
		"$(last_status "$log" corp)" "$result")")
	if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$result" = ok ] && [ "$time_s" != 0 ]; then
		mkdir -p "$seeds_dir/$name"
		"$bin" -merge=1 -max_len="$merge_len" "$seeds_dir/$name" "$corpus" \
			>"$out/$name-merge.log" 2>&1 ||
			echo "fuzz: $name: merge failed ($out/$name-merge.log)"
	fi
done

echo
echo "fuzz: ${time_s}s per target (0: seeds replayed once)"
printf '%-18s %12s %9s %6s %7s %7s  %s\n' target executions exec/s cov ft corpus result
for r in "${rows[@]}"; do echo "$r"; done
exit $failed
