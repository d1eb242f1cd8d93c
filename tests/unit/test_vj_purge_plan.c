/* operator/vj_purge_plan.c: the finalizer's purge decision (a table of
 * everything a pass can find), its Events, the writers counted, and the
 * purge Job built from the worker Job. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "children.h"
#include "vj_purge_plan.h"

static void test_decide(void **state)
{
	static const struct {
		const char *what;
		struct vj_purge_observed o;
		enum vj_purge_action want;
	} cases[] = {
	    {"not asked", {.asked = 0, .job_found = 1, .job_outcome = -1}, VJ_PURGE_SKIP},
	    {"no job, no writers", {.asked = 1, .has_image = 1}, VJ_PURGE_CREATE},
	    {"no job, writers", {.asked = 1, .has_image = 1, .writers = 2}, VJ_PURGE_STOP_WRITERS},
	    {"no job, writers unknown", {.asked = 1, .has_image = 1, .writers = -1}, VJ_PURGE_WAIT},
	    {"no job, no image", {.asked = 1, .has_image = 0}, VJ_PURGE_GIVE_UP},
	    {"running", {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 1}, VJ_PURGE_WAIT},
	    {"succeeded",
	     {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 1, .job_outcome = 1},
	     VJ_PURGE_DONE},
	    {"failed",
	     {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 1, .job_outcome = -1},
	     VJ_PURGE_GIVE_UP},
	    /* The image matters only for a Job yet to be made. */
	    {"succeeded, image gone since",
	     {.asked = 1, .job_found = 1, .job_ours = 1, .job_outcome = 1},
	     VJ_PURGE_DONE},
	    {"an earlier job's, succeeded",
	     {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 0, .job_outcome = 1},
	     VJ_PURGE_DELETE_STALE},
	    {"an earlier job's, failed",
	     {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 0, .job_outcome = -1},
	     VJ_PURGE_DELETE_STALE},
	    {"an earlier job's, going",
	     {.asked = 1, .has_image = 1, .job_found = 1, .job_ours = 0, .job_deleting = 1},
	     VJ_PURGE_WAIT},
	    /* Ours and being deleted (by hand): its outcome still counts. */
	    {"ours, going, succeeded",
	     {.asked = 1, .job_found = 1, .job_ours = 1, .job_deleting = 1, .job_outcome = 1},
	     VJ_PURGE_DONE},
	    {"ours, going, running",
	     {.asked = 1, .job_found = 1, .job_ours = 1, .job_deleting = 1},
	     VJ_PURGE_WAIT},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_purge_decision d;
		enum vj_purge_action a;
		int proceed;

		vj_purge_decide(&cases[i].o, &d);
		a = cases[i].want;
		proceed = a == VJ_PURGE_SKIP || a == VJ_PURGE_DONE || a == VJ_PURGE_GIVE_UP;
		if (d.action != a || d.proceed != proceed || d.poll != !proceed)
			fail_msg("%s: %s (proceed %d), want %s", cases[i].what,
			         vj_purge_action_name(d.action), d.proceed,
			         vj_purge_action_name(a));
	}
}

static void test_give_up_message(void **state)
{
	struct vj_purge_observed o = {.asked = 1,
	                              .job_found = 1,
	                              .job_ours = 1,
	                              .job_outcome = -1,
	                              .job_reason = "BackoffLimitExceeded",
	                              .job_error = "postgres: connect: connection refused"};
	struct vj_purge_decision d;

	(void)state;
	vj_purge_decide(&o, &d);
	assert_string_equal(d.message,
	                    "BackoffLimitExceeded: postgres: connect: connection refused");
	o.job_reason = NULL;
	o.job_error = NULL;
	vj_purge_decide(&o, &d);
	assert_string_equal(d.message, "Failed");
	o = (struct vj_purge_observed){.asked = 1};
	vj_purge_decide(&o, &d);
	assert_non_null(strstr(d.message, "NoImage: no worker image"));
}

static void test_events(void **state)
{
	struct vj_purge_decision d;
	struct vj_purge_observed o = {.asked = 1,
	                              .job_found = 1,
	                              .job_ours = 1,
	                              .job_outcome = -1,
	                              .job_reason = "DeadlineExceeded",
	                              .job_error = "Job was active longer than specified deadline"};
	struct events_planned ev;

	(void)state;
	vj_purge_decide(&o, &d);
	assert_int_equal(vj_purge_event(&d, "clip", "video_frames", &ev), 1);
	assert_int_equal(ev.type, EVENTS_WARNING);
	assert_string_equal(ev.reason, "PurgeFailed");
	assert_non_null(strstr(ev.note, "Job clip-purge failed (DeadlineExceeded: Job was active"));
	assert_non_null(strstr(ev.note, "rows stay in PostgreSQL"));
	assert_non_null(strstr(ev.note, "sluice-worker purge"));

	o.job_outcome = 1;
	vj_purge_decide(&o, &d);
	assert_int_equal(vj_purge_event(&d, "clip", "frames", &ev), 1);
	assert_int_equal(ev.type, EVENTS_NORMAL);
	assert_string_equal(ev.reason, "Purged");
	assert_non_null(strstr(ev.note, "Job clip-purge deleted"));
	assert_non_null(strstr(ev.note, "frames)"));

	o.job_outcome = 0;
	vj_purge_decide(&o, &d);
	assert_int_equal(vj_purge_event(&d, "clip", "frames", &ev), 0);
	o.asked = 0;
	vj_purge_decide(&o, &d);
	assert_int_equal(vj_purge_event(&d, "clip", "frames", &ev), 0);
}

static void test_count_writers(void **state)
{
	cJSON *pods = cJSON_Parse("{\"items\":["
	                          "{\"status\":{\"phase\":\"Running\"}},"
	                          "{\"status\":{\"phase\":\"Pending\"}},"
	                          "{\"status\":{\"phase\":\"Succeeded\"}},"
	                          "{\"status\":{\"phase\":\"Failed\"}},"
	                          "{\"status\":{}},"
	                          "{\"status\":{\"phase\":\"Unknown\"}}]}");

	(void)state;
	assert_non_null(pods);
	assert_int_equal(vj_purge_count_writers(pods), 4);
	assert_int_equal(vj_purge_count_writers(NULL), 0);
	cJSON_Delete(pods);
	pods = cJSON_Parse("{\"items\":[]}");
	assert_int_equal(vj_purge_count_writers(pods), 0);
	cJSON_Delete(pods);
}

static const char owner_json[] =
    "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoJob\",\"metadata\":"
    "{\"name\":\"clip\",\"namespace\":\"media\",\"uid\":\"u-1\"},\"spec\":{}}";

static cJSON *worker_job(const cJSON *owner)
{
	static const struct children_defaults d = {.worker_image = "w:1"};
	static const struct children_secret s[] = {{"pg", "dsn"}};
	struct children_workload w = {
	    .owner = owner,
	    .kind_label = "videojob",
	    .mode = VJ_PURGE_MODE,
	    .config_hash = "0123456789abcdef",
	    .secrets = s,
	    .n_secrets = 1,
	    .replicas = -1,
	    .defaults = &d,
	};
	return children_job(&w, VJ_PURGE_BACKOFF_LIMIT);
}

static const cJSON *at(const cJSON *o, const char *const *path)
{
	for (; *path != NULL && o != NULL; path++)
		o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(*path))
		                     : cJSON_GetObjectItemCaseSensitive(o, *path);
	return o;
}

static void test_job(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	cJSON *job;
	const cJSON *vols, *v, *it;
	int found = 0;

	(void)state;
	job = vj_purge_job(worker_job(owner), owner, "{\"name\":\"clip\"}");
	assert_non_null(job);
	assert_string_equal(
	    cJSON_GetStringValue(at(job, (const char *const[]){"metadata", "name", NULL})),
	    "clip-purge");
	assert_null(at(job, (const char *const[]){"metadata", "ownerReferences", NULL}));
	assert_string_equal(
	    cJSON_GetStringValue(at(
	        job, (const char *const[]){"metadata", "annotations", VJ_PURGE_OWNER_UID, NULL})),
	    "u-1");
	assert_string_equal(
	    cJSON_GetStringValue(
	        at(job, (const char *const[]){"metadata", "labels", "sluice.dev/videojob", NULL})),
	    "clip");
	assert_int_equal(
	    at(job, (const char *const[]){"spec", "activeDeadlineSeconds", NULL})->valueint,
	    VJ_PURGE_DEADLINE_S);
	assert_int_equal(
	    at(job, (const char *const[]){"spec", "ttlSecondsAfterFinished", NULL})->valueint,
	    VJ_PURGE_TTL_S);
	assert_int_equal(at(job, (const char *const[]){"spec", "backoffLimit", NULL})->valueint,
	                 VJ_PURGE_BACKOFF_LIMIT);
	assert_string_equal(
	    cJSON_GetStringValue(
	        at(job, (const char *const[]){"spec", "template", "metadata", "annotations",
	                                      VJ_PURGE_CONFIG_ANNOTATION, NULL})),
	    "{\"name\":\"clip\"}");
	assert_string_equal(cJSON_GetStringValue(at(
	                        job, (const char *const[]){"spec", "template", "spec", "containers",
	                                                   "0", "args", "0", NULL})),
	                    "purge");
	/* The pod runs as the process pods do: non-root, the DSN by reference. */
	assert_true(
	    cJSON_IsTrue(at(job, (const char *const[]){"spec", "template", "spec",
	                                               "securityContext", "runAsNonRoot", NULL})));
	it = at(job,
	        (const char *const[]){"spec", "template", "spec", "containers", "0", "env", NULL});
	cJSON_ArrayForEach(v, it)
	{
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
		if (n != NULL && strcmp(n, "SLUICE_SECRET_PG_DSN") == 0) {
			assert_string_equal(
			    cJSON_GetStringValue(
			        at(v, (const char *const[]){"valueFrom", "secretKeyRef", "name",
			                                    NULL})),
			    "pg");
			found = 1;
		}
	}
	assert_true(found);
	/* config.json from the annotation, not the ConfigMap. */
	found = 0;
	vols = at(job, (const char *const[]){"spec", "template", "spec", "volumes", NULL});
	cJSON_ArrayForEach(v, vols)
	{
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "name"));
		if (n == NULL || strcmp(n, "config") != 0)
			continue;
		found = 1;
		assert_null(cJSON_GetObjectItemCaseSensitive(v, "configMap"));
		assert_string_equal(
		    cJSON_GetStringValue(
		        at(v, (const char *const[]){"downwardAPI", "items", "0", "path", NULL})),
		    "config.json");
		assert_string_equal(cJSON_GetStringValue(at(
		                        v, (const char *const[]){"downwardAPI", "items", "0",
		                                                 "fieldRef", "fieldPath", NULL})),
		                    "metadata.annotations['" VJ_PURGE_CONFIG_ANNOTATION "']");
	}
	assert_true(found);
	cJSON_Delete(job);

	/* No uid, no config, no Job: NULL (and nothing leaks). */
	assert_null(vj_purge_job(worker_job(owner), owner, NULL));
	assert_null(vj_purge_job(NULL, owner, "{}"));
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(owner, "metadata"),
	                                        "uid");
	assert_null(vj_purge_job(cJSON_Parse("{\"metadata\":{},\"spec\":{}}"), owner, "{}"));
	cJSON_Delete(owner);
}

static void test_job_failure(void **state)
{
	cJSON *job = cJSON_Parse("{\"status\":{\"conditions\":["
	                         "{\"type\":\"Failed\",\"status\":\"False\",\"reason\":\"X\"},"
	                         "{\"type\":\"Failed\",\"status\":\"True\","
	                         "\"reason\":\"BackoffLimitExceeded\","
	                         "\"message\":\"Job has reached the specified backoff limit\"}]}}");
	const char *reason, *message;

	(void)state;
	vj_purge_job_failure(job, &reason, &message);
	assert_string_equal(reason, "BackoffLimitExceeded");
	assert_string_equal(message, "Job has reached the specified backoff limit");
	cJSON_Delete(job);
	vj_purge_job_failure(NULL, &reason, &message);
	assert_null(reason);
	assert_null(message);
}

static void test_action_names(void **state)
{
	(void)state;
	assert_string_equal(vj_purge_action_name(VJ_PURGE_SKIP), "skip");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_DELETE_STALE), "delete-stale");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_STOP_WRITERS), "stop-writers");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_CREATE), "create");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_WAIT), "wait");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_DONE), "done");
	assert_string_equal(vj_purge_action_name(VJ_PURGE_GIVE_UP), "give-up");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide),       cmocka_unit_test(test_give_up_message),
	    cmocka_unit_test(test_events),       cmocka_unit_test(test_count_writers),
	    cmocka_unit_test(test_job),          cmocka_unit_test(test_job_failure),
	    cmocka_unit_test(test_action_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
