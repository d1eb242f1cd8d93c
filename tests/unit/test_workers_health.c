/* workers_health_judge: every rule, from Deployments and pods as the API
 * server reports them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "workers_health.h"

/* 2026-12-07T10:00:30Z */
#define NOW ((time_t)1796637630)

static const struct {
	const char *what, *deployment, *pods;
	const char *status, *reason, *message_has;
	int failing;
} cases[] = {
    {"not made yet", NULL, NULL, "Unknown", "DeploymentPending", "not reported", 0},
    {"scaled to zero", "{\"spec\":{\"replicas\":0},\"status\":{}}", NULL, "True", "ScaledToZero",
     "no workers", 0},
    {"all ready", "{\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":2}}", NULL, "True",
     "WorkersReady", "2 of 2", 0},
    {"starting", "{\"spec\":{\"replicas\":3},\"status\":{\"readyReplicas\":1}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}]}",
     "False", "WorkersNotReady", "1 of 3", 0},
    {"refused by admission",
     "{\"spec\":{\"replicas\":1},\"status\":{\"conditions\":[{\"type\":\"ReplicaFailure\","
     "\"status\":\"True\",\"reason\":\"FailedCreate\",\"message\":\"pods \\\"w-1\\\" is "
     "forbidden: violates PodSecurity \\\"restricted:latest\\\"\"}]}}",
     NULL, "False", "FailedCreate", "violates PodSecurity", 1},
    {"no such image", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"state\":{\"waiting\":{\"reason\":\"ErrImageNeverPull\",\"message\":\"Container "
     "image \\\"x:1\\\" is not present with pull policy of Never\"}}}]}}]}",
     "False", "ErrImageNeverPull", "pod w-1: ErrImageNeverPull: Container image", 1},
    {"crash loop, with the worker's last words", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"restartCount\":3,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\","
     "\"message\":\"back-off 40s\"}},\"lastState\":{\"terminated\":{\"exitCode\":1,"
     "\"reason\":\"Error\",\"message\":\"kafka: all brokers down\\nmore\"}}}]}}]}",
     "False", "CrashLoopBackOff", "it last exited 1: kafka: all brokers down", 1},
    {"killed for memory", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"restartCount\":1,\"state\":{\"running\":{}},\"lastState\":{\"terminated\":"
     "{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}]}",
     "False", "OOMKilled", "more memory than its limit (1 restarts)", 1},
    {"running, not ready, within the grace", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"ready\":false,\"state\":{\"running\":{\"startedAt\":\"2026-12-07T10:00:00Z\"}}}]}}]}",
     "False", "WorkersNotReady", "0 of 1", 0},
    {"running, not ready, past the grace", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"ready\":false,\"state\":{\"running\":{\"startedAt\":\"2026-12-07T09:59:00Z\"}}}]}}]}",
     "False", "WorkersNotReady", "pod w-1: running for 90 s and not ready", 1},
    {"running and ready long ago", "{\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":1}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"containerStatuses\":"
     "[{\"ready\":true,\"state\":{\"running\":{\"startedAt\":\"2026-12-07T09:00:00Z\"}}}]}}]}",
     "False", "WorkersNotReady", "1 of 2", 0},
    {"a volume that does not mount", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"conditions\":[{\"type\":"
     "\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-07T09:58:00Z\"}],"
     "\"containerStatuses\":[{\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}]}",
     "False", "ContainerCreating", "pod w-1: scheduled 150 s ago", 1},
    {"a container being created", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"conditions\":[{\"type\":"
     "\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-07T10:00:00Z\"}],"
     "\"containerStatuses\":[{\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}]}",
     "False", "WorkersNotReady", "0 of 1", 0},
    {"no node fits", "{\"spec\":{\"replicas\":1},\"status\":{}}",
     "{\"items\":[{\"metadata\":{\"name\":\"w-1\"},\"status\":{\"conditions\":[{\"type\":"
     "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/1 "
     "nodes are available\"}]}}]}",
     "False", "Unschedulable", "0/1 nodes", 1},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *d = cases[i].deployment != NULL ? cJSON_Parse(cases[i].deployment) : NULL;
		cJSON *p = cases[i].pods != NULL ? cJSON_Parse(cases[i].pods) : NULL;
		struct workers_health h;

		if ((cases[i].deployment != NULL && d == NULL) ||
		    (cases[i].pods != NULL && p == NULL))
			fail_msg("case %zu (%s): bad JSON", i, cases[i].what);
		workers_health_judge(d, p, NOW, &h);
		if (strcmp(h.status, cases[i].status) != 0 ||
		    strcmp(h.reason, cases[i].reason) != 0 ||
		    strstr(h.message, cases[i].message_has) == NULL ||
		    h.failing != cases[i].failing)
			fail_msg("case %zu (%s): got %s %s \"%s\" failing=%d", i, cases[i].what,
			         h.status, h.reason, h.message, h.failing);
		cJSON_Delete(d);
		cJSON_Delete(p);
	}
}

/* A failed Job's pod: the worker's last log line, not the first. */
static void test_exit_message(void **state)
{
	cJSON *pods = cJSON_Parse(
	    "{\"items\":[{\"status\":{\"containerStatuses\":[{\"state\":{\"terminated\":"
	    "{\"exitCode\":0,\"message\":\"fine\"}}}]}},"
	    "{\"status\":{\"containerStatuses\":[{\"state\":{\"terminated\":"
	    "{\"exitCode\":1,\"message\":\"starting\\nsplit media/clip: open: No such "
	    "file\\n\"}}}]}}]}");
	char buf[128];
	(void)state;
	assert_non_null(pods);
	assert_int_equal(workers_health_exit_message(pods, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "split media/clip: open: No such file");
	assert_int_equal(workers_health_exit_message(NULL, buf, sizeof(buf)), 0);
	cJSON_Delete(pods);
}

/* Stopped: nothing wanted, nothing there; anything else is not. */
static void test_stopped(void **state)
{
	static const struct {
		const char *deployment;
		int stopped;
	} stops[] = {
	    {NULL, 0},
	    {"{}", 0},
	    {"{\"spec\":{}}", 0},
	    {"{\"spec\":{\"replicas\":0}}", 1},
	    {"{\"spec\":{\"replicas\":0},\"status\":{}}", 1},
	    {"{\"spec\":{\"replicas\":0},\"status\":{\"replicas\":0,\"readyReplicas\":0}}", 1},
	    /* scaled down, the last pod still terminating */
	    {"{\"spec\":{\"replicas\":0},\"status\":{\"replicas\":1}}", 0},
	    {"{\"spec\":{\"replicas\":0},\"status\":{\"readyReplicas\":1}}", 0},
	    /* scaled up, no pod yet */
	    {"{\"spec\":{\"replicas\":1},\"status\":{}}", 0},
	    {"{\"spec\":{\"replicas\":2},\"status\":{\"replicas\":2,\"readyReplicas\":2}}", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		cJSON *d = stops[i].deployment != NULL ? cJSON_Parse(stops[i].deployment) : NULL;
		if (workers_health_stopped(d) != stops[i].stopped)
			fail_msg("case %zu (%s): want %d", i,
			         stops[i].deployment ? stops[i].deployment : "NULL",
			         stops[i].stopped);
		cJSON_Delete(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_cases),
	                                   cmocka_unit_test(test_exit_message),
	                                   cmocka_unit_test(test_stopped)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
