/* bench_tw_core.c -- the telemetry stream core's hot path without parsing:
 * 1,000,000 already-parsed events (1000 keys, two value fields, mostly in
 * order, some disorder, 1% redeliveries, a few late) through dedupe and
 * windows with every aggregation (count, sum, min, max, mean, p50, p95,
 * p99), once with tumbling and once with hopping windows.
 *
 * Not part of `make unit`. Build and run (one core):
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Ilib $(pkg-config --cflags libcjson yaml-0.1) \
 *      tests/bench/bench_tw_core.c $(ls workers/[a-z]*.c | grep -v /main.c) \
 *      lib/config.c lib/log.c -o build/bench_tw_core \
 *      $(pkg-config --libs libcjson yaml-0.1) -lm && build/bench_tw_core
 *
 * Each event is copied into a struct tw_event first (what a parser hands
 * over), inside the timed loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tw_core.h"
#include "clock.h"

#define N_EVENTS 1000000
#define N_KEYS 1000
#define MS INT64_C(1000000)
#define S INT64_C(1000000000)

struct compact {
	uint16_t key;
	int64_t ts;
	double v0, v1;
};

struct counts {
	uint64_t results;
	double checksum;
};

static void emit(void *opaque, const struct tw_result *r)
{
	struct counts *c = opaque;

	c->results++;
	c->checksum += r->values[0].p99 + (double)r->count;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void run(const char *name, int64_t size, int64_t slide, const struct compact *in,
                char keys[][16], const size_t *key_len)
{
	struct tw_core_config cfg;
	struct counts counts = {0, 0};
	struct tw_core_stats st;
	struct tw_core *core;
	struct tw_event ev;
	char err[256];
	double t0, dt;

	memset(&cfg, 0, sizeof(cfg));
	cfg.window.size_ns = size;
	cfg.window.slide_ns = slide;
	cfg.window.delay_ns = 2 * S;
	cfg.window.idle_timeout_ms = 30000;
	if (tw_agg_config_init(&cfg.window.agg, 2, TW_AGG_ALL, 0, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		exit(1);
	}
	cfg.dedupe_enabled = 1;
	cfg.dedupe.horizon_ns = size + cfg.window.delay_ns;
	core = tw_core_new(&cfg, emit, &counts, err, sizeof(err));
	if (core == NULL || tw_core_assign(core, 0, NULL, 0) < 0) {
		fprintf(stderr, "bench: %s\n", core == NULL ? err : "assign failed");
		exit(1);
	}
	memset(&ev, 0, sizeof(ev));
	ev.present = 3;

	t0 = clock_mono_s();
	for (int64_t i = 0; i < N_EVENTS; i++) {
		const struct compact *c = &in[i];
		int rc;

		ev.ts_ns = c->ts;
		ev.key_len = key_len[c->key];
		memcpy(ev.key, keys[c->key], ev.key_len);
		ev.values[0] = c->v0;
		ev.values[1] = c->v1;
		rc = tw_core_process(core, 0, i, &ev, i / 1000); /* 1 ms of clock per 1000 */
		if (rc < 0) {
			fprintf(stderr, "bench: process failed: %d\n", rc);
			exit(1);
		}
	}
	dt = clock_mono_s() - t0;

	if (tw_core_stats(core, 0, &st) < 0)
		exit(1);
	printf("%-28s %9.0f events/s  (%.0f ns/event)  results %llu, duplicates %llu, late %llu, "
	       "partially late %llu, open windows %llu\n",
	       name, N_EVENTS / dt, dt * 1e9 / N_EVENTS, (unsigned long long)counts.results,
	       (unsigned long long)st.duplicates, (unsigned long long)st.window.late,
	       (unsigned long long)st.window.partial_late,
	       (unsigned long long)st.window.open_windows);
	tw_core_free(core);
}

int main(void)
{
	static char keys[N_KEYS][16];
	static size_t key_len[N_KEYS];
	struct compact *in = malloc(N_EVENTS * sizeof(*in));
	int64_t base = 1700000000 * S;
	struct rusage ru;

	if (in == NULL)
		return 1;
	for (int k = 0; k < N_KEYS; k++)
		key_len[k] = (size_t)snprintf(keys[k], sizeof(keys[k]),
		                              "host-%03d\x1f"
		                              "eu",
		                              k);
	for (int i = 0; i < N_EVENTS; i++) {
		uint64_t r = next();
		int64_t jitter;

		if (i > 100 && r % 100 == 0) { /* a redelivery of a recent event */
			in[i] = in[i - 1 - (int)(next() % 100)];
			continue;
		}
		base += 100000; /* 10,000 events per second of event time */
		r = next();
		if (r % 1000 == 0) /* 0.1%: up to 20 s old, mostly past the watermark */
			jitter = (int64_t)(next() % 20000) * MS;
		else /* 90% within 50 ms, the rest within 1.5 s */
			jitter = (int64_t)(next() % (r % 10 ? 50 : 1500)) * MS;
		in[i].key = (uint16_t)(next() % N_KEYS);
		in[i].ts = base - jitter;
		/* A temperature-like value and a latency-like one (1 ms .. 20 s,
		 * log-uniform: wide, so its sketches hold hundreds of buckets). */
		in[i].v0 = 20.0 + (double)(next() % 1000) / 100.0;
		in[i].v1 = exp((double)(next() % 10000) / 1000.0);
	}
	printf("bench_tw_core: %d events, %d keys, dedupe + windows, 2 values, all aggregations\n",
	       N_EVENTS, N_KEYS);
	run("tumbling 10s", 10 * S, 10 * S, in, keys, key_len);
	run("hopping 30s / 10s", 30 * S, 10 * S, in, keys, key_len);
	run("tumbling 1s", 1 * S, 1 * S, in, keys, key_len);
	getrusage(RUSAGE_SELF, &ru);
	printf("max RSS %ld MiB (the input array alone is %zu MiB)\n", ru.ru_maxrss / 1024,
	       N_EVENTS * sizeof(*in) >> 20);
	free(in);
	return 0;
}
