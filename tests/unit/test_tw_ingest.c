/* Unit tests for the pure part of workers/telemetry/tw_ingest.c: what is
 * done with each answer of the stream core (every verdict and error), and
 * the label of each parser refusal. Messages themselves run through it
 * against real Kafka in tests/e2e/test_telemetry.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "tw_core.h"
#include "tw_event.h"
#include "tw_ingest.h"
#include "tw_window.h"

static void test_decide(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum tw_ingest_do what;
		enum tw_ingest_counter counter;
		enum tw_dlq_kind dlq; /* checked for DEAD and MALFORMED */
	} c[] = {
	    {"added", TW_ADDED, TW_INGEST_KEEP, TW_IN_NONE, 0},
	    {"partial late", TW_PARTIAL_LATE, TW_INGEST_KEEP, TW_IN_PARTIAL_LATE, 0},
	    {"late", TW_LATE, TW_INGEST_DEAD, TW_IN_LATE, TW_DLQ_LATE},
	    {"replayed", TW_REPLAYED, TW_INGEST_DROP, TW_IN_REPLAYED, 0},
	    {"duplicate", TW_DUPLICATE, TW_INGEST_DROP, TW_IN_DUPLICATES, 0},
	    {"overflow", TW_OVERFLOW, TW_INGEST_DEAD, TW_IN_OVERFLOW, TW_DLQ_OVERFLOW},
	    {"out of range", TW_WINDOW_E_RANGE, TW_INGEST_MALFORMED, TW_IN_MALFORMED,
	     TW_DLQ_MALFORMED},
	    {"redelivered", TW_WINDOW_E_OFFSET, TW_INGEST_REDELIVERED, TW_IN_NONE, 0},
	    {"no memory", TW_WINDOW_E_NOMEM, TW_INGEST_FATAL, TW_IN_NONE, 0},
	    {"config", TW_WINDOW_E_CONFIG, TW_INGEST_FATAL, TW_IN_NONE, 0},
	    {"state", TW_WINDOW_E_STATE, TW_INGEST_FATAL, TW_IN_NONE, 0},
	    {"not assigned", TW_CORE_E_PARTITION, TW_INGEST_FATAL, TW_IN_NONE, 0},
	    {"limit", TW_CORE_E_LIMIT, TW_INGEST_FATAL, TW_IN_NONE, 0},
	    {"unknown verdict", 99, TW_INGEST_FATAL, TW_IN_NONE, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tw_ingest_action a = tw_ingest_decide(c[i].rc);
		if (a.what != c[i].what || a.counter != c[i].counter ||
		    ((a.what == TW_INGEST_DEAD || a.what == TW_INGEST_MALFORMED) &&
		     a.dlq != c[i].dlq))
			fail_msg("%s: what %d counter %d dlq %d", c[i].name, a.what, a.counter,
			         a.dlq);
	}
}

/* Over a wide range of codes: every counter and dead-letter kind named is
 * in range, only verdicts keep or drop an event, and every error but an
 * event out of range or a redelivery stops the worker. */
static void test_decide_sweep(void **state)
{
	(void)state;
	for (int rc = -100; rc <= 100; rc++) {
		struct tw_ingest_action a = tw_ingest_decide(rc);
		assert_true(a.counter <= TW_IN_NONE);
		assert_true(a.counter != TW_IN_EVENTS && a.counter != TW_IN_WINDOWS);
		assert_true(a.dlq < TW_DLQ_KINDS);
		if (a.what == TW_INGEST_KEEP || a.what == TW_INGEST_DROP)
			assert_true(rc >= 0);
		if (rc < 0 && rc != TW_WINDOW_E_RANGE && rc != TW_WINDOW_E_OFFSET)
			assert_int_equal(a.what, TW_INGEST_FATAL);
	}
}

static void test_malformed_kind(void **state)
{
	(void)state;
	assert_int_equal(tw_ingest_malformed_kind(TW_EVENT_E_SYNTAX), TW_MALFORMED_SYNTAX);
	assert_int_equal(tw_ingest_malformed_kind(TW_EVENT_E_MISSING), TW_MALFORMED_MISSING);
	assert_int_equal(tw_ingest_malformed_kind(TW_EVENT_E_TYPE), TW_MALFORMED_TYPE);
	assert_int_equal(tw_ingest_malformed_kind(TW_EVENT_E_TIMESTAMP), TW_MALFORMED_TIMESTAMP);
	assert_int_equal(tw_ingest_malformed_kind(TW_EVENT_E_TOO_LONG), TW_MALFORMED_TOO_LONG);
	/* Range is the core's, never the parser's; anything else is other. */
	assert_int_equal(tw_ingest_malformed_kind(-6), TW_MALFORMED_OTHER);
	assert_int_equal(tw_ingest_malformed_kind(-1000), TW_MALFORMED_OTHER);
	assert_int_equal(tw_ingest_malformed_kind(0), TW_MALFORMED_OTHER);
	assert_int_equal(tw_ingest_malformed_kind(3), TW_MALFORMED_OTHER);
	/* The labels, in order. */
	static const char *const want[] = {"other",     "syntax",   "missing", "type",
	                                   "timestamp", "too_long", "range"};
	for (size_t i = 0; i < TW_MALFORMED_KINDS; i++)
		assert_string_equal(tw_malformed_names[i], want[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide),
	    cmocka_unit_test(test_decide_sweep),
	    cmocka_unit_test(test_malformed_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
