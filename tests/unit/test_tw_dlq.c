/* Unit tests for the pure parts of workers/telemetry/tw_dlq.c: the key a
 * rejected row's dead letter carries, the reason of a rejected batch, and
 * the kinds' names. Producing runs against real Kafka in
 * tests/e2e/test_telemetry.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dead_letter.h"
#include "dlq.h"
#include "tw_dlq.h"

static void test_readable_key(void **state)
{
	const char key[] = {'d', '1', TW_KEY_SEP, 'e', 'u', TW_KEY_SEP, TW_KEY_SEP, 'x'};
	char out[sizeof(key) + 1];

	(void)state;
	memset(out, '#', sizeof(out));
	assert_int_equal(tw_dlq_readable_key(out, key, sizeof(key)), sizeof(key));
	assert_memory_equal(out, "d1,eu,,x", sizeof(key));
	assert_int_equal(out[sizeof(key)], '#'); /* len bytes, no NUL */
	assert_int_equal(tw_dlq_readable_key(out, key, 0), 0);
}

static void test_batch_reason(void **state)
{
	char buf[DLQ_REASON_MAX], long_sink[100], long_error[400];

	(void)state;
	assert_ptr_equal(
	    tw_dlq_batch_reason(buf, sizeof(buf), "influxdb", "400: field type conflict"), buf);
	assert_string_equal(buf, "influxdb rejected the batch: 400: field type conflict");
	/* At most 32 bytes of the sink and 200 of the error: one line that
	 * fits DLQ_REASON_MAX. */
	memset(long_sink, 's', sizeof(long_sink) - 1);
	long_sink[sizeof(long_sink) - 1] = '\0';
	memset(long_error, 'e', sizeof(long_error) - 1);
	long_error[sizeof(long_error) - 1] = '\0';
	tw_dlq_batch_reason(buf, sizeof(buf), long_sink, long_error);
	assert_int_equal(strlen(buf), 32 + strlen(" rejected the batch: ") + 200);
	assert_int_equal(strspn(buf, "s"), 32);
	/* A small buffer is cut, never overrun. */
	char small[8];
	tw_dlq_batch_reason(small, sizeof(small), "redis", "x");
	assert_string_equal(small, "redis r");
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(tw_dlq_kind_names[TW_DLQ_MALFORMED], DLQ_KIND_MALFORMED);
	assert_string_equal(tw_dlq_kind_names[TW_DLQ_LATE], DLQ_KIND_LATE);
	assert_string_equal(tw_dlq_kind_names[TW_DLQ_OVERFLOW], DLQ_KIND_OVERFLOW);
	assert_string_equal(tw_dlq_kind_names[TW_DLQ_REJECTED], DLQ_KIND_REJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readable_key),
	    cmocka_unit_test(test_batch_reason),
	    cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
