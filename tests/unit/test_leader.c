/* Unit tests for operator/leader.c's pure part: the options and their
 * checks, Lease parsing and building, the acquire/renew/wait decision on a
 * fake clock, the renew deadline, the next record (transitions, release),
 * MicroTime formatting; and the disabled mode, which needs no API server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leader.h"

static const struct config_option table[] = {LEADER_OPTIONS, {0}};

static struct config *load(int argc, char **argv)
{
	struct config *cfg = NULL;
	char err[256];
	int rc = config_load(table, argc, argv, &cfg, err, sizeof(err));
	if (rc != 0)
		fail_msg("config_load: %s", err);
	return cfg;
}

/* ---------------------------------------------------------------- config */

static void test_config_defaults(void **state)
{
	(void)state;
	unsetenv("POD_NAMESPACE");
	setenv("POD_NAME", "sluice-operator-abc", 1);
	char *argv[] = {"prog", NULL};
	struct config *cfg = load(1, argv);
	struct leader_config lc;
	char err[256];
	assert_int_equal(leader_config_from(&lc, cfg, err, sizeof(err)), 0);
	assert_true(lc.enabled);
	assert_string_equal(lc.namespace, "sluice-system");
	assert_string_equal(lc.name, "sluice-operator");
	assert_string_equal(lc.identity, "sluice-operator-abc");
	assert_int_equal(lc.lease_duration_ms, 15000);
	assert_int_equal(lc.renew_deadline_ms, 10000);
	assert_int_equal(lc.retry_period_ms, 2000);
	assert_null(lc.on_started_leading);
	config_free(cfg);
	unsetenv("POD_NAME");
}

static void test_config_env_and_flags(void **state)
{
	(void)state;
	setenv("POD_NAMESPACE", "from-downward-api", 1);
	char *argv1[] = {"prog", NULL};
	struct config *cfg = load(1, argv1);
	struct leader_config lc;
	char err[256];
	assert_int_equal(leader_config_from(&lc, cfg, err, sizeof(err)), 0);
	assert_string_equal(lc.namespace, "from-downward-api");
	config_free(cfg);

	setenv("SLUICE_LEADER_ELECTION_NAMESPACE", "ops", 1);
	setenv("SLUICE_LEASE_DURATION", "30s", 1);
	char *argv2[] = {"prog",
	                 "--leader-elect=false",
	                 "--leader-election-id",
	                 "x",
	                 "--renew-deadline",
	                 "20s",
	                 "--retry-period",
	                 "5s",
	                 NULL};
	cfg = load(8, argv2);
	assert_int_equal(leader_config_from(&lc, cfg, err, sizeof(err)), 0);
	assert_false(lc.enabled);
	assert_string_equal(lc.namespace, "ops");
	assert_string_equal(lc.name, "x");
	assert_int_equal(lc.lease_duration_ms, 30000);
	assert_int_equal(lc.renew_deadline_ms, 20000);
	assert_int_equal(lc.retry_period_ms, 5000);
	config_free(cfg);
	unsetenv("SLUICE_LEADER_ELECTION_NAMESPACE");
	unsetenv("SLUICE_LEASE_DURATION");
	unsetenv("POD_NAMESPACE");
}

static void test_config_timing_rules(void **state)
{
	(void)state;
	char err[256];
	struct leader_config lc = {.enabled = 1,
	                           .namespace = "ns",
	                           .name = "l",
	                           .identity = "me",
	                           .lease_duration_ms = 15000,
	                           .renew_deadline_ms = 10000,
	                           .retry_period_ms = 2000};
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), 0);

	lc.renew_deadline_ms = 15000; /* not below the lease */
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), LEADER_ERR);
	assert_non_null(strstr(err, "renew deadline"));

	lc.renew_deadline_ms = 2400; /* exactly 1.2 x retry: refused */
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), LEADER_ERR);
	assert_non_null(strstr(err, "1.2"));
	lc.renew_deadline_ms = 2401;
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), 0);

	lc.lease_duration_ms = 15500; /* leaseDurationSeconds is whole seconds */
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), LEADER_ERR);
	lc.lease_duration_ms = 15000;

	lc.retry_period_ms = 0;
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), LEADER_ERR);
	lc.retry_period_ms = 2000;

	lc.identity[0] = '\0';
	assert_int_equal(leader_config_check(&lc, err, sizeof(err)), LEADER_ERR);
}

static void test_config_refused_from_options(void **state)
{
	(void)state;
	char *argv[] = {"prog", "--lease-duration", "5s", NULL}; /* below renew 10s */
	struct config *cfg = load(3, argv);
	struct leader_config lc;
	char err[256];
	assert_int_equal(leader_config_from(&lc, cfg, err, sizeof(err)), LEADER_ERR);
	assert_non_null(strstr(err, "lease duration"));
	config_free(cfg);
}

static void test_identity(void **state)
{
	(void)state;
	char id[LEADER_ID_MAX];
	unsetenv("POD_NAME");
	assert_int_equal(leader_identity(id, sizeof(id)), 0);
	char pid[32];
	snprintf(pid, sizeof(pid), "_%ld", (long)getpid());
	assert_non_null(strstr(id, pid));
	assert_int_equal(leader_identity(id, 3), LEADER_ERR);
	setenv("POD_NAME", "pod-1", 1);
	assert_int_equal(leader_identity(id, sizeof(id)), 0);
	assert_string_equal(id, "pod-1");
	unsetenv("POD_NAME");
}

/* ---------------------------------------------------------------- records */

static void test_record_parse(void **state)
{
	(void)state;
	cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"l\",\"resourceVersion\":\"42\"},"
	                       "\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":15,"
	                       "\"acquireTime\":\"2026-11-23T05:00:00.000000Z\","
	                       "\"renewTime\":\"2026-11-23T05:00:02.000000Z\","
	                       "\"leaseTransitions\":3}}");
	struct leader_record r;
	assert_int_equal(leader_record_parse(o, &r), 0);
	assert_string_equal(r.holder, "a");
	assert_int_equal(r.lease_duration_s, 15);
	assert_int_equal(r.transitions, 3);
	assert_string_equal(r.resource_version, "42");
	assert_string_equal(r.renew_time, "2026-11-23T05:00:02.000000Z");
	cJSON_Delete(o);

	/* A Lease without a spec (kubectl create of an empty one) is free. */
	o = cJSON_Parse("{\"metadata\":{\"resourceVersion\":\"1\"}}");
	assert_int_equal(leader_record_parse(o, &r), 0);
	assert_string_equal(r.holder, "");
	cJSON_Delete(o);

	o = cJSON_Parse("{\"metadata\":{},\"spec\":{\"holderIdentity\":7}}");
	assert_int_equal(leader_record_parse(o, &r), LEADER_ERR);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"spec\":{}}");
	assert_int_equal(leader_record_parse(o, &r), LEADER_ERR);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"metadata\":{},\"spec\":{\"leaseDurationSeconds\":-1}}");
	assert_int_equal(leader_record_parse(o, &r), LEADER_ERR);
	cJSON_Delete(o);
}

static void test_build_round_trip(void **state)
{
	(void)state;
	struct leader_record r = {.holder = "me",
	                          .lease_duration_s = 15,
	                          .transitions = 2,
	                          .acquire_time = "2026-11-23T05:00:00.000000Z",
	                          .renew_time = "2026-11-23T05:00:04.000000Z",
	                          .resource_version = "77"};
	cJSON *o = leader_lease_build(&r, "ns", "lease");
	assert_non_null(o);
	assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "Lease");
	assert_string_equal(cJSON_GetObjectItem(o, "apiVersion")->valuestring,
	                    "coordination.k8s.io/v1");
	const cJSON *meta = cJSON_GetObjectItem(o, "metadata");
	assert_string_equal(cJSON_GetObjectItem(meta, "namespace")->valuestring, "ns");
	assert_string_equal(cJSON_GetObjectItem(meta, "name")->valuestring, "lease");
	struct leader_record back;
	assert_int_equal(leader_record_parse(o, &back), 0);
	assert_false(leader_record_changed(&r, &back));
	assert_string_equal(back.resource_version, "77");
	cJSON_Delete(o);

	/* A new Lease carries no resourceVersion (create refuses one). */
	r.resource_version[0] = '\0';
	o = leader_lease_build(&r, "ns", "lease");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "resourceVersion"));
	cJSON_Delete(o);
}

static void test_record_changed(void **state)
{
	(void)state;
	struct leader_record a = {.holder = "x", .lease_duration_s = 15, .renew_time = "t1"};
	struct leader_record b = a;
	snprintf(b.resource_version, sizeof(b.resource_version), "9"); /* not a holder field */
	assert_false(leader_record_changed(&a, &b));
	snprintf(b.renew_time, sizeof(b.renew_time), "t2");
	assert_true(leader_record_changed(&a, &b));
	b = a;
	b.transitions++;
	assert_true(leader_record_changed(&a, &b));
	b = a;
	snprintf(b.holder, sizeof(b.holder), "y");
	assert_true(leader_record_changed(&a, &b));
}

/* ---------------------------------------------------------------- decisions */

static void test_decide(void **state)
{
	(void)state;
	struct leader_record r = {.holder = "other", .lease_duration_s = 15};
	/* No Lease: create it. */
	assert_int_equal(leader_decide(NULL, "me", 0, 0), LEADER_ACQUIRE);
	/* Held by another and seen changing 14.999 s ago: wait. */
	assert_int_equal(leader_decide(&r, "me", 1000, 15999), LEADER_WAIT);
	/* Exactly lease duration since it was last seen to change: expired. */
	assert_int_equal(leader_decide(&r, "me", 1000, 16000), LEADER_ACQUIRE);
	assert_int_equal(leader_decide(&r, "me", 1000, 99999), LEADER_ACQUIRE);
	/* Ours: renew whatever the clock says. */
	assert_int_equal(leader_decide(&r, "other", 1000, 1001), LEADER_RENEW);
	assert_int_equal(leader_decide(&r, "other", 1000, 999999), LEADER_RENEW);
	/* Released (holder cleared): take it at once. */
	r.holder[0] = '\0';
	assert_int_equal(leader_decide(&r, "me", 1000, 1000), LEADER_ACQUIRE);
	/* A zero duration expires immediately. */
	struct leader_record z = {.holder = "other", .lease_duration_s = 0};
	assert_int_equal(leader_decide(&z, "me", 5, 5), LEADER_ACQUIRE);
}

/* A whole timeline on a fake clock: leader renews every 2 s, candidate keeps
 * waiting; the leader dies; the candidate takes over exactly one lease
 * duration after the last change it saw. */
static void test_timeline_takeover(void **state)
{
	(void)state;
	struct leader_record lease = {.holder = "a", .lease_duration_s = 15};
	struct leader_record seen = lease;
	int64_t seen_at = 0;
	int64_t t;
	for (t = 0; t <= 20000; t += 2000) {
		/* a renews: the record changes. */
		snprintf(lease.renew_time, sizeof(lease.renew_time), "r%lld", (long long)t);
		if (leader_record_changed(&seen, &lease)) {
			seen = lease;
			seen_at = t;
		}
		assert_int_equal(leader_decide(&seen, "b", seen_at, t), LEADER_WAIT);
	}
	/* a stops renewing at t = 20000. */
	int64_t took = -1;
	for (t = 20000; t <= 60000; t += 500) {
		if (leader_decide(&seen, "b", seen_at, t) == LEADER_ACQUIRE) {
			took = t;
			break;
		}
	}
	assert_int_equal(took, 35000);
}

static void test_renew_deadline(void **state)
{
	(void)state;
	assert_false(leader_renew_expired(1000, 1000, 10000));
	assert_false(leader_renew_expired(1000, 10999, 10000));
	assert_true(leader_renew_expired(1000, 11000, 10000));
	/* The leader steps down before any candidate may take over: renew
	 * deadline (10 s from the renewal sent) < lease duration (15 s from
	 * when the candidate saw it, which is later). */
	struct leader_record r = {.holder = "a", .lease_duration_s = 15};
	int64_t sent = 0, seen_by_b = 50;
	int64_t t = sent;
	while (!leader_renew_expired(sent, t, 10000))
		t++;
	assert_int_equal(leader_decide(&r, "b", seen_by_b, t), LEADER_WAIT);
}

static void test_record_next(void **state)
{
	(void)state;
	struct leader_record out;
	/* First Lease: transitions 0. */
	leader_record_next(NULL, "me", 15000, "T0", 0, &out);
	assert_string_equal(out.holder, "me");
	assert_int_equal(out.lease_duration_s, 15);
	assert_int_equal(out.transitions, 0);
	assert_string_equal(out.acquire_time, "T0");
	assert_string_equal(out.renew_time, "T0");
	assert_string_equal(out.resource_version, "");

	/* Renewal: acquire time and transitions kept, resourceVersion carried. */
	struct leader_record mine = {.holder = "me",
	                             .lease_duration_s = 15,
	                             .transitions = 4,
	                             .acquire_time = "T0",
	                             .renew_time = "T1",
	                             .resource_version = "100"};
	leader_record_next(&mine, "me", 15000, "T2", 0, &out);
	assert_int_equal(out.transitions, 4);
	assert_string_equal(out.acquire_time, "T0");
	assert_string_equal(out.renew_time, "T2");
	assert_string_equal(out.resource_version, "100");

	/* Takeover from another (or from a released Lease): one more transition. */
	struct leader_record theirs = mine;
	snprintf(theirs.holder, sizeof(theirs.holder), "other");
	leader_record_next(&theirs, "me", 20000, "T3", 0, &out);
	assert_string_equal(out.holder, "me");
	assert_int_equal(out.transitions, 5);
	assert_int_equal(out.lease_duration_s, 20);
	assert_string_equal(out.acquire_time, "T3");
	theirs.holder[0] = '\0';
	leader_record_next(&theirs, "me", 15000, "T3", 0, &out);
	assert_int_equal(out.transitions, 5);

	/* Release: holder cleared, 1 s, transitions kept. */
	leader_record_next(&mine, "me", 15000, "T4", 1, &out);
	assert_string_equal(out.holder, "");
	assert_int_equal(out.lease_duration_s, 1);
	assert_int_equal(out.transitions, 4);
	assert_string_equal(out.resource_version, "100");
	assert_int_equal(leader_decide(&out, "other", 0, 0), LEADER_ACQUIRE);
}

static void test_microtime(void **state)
{
	(void)state;
	char buf[LEADER_TIME_MAX];
	assert_int_equal(leader_format_microtime(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	/* 2026-11-23T05:00:00.123456789Z: nanoseconds are cut, not rounded. */
	assert_int_equal(leader_format_microtime(1795410000123456789LL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-23T05:00:00.123456Z");
	assert_int_equal(leader_format_microtime(-1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(leader_format_microtime(0, buf, 10), LEADER_ERR);
	assert_string_equal(buf, "");
}

/* ---------------------------------------------------------------- disabled */

static int started, stopped;
static void on_start(void *arg)
{
	(void)arg;
	started++;
}
static void on_stop(void *arg)
{
	(void)arg;
	stopped++;
}

static void test_disabled_leads_at_once(void **state)
{
	(void)state;
	struct leader_config lc = {
	    .enabled = 0, .on_started_leading = on_start, .on_stopped_leading = on_stop};
	struct metrics_registry *reg = metrics_registry_new();
	struct leader *l;
	char err[256];
	started = stopped = 0;
	assert_int_equal(leader_start(&l, NULL, &lc, reg, err, sizeof(err)), 0);
	assert_int_equal(started, 1);
	assert_true(leader_is_leader(l));
	char *text;
	size_t len;
	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(strstr(text, "\nsluice_leader 1\n"));
	assert_non_null(strstr(text, "sluice_leader_transitions_total 1\n"));
	free(text);
	leader_stop(l);
	assert_int_equal(stopped, 1);
	leader_stop(NULL);

	/* A second elector on the same registry is refused: its families
	 * outlive the first. */
	struct leader *l2;
	assert_int_equal(leader_start(&l2, NULL, &lc, reg, err, sizeof(err)), LEADER_ERR);
	assert_null(l2);
	assert_non_null(strstr(err, "sluice_leader"));
	metrics_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_config_env_and_flags),
	    cmocka_unit_test(test_config_timing_rules),
	    cmocka_unit_test(test_config_refused_from_options),
	    cmocka_unit_test(test_identity),
	    cmocka_unit_test(test_record_parse),
	    cmocka_unit_test(test_build_round_trip),
	    cmocka_unit_test(test_record_changed),
	    cmocka_unit_test(test_decide),
	    cmocka_unit_test(test_timeline_takeover),
	    cmocka_unit_test(test_renew_deadline),
	    cmocka_unit_test(test_record_next),
	    cmocka_unit_test(test_microtime),
	    cmocka_unit_test(test_disabled_leads_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
