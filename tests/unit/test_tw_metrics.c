/* Unit tests for workers/telemetry/tw_metrics.c: the families registered,
 * every sink and dead-letter kind shown from the start, the counters synced
 * by what grew since the last sync, and no metric without a registry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_metrics.h"
#include "tw_sink.h"

static char *render(struct metrics_registry *reg)
{
	char *text;
	size_t len;

	assert_int_equal(metrics_render(reg, &text, &len), 0);
	return text;
}

static void assert_has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("no \"%s\" in:\n%s", line, text);
}

static void test_register_and_sync(void **state)
{
	static const char *const sinks[] = {"postgres", "redis"};
	struct metrics_registry *reg = metrics_registry_new();
	struct tw_metrics m;
	struct tw_tally t;
	char err[256], *text;

	(void)state;
	assert_non_null(reg);
	memset(&m, 0, sizeof(m));
	assert_int_equal(tw_metrics_register(&m, reg, sinks, 2, err, sizeof(err)), 0);
	text = render(reg);
	assert_has(text, "sluice_tw_sink_up{sink=\"postgres\"} 1\n");
	assert_has(text, "sluice_tw_sink_up{sink=\"redis\"} 1\n");
	assert_has(text, "sluice_tw_dlq_messages_total{kind=\"rejected\"} 0\n");
	assert_has(text, "sluice_tw_dlq_messages_total{kind=\"malformed\"} 0\n");
	free(text);

	memset(&t, 0, sizeof(t));
	t.c.events_in = 10;
	t.c.duplicates = 2;
	t.c.windows_emitted = 4;
	t.malformed_by[TW_MALFORMED_SYNTAX] = 3;
	t.dlq_by[TW_DLQ_LATE] = 5;
	t.commit_errors = 1;
	t.fetch_wakeups = 7;
	t.status_errors = 6;
	tw_metrics_sync(&m, &t);
	t.c.events_in = 25; /* grew by 15 */
	t.malformed_by[TW_MALFORMED_SYNTAX] = 4;
	tw_metrics_sync(&m, &t);
	tw_metrics_sync(&m, &t); /* nothing grew: nothing added */
	text = render(reg);
	assert_has(text, "sluice_tw_events_in_total 25\n");
	assert_has(text, "sluice_tw_duplicates_total 2\n");
	assert_has(text, "sluice_tw_windows_emitted_total 4\n");
	assert_has(text, "sluice_tw_malformed_total{reason=\"syntax\"} 4\n");
	assert_has(text, "sluice_tw_dlq_messages_total{kind=\"late\"} 5\n");
	assert_has(text, "sluice_tw_commit_errors_total 1\n");
	assert_has(text, "sluice_tw_fetch_wakeups_total 7\n");
	assert_has(text, "sluice_tw_status_errors_total 6\n");
	free(text);

	tw_metrics_set(&m, m.sink_up, (const char *const[]){"redis", NULL}, 0);
	tw_metrics_set(&m, m.paused, NULL, 1);
	text = render(reg);
	assert_has(text, "sluice_tw_sink_up{sink=\"redis\"} 0\n");
	assert_has(text, "sluice_tw_paused 1\n");
	free(text);

	/* The same names twice: refused with the reason. */
	struct tw_metrics again;
	memset(&again, 0, sizeof(again));
	err[0] = '\0';
	assert_int_equal(tw_metrics_register(&again, reg, sinks, 2, err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
	(void)tw_sinks_set_metrics(NULL);
	metrics_registry_free(reg);
}

static void test_without_registry(void **state)
{
	struct tw_metrics m;
	struct tw_tally t;

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(&t, 0, sizeof(t));
	t.c.events_in = 3;
	tw_metrics_sync(&m, &t); /* no families: counted as synced, nothing else */
	assert_int_equal(m.synced.c.events_in, 3);
	tw_metrics_set(&m, m.paused, NULL, 1);
	tw_metrics_add(&m, m.batches, NULL, 1);
	assert_false(m.warned);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_and_sync),
	    cmocka_unit_test(test_without_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
