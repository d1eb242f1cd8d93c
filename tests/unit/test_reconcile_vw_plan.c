/* Unit tests for operator/reconcile_vw_plan.c: the VideoWatch's status,
 * conditions and history limits, and the watcher's RBAC, Service and
 * environment. Pure: tables of cases, no I/O. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conditions.h"
#include "reconcile_vw_plan.h"

#define NOW "2026-12-07T10:00:00Z"

static const cJSON *cond(const cJSON *status, const char *type)
{
	return conditions_find(cJSON_GetObjectItem(status, "conditions"), type);
}

static const char *cond_field(const cJSON *status, const char *type, const char *field)
{
	return cJSON_GetObjectItem(cond(status, type), field)->valuestring;
}

static int num(const cJSON *status, const char *field)
{
	return cJSON_GetObjectItem(status, field)->valueint;
}

static int deleted(const struct vw_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_delete; i++)
		if (strcmp(p->delete_jobs[i], name) == 0)
			return 1;
	return 0;
}

static void test_job_state(void **state)
{
	(void)state;
	assert_int_equal(vw_plan_job_state(NULL), VW_JOB_ACTIVE);
	assert_int_equal(vw_plan_job_state("Processing"), VW_JOB_ACTIVE);
	assert_int_equal(vw_plan_job_state("Pending"), VW_JOB_ACTIVE);
	assert_int_equal(vw_plan_job_state("Succeeded"), VW_JOB_SUCCEEDED);
	assert_int_equal(vw_plan_job_state("Failed"), VW_JOB_FAILED);
}

/* Keeps the newest of each kind up to its limit, deletes the older ones
 * (ties by name), never an active job. */
static void test_history_limits(void **state)
{
	const struct vw_job_seen jobs[] = {
	    {"s1", VW_JOB_SUCCEEDED, "2026-12-07T09:00:01Z"},
	    {"s2", VW_JOB_SUCCEEDED, "2026-12-07T09:00:03Z"},
	    {"s3", VW_JOB_SUCCEEDED, "2026-12-07T09:00:02Z"},
	    {"s4", VW_JOB_SUCCEEDED, "2026-12-07T09:00:02Z"},
	    {"f1", VW_JOB_FAILED, "2026-12-07T08:00:00Z"},
	    {"f2", VW_JOB_FAILED, "2026-12-07T08:30:00Z"},
	    {"a1", VW_JOB_ACTIVE, "2026-12-01T00:00:00Z"},
	    {"a2", VW_JOB_ACTIVE, NULL},
	};
	static const struct {
		int keep_ok, keep_failed;
		const char *gone; /* space-separated */
		int ok, failed;
	} cases[] = {
	    {3, 1, "s1 f1", 3, 1}, {2, 1, "s1 s4 f1", 2, 1}, {0, 0, "s1 s2 s3 s4 f1 f2", 0, 0},
	    {10, 10, "", 4, 2},    {4, 2, "", 4, 2},         {1, 2, "s1 s3 s4", 1, 2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vw_observed o = {.generation = 2,
		                        .jobs = jobs,
		                        .n_jobs = sizeof(jobs) / sizeof(jobs[0]),
		                        .successful_history = cases[i].keep_ok,
		                        .failed_history = cases[i].keep_failed,
		                        .watcher_ready = 1,
		                        .now = NOW};
		struct vw_plan p;
		char gone[128];
		size_t n = 0;

		assert_int_equal(vw_plan(&o, &p), 0);
		snprintf(gone, sizeof(gone), "%s", cases[i].gone);
		for (char *t = strtok(gone, " "); t != NULL; t = strtok(NULL, " ")) {
			if (!deleted(&p, t))
				fail_msg("case %zu: %s not deleted", i, t);
			n++;
		}
		assert_int_equal(p.n_delete, n);
		assert_false(deleted(&p, "a1"));
		assert_false(deleted(&p, "a2"));
		assert_int_equal(num(p.status, "active"), 2);
		assert_int_equal(num(p.status, "succeeded"), cases[i].ok);
		assert_int_equal(num(p.status, "failed"), cases[i].failed);
		assert_int_equal(num(p.status, "observedGeneration"), 2);
		vw_plan_free(&p);
	}
}

static void test_conditions(void **state)
{
	static const struct {
		const char *old_status; /* JSON */
		const char *spec_error, *apply_error;
		int ready;
		const char *ready_status, *ready_reason, *folder_status, *folder_reason;
	} cases[] = {
	    {NULL, NULL, NULL, 0, "False", "WatcherNotReady", "Unknown", "NotScanned"},
	    {NULL, NULL, NULL, 1, "True", "Watching", "Unknown", "NotScanned"},
	    {"{\"watcher\":{\"folderError\":\"\"}}", NULL, NULL, 1, "True", "Watching", "True",
	     "Readable"},
	    {"{\"watcher\":{\"folderError\":\"/v/in: No such file or directory\"}}", NULL, NULL, 1,
	     "False", "FolderNotReadable", "False", "NotReadable"},
	    {NULL, "spec.glob: bad", NULL, 0, "False", "InvalidSpec", "Unknown", "NotScanned"},
	    {NULL, NULL, "apply roles x: forbidden", 0, "False", "WatcherNotCreated", "Unknown",
	     "NotScanned"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *old = cases[i].old_status != NULL ? cJSON_Parse(cases[i].old_status) : NULL;
		struct vw_observed o = {.generation = 1,
		                        .old_status = old,
		                        .spec_error = cases[i].spec_error,
		                        .apply_error = cases[i].apply_error,
		                        .watcher_ready = cases[i].ready,
		                        .now = NOW};
		struct vw_plan p;

		assert_int_equal(vw_plan(&o, &p), 0);
		assert_string_equal(cond_field(p.status, "Ready", "status"), cases[i].ready_status);
		assert_string_equal(cond_field(p.status, "Ready", "reason"), cases[i].ready_reason);
		assert_string_equal(cond_field(p.status, "FolderReadable", "status"),
		                    cases[i].folder_status);
		assert_string_equal(cond_field(p.status, "FolderReadable", "reason"),
		                    cases[i].folder_reason);
		if (cases[i].spec_error != NULL)
			assert_string_equal(cond_field(p.status, "Ready", "message"),
			                    cases[i].spec_error);
		if (strcmp(cases[i].folder_status, "False") == 0)
			assert_non_null(strstr(cond_field(p.status, "FolderReadable", "message"),
			                       "No such file"));
		/* The watcher's own fields are never in the operator's status. */
		assert_null(cJSON_GetObjectItem(p.status, "watcher"));
		vw_plan_free(&p);
		cJSON_Delete(old);
	}
}

static cJSON *owner(void)
{
	return cJSON_Parse(
	    "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoWatch\","
	    "\"metadata\":{\"name\":\"cam\",\"namespace\":\"media\",\"uid\":\"u1\"}}");
}

static void test_rbac(void **state)
{
	cJSON *o = owner(), *sa, *role, *rb, *rules, *r;

	(void)state;
	sa = vw_plan_service_account(o);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(sa, "metadata"), "name")->valuestring,
	    "cam-watcher");
	assert_string_equal(
	    cJSON_GetObjectItem(
	        cJSON_GetArrayItem(
	            cJSON_GetObjectItem(cJSON_GetObjectItem(sa, "metadata"), "ownerReferences"), 0),
	        "uid")
	        ->valuestring,
	    "u1");
	role = vw_plan_role(o);
	rules = cJSON_GetObjectItem(role, "rules");
	assert_int_equal(cJSON_GetArraySize(rules), 3);
	/* VideoJobs: create and get, nothing else (no list, no delete). */
	r = cJSON_GetArrayItem(rules, 0);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "resources"), 0)->valuestring,
	                    "videojobs");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "verbs")), 2);
	assert_null(cJSON_GetObjectItem(r, "resourceNames"));
	/* Its own VideoWatch only. */
	for (int i = 1; i < 3; i++) {
		r = cJSON_GetArrayItem(rules, i);
		assert_string_equal(
		    cJSON_GetArrayItem(cJSON_GetObjectItem(r, "resourceNames"), 0)->valuestring,
		    "cam");
	}
	r = cJSON_GetArrayItem(rules, 2);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "resources"), 0)->valuestring,
	                    "videowatches/status");
	rb = vw_plan_role_binding(o);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(rb, "roleRef"), "name")->valuestring,
	    "cam-watcher");
	r = cJSON_GetArrayItem(cJSON_GetObjectItem(rb, "subjects"), 0);
	assert_string_equal(cJSON_GetObjectItem(r, "name")->valuestring, "cam-watcher");
	assert_string_equal(cJSON_GetObjectItem(r, "namespace")->valuestring, "media");
	cJSON_Delete(sa);
	cJSON_Delete(role);
	cJSON_Delete(rb);
	cJSON_Delete(o);
}

static void test_service_and_env(void **state)
{
	cJSON *o = owner(), *svc, *env, *e;
	char *text;

	(void)state;
	assert_null(vw_plan_service(o, 0));
	svc = vw_plan_service(o, 9000);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "metadata"), "name")->valuestring,
	    "cam-upload");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "spec"), "ports"), 0);
	assert_int_equal(cJSON_GetObjectItem(e, "port")->valueint, 9000);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "spec"), "selector"),
	                        "sluice.dev/videowatch")
	        ->valuestring,
	    "cam");
	cJSON_Delete(svc);

	env = vw_plan_watcher_env("up", "token", "127.0.0.1:6443", "http://127.0.0.1:8088");
	text = cJSON_PrintUnformatted(env);
	assert_null(strstr(text, "POD_IP")); /* every worker pod's (children.c) */
	assert_non_null(
	    strstr(text, "\"SLUICE_UPLOAD_TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"up\","
	                 "\"key\":\"token\"}}"));
	assert_non_null(strstr(text, "\"KUBERNETES_SERVICE_HOST\",\"value\":\"127.0.0.1\""));
	assert_non_null(strstr(text, "\"KUBERNETES_SERVICE_PORT\",\"value\":\"6443\""));
	assert_non_null(strstr(text, "\"SLUICE_DASHBOARD_URL\""));
	free(text);
	cJSON_Delete(env);
	env = vw_plan_watcher_env(NULL, NULL, NULL, NULL);
	assert_int_equal(cJSON_GetArraySize(env), 0);
	cJSON_Delete(env);
	assert_null(vw_plan_watcher_env(NULL, NULL, "not-an-address", NULL));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_job_state),       cmocka_unit_test(test_history_limits),
	    cmocka_unit_test(test_conditions),      cmocka_unit_test(test_rbac),
	    cmocka_unit_test(test_service_and_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
