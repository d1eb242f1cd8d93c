/* Unit tests for dashboard/dash_ring.c: growth, the bound, order after
 * wrapping, the JSON columns and their cut by time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dash_ring.h"

static struct dash_sample sample(int64_t t, int32_t replicas, int64_t lag)
{
	struct dash_sample s = {.t_ms = t, .lag = lag, .replicas = replicas, .desired = replicas};
	return s;
}

static void test_grow_and_wrap(void **state)
{
	struct dash_ring r;

	(void)state;
	dash_ring_init(&r, 40);
	assert_null(dash_ring_at(&r, 0));
	assert_null(r.s); /* nothing allocated before the first sample */
	for (int i = 0; i < 100; i++) {
		struct dash_sample s = sample(i * 1000, i, i * 10);
		assert_int_equal(dash_ring_push(&r, &s), 0);
		assert_true(r.cap <= 40);
		assert_int_equal(r.n, i + 1 < 40 ? i + 1 : 40);
	}
	/* The 40 newest, oldest first. */
	for (size_t i = 0; i < 40; i++) {
		const struct dash_sample *s = dash_ring_at(&r, i);
		assert_non_null(s);
		assert_int_equal(s->replicas, 60 + (int)i);
	}
	assert_null(dash_ring_at(&r, 40));
	dash_ring_free(&r);
	assert_int_equal(r.n, 0);
	assert_null(dash_ring_at(&r, 0));
	/* Usable again after free. */
	struct dash_sample s = sample(1, 1, 1);
	assert_int_equal(dash_ring_push(&r, &s), 0);
	assert_int_equal(dash_ring_at(&r, 0)->t_ms, 1);
	dash_ring_free(&r);
}

static void test_bounds_clamped(void **state)
{
	struct dash_ring r;

	(void)state;
	dash_ring_init(&r, 0);
	assert_int_equal(r.max, 1);
	for (int i = 0; i < 3; i++) {
		struct dash_sample s = sample(i, i, i);
		assert_int_equal(dash_ring_push(&r, &s), 0);
	}
	assert_int_equal(r.n, 1);
	assert_int_equal(dash_ring_at(&r, 0)->t_ms, 2);
	dash_ring_free(&r);
	dash_ring_init(&r, DASH_RING_MAX + 5);
	assert_int_equal(r.max, DASH_RING_MAX);
}

static void test_json(void **state)
{
	struct dash_ring r;
	cJSON *j;
	char *text;

	(void)state;
	dash_ring_init(&r, 10);
	struct dash_sample a = sample(1000, 1, 5), b = sample(2500, -1, -1), c = sample(4000, 3, 0);
	c.desired = 4;
	dash_ring_push(&r, &a);
	dash_ring_push(&r, &b);
	dash_ring_push(&r, &c);
	j = dash_ring_json(&r, 0);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"t\":[1,2.5,4],\"replicas\":[1,null,3],\"desiredReplicas\":"
	                          "[1,null,4],\"lag\":[5,null,0]}");
	free(text);
	cJSON_Delete(j);
	/* Only samples at or after since_ms. */
	j = dash_ring_json(&r, 2500);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"t\":[2.5,4],\"replicas\":[null,3],\"desiredReplicas\":"
	                          "[null,4],\"lag\":[null,0]}");
	free(text);
	cJSON_Delete(j);
	dash_ring_free(&r);
	j = dash_ring_json(&r, 0);
	text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "{\"t\":[],\"replicas\":[],\"desiredReplicas\":[],\"lag\":[]}");
	free(text);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grow_and_wrap),
	    cmocka_unit_test(test_bounds_clamped),
	    cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
