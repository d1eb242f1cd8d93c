/* Unit tests for lib/strmap.c: put, replace, get, remove, the bound,
 * growth past many bucket doublings, iteration. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static void test_put_get_replace_remove(void **state)
{
	struct strmap *m;
	int a = 1, b = 2;
	const char *stable = NULL;
	void *old = &a;

	(void)state;
	assert_int_equal(strmap_new(&m, 10), 0);
	assert_null(strmap_get(m, "x"));
	assert_int_equal(strmap_put(m, "x", &a, &stable, &old), 0);
	assert_null(old);
	assert_string_equal(stable, "x");
	assert_ptr_equal(strmap_get(m, "x"), &a);
	/* Replace: the old value comes back and the key copy stays put. */
	{
		const char *again = NULL;

		assert_int_equal(strmap_put(m, "x", &b, &again, &old), 0);
		assert_ptr_equal(old, &a);
		assert_ptr_equal(again, stable);
	}
	assert_ptr_equal(strmap_get(m, "x"), &b);
	assert_int_equal(strmap_len(m), 1);
	assert_int_equal(strmap_max(m), 10);
	assert_ptr_equal(strmap_remove(m, "x"), &b);
	assert_null(strmap_remove(m, "x"));
	assert_int_equal(strmap_len(m), 0);
	/* An empty key is a key like any other. */
	assert_int_equal(strmap_put(m, "", &a, NULL, NULL), 0);
	assert_ptr_equal(strmap_get(m, ""), &a);
	strmap_free(m);
	strmap_free(NULL);
}

static void test_bounds_and_bad_arguments(void **state)
{
	struct strmap *m;
	int v;

	(void)state;
	assert_int_equal(strmap_new(&m, 0), STRMAP_EINVAL);
	assert_null(m);
	assert_int_equal(strmap_new(&m, 2), 0);
	assert_int_equal(strmap_put(m, "a", &v, NULL, NULL), 0);
	assert_int_equal(strmap_put(m, "b", &v, NULL, NULL), 0);
	assert_int_equal(strmap_put(m, "c", &v, NULL, NULL), STRMAP_EFULL);
	assert_null(strmap_get(m, "c"));
	/* Replacing a held key is fine when full. */
	assert_int_equal(strmap_put(m, "a", NULL, NULL, NULL), 0);
	assert_int_equal(strmap_put(m, NULL, &v, NULL, NULL), STRMAP_EINVAL);
	assert_int_equal(strmap_put(NULL, "a", &v, NULL, NULL), STRMAP_EINVAL);
	assert_null(strmap_get(m, NULL));
	assert_null(strmap_get(NULL, "a"));
	assert_null(strmap_remove(m, NULL));
	assert_int_equal(strmap_len(NULL), 0);
	strmap_free(m);
}

static int count_fn(const char *key, void *value, void *opaque)
{
	size_t *n = opaque;

	assert_int_equal((intptr_t)value, atoi(key + 1));
	(*n)++;
	return 0;
}

static int stop_fn(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)value;
	return ++*(int *)opaque == 3 ? 42 : 0;
}

static void test_many_keys_grow_and_iterate(void **state)
{
	struct strmap *m;
	char key[32];
	size_t n = 0;
	int calls = 0;

	(void)state;
	assert_int_equal(strmap_new(&m, 20000), 0);
	for (intptr_t i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%ld", (long)i);
		assert_int_equal(strmap_put(m, key, (void *)i, NULL, NULL), 0);
	}
	assert_int_equal(strmap_len(m), 20000);
	for (intptr_t i = 0; i < 20000; i += 7) {
		snprintf(key, sizeof(key), "k%ld", (long)i);
		assert_ptr_equal(strmap_get(m, key), (void *)i);
	}
	assert_int_equal(strmap_foreach(m, count_fn, &n), 0);
	assert_int_equal(n, 20000);
	assert_int_equal(strmap_foreach(m, stop_fn, &calls), 42);
	assert_int_equal(calls, 3);
	for (intptr_t i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof(key), "k%ld", (long)i);
		assert_ptr_equal(strmap_remove(m, key), (void *)i);
	}
	assert_int_equal(strmap_len(m), 10000);
	snprintf(key, sizeof(key), "k%d", 1);
	assert_ptr_equal(strmap_get(m, key), (void *)1);
	snprintf(key, sizeof(key), "k%d", 2);
	assert_null(strmap_get(m, key));
	assert_int_equal(strmap_foreach(NULL, count_fn, &n), 0);
	strmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_get_replace_remove),
	    cmocka_unit_test(test_bounds_and_bad_arguments),
	    cmocka_unit_test(test_many_keys_grow_and_iterate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
