/* fuzz_common.h -- checks every tw_parse fuzz target makes on a result.
 *
 * Header-only so each target stays one compile line:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iworkers -Ilib tests/fuzz/fuzz_X.c lib/contract/tw_parse.c lib/contract/tw_time.c \
 *     workers/store/lineproto.c -lm -o fuzz_X
 */
#ifndef SLUICE_FUZZ_COMMON_H
#define SLUICE_FUZZ_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "tw_event.h"
#include "tw_parse.h"
#include "tw_time.h"

/* What every parse result must satisfy, success or not. */
static inline void fuzz_check_result(int r, const struct tw_event *ev, const char *err,
                                     size_t n_keys, size_t n_values)
{
	FUZZ_CHECK(r == TW_EVENT_OK || r == TW_EVENT_E_SYNTAX || r == TW_EVENT_E_MISSING ||
	           r == TW_EVENT_E_TYPE || r == TW_EVENT_E_TIMESTAMP || r == TW_EVENT_E_TOO_LONG);
	if (r != TW_EVENT_OK) {
		/* a reason is always given, and it is printable one-line text */
		FUZZ_CHECK(err[0] != '\0');
		for (const char *c = err; *c; c++)
			FUZZ_CHECK(*c != '\n' && *c != '\r');
		return;
	}
	FUZZ_CHECK(ev->ts_ns >= TW_TIME_MIN_NS); /* 1900: before 1970 is negative */
	FUZZ_CHECK(ev->key_len <= TW_KEY_MAX);
	FUZZ_CHECK(n_values == 32 || (ev->present >> n_values) == 0);
	{
		size_t seps = 0;

		for (size_t i = 0; i < ev->key_len; i++) {
			FUZZ_CHECK(ev->key[i] != '\0');
			seps += ev->key[i] == TW_KEY_SEP;
		}
		FUZZ_CHECK(seps == (n_keys ? n_keys - 1 : 0));
	}
	for (size_t i = 0; i < n_values; i++)
		if (ev->present & (1u << i))
			FUZZ_CHECK(isfinite(ev->values[i]));
}

#endif
