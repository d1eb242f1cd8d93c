/* bench_tw_parse.c -- hot-path microbenchmark: tw_parser_parse() over
 * 1,000,000 generated JSON events like
 *
 *   {"ts":"2026-11-23T05:00:00.123Z","device":"d-17","site":"s3","temp":21.5,"hum":40}
 *
 * and prints events/s on one core. The messages are generated up front into
 * one buffer, so the timed loop is parsing only (no allocation, no I/O).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iworkers tests/bench/bench_tw_parse.c \
 *      lib/contract/tw_parse.c lib/contract/tw_time.c workers/store/lineproto.c -lm -o
 * bench_tw_parse
 *   ./bench_tw_parse [events]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "tw_parse.h"

int main(int argc, char **argv)
{
	static const char *const keys[] = {"device", "site"};
	static const char *const values[] = {"temp", "hum"};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .ts_kind = TW_TIME_RFC3339,
	    .key_fields = keys,
	    .n_key_fields = 2,
	    .value_fields = values,
	    .n_value_fields = 2,
	};
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
	char err[256], *text;
	size_t *off, *len, used = 0, cap;
	struct tw_parser *p;
	struct tw_event ev;
	double t0, t1, checksum = 0;
	long bad = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [events]\n", argv[0]);
		return 2;
	}
	p = tw_parser_new(&spec, err, sizeof(err));
	if (p == NULL) {
		fprintf(stderr, "tw_parser_new: %s\n", err);
		return 1;
	}
	cap = (size_t)n * 128;
	text = malloc(cap);
	off = malloc((size_t)n * sizeof(*off));
	len = malloc((size_t)n * sizeof(*len));
	if (text == NULL || off == NULL || len == NULL) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		int k =
		    snprintf(text + used, cap - used,
		             "{\"ts\":\"2026-11-23T05:%02ld:%02ld.%03ldZ\",\"device\":\"d-%ld\","
		             "\"site\":\"s%ld\",\"temp\":%ld.%ld,\"hum\":%ld}",
		             (i / 60000) % 60, (i / 1000) % 60, i % 1000, i % 1000, i % 7,
		             10 + i % 20, i % 10, 30 + i % 50);
		if (k < 0 || (size_t)k >= cap - used) {
			fprintf(stderr, "generation failed\n");
			return 1;
		}
		off[i] = used;
		len[i] = (size_t)k;
		used += (size_t)k;
	}
	t0 = clock_mono_s();
	for (long i = 0; i < n; i++) {
		if (tw_parser_parse(p, text + off[i], len[i], &ev, err, sizeof(err)) != 0) {
			bad++;
			continue;
		}
		checksum += ev.values[0] + (double)ev.key_len;
	}
	t1 = clock_mono_s();
	printf("tw_parser_parse json: %ld events in %.3f s: %.0f events/s (%.0f ns/event, "
	       "%.1f MB/s), %ld refused, checksum %.1f\n",
	       n, t1 - t0, (double)n / (t1 - t0), (t1 - t0) * 1e9 / (double)n,
	       (double)used / (t1 - t0) / 1e6, bad, checksum);
	tw_parser_free(p);
	free(text);
	free(off);
	free(len);
	return bad != 0;
}
