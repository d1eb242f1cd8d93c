/* Unit tests for lib/metrics.c: exact exposition text, validation, bounds, threads,
 * lookup among many series, removal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "metrics.h"

static char errbuf[256];

static int setup(void **state)
{
	*state = metrics_registry_new();
	errbuf[0] = '\0';
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	metrics_registry_free(*state);
	return 0;
}

/* Renders reg and compares with expect. */
static void assert_rendered(struct metrics_registry *reg, const char *expect)
{
	char *text;
	size_t len;
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, expect);
	free(text);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_empty_registry(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;

	assert_rendered(reg, "");
	/* A family with labels shows nothing until its first child. */
	assert_int_equal(metrics_counter(reg, "x_total", "X.", L("a"), &f, errbuf, sizeof(errbuf)),
	                 0);
	assert_rendered(reg, "");
	metrics_registry_free(NULL);
}

static void test_counter_and_gauge(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *reconciles, *queue, *up;

	assert_int_equal(metrics_counter(reg, "sluice_reconciles_total", "Reconciles by result.",
	                                 L("resource", "result"), &reconciles, errbuf,
	                                 sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "sluice_queue_depth", "Items waiting.", NULL, &queue,
	                               errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "up", NULL, NULL, &up, errbuf, sizeof(errbuf)), 0);

	assert_int_equal(metrics_inc(reconciles, L("videojobs", "ok")), 0);
	assert_int_equal(metrics_inc(reconciles, L("videojobs", "error")), 0);
	assert_int_equal(metrics_add(reconciles, L("videojobs", "ok"), 2), 0);
	assert_int_equal(metrics_add(reconciles, L("streams", "ok"), 0.5), 0);
	assert_int_equal(metrics_set(queue, NULL, 7), 0);
	assert_int_equal(metrics_add(queue, L(NULL), -2.25), 0);

	assert_rendered(reg, "# HELP sluice_reconciles_total Reconciles by result.\n"
	                     "# TYPE sluice_reconciles_total counter\n"
	                     "sluice_reconciles_total{resource=\"videojobs\",result=\"ok\"} 3\n"
	                     "sluice_reconciles_total{resource=\"videojobs\",result=\"error\"} 1\n"
	                     "sluice_reconciles_total{resource=\"streams\",result=\"ok\"} 0.5\n"
	                     "# HELP sluice_queue_depth Items waiting.\n"
	                     "# TYPE sluice_queue_depth gauge\n"
	                     "sluice_queue_depth 4.75\n"
	                     "# TYPE up gauge\n"
	                     "up 0\n");
}

static void test_histogram(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *h, *plain;
	const double bounds[] = {0.1, 1, 10};

	assert_int_equal(metrics_histogram(reg, "sluice_request_seconds", "Request latency.",
	                                   L("verb"), bounds, 3, &h, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_observe(h, L("GET"), 0.05), 0);
	assert_int_equal(metrics_observe(h, L("GET"), 0.1), 0); /* le is inclusive */
	assert_int_equal(metrics_observe(h, L("GET"), 5), 0);
	assert_int_equal(metrics_observe(h, L("GET"), 100), 0);
	assert_int_equal(metrics_observe(h, L("PUT"), 1), 0);

	assert_int_equal(metrics_histogram(reg, "plain_seconds", NULL, NULL, NULL, 0, &plain,
	                                   errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_observe(plain, NULL, 2), 0);
	assert_int_equal(metrics_observe(plain, NULL, NAN), 0);

	assert_rendered(reg, "# HELP sluice_request_seconds Request latency.\n"
	                     "# TYPE sluice_request_seconds histogram\n"
	                     "sluice_request_seconds_bucket{verb=\"GET\",le=\"0.1\"} 2\n"
	                     "sluice_request_seconds_bucket{verb=\"GET\",le=\"1\"} 2\n"
	                     "sluice_request_seconds_bucket{verb=\"GET\",le=\"10\"} 3\n"
	                     "sluice_request_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 4\n"
	                     "sluice_request_seconds_sum{verb=\"GET\"} 105.15\n"
	                     "sluice_request_seconds_count{verb=\"GET\"} 4\n"
	                     "sluice_request_seconds_bucket{verb=\"PUT\",le=\"0.1\"} 0\n"
	                     "sluice_request_seconds_bucket{verb=\"PUT\",le=\"1\"} 1\n"
	                     "sluice_request_seconds_bucket{verb=\"PUT\",le=\"10\"} 1\n"
	                     "sluice_request_seconds_bucket{verb=\"PUT\",le=\"+Inf\"} 1\n"
	                     "sluice_request_seconds_sum{verb=\"PUT\"} 1\n"
	                     "sluice_request_seconds_count{verb=\"PUT\"} 1\n"
	                     "# TYPE plain_seconds histogram\n"
	                     "plain_seconds_bucket{le=\"+Inf\"} 2\n"
	                     "plain_seconds_sum NaN\n"
	                     "plain_seconds_count 2\n");
}

static void test_escaping(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;

	assert_int_equal(metrics_gauge(reg, "g", "Back\\slash, \"quotes\"\nand a newline.",
	                               L("path"), &f, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_set(f, L("C:\\dir \"x\"\nnext"), 1), 0);
	assert_int_equal(metrics_set(f, L(""), 2), 0);
	assert_rendered(reg, "# HELP g Back\\\\slash, \"quotes\"\\nand a newline.\n"
	                     "# TYPE g gauge\n"
	                     "g{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n"
	                     "g{path=\"\"} 2\n");
}

static void test_special_values(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;

	assert_int_equal(metrics_gauge(reg, "v", NULL, L("k"), &f, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(metrics_set(f, L("inf"), INFINITY), 0);
	assert_int_equal(metrics_set(f, L("ninf"), -INFINITY), 0);
	assert_int_equal(metrics_set(f, L("nan"), NAN), 0);
	assert_int_equal(metrics_set(f, L("big"), 1e21), 0);
	assert_int_equal(metrics_set(f, L("small"), 1.5e-7), 0);
	assert_int_equal(metrics_set(f, L("sum"), 0.1 + 0.2), 0);
	assert_int_equal(metrics_set(f, L("int"), 123456789012.0), 0);
	assert_int_equal(metrics_set(f, L("neg"), -42.5), 0);
	assert_rendered(reg, "# TYPE v gauge\n"
	                     "v{k=\"inf\"} +Inf\n"
	                     "v{k=\"ninf\"} -Inf\n"
	                     "v{k=\"nan\"} NaN\n"
	                     "v{k=\"big\"} 1e+21\n"
	                     "v{k=\"small\"} 1.5e-07\n"
	                     "v{k=\"sum\"} 0.30000000000000004\n"
	                     "v{k=\"int\"} 123456789012\n"
	                     "v{k=\"neg\"} -42.5\n");

	char buf[32];
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 0), "0");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 0.005), "0.005");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 0.0001), "0.0001");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 0.00001), "1e-05");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 10), "10");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 40000), "40000");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 1e6), "1000000");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 1e16), "10000000000000000");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 1e17), "1e+17");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), -0.0), "-0");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 2.5), "2.5");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 9007199254740993.0),
	                    "9007199254740992");
	assert_string_equal(metrics_format_value(buf, sizeof(buf), 1.7976931348623157e308),
	                    "1.7976931348623157e+308");
}

static void test_registration_errors(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f = (struct metrics_family *)1;
	const double good[] = {1, 2};
	const double unordered[] = {1, 1};
	const double with_inf[] = {1, INFINITY};
	double many[METRICS_MAX_BUCKETS + 1];

	for (int i = 0; i <= METRICS_MAX_BUCKETS; i++)
		many[i] = i;

#define REG_FAILS(call, message)                                                                   \
	do {                                                                                       \
		f = (struct metrics_family *)1;                                                    \
		assert_int_equal(call, METRICS_ERR);                                               \
		assert_null(f);                                                                    \
		assert_string_equal(errbuf, message);                                              \
	} while (0)

	REG_FAILS(metrics_counter(reg, "9lives", NULL, NULL, &f, errbuf, sizeof(errbuf)),
	          "metrics: invalid metric name \"9lives\"");
	REG_FAILS(metrics_counter(reg, "", NULL, NULL, &f, errbuf, sizeof(errbuf)),
	          "metrics: invalid metric name \"\"");
	REG_FAILS(metrics_counter(reg, "a-b", NULL, NULL, &f, errbuf, sizeof(errbuf)),
	          "metrics: invalid metric name \"a-b\"");
	REG_FAILS(metrics_counter(reg, NULL, NULL, NULL, &f, errbuf, sizeof(errbuf)),
	          "metrics: invalid metric name \"(null)\"");
	REG_FAILS(metrics_counter(reg, "a", NULL, L("__reserved"), &f, errbuf, sizeof(errbuf)),
	          "metrics: a: invalid label name \"__reserved\"");
	REG_FAILS(metrics_counter(reg, "a", NULL, L("a:b"), &f, errbuf, sizeof(errbuf)),
	          "metrics: a: invalid label name \"a:b\"");
	REG_FAILS(metrics_counter(reg, "a", NULL, L("1x"), &f, errbuf, sizeof(errbuf)),
	          "metrics: a: invalid label name \"1x\"");
	REG_FAILS(metrics_counter(reg, "a", NULL, L("x", "y", "x"), &f, errbuf, sizeof(errbuf)),
	          "metrics: a: label \"x\" appears twice");
	REG_FAILS(metrics_counter(reg, "a", NULL, L("a", "b", "c", "d", "e", "f", "g", "h", "i"),
	                          &f, errbuf, sizeof(errbuf)),
	          "metrics: a: more than 8 labels");
	REG_FAILS(metrics_histogram(reg, "h", NULL, L("le"), good, 2, &f, errbuf, sizeof(errbuf)),
	          "metrics: h: a histogram cannot have the label \"le\"");
	REG_FAILS(metrics_histogram(reg, "h", NULL, NULL, unordered, 2, &f, errbuf, sizeof(errbuf)),
	          "metrics: h: bucket bounds must be finite and increasing");
	REG_FAILS(metrics_histogram(reg, "h", NULL, NULL, with_inf, 2, &f, errbuf, sizeof(errbuf)),
	          "metrics: h: bucket bounds must be finite and increasing");
	REG_FAILS(metrics_histogram(reg, "h", NULL, NULL, many, METRICS_MAX_BUCKETS + 1, &f, errbuf,
	                            sizeof(errbuf)),
	          "metrics: h: more than 64 buckets");
	REG_FAILS(metrics_histogram(reg, "h", NULL, NULL, NULL, 2, &f, errbuf, sizeof(errbuf)),
	          "metrics: h: bounds missing");

	/* "le" is fine on other types; colons are fine in metric names. */
	assert_int_equal(metrics_gauge(reg, "ns:le", NULL, L("le"), &f, errbuf, sizeof(errbuf)), 0);
	REG_FAILS(metrics_counter(reg, "ns:le", NULL, NULL, &f, errbuf, sizeof(errbuf)),
	          "metrics: metric \"ns:le\" is already registered");
	assert_int_equal(metrics_histogram(reg, "h", NULL, NULL, many, METRICS_MAX_BUCKETS, &f,
	                                   errbuf, sizeof(errbuf)),
	                 0);
#undef REG_FAILS
}

static void test_update_errors(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *c, *g, *h;
	const double bounds[] = {1};

	assert_int_equal(metrics_counter(reg, "c", NULL, L("a", "b"), &c, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "g", NULL, NULL, &g, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
	    metrics_histogram(reg, "h", NULL, NULL, bounds, 1, &h, errbuf, sizeof(errbuf)), 0);

	assert_int_equal(metrics_inc(c, L("x")), METRICS_ERR);           /* too few */
	assert_int_equal(metrics_inc(c, L("x", "y", "z")), METRICS_ERR); /* too many */
	assert_int_equal(metrics_inc(c, NULL), METRICS_ERR);
	assert_int_equal(metrics_add(c, L("x", "y"), -1), METRICS_ERR);
	assert_int_equal(metrics_add(c, L("x", "y"), NAN), METRICS_ERR);
	assert_int_equal(metrics_set(c, L("x", "y"), 1), METRICS_ERR);
	assert_int_equal(metrics_observe(c, L("x", "y"), 1), METRICS_ERR);
	assert_int_equal(metrics_observe(g, NULL, 1), METRICS_ERR);
	assert_int_equal(metrics_add(h, NULL, 1), METRICS_ERR);
	assert_int_equal(metrics_set(h, NULL, 1), METRICS_ERR);
	assert_int_equal(metrics_inc(g, L("extra")), METRICS_ERR);
	assert_int_equal(metrics_inc(NULL, NULL), METRICS_ERR);
	/* Failed updates create nothing. */
	assert_rendered(reg, "# TYPE g gauge\ng 0\n"
	                     "# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
	                     "h_sum 0\nh_count 0\n");
}

static void test_children_are_bounded(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	char value[16];

	assert_int_equal(metrics_counter(reg, "c", NULL, L("id"), &f, errbuf, sizeof(errbuf)), 0);
	for (int i = 0; i < METRICS_MAX_CHILDREN; i++) {
		snprintf(value, sizeof(value), "%d", i);
		assert_int_equal(metrics_inc(f, L(value)), 0);
	}
	assert_int_equal(metrics_inc(f, L("one-more")), METRICS_ERR);
	/* Existing children still update. */
	assert_int_equal(metrics_inc(f, L("0")), 0);

	char *text;
	size_t len;
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(strstr(text, "\nc{id=\"0\"} 2\n"));
	assert_non_null(strstr(text, "\nc{id=\"9999\"} 1\n"));
	assert_null(strstr(text, "one-more"));
	free(text);
}

struct worker {
	struct metrics_family *f;
	const char *label;
};

static void *increment(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20000; i++)
		if (metrics_inc(w->f, L(w->label)) != 0)
			return (void *)1;
	return NULL;
}

static void test_threads(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	pthread_t t[4];
	struct worker w[4];

	assert_int_equal(metrics_counter(reg, "c", NULL, L("t"), &f, errbuf, sizeof(errbuf)), 0);
	/* Children render in creation order: create them before the race. */
	assert_int_equal(metrics_add(f, L("even"), 0), 0);
	assert_int_equal(metrics_add(f, L("odd"), 0), 0);
	for (int i = 0; i < 4; i++) {
		w[i].f = f;
		w[i].label = i % 2 == 0 ? "even" : "odd";
		assert_int_equal(pthread_create(&t[i], NULL, increment, &w[i]), 0);
	}
	/* Render while the others update. */
	for (int i = 0; i < 50; i++) {
		char *text;
		size_t len;
		assert_int_equal(metrics_render(reg, &text, &len), 0);
		free(text);
	}
	for (int i = 0; i < 4; i++) {
		void *rc;
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	assert_rendered(reg, "# TYPE c counter\nc{t=\"even\"} 40000\nc{t=\"odd\"} 40000\n");
}

/* Renders reg as JSON and compares with expect; the text parses. */
static void assert_json(struct metrics_registry *reg, const char *expect)
{
	char *text;
	size_t len;
	assert_int_equal(metrics_render_json(reg, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, expect);
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	cJSON_Delete(doc);
	free(text);
}

static void test_json(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *c, *g, *h, *e;
	const double bounds[] = {0.5, 1};

	assert_json(reg, "{}");
	assert_int_equal(metrics_counter(reg, "events_total", "Events read.", L("topic", "kind"),
	                                 &c, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "up", NULL, NULL, &g, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
	    metrics_histogram(reg, "seconds", "Time.", NULL, bounds, 2, &h, errbuf, sizeof(errbuf)),
	    0);
	assert_int_equal(
	    metrics_gauge(reg, "empty", "No child yet.", L("k"), &e, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(metrics_add(c, L("t", "a"), 3), 0);
	assert_int_equal(metrics_inc(c, L("t", "b")), 0);
	assert_int_equal(metrics_set(g, NULL, 1), 0);
	assert_int_equal(metrics_observe(h, NULL, 0.25), 0);
	assert_int_equal(metrics_observe(h, NULL, 1), 0);
	assert_int_equal(metrics_observe(h, NULL, 7), 0);
	assert_json(reg, "{\"events_total\":{\"type\":\"counter\",\"help\":\"Events read.\","
	                 "\"labels\":[\"topic\",\"kind\"],\"series\":["
	                 "{\"labels\":{\"topic\":\"t\",\"kind\":\"a\"},\"value\":3},"
	                 "{\"labels\":{\"topic\":\"t\",\"kind\":\"b\"},\"value\":1}]},"
	                 "\"up\":{\"type\":\"gauge\",\"help\":null,\"labels\":[],"
	                 "\"series\":[{\"labels\":{},\"value\":1}]},"
	                 "\"seconds\":{\"type\":\"histogram\",\"help\":\"Time.\",\"labels\":[],"
	                 "\"series\":[{\"labels\":{},\"buckets\":{\"0.5\":1,\"1\":2,\"+Inf\":3},"
	                 "\"sum\":8.25,\"count\":3}]},"
	                 "\"empty\":{\"type\":\"gauge\",\"help\":\"No child yet.\","
	                 "\"labels\":[\"k\"],\"series\":[]}}");
}

static void test_json_escaping_and_special_values(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	char *text;
	size_t len;

	assert_int_equal(metrics_gauge(reg, "g", "Quote \" back\\slash\nline\ttab", L("path"), &f,
	                               errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_set(f, L("C:\\dir \"x\"\n\x01"), INFINITY), 0);
	assert_int_equal(metrics_set(f, L("ninf"), -INFINITY), 0);
	assert_int_equal(metrics_set(f, L("nan"), NAN), 0);
	assert_int_equal(metrics_set(f, L("small"), 1.5e-7), 0);
	assert_json(reg,
	            "{\"g\":{\"type\":\"gauge\",\"help\":\"Quote \\\" back\\\\slash\\nline\\ttab\","
	            "\"labels\":[\"path\"],\"series\":["
	            "{\"labels\":{\"path\":\"C:\\\\dir \\\"x\\\"\\n\\u0001\"},\"value\":\"+Inf\"},"
	            "{\"labels\":{\"path\":\"ninf\"},\"value\":\"-Inf\"},"
	            "{\"labels\":{\"path\":\"nan\"},\"value\":\"NaN\"},"
	            "{\"labels\":{\"path\":\"small\"},\"value\":1.5e-07}]}}");

	/* A label value longer than one escaping slice comes out whole. */
	char long_value[1001];
	memset(long_value, '"', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(metrics_set(f, L(long_value), 2), 0);
	assert_int_equal(metrics_render_json(reg, &text, &len), 0);
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	cJSON *series = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "g"), "series");
	cJSON *last = cJSON_GetArrayItem(series, cJSON_GetArraySize(series) - 1);
	const char *v =
	    cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(last, "labels"), "path"));
	assert_non_null(v);
	assert_string_equal(v, long_value);
	cJSON_Delete(doc);
	free(text);
}

/* Appends to *text (of *len bytes, capacity *cap) with printf's format. */
static void append(char **text, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*text + *len, *cap - *len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < *cap - *len);
	*len += (size_t)n;
}

static void test_many_series(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	enum { N = 10000 };
	char name[32];
	size_t cap = (size_t)N * 64, len = 0;
	char *expect = malloc(cap);

	assert_non_null(expect);
	assert_int_equal(metrics_gauge(reg, "g", NULL, L("ns", "name"), &f, errbuf, sizeof(errbuf)),
	                 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "vj-%d", i);
		assert_int_equal(metrics_set(f, L(i % 2 ? "odd" : "even", name), i), 0);
	}
	/* Every update finds its own series, in any order. */
	for (int i = N - 1; i >= 0; i--) {
		snprintf(name, sizeof(name), "vj-%d", i);
		assert_int_equal(metrics_add(f, L(i % 2 ? "odd" : "even", name), 0.5), 0);
	}
	/* vj-0 is in "even": in "odd" it would be a new series, past the bound. */
	assert_int_equal(metrics_inc(f, L("odd", "vj-0")), METRICS_ERR);
	append(&expect, &len, &cap, "# TYPE g gauge\n");
	for (int i = 0; i < N; i++)
		append(&expect, &len, &cap, "g{ns=\"%s\",name=\"vj-%d\"} %d.5\n",
		       i % 2 ? "odd" : "even", i, i);
	assert_rendered(reg, expect);
	free(expect);
}

static void test_values_do_not_collide(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	char long_a[300], long_b[300];

	/* Values that a join with any separator, or a short length prefix,
	 * would confuse. */
	memset(long_a, 'a', sizeof(long_a) - 1);
	long_a[sizeof(long_a) - 1] = '\0';
	memcpy(long_b, long_a, sizeof(long_b));
	long_b[200] = '\0';
	assert_int_equal(metrics_counter(reg, "c", NULL, L("a", "b"), &f, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_add(f, L("x,y", "z"), 1), 0);
	assert_int_equal(metrics_add(f, L("x", "y,z"), 2), 0);
	assert_int_equal(metrics_add(f, L("xy", ""), 3), 0);
	assert_int_equal(metrics_add(f, L("", "xy"), 4), 0);
	assert_int_equal(metrics_add(f, L("\x01x", "y"), 5), 0);
	assert_int_equal(metrics_add(f, L("\x02", "x\x01y"), 6), 0);
	assert_int_equal(metrics_add(f, L(long_a, long_b + 100), 7), 0);
	assert_int_equal(metrics_add(f, L(long_b, long_a + 100), 8), 0);
	for (int i = 0; i < 2; i++) { /* found again, not created again */
		assert_int_equal(metrics_add(f, L("x,y", "z"), 10), 0);
		assert_int_equal(metrics_add(f, L("", "xy"), 10), 0);
		assert_int_equal(metrics_add(f, L(long_b, long_a + 100), 10), 0);
	}

	char *text;
	size_t len;
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE c counter\n"
	                             "c{a=\"x,y\",b=\"z\"} 21\n"
	                             "c{a=\"x\",b=\"y,z\"} 2\n"
	                             "c{a=\"xy\",b=\"\"} 3\n"
	                             "c{a=\"\",b=\"xy\"} 24\n"
	                             "c{a=\"\x01x\",b=\"y\"} 5\n"
	                             "c{a=\"\x02\",b=\"x\x01y\"} 6\n"));
	assert_non_null(strstr(text, "\"} 28\n"));
	/* Eight series: eight lines after the TYPE line. */
	size_t lines = 0;
	for (const char *p = text; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 9);
	free(text);

	/* Each long series renders its own values. */
	assert_int_equal(metrics_render_json(reg, &text, &len), 0);
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	cJSON *series = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "c"), "series");
	cJSON *s7 = cJSON_GetObjectItem(cJSON_GetArrayItem(series, 6), "labels");
	cJSON *s8 = cJSON_GetObjectItem(cJSON_GetArrayItem(series, 7), "labels");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s7, "a")), long_a);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s7, "b")), long_b + 100);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s8, "a")), long_b);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s8, "b")), long_a + 100);
	cJSON_Delete(doc);
	free(text);
}

/* Values of every length around the key's length-prefix boundaries come
 * back whole and distinct. */
static void test_value_lengths(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	static const size_t lens[] = {0, 1, 126, 127, 128, 129, 16382, 16383, 16384, 20000};
	enum { NLENS = sizeof(lens) / sizeof(lens[0]) };
	char *v[NLENS];

	assert_int_equal(metrics_gauge(reg, "g", NULL, L("v", "w"), &f, errbuf, sizeof(errbuf)), 0);
	for (size_t i = 0; i < NLENS; i++) {
		v[i] = malloc(lens[i] + 1);
		assert_non_null(v[i]);
		memset(v[i], 'a' + (int)i, lens[i]);
		v[i][lens[i]] = '\0';
		assert_int_equal(metrics_set(f, L(v[i], "x"), 0), 0);
	}
	for (size_t i = 0; i < NLENS; i++)
		assert_int_equal(metrics_add(f, L(v[i], "x"), (double)i), 0);

	char *text;
	size_t len;
	assert_int_equal(metrics_render_json(reg, &text, &len), 0);
	cJSON *doc = cJSON_Parse(text);
	assert_non_null(doc);
	cJSON *series = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "g"), "series");
	assert_int_equal(cJSON_GetArraySize(series), NLENS);
	for (size_t i = 0; i < NLENS; i++) {
		cJSON *one = cJSON_GetArrayItem(series, (int)i);
		cJSON *labels = cJSON_GetObjectItem(one, "labels");
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "v")), v[i]);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(labels, "w")), "x");
		assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(one, "value")), i);
	}
	cJSON_Delete(doc);
	free(text);
	for (size_t i = 0; i < NLENS; i++) {
		assert_int_equal(metrics_remove(f, L(v[i], "x")), 1);
		free(v[i]);
	}
	assert_rendered(reg, "");
}

static void test_remove(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *g, *h, *up;
	const double bounds[] = {1};

	assert_int_equal(metrics_gauge(reg, "g", NULL, L("k"), &g, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(
	    metrics_histogram(reg, "h", NULL, L("k"), bounds, 1, &h, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(metrics_gauge(reg, "up", NULL, NULL, &up, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(metrics_set(g, L("a"), 1), 0);
	assert_int_equal(metrics_set(g, L("b"), 2), 0);
	assert_int_equal(metrics_set(g, L("c"), 3), 0);
	assert_int_equal(metrics_set(g, L("d"), 4), 0);
	assert_int_equal(metrics_observe(h, L("a"), 0.5), 0);
	assert_int_equal(metrics_observe(h, L("b"), 2), 0);

	assert_int_equal(metrics_remove(g, L("b")), 1);
	assert_int_equal(metrics_remove(g, L("b")), 0); /* gone already */
	assert_int_equal(metrics_remove(g, L("zz")), 0);
	assert_int_equal(metrics_remove(g, L("a", "b")), METRICS_ERR);
	assert_int_equal(metrics_remove(g, NULL), METRICS_ERR);
	assert_int_equal(metrics_remove(NULL, L("a")), METRICS_ERR);
	assert_int_equal(metrics_remove(h, L("a")), 1);
	assert_rendered(reg, "# TYPE g gauge\ng{k=\"a\"} 1\ng{k=\"c\"} 3\ng{k=\"d\"} 4\n"
	                     "# TYPE h histogram\nh_bucket{k=\"b\",le=\"1\"} 0\n"
	                     "h_bucket{k=\"b\",le=\"+Inf\"} 1\nh_sum{k=\"b\"} 2\n"
	                     "h_count{k=\"b\"} 1\n"
	                     "# TYPE up gauge\nup 0\n");

	/* The first and the last; a removed series comes back new, last. */
	assert_int_equal(metrics_remove(g, L("a")), 1);
	assert_int_equal(metrics_remove(g, L("d")), 1);
	assert_int_equal(metrics_set(g, L("e"), 5), 0);
	assert_int_equal(metrics_add(g, L("b"), 0.5), 0);
	assert_int_equal(metrics_remove(h, L("b")), 1);
	assert_int_equal(metrics_remove(up, NULL), 1);
	assert_rendered(reg, "# TYPE g gauge\ng{k=\"c\"} 3\ng{k=\"e\"} 5\ng{k=\"b\"} 0.5\n");
	assert_json(reg, "{\"g\":{\"type\":\"gauge\",\"help\":null,\"labels\":[\"k\"],\"series\":["
	                 "{\"labels\":{\"k\":\"c\"},\"value\":3},"
	                 "{\"labels\":{\"k\":\"e\"},\"value\":5},"
	                 "{\"labels\":{\"k\":\"b\"},\"value\":0.5}]},"
	                 "\"h\":{\"type\":\"histogram\",\"help\":null,\"labels\":[\"k\"],"
	                 "\"series\":[]},"
	                 "\"up\":{\"type\":\"gauge\",\"help\":null,\"labels\":[],\"series\":[]}}");
	/* A family without labels gets its child back on its next update. */
	assert_int_equal(metrics_inc(up, NULL), 0);
	assert_int_equal(metrics_remove(g, L("c")), 1);
	assert_int_equal(metrics_remove(g, L("e")), 1);
	assert_int_equal(metrics_remove(g, L("b")), 1);
	assert_rendered(reg, "# TYPE up gauge\nup 1\n");
}

static void test_remove_frees_room(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	char value[16];

	assert_int_equal(metrics_counter(reg, "c", NULL, L("id"), &f, errbuf, sizeof(errbuf)), 0);
	for (int i = 0; i < METRICS_MAX_CHILDREN; i++) {
		snprintf(value, sizeof(value), "%d", i);
		assert_int_equal(metrics_inc(f, L(value)), 0);
	}
	assert_int_equal(metrics_inc(f, L("new")), METRICS_ERR);
	assert_int_equal(metrics_remove(f, L("5000")), 1);
	assert_int_equal(metrics_inc(f, L("new")), 0);
	assert_int_equal(metrics_inc(f, L("5000")), METRICS_ERR);
	/* Churn: series of short-lived resources come and go, and the family
	 * stays at its bound. */
	assert_int_equal(metrics_remove(f, L("new")), 1);
	for (int i = 0; i < 3 * METRICS_MAX_CHILDREN; i++) {
		snprintf(value, sizeof(value), "t%d", i);
		assert_int_equal(metrics_inc(f, L(value)), 0);
		assert_int_equal(metrics_inc(f, L("full")), METRICS_ERR);
		assert_int_equal(metrics_remove(f, L(value)), 1);
	}
	assert_int_equal(metrics_inc(f, L("last")), 0);

	char *text;
	size_t len;
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE c counter\nc{id=\"0\"} 1\nc{id=\"1\"} 1\n"));
	assert_non_null(strstr(text, "\nc{id=\"4999\"} 1\nc{id=\"5001\"} 1\n"));
	assert_non_null(strstr(text, "\nc{id=\"9999\"} 1\nc{id=\"last\"} 1\n"));
	assert_null(strstr(text, "\"t"));
	assert_null(strstr(text, "new"));
	free(text);
}

static void test_remove_matching(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *lag, *decisions, *topics, *up;
	const char *const resource[] = {"kind", "namespace", "name", NULL};

	assert_int_equal(metrics_gauge(reg, "lag", NULL, resource, &lag, errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_counter(reg, "decisions_total", NULL,
	                                 L("kind", "namespace", "name", "reason"), &decisions,
	                                 errbuf, sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "topic_lag", NULL, L("topic", "name"), &topics, errbuf,
	                               sizeof(errbuf)),
	                 0);
	assert_int_equal(metrics_gauge(reg, "up", NULL, NULL, &up, errbuf, sizeof(errbuf)), 0);
	/* The same name in two namespaces; the same namespace for two kinds. */
	assert_int_equal(metrics_set(lag, L("VideoJob", "a", "x"), 1), 0);
	assert_int_equal(metrics_set(lag, L("VideoJob", "b", "x"), 2), 0);
	assert_int_equal(metrics_set(lag, L("TelemetryWindow", "a", "x"), 3), 0);
	assert_int_equal(metrics_set(lag, L("VideoJob", "a", "y"), 4), 0);
	assert_int_equal(metrics_inc(decisions, L("VideoJob", "a", "x", "up")), 0);
	assert_int_equal(metrics_inc(decisions, L("VideoJob", "b", "x", "up")), 0);
	assert_int_equal(metrics_inc(decisions, L("VideoJob", "a", "x", "down")), 0);
	assert_int_equal(metrics_inc(decisions, L("TelemetryWindow", "a", "x", "hold")), 0);
	assert_int_equal(metrics_set(topics, L("t", "x"), 9), 0);

	/* Every series of VideoJob a/x, in every family, whatever the reason;
	 * topic_lag has no "namespace" and keeps its series. */
	assert_int_equal(metrics_remove_matching(reg, resource, L("VideoJob", "a", "x")), 3);
	assert_int_equal(metrics_remove_matching(reg, resource, L("VideoJob", "a", "x")), 0);
	assert_rendered(reg, "# TYPE lag gauge\n"
	                     "lag{kind=\"VideoJob\",namespace=\"b\",name=\"x\"} 2\n"
	                     "lag{kind=\"TelemetryWindow\",namespace=\"a\",name=\"x\"} 3\n"
	                     "lag{kind=\"VideoJob\",namespace=\"a\",name=\"y\"} 4\n"
	                     "# TYPE decisions_total counter\n"
	                     "decisions_total{kind=\"VideoJob\",namespace=\"b\",name=\"x\","
	                     "reason=\"up\"} 1\n"
	                     "decisions_total{kind=\"TelemetryWindow\",namespace=\"a\",name=\"x\","
	                     "reason=\"hold\"} 1\n"
	                     "# TYPE topic_lag gauge\ntopic_lag{topic=\"t\",name=\"x\"} 9\n"
	                     "# TYPE up gauge\nup 0\n");

	/* Names in any order, a subset of the labels: everything named x in
	 * namespace a; then everything named x, topic_lag included. */
	assert_int_equal(metrics_remove_matching(reg, L("name", "namespace"), L("x", "a")), 2);
	assert_int_equal(metrics_remove_matching(reg, L("name"), L("x")), 3);
	assert_rendered(reg, "# TYPE lag gauge\n"
	                     "lag{kind=\"VideoJob\",namespace=\"a\",name=\"y\"} 4\n"
	                     "# TYPE up gauge\nup 0\n");

	/* Bad arguments remove nothing. */
	assert_int_equal(metrics_remove_matching(reg, L("name"), NULL), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg, NULL, L("y")), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(NULL, L("name"), L("y")), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg, L(NULL), L(NULL)), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg, L("name", "kind"), L("y")), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg, L("name"), L("y", "VideoJob")), METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg,
	                                         L("a", "b", "c", "d", "e", "f", "g", "h", "name"),
	                                         L("1", "2", "3", "4", "5", "6", "7", "8", "y")),
	                 METRICS_ERR);
	assert_int_equal(metrics_remove_matching(reg, L("nolabel"), L("y")), 0);
	assert_int_equal(metrics_remove_matching(reg, L("name", "name"), L("y", "z")), 0);
	assert_rendered(reg, "# TYPE lag gauge\n"
	                     "lag{kind=\"VideoJob\",namespace=\"a\",name=\"y\"} 4\n"
	                     "# TYPE up gauge\nup 0\n");
}

struct churner {
	struct metrics_registry *reg;
	struct metrics_family *f;
};

/* Creates and drops series of its own while others update theirs. */
static void *churn(void *arg)
{
	struct churner *c = arg;
	for (int i = 0; i < 2000; i++) {
		if (metrics_inc(c->f, L("gone")) != 0 || metrics_inc(c->f, L("also-gone")) != 0)
			return (void *)1;
		if (metrics_remove(c->f, L("gone")) != 1 ||
		    metrics_remove_matching(c->reg, L("t"), L("also-gone")) != 1)
			return (void *)1;
	}
	return NULL;
}

static void test_remove_threads(void **state)
{
	struct metrics_registry *reg = *state;
	struct metrics_family *f;
	pthread_t t[3];
	struct worker w[2];
	struct churner c;

	assert_int_equal(metrics_counter(reg, "c", NULL, L("t"), &f, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(metrics_add(f, L("even"), 0), 0);
	assert_int_equal(metrics_add(f, L("odd"), 0), 0);
	c.reg = reg;
	c.f = f;
	assert_int_equal(pthread_create(&t[2], NULL, churn, &c), 0);
	for (int i = 0; i < 2; i++) {
		w[i].f = f;
		w[i].label = i % 2 == 0 ? "even" : "odd";
		assert_int_equal(pthread_create(&t[i], NULL, increment, &w[i]), 0);
	}
	for (int i = 0; i < 20; i++) {
		char *text;
		size_t len;
		assert_int_equal(metrics_render_json(reg, &text, &len), 0);
		free(text);
	}
	for (int i = 0; i < 3; i++) {
		void *rc;
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_null(rc);
	}
	assert_rendered(reg, "# TYPE c counter\nc{t=\"even\"} 20000\nc{t=\"odd\"} 20000\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty_registry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counter_and_gauge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_histogram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_special_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_registration_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_children_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_escaping_and_special_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_values_do_not_collide, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_lengths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_frees_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_matching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
