/* Unit tests for dashboard/dash_pool.c: take and give per target, the
 * bound (least recently given back closed first), drop, free. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dash_pool.h"

static int closed[16], nclosed;

static void fake_close(void *conn)
{
	closed[nclosed++] = *(int *)conn;
}

static void test_take_give(void **state)
{
	int c[6] = {0, 1, 2, 3, 4, 5};
	struct dash_pool *p = dash_pool_new(3, fake_close);

	(void)state;
	nclosed = 0;
	assert_non_null(p);
	assert_null(dash_pool_take(p, "pg:a"));
	dash_pool_give(p, "pg:a", &c[1]);
	dash_pool_give(p, "pg:a", &c[2]);
	dash_pool_give(p, "pg:b", &c[3]);
	assert_int_equal(dash_pool_idle(p), 3);
	/* The most recently given back of the target. */
	assert_ptr_equal(dash_pool_take(p, "pg:a"), &c[2]);
	assert_null(dash_pool_take(p, "pg:c"));
	dash_pool_give(p, "pg:c", &c[4]);
	/* Full: giving another closes the least recently given back (c1). */
	dash_pool_give(p, "pg:d", &c[5]);
	assert_int_equal(nclosed, 1);
	assert_int_equal(closed[0], 1);
	assert_null(dash_pool_take(p, "pg:a"));
	assert_ptr_equal(dash_pool_take(p, "pg:b"), &c[3]);
	/* A dropped connection is closed, never kept. */
	dash_pool_drop(p, &c[3]);
	assert_int_equal(nclosed, 2);
	assert_int_equal(closed[1], 3);
	dash_pool_drop(p, NULL);
	dash_pool_give(p, "x", NULL);
	assert_int_equal(dash_pool_idle(p), 2);
	dash_pool_free(p); /* closes c4 and c5 */
	assert_int_equal(nclosed, 4);
	dash_pool_free(NULL);
}

static void test_long_target(void **state)
{
	char target[DASH_POOL_TARGET_MAX + 2];
	int c = 7;
	struct dash_pool *p = dash_pool_new(2, fake_close);

	(void)state;
	nclosed = 0;
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	dash_pool_give(p, target, &c);
	assert_int_equal(nclosed, 1); /* not kept: closed at once */
	assert_int_equal(dash_pool_idle(p), 0);
	dash_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take_give),
	    cmocka_unit_test(test_long_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
