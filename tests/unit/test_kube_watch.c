/* Unit tests for the watch-stream decoder in lib/kube/kube_watch.c: a stream
 * split at every point (and every pair of points), bookmarks, 410 ERROR
 * events, bounds, and the request path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_watch.h"

/* What the callback saw. */
#define MAX_SEEN 64
struct seen {
	int n;
	enum kube_watch_type type[MAX_SEEN];
	char name[MAX_SEEN][64];
	char rv[MAX_SEEN][KUBE_WATCH_RV_MAX];
	int rc[MAX_SEEN];
	int stop_at; /* return stop_rc for event number stop_at (1-based) */
	int stop_rc;
	int take; /* take ownership of objects */
	cJSON *taken[MAX_SEEN];
};

static int on_event(struct kube_watch_event *ev, void *opaque)
{
	struct seen *s = opaque;
	assert_true(s->n < MAX_SEEN);
	int i = s->n++;
	s->type[i] = ev->type;
	s->rc[i] = ev->rc;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ev->object, "metadata");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
	snprintf(s->name[i], sizeof(s->name[i]), "%s",
	         cJSON_IsString(name) ? name->valuestring : "");
	snprintf(s->rv[i], sizeof(s->rv[i]), "%s",
	         ev->resource_version != NULL ? ev->resource_version : "-");
	if (s->take) {
		s->taken[i] = ev->object;
		ev->object = NULL;
	}
	if (s->stop_at == s->n)
		return s->stop_rc;
	return 0;
}

static void seen_free(struct seen *s)
{
	for (int i = 0; i < s->n; i++)
		cJSON_Delete(s->taken[i]);
}

/* A stream as the API server writes it: ADDED, MODIFIED, BOOKMARK, DELETED. */
static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"101\"},"
    "\"data\":{\"k\":\"v\\n\\u00e9\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"102\"},"
    "\"data\":{\"k\":\"w\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"resourceVersion\":\"150\",\"annotations\":"
    "{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"160\"}}}\n";

static void check_stream(const struct seen *s, const struct kube_watch_decoder *d)
{
	assert_int_equal(s->n, 4);
	assert_int_equal(s->type[0], KUBE_WATCH_ADDED);
	assert_int_equal(s->type[1], KUBE_WATCH_MODIFIED);
	assert_int_equal(s->type[2], KUBE_WATCH_BOOKMARK);
	assert_int_equal(s->type[3], KUBE_WATCH_DELETED);
	assert_string_equal(s->name[0], "a");
	assert_string_equal(s->name[2], "");
	assert_string_equal(s->rv[0], "101");
	assert_string_equal(s->rv[1], "102");
	assert_string_equal(s->rv[2], "150");
	assert_string_equal(s->rv[3], "160");
	assert_string_equal(d->resource_version, "160");
	assert_int_equal(d->events, 4);
	assert_int_equal(d->bookmarks, 1);
}

static void test_one_chunk(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, "100");
	assert_string_equal(d.resource_version, "100");
	assert_int_equal(kube_watch_decoder_feed(&d, stream, strlen(stream), on_event, &s, NULL),
	                 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, NULL), 0);
	check_stream(&s, &d);
	/* Nothing was carried: every line was parsed in place. */
	assert_null(d.buf);
	kube_watch_decoder_free(&d);
}

/* Every split point: [0,i) then [i,n). */
static void test_every_split(void **state)
{
	(void)state;
	size_t n = strlen(stream);
	for (size_t i = 0; i <= n; i++) {
		struct kube_watch_decoder d;
		struct seen s = {0};
		struct kube_error e;
		kube_watch_decoder_init(&d, 0, NULL);
		assert_int_equal(kube_watch_decoder_feed(&d, stream, i, on_event, &s, &e), 0);
		assert_int_equal(kube_watch_decoder_feed(&d, stream + i, n - i, on_event, &s, &e),
		                 0);
		assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, &e), 0);
		check_stream(&s, &d);
		kube_watch_decoder_free(&d);
	}
}

/* Every pair of split points: three chunks, an event may span all three. */
static void test_every_split_pair(void **state)
{
	(void)state;
	size_t n = strlen(stream);
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct kube_watch_decoder d;
			struct seen s = {0};
			kube_watch_decoder_init(&d, 0, NULL);
			assert_int_equal(kube_watch_decoder_feed(&d, stream, i, on_event, &s, NULL),
			                 0);
			assert_int_equal(
			    kube_watch_decoder_feed(&d, stream + i, j - i, on_event, &s, NULL), 0);
			assert_int_equal(
			    kube_watch_decoder_feed(&d, stream + j, n - j, on_event, &s, NULL), 0);
			assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, NULL), 0);
			assert_int_equal(s.n, 4);
			assert_string_equal(d.resource_version, "160");
			kube_watch_decoder_free(&d);
		}
	}
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, NULL);
	for (size_t i = 0; stream[i] != '\0'; i++)
		assert_int_equal(kube_watch_decoder_feed(&d, stream + i, 1, on_event, &s, NULL), 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, NULL), 0);
	check_stream(&s, &d);
	kube_watch_decoder_free(&d);
}

static void test_blank_lines_crlf(void **state)
{
	(void)state;
	const char *text =
	    "\n\r\n  \n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\","
	    "\"resourceVersion\":\"7\"}}}\r\n\n"
	    "  {\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}  \r\n";
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, "5");
	assert_int_equal(kube_watch_decoder_feed(&d, text, strlen(text), on_event, &s, NULL), 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, NULL), 0);
	assert_int_equal(s.n, 2);
	/* An event without a resourceVersion leaves the tracked one alone. */
	assert_string_equal(s.rv[1], "-");
	assert_string_equal(d.resource_version, "7");
	kube_watch_decoder_free(&d);
}

static void test_bookmark_only_moves_rv(void **state)
{
	(void)state;
	const char *text = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Widget\",\"apiVersion\":"
	                   "\"e2e.sluice.dev/v1\",\"metadata\":{\"resourceVersion\":\"9001\","
	                   "\"creationTimestamp\":null},\"spec\":null}}\n";
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, "9000");
	assert_int_equal(kube_watch_decoder_feed(&d, text, strlen(text), on_event, &s, NULL), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.type[0], KUBE_WATCH_BOOKMARK);
	assert_string_equal(d.resource_version, "9001");
	assert_int_equal(d.bookmarks, 1);
	kube_watch_decoder_free(&d);
}

static void test_error_410(void **state)
{
	(void)state;
	/* Exactly what a v1.33 API server sent for resourceVersion=1. */
	const char *text =
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":"
	    "\"3\"}}}\n"
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"metadata\":"
	    "{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (2)\",\"reason\":"
	    "\"Expired\",\"code\":410}}\n"
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":"
	    "\"4\"}}}\n";
	size_t n = strlen(text);
	for (size_t split = 0; split <= n; split++) {
		struct kube_watch_decoder d;
		struct seen s = {0};
		struct kube_error e;
		kube_watch_decoder_init(&d, 0, "1");
		int rc = kube_watch_decoder_feed(&d, text, split, on_event, &s, &e);
		if (rc == 0)
			rc = kube_watch_decoder_feed(&d, text + split, n - split, on_event, &s, &e);
		assert_int_equal(rc, KUBE_EGONE);
		/* The callback saw the ERROR, nothing after it. */
		assert_int_equal(s.n, 2);
		assert_int_equal(s.type[1], KUBE_WATCH_ERROR);
		assert_int_equal(s.rc[1], KUBE_EGONE);
		assert_string_equal(s.rv[1], "-");
		assert_int_equal(e.code, 410);
		assert_string_equal(e.reason, "Expired");
		assert_string_equal(e.message, "too old resource version: 1 (2)");
		/* The Status is no version to resume from. */
		assert_string_equal(d.resource_version, "3");
		/* Sticky: the stream is over. */
		assert_int_equal(kube_watch_decoder_feed(&d, "\n", 1, on_event, &s, &e),
		                 KUBE_EGONE);
		assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, &e), KUBE_EGONE);
		assert_int_equal(s.n, 2);
		kube_watch_decoder_free(&d);
	}
}

static void test_error_other(void **state)
{
	(void)state;
	const char *text = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":"
	                   "\"Failure\",\"message\":\"etcd is sad\",\"reason\":\"InternalError\","
	                   "\"code\":500}}\n";
	struct kube_watch_decoder d;
	struct seen s = {0};
	struct kube_error e;
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, text, strlen(text), on_event, &s, &e),
	                 KUBE_ESERVER);
	assert_int_equal(s.rc[0], KUBE_ESERVER);
	assert_string_equal(e.message, "etcd is sad");
	kube_watch_decoder_free(&d);

	/* An ERROR whose Status has no code at all. */
	const char *odd = "{\"type\":\"ERROR\",\"object\":{\"message\":\"?\"}}\n";
	s.n = 0;
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, odd, strlen(odd), on_event, &s, &e),
	                 KUBE_EPROTOCOL);
	kube_watch_decoder_free(&d);
}

static void test_oversized_line(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	struct kube_error e;
	char line[256];
	/* Exactly max_event bytes before the newline: fine. */
	int n = snprintf(line, sizeof(line),
	                 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}");
	kube_watch_decoder_init(&d, (size_t)n, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, line, (size_t)n, on_event, &s, &e), 0);
	assert_int_equal(kube_watch_decoder_feed(&d, "\n", 1, on_event, &s, &e), 0);
	assert_int_equal(s.n, 1);
	kube_watch_decoder_free(&d);

	/* One byte more: refused, in one chunk or split... */
	line[n] = ' ';
	line[n + 1] = '\n';
	kube_watch_decoder_init(&d, (size_t)n, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, line, (size_t)n + 2, on_event, &s, &e),
	                 KUBE_ETOOLARGE);
	assert_non_null(strstr(e.message, "longer than"));
	kube_watch_decoder_free(&d);

	/* ...and before any newline arrives: a runaway line never grows the
	 * buffer past the bound. */
	kube_watch_decoder_init(&d, 1000, NULL);
	char junk[300];
	memset(junk, 'x', sizeof(junk));
	int rc = 0, chunks = 0;
	while (rc == 0 && chunks < 100) {
		rc = kube_watch_decoder_feed(&d, junk, sizeof(junk), on_event, &s, &e);
		chunks++;
		assert_true(d.len <= 1000);
		assert_true(d.cap <= 1000);
	}
	assert_int_equal(rc, KUBE_ETOOLARGE);
	assert_int_equal(chunks, 4);
	assert_int_equal(kube_watch_decoder_feed(&d, "\n", 1, on_event, &s, &e), KUBE_ETOOLARGE);
	kube_watch_decoder_free(&d);
}

static void test_big_event_across_chunks(void **state)
{
	(void)state;
	/* A 3 MB ConfigMap value in 4000-byte chunks, then a small event. */
	size_t big = 3u << 20;
	size_t cap = big + 512;
	char *text = malloc(cap);
	assert_non_null(text);
	int n = snprintf(text, cap,
	                 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":"
	                 "\"big\",\"resourceVersion\":\"11\"},\"data\":{\"v\":\"");
	memset(text + n, 'q', big);
	n += (int)big;
	n += snprintf(text + n, cap - (size_t)n,
	              "\"}}}\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"big\","
	              "\"resourceVersion\":\"12\"}}}\n");
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, NULL);
	for (size_t off = 0; off < (size_t)n; off += 4000) {
		size_t len = (size_t)n - off < 4000 ? (size_t)n - off : 4000;
		assert_int_equal(kube_watch_decoder_feed(&d, text + off, len, on_event, &s, NULL),
		                 0);
	}
	assert_int_equal(s.n, 2);
	assert_string_equal(s.name[0], "big");
	assert_string_equal(d.resource_version, "12");
	/* The carry buffer that held 3 MB was given back. */
	assert_true(d.cap < (1u << 20));
	kube_watch_decoder_free(&d);
	free(text);
}

static void test_bad_lines(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}\n", /* unbalanced */
	    "not json\n",
	    "{\"object\":{}}\n",                     /* no type */
	    "{\"type\":\"ADDED\"}\n",                /* no object */
	    "{\"type\":\"ADDED\",\"object\":[1]}\n", /* object not an object */
	    "{\"type\":7,\"object\":{}}\n",
	    "{\"type\":\"RENAMED\",\"object\":{}}\n", /* unknown type */
	    "[\"ADDED\"]\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kube_watch_decoder d;
		struct seen s = {0};
		struct kube_error e;
		kube_watch_decoder_init(&d, 0, "1");
		/* A good event before the bad line is still delivered. */
		const char *good = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"g\","
		                   "\"resourceVersion\":\"2\"}}}\n";
		assert_int_equal(kube_watch_decoder_feed(&d, good, strlen(good), on_event, &s, &e),
		                 0);
		assert_int_equal(
		    kube_watch_decoder_feed(&d, bad[i], strlen(bad[i]), on_event, &s, &e),
		    KUBE_EPROTOCOL);
		assert_int_equal(s.n, 1);
		assert_string_equal(d.resource_version, "2");
		assert_int_equal(kube_watch_decoder_feed(&d, good, strlen(good), on_event, &s, &e),
		                 KUBE_EPROTOCOL);
		assert_int_equal(s.n, 1);
		kube_watch_decoder_free(&d);
	}

	/* A resourceVersion past the bound. */
	char text[512];
	char rv[KUBE_WATCH_RV_MAX + 1];
	memset(rv, '9', sizeof(rv) - 1);
	rv[sizeof(rv) - 1] = '\0';
	snprintf(text, sizeof(text),
	         "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"%s\"}}}\n",
	         rv);
	struct kube_watch_decoder d;
	struct seen s = {0};
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, text, strlen(text), on_event, &s, NULL),
	                 KUBE_EPROTOCOL);
	assert_int_equal(s.n, 0);
	kube_watch_decoder_free(&d);
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	s.stop_at = 2;
	s.stop_rc = 42;
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, stream, strlen(stream), on_event, &s, NULL),
	                 42);
	assert_int_equal(s.n, 2);
	/* The refused event's version is not taken: a resumed watch sees it
	 * again. */
	assert_string_equal(d.resource_version, "101");
	assert_int_equal(kube_watch_decoder_feed(&d, "\n", 1, on_event, &s, NULL), 42);
	kube_watch_decoder_free(&d);
}

static void test_callback_takes_object(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	s.take = 1;
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, stream, strlen(stream), on_event, &s, NULL),
	                 0);
	check_stream(&s, &d);
	/* The objects outlive the decoder. */
	kube_watch_decoder_free(&d);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(s.taken[0], "data");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(data, "k")->valuestring,
	                    "v\n\xc3\xa9");
	seen_free(&s);
}

static void test_finish(void **state)
{
	(void)state;
	struct kube_watch_decoder d;
	struct seen s = {0};
	struct kube_error e;
	/* A last event without its newline is still an event. */
	const char *last = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":"
	                   "\"5\"}}}";
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, last, strlen(last), on_event, &s, &e), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, &e), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(d.resource_version, "5");
	kube_watch_decoder_free(&d);

	/* Cut mid-event: the connection died. */
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, last, 20, on_event, &s, &e), 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, &e), KUBE_EPROTOCOL);
	assert_non_null(strstr(e.message, "ended inside an event"));
	kube_watch_decoder_free(&d);

	/* Only whitespace left: a clean end. */
	kube_watch_decoder_init(&d, 0, NULL);
	assert_int_equal(kube_watch_decoder_feed(&d, "\r", 1, on_event, &s, &e), 0);
	assert_int_equal(kube_watch_decoder_finish(&d, on_event, &s, &e), 0);
	kube_watch_decoder_free(&d);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(kube_watch_type_name(KUBE_WATCH_ADDED), "ADDED");
	assert_string_equal(kube_watch_type_name(KUBE_WATCH_ERROR), "ERROR");
	assert_string_equal(kube_watch_type_name((enum kube_watch_type)99), "UNKNOWN");
}

static void test_watch_path(void **state)
{
	(void)state;
	char buf[KUBE_PATH_MAX];
	struct kube_ref widgets = {"e2e.sluice.dev", "v1", "widgets", "ns", NULL, NULL};
	struct kube_watch_opts o = {.resource_version = "123", .label_selector = "app in (a,b)"};
	assert_int_equal(kube_watch_path(buf, sizeof(buf), &widgets, &o, 301), 0);
	assert_string_equal(buf, "/apis/e2e.sluice.dev/v1/namespaces/ns/widgets?watch=1&"
	                         "resourceVersion=123&allowWatchBookmarks=true&timeoutSeconds=301&"
	                         "labelSelector=app%20in%20%28a%2Cb%29");
	struct kube_ref cms = {NULL, "v1", "configmaps", NULL, NULL, NULL};
	struct kube_watch_opts none = {.no_bookmarks = 1};
	assert_int_equal(kube_watch_path(buf, sizeof(buf), &cms, &none, 0), 0);
	assert_string_equal(buf, "/api/v1/configmaps?watch=1");
	/* A watch is on a collection. */
	struct kube_ref one = {NULL, "v1", "configmaps", "ns", "x", NULL};
	assert_int_equal(kube_watch_path(buf, sizeof(buf), &one, &none, 0), KUBE_EINVAL);
	char small[40];
	assert_int_equal(kube_watch_path(small, sizeof(small), &widgets, &o, 5), KUBE_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_chunk),
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_every_split_pair),
	    cmocka_unit_test(test_byte_by_byte),
	    cmocka_unit_test(test_blank_lines_crlf),
	    cmocka_unit_test(test_bookmark_only_moves_rv),
	    cmocka_unit_test(test_error_410),
	    cmocka_unit_test(test_error_other),
	    cmocka_unit_test(test_oversized_line),
	    cmocka_unit_test(test_big_event_across_chunks),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_callback_stops),
	    cmocka_unit_test(test_callback_takes_object),
	    cmocka_unit_test(test_finish),
	    cmocka_unit_test(test_type_names),
	    cmocka_unit_test(test_watch_path),
	};
	return cmocka_run_group_tests_name("kube_watch", tests, NULL, NULL);
}
