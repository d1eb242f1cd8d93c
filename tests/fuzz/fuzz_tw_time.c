/* fuzz_tw_time.c -- libFuzzer target for timestamp parsing.
 *
 * The first byte picks the kind. For strptime the input is "format\0text",
 * so the format interpreter is fuzzed too. Besides crashes and sanitizer
 * reports: a parsed time is in range (1900-01-01 .. the int64 limit), and
 * RFC 3339 text formatted from it parses back to the same ns, before 1970
 * (negative) as after.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iworkers -Ilib tests/fuzz/fuzz_tw_time.c lib/contract/tw_time.c -o fuzz_tw_time
 *   ./fuzz_tw_time -max_total_time=30 tests/fuzz/corpus/time
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_time.h"
#include "clock.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tw_time_kind kinds[] = {TW_TIME_RFC3339,  TW_TIME_EPOCH_S,
	                                          TW_TIME_EPOCH_MS, TW_TIME_EPOCH_US,
	                                          TW_TIME_EPOCH_NS, TW_TIME_STRPTIME};
	struct tw_time_spec spec;
	char err[256], fmt[TW_TIME_FMT_MAX], text[CLOCK_RFC3339_MAX];
	const uint8_t *s;
	size_t n;
	char *copy;
	int64_t ns = -1, back = -1;
	int r, len;
	enum tw_time_kind kind;

	if (size == 0)
		return 0;
	kind = kinds[data[0] % 6];
	s = data + 1;
	n = size - 1;
	fmt[0] = '\0';
	if (kind == TW_TIME_STRPTIME) {
		const uint8_t *nul = memchr(s, 0, n);
		size_t flen;

		if (nul == NULL)
			return 0;
		flen = (size_t)(nul - s);
		if (flen >= sizeof(fmt))
			return 0;
		memcpy(fmt, s, flen);
		fmt[flen] = '\0';
		n -= flen + 1;
		s = nul + 1;
	}
	err[0] = '\0';
	if (tw_time_spec_init(&spec, kind, fmt, err, sizeof(err)) != 0) {
		FUZZ_CHECK(kind == TW_TIME_STRPTIME && err[0] != '\0');
		return 0;
	}
	copy = malloc(n ? n : 1); /* exact size: no NUL to lean on */
	FUZZ_CHECK(copy != NULL);
	if (n > 0)
		memcpy(copy, s, n);
	r = tw_time_parse(&spec, copy, n, &ns, err, sizeof(err));
	free(copy);
	if (r != 0) {
		FUZZ_CHECK(r == TW_TIME_E_SYNTAX || r == TW_TIME_E_RANGE);
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	/* 1900-01-01 up to the int64 limit; negative before 1970 */
	FUZZ_CHECK(ns >= TW_TIME_MIN_NS && ns <= TW_TIME_MAX_NS);
	len = clock_format_rfc3339(ns, text, sizeof(text));
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(tw_time_parse_rfc3339(text, (size_t)len, &back, err, sizeof(err)) == 0);
	FUZZ_CHECK(back == ns);
	return 0;
}
