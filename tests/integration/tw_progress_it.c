/*
 * tw_progress_it.c - the TelemetryWindow progress hash (lib/contract/tw_progress.h)
 * and the worker's reporter (workers/telemetry/tw_report.h) against the REAL Redis of
 * the test stack: writes read back with tw_progress_read and with plain
 * HGETALL, a new owner continuing its predecessor's totals, delete.
 *
 * Needs REDIS_ADDR from build/stack.env (make integration sources it).
 * Keys are sluice:tw:sluice-it:twp-<pid>-<n>:stats, deleted at the end.
 *
 *   make build/tests/tw_progress_it && . build/stack.env && build/tests/tw_progress_it
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tw_progress.h"
#include "tw_report.h"
#include "hostport.h"

#define NS "sluice-it"

static redisContext *rc_;
static char addr_[128];

static int setup(void **state)
{
	const char *a = getenv("REDIS_ADDR");
	char host[128];
	int port;

	(void)state;
	if (a == NULL || a[0] == '\0') {
		fprintf(stderr, "REDIS_ADDR is not set: source build/stack.env\n");
		return -1;
	}
	snprintf(addr_, sizeof(addr_), "%s", a);
	if (hostport_split(a, host, sizeof(host), &port) < 0)
		return -1;
	rc_ = redisConnect(host, port);
	return rc_ == NULL || rc_->err ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (rc_ != NULL)
		redisFree(rc_);
	return 0;
}

static void name_for(char *buf, size_t size, int n)
{
	snprintf(buf, size, "twp-%d-%d", (int)getpid(), n);
}

static void test_write_read_delete(void **state)
{
	char name[64], err[256], key[TW_PROGRESS_KEY_MAX];
	const int32_t ids[] = {0, 5};
	const struct tw_progress_part parts[] = {
	    {100, 3, 2, 1, 8, INT64_C(1795410000000000000)},
	    {40, 0, 0, 4, 2, INT64_MIN}, /* no watermark yet */
	};
	struct tw_progress p;
	struct tw_progress_part one;
	int found;
	redisReply *r;

	(void)state;
	name_for(name, sizeof(name), 1);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.partitions, 0);
	assert_true(p.watermark_ns == INT64_MIN);

	assert_int_equal(tw_progress_write(rc_, NS, name, ids, parts, 2, err, sizeof(err)), 0);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 140);
	assert_int_equal(p.duplicates, 3);
	assert_int_equal(p.late, 2);
	assert_int_equal(p.malformed, 5);
	assert_int_equal(p.windows, 10);
	assert_true(p.watermark_ns == INT64_C(1795410000000000000));
	assert_int_equal(p.partitions, 2);

	/* The contract's field names, as any client sees them. */
	tw_progress_key(NS, name, key, sizeof(key));
	r = redisCommand(rc_, "HGET %s p0.watermark", key);
	assert_non_null(r);
	assert_string_equal(r->str, "1795410000000000000");
	freeReplyObject(r);
	r = redisCommand(rc_, "HLEN %s", key);
	assert_int_equal(r->integer, 11); /* 6 + 5 (p5 has no watermark) */
	freeReplyObject(r);

	assert_int_equal(tw_progress_read_part(rc_, NS, name, 5, &one, &found, err, sizeof(err)),
	                 0);
	assert_true(found);
	assert_int_equal(one.events, 40);
	assert_true(one.watermark_ns == INT64_MIN);
	assert_int_equal(tw_progress_read_part(rc_, NS, name, 9, &one, &found, err, sizeof(err)),
	                 0);
	assert_false(found);

	assert_int_equal(tw_progress_delete(rc_, NS, name, err, sizeof(err)), 0);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.partitions, 0);
}

static void test_corrupt_field(void **state)
{
	char name[64], err[256], key[TW_PROGRESS_KEY_MAX];
	struct tw_progress p;
	redisReply *r;

	(void)state;
	name_for(name, sizeof(name), 2);
	tw_progress_key(NS, name, key, sizeof(key));
	r = redisCommand(rc_, "HSET %s p0.events abc", key);
	freeReplyObject(r);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "p0.events: \"abc\" is not an integer");
	/* A value of another type is an error reply, not a crash. */
	r = redisCommand(rc_, "DEL %s", key);
	freeReplyObject(r);
	r = redisCommand(rc_, "SET %s x", key);
	freeReplyObject(r);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redis: HGETALL: WRONGTYPE"));
	r = redisCommand(rc_, "DEL %s", key);
	freeReplyObject(r);
}

/* Two owners one after the other: the second continues the first's totals. */
static void test_report_new_owner_continues(void **state)
{
	char name[64], err[256];
	struct tw_report *a, *b;
	const int32_t ids[] = {0, 1};
	struct tw_progress_part parts[2] = {{10, 1, 0, 0, 2, 1000}, {20, 0, 1, 1, 3, 2000}};
	struct tw_progress p;

	(void)state;
	name_for(name, sizeof(name), 3);
	a = tw_report_new(addr_, NS, name, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(tw_report_write(a, ids, parts, 2, 0, err, sizeof(err)), TW_REPORT_WRITTEN);
	parts[0].events = 15; /* later counts replace, never add */
	assert_int_equal(tw_report_write(a, ids, parts, 2, 0, err, sizeof(err)), TW_REPORT_WRITTEN);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 35);
	assert_true(p.watermark_ns == 1000);

	/* Partition 1 moves to b, which counts from zero since its assignment. */
	tw_report_forget(a, 1);
	b = tw_report_new(addr_, NS, name, err, sizeof(err));
	assert_non_null(b);
	{
		const int32_t mine[] = {1};
		const struct tw_progress_part since[] = {{5, 0, 0, 0, 1, 2500}};

		assert_int_equal(tw_report_write(b, mine, since, 1, 0, err, sizeof(err)),
		                 TW_REPORT_WRITTEN);
		assert_int_equal(tw_report_write(b, mine, since, 1, 0, err, sizeof(err)),
		                 TW_REPORT_WRITTEN); /* idempotent */
	}
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 15 + 25);
	assert_int_equal(p.windows, 2 + 4);
	assert_int_equal(p.late, 1);
	assert_true(p.watermark_ns == 1000);
	assert_int_equal(tw_report_failures(a) + tw_report_failures(b), 0);
	tw_report_free(a);
	tw_report_free(b);
	assert_int_equal(tw_progress_delete(rc_, NS, name, err, sizeof(err)), 0);
}

/* Two workers' m.<pod>.* pairs go with their HSETs, sum up when read,
 * and a clean stop removes its own pair only. */
static void test_report_work_members(void **state)
{
	char name[64], err[256];
	struct tw_report *a, *b;
	const int32_t ids[] = {0};
	const struct tw_progress_part parts[] = {{10, 0, 0, 0, 1, 1000}};
	struct tw_progress p;

	(void)state;
	name_for(name, sizeof(name), 4);
	a = tw_report_new(addr_, NS, name, err, sizeof(err));
	b = tw_report_new(addr_, NS, name, err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(tw_report_set_member(a, "tw-telemetry-a"), 0);
	assert_int_equal(tw_report_set_member(b, "tw-telemetry-b"), 0);
	tw_report_set_work(a, 100000, 5000);
	tw_report_set_work(b, 30000, 1000);
	assert_int_equal(tw_report_write(a, ids, parts, 1, 0, err, sizeof(err)), TW_REPORT_WRITTEN);
	assert_int_equal(tw_report_write(b, ids, parts, 1, 0, err, sizeof(err)), TW_REPORT_WRITTEN);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.work_members, 2);
	assert_int_equal(p.work_events, 130000);
	assert_int_equal(p.work_busy_ms, 6000);
	assert_int_equal(tw_report_forget_member(a, err, sizeof(err)), 0);
	assert_int_equal(tw_progress_read(rc_, NS, name, &p, err, sizeof(err)), 0);
	assert_int_equal(p.work_members, 1);
	assert_int_equal(p.work_events, 30000);
	assert_int_equal(p.work_busy_ms, 1000);
	assert_true(p.partitions == 1);
	tw_report_free(a);
	tw_report_free(b);
	assert_int_equal(tw_progress_delete(rc_, NS, name, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_delete),
	    cmocka_unit_test(test_corrupt_field),
	    cmocka_unit_test(test_report_new_owner_continues),
	    cmocka_unit_test(test_report_work_members),
	};

	return cmocka_run_group_tests_name("tw_progress_it", tests, setup, teardown);
}
