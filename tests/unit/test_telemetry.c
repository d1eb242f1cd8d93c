/* Unit tests for the pure parts of workers/telemetry/telemetry.c: the
 * status JSON, the option defaults, start-up errors, and the health and
 * readiness answers of a worker that has not joined its group. The retry
 * backoff moved with the flush (test_tw_flush.c). The loop itself runs
 * against real Kafka in tests/e2e/test_telemetry.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry.h"
#include "tw_window.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1795410000) * S)

static void test_status_json(void **state)
{
	struct telemetry_counters c = {.events_in = 10,
	                               .duplicates = 1,
	                               .late = 2,
	                               .partial_late = 3,
	                               .replayed = 4,
	                               .overflow = 0,
	                               .malformed = 5,
	                               .windows_emitted = 6,
	                               .dead_lettered = 7,
	                               .batches = 8,
	                               .commits = 9};
	struct telemetry_partition_status p[2] = {
	    {.partition = 0,
	     .committed_offset = 120,
	     .lag = 30,
	     .max_ts_ns = T0 + 5 * S,
	     .watermark_ns = T0 + 2 * S,
	     .open_windows = 3},
	    {.partition = 2,
	     .committed_offset = -1001,
	     .lag = -1,
	     .max_ts_ns = TW_TS_NONE,
	     .watermark_ns = TW_TS_NONE,
	     .open_windows = 0},
	};

	(void)state;
	char *json = telemetry_status_json("prod/sensors", &c, p, 2);
	assert_non_null(json);
	assert_string_equal(
	    json,
	    "{\"resource\":\"prod/sensors\",\"eventsIn\":10,\"duplicates\":1,\"late\":2,"
	    "\"partialLate\":3,\"replayed\":4,\"overflow\":0,\"malformed\":5,\"windowsEmitted\":6,"
	    "\"deadLettered\":7,\"batches\":8,\"commits\":9,\"lag\":30,"
	    "\"lastWatermark\":\"2026-11-23T05:00:02Z\",\"partitions\":[{\"partition\":0,"
	    "\"committedOffset\":120,\"lag\":30,\"maxEventTime\":\"2026-11-23T05:00:05Z\","
	    "\"watermark\":\"2026-11-23T05:00:02Z\",\"openWindows\":3},{\"partition\":2,"
	    "\"committedOffset\":null,\"lag\":null,\"maxEventTime\":null,\"watermark\":null,"
	    "\"openWindows\":0}]}");
	free(json);
	memset(&c, 0, sizeof(c));
	json = telemetry_status_json(NULL, &c, NULL, 0);
	assert_non_null(json);
	assert_string_equal(json, "{\"resource\":\"\",\"eventsIn\":0,\"duplicates\":0,\"late\":0,"
	                          "\"partialLate\":0,\"replayed\":0,\"overflow\":0,\"malformed\":0,"
	                          "\"windowsEmitted\":0,\"deadLettered\":0,\"batches\":0,"
	                          "\"commits\":0,\"lag\":0,\"lastWatermark\":null,"
	                          "\"partitions\":[]}");
	free(json);
}

static void test_options_default(void **state)
{
	struct telemetry_options o;

	(void)state;
	memset(&o, 0xff, sizeof(o));
	telemetry_options_default(&o);
	assert_null(o.spec_path);
	assert_null(o.client_id);
	assert_int_equal(o.flush_interval_ms, 500);
	assert_int_equal(o.flush_rows, 2000);
	assert_int_equal(o.buffer_max, 20000);
	assert_int_equal(o.unhealthy_after_ms, 60000);
	assert_int_equal(o.session_timeout_ms, 0);
	assert_int_equal(o.shutdown_timeout_ms, 20000);
	assert_int_equal(o.retry_max_ms, 30000);
	assert_int_equal(o.trim_interval_ms, 60000);
	assert_true(o.create_dlq_topic);
}

static char *write_spec(const char *text)
{
	char *path = strdup("/tmp/sluice-test-telemetry-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_new_errors(void **state)
{
	struct telemetry_options o;
	struct telemetry *t = (struct telemetry *)1;
	char err[512];

	(void)state;
	telemetry_options_default(&o);
	assert_int_equal(telemetry_new(&o, &t, err, sizeof(err)), TELEMETRY_ERR);
	assert_null(t);
	assert_string_equal(err, "telemetry: --config FILE (the TelemetryWindow) is required");
	o.spec_path = "/nonexistent/tw.yaml";
	assert_int_equal(telemetry_new(&o, &t, err, sizeof(err)), TELEMETRY_ERR);
	assert_non_null(strstr(err, "/nonexistent/tw.yaml"));
	char *path = write_spec("name: a\nspec:\n  kafka: {bootstrap: 'k:1', topic: t}\n");
	o.spec_path = path;
	assert_int_equal(telemetry_new(&o, &t, err, sizeof(err)), TELEMETRY_ERR);
	assert_non_null(strstr(err, ": spec.fields: required"));
	unlink(path);
	free(path);
	/* A secret the environment does not hold is a start-up error. */
	path = write_spec("name: a\nspec:\n  kafka: {bootstrap: 'k:1', topic: t}\n"
	                  "  fields: {timestamp: ts}\n  window: {size: 1s}\n"
	                  "  sinks: {postgres: {dsn: {name: no-such, key: dsn}}}\n");
	o.spec_path = path;
	unsetenv("SLUICE_SECRET_NO_SUCH_DSN");
	assert_int_equal(telemetry_new(&o, &t, err, sizeof(err)), TELEMETRY_ERR);
	assert_non_null(strstr(err, "SLUICE_SECRET_NO_SUCH_DSN"));
	unlink(path);
	free(path);
}

static void test_health_before_joining(void **state)
{
	struct telemetry_options o;
	struct telemetry *t = NULL;
	char err[512], reason[256] = "";

	(void)state;
	char *path = write_spec("name: a\nnamespace: ns\nspec:\n"
	                        "  kafka: {bootstrap: '127.0.0.1:1', topic: t}\n"
	                        "  fields: {timestamp: ts, keys: [d], values: [v]}\n"
	                        "  window: {size: 1s}\n"
	                        "  sinks: {redis: {addr: '127.0.0.1:1'}}\n");
	telemetry_options_default(&o);
	o.spec_path = path;
	assert_int_equal(telemetry_new(&o, &t, err, sizeof(err)), 0);
	assert_non_null(t);
	assert_int_equal(telemetry_healthz(t, reason, sizeof(reason)), 0);
	assert_int_not_equal(telemetry_readyz(t, reason, sizeof(reason)), 0);
	assert_string_equal(reason, "waiting for the first partition assignment");
	char *json = telemetry_snapshot_json(t);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"resource\":\"ns/a\""));
	free(json);
	telemetry_free(t);
	telemetry_free(NULL);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_json),
	    cmocka_unit_test(test_options_default),
	    cmocka_unit_test(test_new_errors),
	    cmocka_unit_test(test_health_before_joining),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
