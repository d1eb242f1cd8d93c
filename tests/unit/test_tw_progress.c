/* The status-Redis progress of a TelemetryWindow (lib/contract/tw_progress.h): the
 * key, the summing of a hash; and the worker's reporter
 * (workers/telemetry/tw_report.h) where it needs no server: a closed port fails fast
 * and backs off. The Redis round trips are in
 * tests/integration/tw_progress_it.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tw_progress.h"
#include "tw_report.h"
#include "clock.h"

static void test_key(void **state)
{
	char buf[TW_PROGRESS_KEY_MAX];
	char ns[64], name[254];

	(void)state;
	assert_int_equal(tw_progress_key("prod", "sensors", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sluice:tw:prod:sensors:stats");
	assert_int_equal(tw_progress_key("prod", "sensors", buf, 10), -1);
	assert_int_equal(tw_progress_key("", "sensors", buf, sizeof(buf)), -1);
	assert_int_equal(tw_progress_key("prod", NULL, buf, sizeof(buf)), -1);
	/* The longest Kubernetes names fit. */
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 'a', 253);
	name[253] = '\0';
	assert_int_equal(tw_progress_key(ns, name, buf, sizeof(buf)), 0);
}

static void test_sum(void **state)
{
	static const char *const f[] = {
	    "p0.events",    "p0.duplicates", "p0.late",    "p0.malformed", "p0.windows",
	    "p0.watermark", "p3.events",     "p3.windows", "p3.watermark", "p12.late",
	    "other",        "p1.unknown",    "px.events",  "p2events"};
	static const char *const v[] = {
	    "100", "5", "2", "1", "10", "1795410000000000000", "50", "4", "1795409990000000000",
	    "7",   "x", "y", "z", "w"};
	struct tw_progress p;
	char err[128];

	(void)state;
	assert_int_equal(tw_progress_sum(f, v, sizeof(f) / sizeof(f[0]), &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 150);
	assert_int_equal(p.duplicates, 5);
	assert_int_equal(p.late, 9);
	assert_int_equal(p.malformed, 1);
	assert_int_equal(p.windows, 14);
	/* The slowest partition's watermark. */
	assert_true(p.watermark_ns == INT64_C(1795409990000000000));
	assert_int_equal(p.partitions, 3); /* p0, p3, p12 */

	/* Nothing: zeros and no watermark. */
	assert_int_equal(tw_progress_sum(NULL, NULL, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 0);
	assert_int_equal(p.partitions, 0);
	assert_true(p.watermark_ns == INT64_MIN);
}

static void test_sum_errors_and_saturation(void **state)
{
	static const char *const f[] = {"p0.events", "p1.events"};
	static const char *const bad[] = {"12", "12abc"};
	static const char *const empty[] = {"12", ""};
	static const char *const huge[] = {"9223372036854775807", "5"};
	struct tw_progress p;
	char err[128];

	(void)state;
	assert_int_equal(tw_progress_sum(f, bad, 2, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "p1.events: \"12abc\" is not an integer");
	assert_int_equal(tw_progress_sum(f, empty, 2, &p, err, sizeof(err)), -1);
	assert_int_equal(tw_progress_sum(f, huge, 2, &p, err, sizeof(err)), 0);
	assert_true(p.events == INT64_MAX);
}

/* The members' work: every m.<member>.events and .busy_ms summed, apart
 * from the partitions; other m.* shapes ignored. */
static void test_sum_work(void **state)
{
	static const char *const f[] = {"p0.events",
	                                "m.tw-telemetry-5d8f-abcde.events",
	                                "m.tw-telemetry-5d8f-abcde.busy_ms",
	                                "m.host.example-42.events",
	                                "m.host.example-42.busy_ms",
	                                "m..events",
	                                "m.busy_ms",
	                                "m.x.busy",
	                                "n.x.events"};
	static const char *const v[] = {"7", "100000", "5000", "20000", "2500", "x", "y", "z", "w"};
	static const char *const bad_f[] = {"m.a.events", "m.a.busy_ms"};
	static const char *const bad_v[] = {"10", "ten"};
	struct tw_progress p;
	char err[128];

	(void)state;
	assert_int_equal(tw_progress_sum(f, v, sizeof(f) / sizeof(f[0]), &p, err, sizeof(err)), 0);
	assert_int_equal(p.events, 7);
	assert_int_equal(p.partitions, 1);
	assert_int_equal(p.work_members, 2);
	assert_int_equal(p.work_events, 120000);
	assert_int_equal(p.work_busy_ms, 7500);
	/* None: no work known. */
	assert_int_equal(tw_progress_sum(f, v, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(p.work_members, 0);
	assert_int_equal(p.work_events, 0);
	/* A member's value that is not an integer is an error, as a
	 * partition's. */
	assert_int_equal(tw_progress_sum(bad_f, bad_v, 2, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "m.a.busy_ms: \"ten\" is not an integer");
	assert_int_equal(p.work_members, 0);
}

/* A TCP port on 127.0.0.1 that nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_report_down_backs_off(void **state)
{
	char addr[64], err[256];
	struct tw_report *r;
	const int32_t ids[] = {0, 1};
	const struct tw_progress_part parts[] = {{10, 1, 0, 0, 2, INT64_MIN}, {20, 0, 1, 1, 3, 5}};
	int64_t t0;

	(void)state;
	assert_null(tw_report_new("nope", "ns", "tw", err, sizeof(err)));
	assert_string_equal(err, "\"nope\" is not host:port");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
	r = tw_report_new(addr, "ns", "tw", err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(tw_report_write(r, ids, parts, 0, 0, err, sizeof(err)),
	                 TW_REPORT_WRITTEN); /* nothing to say */
	t0 = clock_mono_ms();
	assert_int_equal(tw_report_write(r, ids, parts, 2, t0, err, sizeof(err)), TW_REPORT_FAILED);
	assert_true(clock_mono_ms() - t0 <= TW_REPORT_TIMEOUT_MS + 200); /* never blocks long */
	assert_non_null(strstr(err, "redis: connect 127.0.0.1:"));
	assert_int_equal(tw_report_failures(r), 1);
	/* Within the backoff nothing is tried. */
	assert_int_equal(
	    tw_report_write(r, ids, parts, 2, t0 + TW_REPORT_BACKOFF_MIN_MS - 1, err, sizeof(err)),
	    TW_REPORT_WAITING);
	assert_int_equal(tw_report_failures(r), 1);
	/* After it: tried again, and the backoff doubles. */
	assert_int_equal(
	    tw_report_write(r, ids, parts, 2, t0 + TW_REPORT_BACKOFF_MIN_MS, err, sizeof(err)),
	    TW_REPORT_FAILED);
	assert_int_equal(tw_report_write(r, ids, parts, 2, t0 + 3 * TW_REPORT_BACKOFF_MIN_MS - 1,
	                                 err, sizeof(err)),
	                 TW_REPORT_WAITING);
	assert_int_equal(tw_report_failures(r), 2);
	tw_report_forget(r, 1);
	tw_report_forget(r, 7); /* unknown: fine */
	tw_report_free(r);
	tw_report_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key),
	    cmocka_unit_test(test_sum),
	    cmocka_unit_test(test_sum_errors_and_saturation),
	    cmocka_unit_test(test_sum_work),
	    cmocka_unit_test(test_report_down_backs_off),
	};

	return cmocka_run_group_tests_name("tw_progress", tests, NULL, NULL);
}
