/* bench_tw_hot.c -- the worker's whole hot path, no I/O: 1,000,000 JSON
 * messages through tw_parser_parse and tw_core_process (dedupe, tumbling
 * windows, every aggregation), built from a TelemetryWindow spec by the
 * same calls the worker makes (tw_spec_parse, tw_spec_parser_spec,
 * tw_core_config_from_spec). The input is the one tests/bench/bench_telemetry_pipeline.py
 * publishes for the end-to-end figure:
 *
 *   {"ts":1800000000123,"device":"d-417","temp":21.25,"hum":40.5}
 *
 * 10,000 events per second of event time, every 100th message a
 * redelivery of a recent one. Window 10 s, watermark delay 2 s. Two cases:
 * 1000 devices (the end-to-end bench's) and 100,000 devices (each 10 s
 * window then holds ~63,000 keys: the state no longer fits the caches).
 * Prints events/s on one core and the ratio to the target
 * (1,000,000 events/s per core) for each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tw_spec.h"
#include "tw_core.h"
#include "clock.h"

#define N_EVENTS 1000000
#define TARGET 1000000.0

static const char spec_json[] =
    "{\"kafka\":{\"bootstrap\":\"127.0.0.1:9092\",\"topic\":\"bench\"},"
    " \"fields\":{\"timestamp\":\"ts\",\"timestampFormat\":\"epoch_ms\",\"keys\":[\"device\"],"
    "  \"values\":[\"temp\",\"hum\"]},"
    " \"window\":{\"size\":\"10s\",\"watermarkDelay\":\"2s\"}}";

static unsigned long long results;

static void emit(void *opaque, const struct tw_result *r)
{
	(void)opaque;
	(void)r;
	results++;
}

static int run_case(unsigned long long keys)
{
	cJSON *j = cJSON_Parse(spec_json);
	struct tw_spec spec;
	struct tw_parser_spec ps;
	struct tw_core_config cc;
	struct tw_parser *p;
	struct tw_core *core;
	struct tw_core_stats st;
	struct tw_event ev;
	char err[256], *text;
	size_t *off, *len, used = 0, cap = (size_t)N_EVENTS * 96;
	unsigned long long bad = 0;
	uint64_t rng = 88172645463325252ULL;
	double t0, dt;

	results = 0;

	if (j == NULL || tw_spec_parse(j, "bench", "bench", &spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: spec: %s\n", err);
		return 1;
	}
	cJSON_Delete(j);
	tw_spec_parser_spec(&spec, &ps);
	p = tw_parser_new(&ps, err, sizeof(err));
	if (p == NULL || tw_core_config_from_spec(&spec, &cc, err, sizeof(err)) < 0 ||
	    (core = tw_core_new(&cc, emit, NULL, err, sizeof(err))) == NULL ||
	    tw_core_assign(core, 0, NULL, 0) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	text = malloc(cap);
	off = malloc(N_EVENTS * sizeof(*off));
	len = malloc(N_EVENTS * sizeof(*len));
	if (text == NULL || off == NULL || len == NULL)
		return 1;
	for (long i = 0; i < N_EVENTS; i++) {
		int k;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		if (i > 100 && i % 100 == 0) { /* a redelivery */
			long r = i - 1 - (long)(rng % 100);
			off[i] = off[r];
			len[i] = len[r];
			continue;
		}
		k = snprintf(
		    text + used, cap - used,
		    "{\"ts\":%lld,\"device\":\"d-%llu\",\"temp\":%llu.%02llu,\"hum\":%llu.5}",
		    1800000000000LL + i / 10, (unsigned long long)(rng % keys),
		    (unsigned long long)(10 + (rng >> 10) % 30),
		    (unsigned long long)((rng >> 20) % 4 * 25),
		    (unsigned long long)((rng >> 30) % 100));
		if (k < 0 || (size_t)k >= cap - used)
			return 1;
		off[i] = used;
		len[i] = (size_t)k;
		used += (size_t)k;
	}

	t0 = clock_mono_s();
	for (long i = 0; i < N_EVENTS; i++) {
		if (tw_parser_parse(p, text + off[i], len[i], &ev, err, sizeof(err)) != 0) {
			bad++;
			continue;
		}
		if (tw_core_process(core, 0, i, &ev, i / 1000) < 0) {
			fprintf(stderr, "bench: process failed at %ld\n", i);
			return 1;
		}
	}
	dt = clock_mono_s() - t0;
	(void)tw_core_stats(core, 0, &st);
	printf("hot path (parse + dedupe + windows, no I/O), %llu keys: %d JSON events in %.3f s: "
	       "%.0f events/s on one core (%.0f ns/event); target %.0f: ratio %.2f\n",
	       keys, N_EVENTS, dt, N_EVENTS / dt, dt * 1e9 / N_EVENTS, TARGET,
	       N_EVENTS / dt / TARGET);
	printf("  results %llu, duplicates %llu, late %llu, refused %llu\n", results,
	       (unsigned long long)st.duplicates, (unsigned long long)st.window.late, bad);
	tw_core_free(core);
	tw_parser_free(p);
	tw_spec_free(&spec);
	free(text);
	free(off);
	free(len);
	return bad != 0;
}

int main(void)
{
	if (run_case(1000) != 0)
		return 1;
	return run_case(100000);
}
