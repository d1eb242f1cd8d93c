/*
 * fuzz_kube_watch.c - libFuzzer target for the watch-stream decoder
 * (lib/kube/kube_watch.c).
 *
 * Input: byte 0 picks how many split points (0-7), the next 2 bytes per point
 * give each offset, the rest is the stream. The stream is fed in the chunks
 * those points make, and again in one piece; both runs must deliver the same
 * events (types, versions) and end with the same result and resourceVersion,
 * because how the network cuts a stream must never change what it means.
 * Sanitizers catch the rest (overflows, leaks, UB).
 *
 * Build and run (30 s) from the repository root:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Ilib $(pkg-config --cflags libcjson libcurl yaml-0.1) \
 *     -o build/fuzz_kube_watch tests/fuzz/fuzz_kube_watch.c \
 *     lib/kube/kube_watch.c lib/kube/kube_status.c lib/kube/kube_client.c \
 *     lib/kube/kube_config.c lib/log.c \
 *     $(pkg-config --libs libcjson libcurl yaml-0.1) -lpthread
 *   build/fuzz_kube_watch -max_total_time=30 -max_len=8192 tests/fuzz/corpus/kube_watch
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small bound, so that "event too long" is reached often. */
#define MAX_EVENT 512
#define MAX_SPLITS 7

struct trace {
	size_t n;
	uint64_t hash; /* of every event's type and resourceVersion, in order */
	int take;      /* alternate taking ownership of objects */
};

static void mix(uint64_t *h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		*h = (*h ^ b[i]) * 1099511628211ull;
}

static int on_event(struct kube_watch_event *ev, void *opaque)
{
	struct trace *t = opaque;
	if ((int)ev->type < KUBE_WATCH_ADDED || ev->type > KUBE_WATCH_ERROR || ev->object == NULL)
		abort();
	if (ev->type == KUBE_WATCH_ERROR && (ev->rc >= 0 || ev->resource_version != NULL))
		abort();
	if (ev->resource_version != NULL && strlen(ev->resource_version) >= KUBE_WATCH_RV_MAX)
		abort();
	t->n++;
	int type = (int)ev->type;
	mix(&t->hash, &type, sizeof(type));
	if (ev->resource_version != NULL)
		mix(&t->hash, ev->resource_version, strlen(ev->resource_version));
	if (t->take ^= 1) {
		cJSON_Delete(ev->object);
		ev->object = NULL;
	}
	return 0;
}

static int run(const char *s, size_t len, const size_t *cuts, size_t ncuts, struct trace *t,
               char *rv, size_t rv_size)
{
	struct kube_watch_decoder d;
	struct kube_error err;
	kube_watch_decoder_init(&d, MAX_EVENT, "0");
	int rc = 0;
	size_t pos = 0;
	for (size_t i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		rc = kube_watch_decoder_feed(&d, s + pos, end - pos, on_event, t, &err);
		pos = end;
		if (d.len > MAX_EVENT || (d.buf != NULL && d.cap > MAX_EVENT))
			abort(); /* the carry buffer is bounded */
	}
	if (rc == 0)
		rc = kube_watch_decoder_finish(&d, on_event, t, &err);
	memcpy(rv, d.resource_version, rv_size);
	kube_watch_decoder_free(&d);
	return rc;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t ncuts = data[0] % (MAX_SPLITS + 1);
	if (size < 1 + 2 * ncuts)
		return 0;
	const char *s = (const char *)data + 1 + 2 * ncuts;
	size_t len = size - 1 - 2 * ncuts;
	size_t cuts[MAX_SPLITS];
	for (size_t i = 0; i < ncuts; i++) {
		size_t off = (size_t)data[1 + 2 * i] | (size_t)data[2 + 2 * i] << 8;
		cuts[i] = len > 0 ? off % (len + 1) : 0;
	}
	qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

	struct trace split = {0, 14695981039346656037ull, 0};
	struct trace whole = {0, 14695981039346656037ull, 1};
	char rv_split[KUBE_WATCH_RV_MAX], rv_whole[KUBE_WATCH_RV_MAX];
	int rc_split = run(s, len, cuts, ncuts, &split, rv_split, sizeof(rv_split));
	int rc_whole = run(s, len, NULL, 0, &whole, rv_whole, sizeof(rv_whole));
	if (rc_split != rc_whole || split.n != whole.n || split.hash != whole.hash ||
	    strcmp(rv_split, rv_whole) != 0)
		abort();
	return 0;
}
