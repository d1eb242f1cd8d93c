/*
 * leader_it.c - leader election (operator/leader.c) against a REAL
 * kube-apiserver: two candidates in one process, each with its own client
 * and identity, contend for one Lease.
 *
 *   - exactly one leads, and the Lease names it;
 *   - the leader stops (releases the Lease): the other leads within about one
 *     retry period, not a whole lease duration;
 *   - the Lease is taken over by force (an update naming another holder, as
 *     a partitioned leader would find after others took it): the leader
 *     steps down and its on_stopped_leading runs;
 *   - the leader's renewals are refused (a ValidatingAdmissionPolicy denies
 *     updates of its Lease): it steps down once the renew deadline passes,
 *     and leader_is_leader() is 0 from that moment, even before the elector
 *     notices;
 *   - a leaseDuration of the lease taken over is honoured: candidates wait.
 *
 * Short timings keep it quick: lease 3 s, renew deadline 2 s, retry 0.4 s.
 * Needs KUBECONFIG with context "sluice" (tests/e2e/stack.sh; components
 * "etcd kube-apiserver" suffice). Runs in namespace sluice-lit-<pid>, deleted
 * at the end. `make integration` builds and runs it; alone:
 *   make build/tests/leader_it && (set -a; . build/stack.env; build/tests/leader_it)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "it_env.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube_client.h"
#include "leader.h"
#include "log.h"
#include "clock.h"

#define LEASE "sluice-lit"
#define RETRY_MS 400

static struct {
	struct kube_client *direct;
	struct kube_config cfg; /* loaded once, copied by each elector */
	char ns[64];
} it;

struct candidate {
	const char *id;
	struct leader *l;
	atomic_int started, stopped;
};

/* ---------------------------------------------------------------- helpers */

static void on_started(void *arg)
{
	atomic_fetch_add(&((struct candidate *)arg)->started, 1);
}

static void on_stopped(void *arg)
{
	atomic_fetch_add(&((struct candidate *)arg)->stopped, 1);
}

static void start(struct candidate *c, const char *id)
{
	struct leader_config lc = {.enabled = 1,
	                           .lease_duration_ms = 3000,
	                           .renew_deadline_ms = 2000,
	                           .retry_period_ms = RETRY_MS,
	                           .on_started_leading = on_started,
	                           .on_stopped_leading = on_stopped,
	                           .arg = c};
	char err[512];
	snprintf(lc.namespace, sizeof(lc.namespace), "%s", it.ns);
	snprintf(lc.name, sizeof(lc.name), "%s", LEASE);
	snprintf(lc.identity, sizeof(lc.identity), "%s", id);
	c->id = id;
	atomic_store(&c->started, 0);
	atomic_store(&c->stopped, 0);
	if (leader_start(&c->l, &it.cfg, &lc, NULL, err, sizeof(err)) != 0)
		fail_msg("leader_start %s: %s", id, err);
}

static void stop(struct candidate *c)
{
	leader_stop(c->l);
	c->l = NULL;
}

/* The Lease as the API server has it. */
static int read_lease(struct leader_record *rec)
{
	struct kube_ref ref = {"coordination.k8s.io", "v1", "leases", it.ns, LEASE, NULL};
	cJSON *o = NULL;
	int rc = kube_client_get(it.direct, &ref, &o, NULL);
	if (rc == 0) {
		assert_int_equal(leader_record_parse(o, rec), 0);
		cJSON_Delete(o);
	}
	return rc;
}

static void delete_lease(void)
{
	struct kube_ref ref = {"coordination.k8s.io", "v1", "leases", it.ns, LEASE, NULL};
	kube_client_delete(it.direct, &ref, NULL, NULL, NULL);
}

/* Rewrites the Lease to name holder for lease_s seconds (re-read and retried
 * on conflict, as a competing writer would). */
static void force_holder(const char *holder, int lease_s)
{
	struct kube_ref ref = {"coordination.k8s.io", "v1", "leases", it.ns, LEASE, NULL};
	for (int attempt = 0; attempt < 20; attempt++) {
		struct leader_record rec, next;
		char now[LEADER_TIME_MAX];
		struct timespec ts;
		assert_int_equal(read_lease(&rec), 0);
		clock_gettime(CLOCK_REALTIME, &ts);
		leader_format_microtime((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec, now,
		                        sizeof(now));
		leader_record_next(&rec, holder, (int64_t)lease_s * 1000, now, 0, &next);
		cJSON *body = leader_lease_build(&next, it.ns, LEASE);
		struct kube_error e;
		int rc = kube_client_replace(it.direct, &ref, body, NULL, &e);
		cJSON_Delete(body);
		if (rc == 0)
			return;
		assert_int_equal(rc, KUBE_ECONFLICT);
	}
	fail_msg("could not force the lease over in 20 attempts");
}

/* A ValidatingAdmissionPolicy (and its binding) denying every UPDATE of
 * Lease `lease` in our namespace: renewals fail as they would for a leader
 * cut off from the API server, while reads still work. */
static void freeze_lease(const char *lease, int on)
{
	char name[96];
	snprintf(name, sizeof(name), "sluice-lit-%ld", (long)getpid());
	struct kube_ref pol = {
	    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", NULL, NULL, NULL};
	struct kube_ref bind = {"admissionregistration.k8s.io",
	                        "v1",
	                        "validatingadmissionpolicybindings",
	                        NULL,
	                        NULL,
	                        NULL};
	if (!on) {
		bind.name = name;
		pol.name = name;
		kube_client_delete(it.direct, &bind, NULL, NULL, NULL);
		kube_client_delete(it.direct, &pol, NULL, NULL, NULL);
		return;
	}
	char body[2048];
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"admissionregistration.k8s.io/v1\","
	         "\"kind\":\"ValidatingAdmissionPolicy\",\"metadata\":{\"name\":\"%s\"},"
	         "\"spec\":{\"failurePolicy\":\"Fail\",\"matchConstraints\":{\"resourceRules\":[{"
	         "\"apiGroups\":[\"coordination.k8s.io\"],\"apiVersions\":[\"v1\"],"
	         "\"operations\":[\"UPDATE\"],\"resources\":[\"leases\"]}]},"
	         "\"validations\":[{\"expression\":\"object.metadata.namespace != '%s' || "
	         "object.metadata.name != '%s'\",\"message\":\"frozen by leader_it\"}]}}",
	         name, it.ns, lease);
	cJSON *o = cJSON_Parse(body);
	assert_non_null(o);
	struct kube_error e;
	if (kube_client_create(it.direct, &pol, o, NULL, &e) != 0)
		fail_msg("create policy: %s", e.message);
	cJSON_Delete(o);
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"admissionregistration.k8s.io/v1\","
	         "\"kind\":\"ValidatingAdmissionPolicyBinding\",\"metadata\":{\"name\":\"%s\"},"
	         "\"spec\":{\"policyName\":\"%s\",\"validationActions\":[\"Deny\"]}}",
	         name, name);
	o = cJSON_Parse(body);
	assert_non_null(o);
	if (kube_client_create(it.direct, &bind, o, NULL, &e) != 0)
		fail_msg("create binding: %s", e.message);
	cJSON_Delete(o);
}

/* Whether an update of the Lease (rewriting the same holder) is refused. */
static int lease_update_refused(void)
{
	struct kube_ref ref = {"coordination.k8s.io", "v1", "leases", it.ns, LEASE, NULL};
	struct leader_record rec, next;
	if (read_lease(&rec) != 0)
		return 0;
	leader_record_next(&rec, rec.holder, rec.lease_duration_s * 1000, rec.renew_time, 0, &next);
	cJSON *body = leader_lease_build(&next, it.ns, LEASE);
	struct kube_error e;
	int rc = kube_client_replace(it.direct, &ref, body, NULL, &e);
	cJSON_Delete(body);
	return rc != 0 && rc != KUBE_ECONFLICT && strstr(e.message, "frozen by leader_it") != NULL;
}

/* ---------------------------------------------------------------- setup */

static int group_setup(void **state)
{
	struct kube_ref nss = {NULL, "v1", "namespaces", NULL, NULL, NULL};
	char err[1024];
	(void)state;
	if (getenv("KUBECONFIG") == NULL) {
		fprintf(stderr, "leader_it: KUBECONFIG is not set (. build/stack.env)\n");
		return -1;
	}
	log_set_level(getenv("LEADER_IT_LOG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	struct kube_config direct;
	if (kube_config_load(&it.cfg, NULL, "sluice", err, sizeof(err)) != 0 ||
	    kube_config_copy(&direct, &it.cfg) != 0) {
		fprintf(stderr, "leader_it: kubeconfig: %s\n", err);
		return -1;
	}
	if (kube_client_new(&it.direct, &direct, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "leader_it: client: %s\n", err);
		return -1;
	}
	snprintf(it.ns, sizeof(it.ns), "sluice-lit-%ld", (long)getpid());
	char body[256];
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         it.ns);
	cJSON *ns = cJSON_Parse(body);
	struct kube_error e;
	int rc = kube_client_create(it.direct, &nss, ns, NULL, &e);
	cJSON_Delete(ns);
	if (rc != 0) {
		fprintf(stderr, "leader_it: create namespace: %s\n", e.message);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (it.direct != NULL) {
		struct kube_ref ns = {NULL, "v1", "namespaces", NULL, it.ns, NULL};
		struct kube_delete_opts d = {.propagation_policy = "Background",
		                             .grace_period_seconds = -1};
		kube_client_delete(it.direct, &ns, &d, NULL, NULL);
	}
	if (it.direct != NULL)
		freeze_lease(LEASE, 0);
	kube_client_free(it.direct);
	kube_config_free(&it.cfg);
	return 0;
}

/* ---------------------------------------------------------------- tests */

/* Two candidates: exactly one leads, stays the only leader, and the Lease
 * names it. Then the leader stops: it releases, the other takes over within
 * about one retry period. */
static void test_one_leader_then_release(void **state)
{
	(void)state;
	struct candidate a = {0}, b = {0};
	delete_lease();
	start(&a, "cand-a");
	start(&b, "cand-b");
	IT_WAIT_FOR(leader_is_leader(a.l) || leader_is_leader(b.l), 5.0, "a leader");
	/* For three lease durations (many renewals), never two, never none. */
	for (double until = clock_mono_s() + 3.0; clock_mono_s() < until; it_sleep_ms(20)) {
		int n = leader_is_leader(a.l) + leader_is_leader(b.l);
		assert_int_equal(n, 1);
	}
	struct candidate *lead = leader_is_leader(a.l) ? &a : &b;
	struct candidate *other = lead == &a ? &b : &a;
	assert_int_equal(atomic_load(&lead->started), 1);
	assert_int_equal(atomic_load(&lead->stopped), 0);
	assert_int_equal(atomic_load(&other->started), 0);

	struct leader_record rec;
	assert_int_equal(read_lease(&rec), 0);
	assert_string_equal(rec.holder, lead->id);
	assert_int_equal(rec.lease_duration_s, 3);
	char seen[LEADER_ID_MAX];
	leader_holder(other->l, seen, sizeof(seen));
	assert_string_equal(seen, lead->id);
	int64_t transitions = rec.transitions;

	/* Graceful stop: release, callback. */
	double t0 = clock_mono_s();
	stop(lead);
	assert_int_equal(atomic_load(&lead->stopped), 1);
	IT_WAIT_FOR(leader_is_leader(other->l), 3.0, "takeover after release");
	double took = clock_mono_s() - t0;
	fprintf(stderr, "leader_it: takeover after release in %.0f ms (retry %d ms)\n", took * 1000,
	        RETRY_MS);
	/* A poll is at most retry * 1.2 away; then a GET and a PUT. Far below
	 * the 3 s a lease that was not released would take. */
	assert_true(took < RETRY_MS * 1.2 / 1000 + 1.0);
	assert_int_equal(read_lease(&rec), 0);
	assert_string_equal(rec.holder, other->id);
	assert_int_equal(rec.transitions, transitions + 1);
	stop(other);
	assert_int_equal(read_lease(&rec), 0);
	assert_string_equal(rec.holder, "");
}

/* The Lease is forced to another holder: the leader steps down (and says so
 * through on_stopped_leading) within a retry period or so; while the
 * intruder's lease is valid, nobody leads; once it expires unrenewed, a
 * candidate takes over again. */
static void test_step_down_when_taken(void **state)
{
	(void)state;
	struct candidate a = {0};
	delete_lease();
	start(&a, "cand-a");
	IT_WAIT_FOR(leader_is_leader(a.l), 3.0, "a leads");
	double t0 = clock_mono_s();
	force_holder("intruder", 3);
	IT_WAIT_FOR(atomic_load(&a.stopped) == 1, 3.0, "a steps down");
	fprintf(stderr, "leader_it: stepped down %.0f ms after the takeover\n",
	        (clock_mono_s() - t0) * 1000);
	assert_false(leader_is_leader(a.l));
	/* The intruder never renews: 3 s after a last saw it change, a takes
	 * the lease back, and not before. */
	it_sleep_ms(2000);
	assert_false(leader_is_leader(a.l));
	IT_WAIT_FOR(leader_is_leader(a.l), 3.0, "a leads again after the intruder's lease expired");
	assert_int_equal(atomic_load(&a.started), 2);
	struct leader_record rec;
	assert_int_equal(read_lease(&rec), 0);
	assert_string_equal(rec.holder, "cand-a");
	stop(&a);
}

/* Renewals refused by the API server: the leader keeps the Lease on record
 * but stops leading when its renew deadline (2 s) passes; nobody else may
 * take it before the lease duration (3 s after they last saw it change). */
static void test_step_down_when_renewals_fail(void **state)
{
	(void)state;
	struct candidate a = {0};
	delete_lease();
	start(&a, "cand-a");
	IT_WAIT_FOR(leader_is_leader(a.l), 3.0, "a leads");
	freeze_lease(LEASE, 1);
	/* Policies reach admission within a second or so: probe until ours
	 * refuses an update. */
	IT_WAIT_FOR(lease_update_refused(), 10.0, "the admission policy to take effect");
	double t0 = clock_mono_s();
	IT_WAIT_FOR(!leader_is_leader(a.l), 3.0, "a no longer leader");
	double lost = clock_mono_s() - t0;
	IT_WAIT_FOR(atomic_load(&a.stopped) == 1, 3.0, "a's on_stopped_leading");
	fprintf(stderr,
	        "leader_it: renewals refused: not leader after %.0f ms, told after %.0f ms "
	        "(renew deadline 2000 ms)\n",
	        lost * 1000, (clock_mono_s() - t0) * 1000);
	/* At most a renew deadline after the last renewal that got through,
	 * which was no earlier than the probe began refusing minus a retry. */
	assert_true(lost < 2.0 + 0.2);
	struct leader_record rec;
	assert_int_equal(read_lease(&rec), 0);
	assert_string_equal(rec.holder, "cand-a"); /* still on record, but a has stopped */
	freeze_lease(LEASE, 0);
	/* Once writes go through again, a renews (it is still the holder). */
	IT_WAIT_FOR(leader_is_leader(a.l), 10.0, "a leads again after the policy is gone");
	stop(&a);
}

/* A Lease object that exists with no spec (made by hand) is free to take;
 * a Lease held by someone who keeps renewing is never taken. */
static void test_free_and_held(void **state)
{
	(void)state;
	struct kube_ref ref = {"coordination.k8s.io", "v1", "leases", it.ns, NULL, NULL};
	char body[256];
	delete_lease();
	snprintf(body, sizeof(body),
	         "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
	         "\"metadata\":{\"name\":\"%s\"}}",
	         LEASE);
	cJSON *o = cJSON_Parse(body);
	assert_int_equal(kube_client_create(it.direct, &ref, o, NULL, NULL), 0);
	cJSON_Delete(o);
	struct candidate a = {0};
	start(&a, "cand-a");
	IT_WAIT_FOR(leader_is_leader(a.l), 3.0, "a takes the empty lease");
	stop(&a);

	/* "keeper" renews every 0.5 s with a 3 s lease: b waits for 4 s. */
	force_holder("keeper", 3);
	struct candidate b = {0};
	start(&b, "cand-b");
	for (double until = clock_mono_s() + 4.0; clock_mono_s() < until; it_sleep_ms(500)) {
		force_holder("keeper", 3);
		assert_false(leader_is_leader(b.l));
	}
	assert_int_equal(atomic_load(&b.started), 0);
	stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_leader_then_release),
	    cmocka_unit_test(test_step_down_when_taken),
	    cmocka_unit_test(test_step_down_when_renewals_fail),
	    cmocka_unit_test(test_free_and_held),
	};
	return cmocka_run_group_tests_name("leader_it", tests, group_setup, group_teardown);
}
