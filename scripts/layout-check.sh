#!/usr/bin/env bash
# layout-check.sh -- `make layout-check` (part of `make lint`): the folders'
# include rules (Makefile, INC_*) hold only while no file reaches around
# them, so a quoted #include names a header, never a path to one. Prints
# each offending line and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(git ls-files -co --exclude-standard -- '*.c' '*.h' |
	xargs grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' || true)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	echo 'layout-check: a quoted #include names a path; include the header by its name and let the folder'"'"'s include paths (Makefile, INC_*) decide whether it may' >&2
	exit 1
fi
echo 'layout-check: ok'
