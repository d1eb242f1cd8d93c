/* Unit tests for operator/reconcile_vj_plan.c, the VideoJob reconciler's
 * decisions: tables of cases for the first decision of a pass (deletion, a
 * finished job, invalid name or spec), the cleanup of a deleted job, the
 * Jobs' outcomes, the GPU an NVENC job needs (which nodes have one, the
 * check, the NoGPU status, the process container's nvidia.com/gpu), the
 * phase machine and the children each phase needs, and
 * the status (where a pass stopped, the phase, progress present or absent,
 * the Jobs' and workers' health, replicas, times, conditions, Events, the
 * pass's result). All pure: no server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reconcile_vj_plan.h"

#define NOW "2026-11-23T05:00:00Z"
#define EARLIER "2026-11-23T04:00:00Z"

static const cJSON *cond(const cJSON *status, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		if (t != NULL && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

static const char *cond_field(const cJSON *status, const char *type, const char *field)
{
	const char *s =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cond(status, type), field));
	assert_non_null(s);
	return s;
}

static const char *str(const cJSON *status, const char *field)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(status, field));
}

static int has(const cJSON *status, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(status, field) != NULL;
}

static double num(const cJSON *status, const char *field)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(status, field);
	assert_true(cJSON_IsNumber(n));
	return n->valuedouble;
}

/* -------------------------------------------------------------- begin */

static const struct {
	const char *what;
	struct vj_resource r;
	enum vj_step step;
	const char *reason, *message;
} begin_cases[] = {
    {"deleting wins over everything",
     {.deleting = 1, .old_phase = "Succeeded", .generation = 1, .observed_generation = 1},
     VJ_STEP_FINALIZE,
     NULL,
     NULL},
    {"succeeded for this generation: left alone",
     {.old_phase = "Succeeded", .generation = 3, .observed_generation = 3, .name_ok = 0},
     VJ_STEP_FINISHED,
     NULL,
     NULL},
    {"failed for this generation: left alone",
     {.old_phase = "Failed",
      .generation = 3,
      .observed_generation = 3,
      .spec = VJ_PLAN_SPEC_INVALID},
     VJ_STEP_FINISHED,
     NULL,
     NULL},
    {"succeeded, but the spec changed since: run again",
     {.old_phase = "Succeeded", .generation = 4, .observed_generation = 3, .name_ok = 1},
     VJ_STEP_RUN,
     NULL,
     NULL},
    {"processing for this generation: run",
     {.old_phase = "Processing", .generation = 3, .observed_generation = 3, .name_ok = 1},
     VJ_STEP_RUN,
     NULL,
     NULL},
    {"a name the labels cannot carry",
     {.generation = 1, .name_ok = 0, .spec = VJ_PLAN_SPEC_INVALID},
     VJ_STEP_REPORT,
     "InvalidName",
     "at most 63 characters"},
    {"out of memory: retried",
     {.generation = 1, .name_ok = 1, .spec = VJ_PLAN_SPEC_NOMEM},
     VJ_STEP_RETRY,
     NULL,
     NULL},
    {"an invalid spec",
     {.generation = 1,
      .name_ok = 1,
      .spec = VJ_PLAN_SPEC_INVALID,
      .spec_error = "spec.encoder.crf: 99 is above 51"},
     VJ_STEP_REPORT,
     "InvalidSpec",
     "spec.encoder.crf: 99 is above 51"},
    {"a new job", {.generation = 1, .name_ok = 1}, VJ_STEP_RUN, NULL, NULL},
};

static void test_begin(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(begin_cases) / sizeof(begin_cases[0]); i++) {
		struct vj_begin b;

		print_message("begin: %s\n", begin_cases[i].what);
		vj_plan_begin(&begin_cases[i].r, &b);
		assert_int_equal(b.step, begin_cases[i].step);
		if (begin_cases[i].reason == NULL) {
			assert_null(b.reason);
			continue;
		}
		assert_string_equal(b.reason, begin_cases[i].reason);
		assert_non_null(strstr(b.message, begin_cases[i].message));
	}
}

/* ------------------------------------------------------------ cleanup */

static void test_cleanup(void **state)
{
	struct vj_resource r = {.ns = "media",
	                        .name = "clip",
	                        .deleting = 1,
	                        .has_finalizer = 1,
	                        .spec = VJ_PLAN_SPEC_OK,
	                        .bootstrap = "k:9092",
	                        .topic = "sluice-vj-media-clip",
	                        .dead_letter_topic = "sluice-vj-media-clip.dlq",
	                        .status_redis = "[::1]:6379"};
	struct vj_cleanup c;
	struct events_planned ev;

	(void)state;
	/* Topics, then the progress keys. */
	vj_plan_cleanup(&r, &c);
	assert_true(c.needed);
	assert_int_equal(c.n_topics, 2);
	assert_string_equal(c.bootstrap, "k:9092");
	assert_string_equal(c.topics[0], "sluice-vj-media-clip");
	assert_string_equal(c.topics[1], "sluice-vj-media-clip.dlq");
	assert_string_equal(c.redis_addr, "[::1]:6379");
	assert_string_equal(c.redis_prefix, "sluice:vj:media:clip:");

	/* A spec that does not parse names no topics: the keys still go. */
	r.spec = VJ_PLAN_SPEC_INVALID;
	vj_plan_cleanup(&r, &c);
	assert_true(c.needed);
	assert_int_equal(c.n_topics, 0);
	assert_string_equal(c.redis_prefix, "sluice:vj:media:clip:");

	/* No status Redis: the topics alone. */
	r.spec = VJ_PLAN_SPEC_OK;
	r.status_redis = NULL;
	vj_plan_cleanup(&r, &c);
	assert_int_equal(c.n_topics, 2);
	assert_null(c.redis_addr);

	/* Recorded: exactly the topics the operator created (a spec.kafka.topic
	 * that existed before is not among them). */
	struct topic_owned owned = {1, {"sluice-vj-media-clip.dlq"}};
	r.topics_recorded = 1;
	r.owned_topics = &owned;
	vj_plan_cleanup(&r, &c);
	assert_int_equal(c.n_topics, 1);
	assert_string_equal(c.topics[0], "sluice-vj-media-clip.dlq");
	owned.n = 0;
	vj_plan_cleanup(&r, &c);
	assert_int_equal(c.n_topics, 0);
	r.topics_recorded = 0;
	r.owned_topics = NULL;

	/* Not our finalizer (or already dropped): nothing. */
	r.has_finalizer = 0;
	vj_plan_cleanup(&r, &c);
	assert_false(c.needed);
	assert_int_equal(c.n_topics, 0);
	assert_null(c.redis_addr);

	vj_plan_cleanup_event(0, NULL, 4, &ev);
	assert_int_equal(ev.type, EVENTS_NORMAL);
	assert_string_equal(ev.reason, "CleanedUp");
	assert_string_equal(ev.note, "deleted the task topics and 4 Redis keys");
	assert_string_equal(ev.action, "Delete");
	vj_plan_cleanup_event(1, "topic x: timed out", 0, &ev);
	assert_int_equal(ev.type, EVENTS_WARNING);
	assert_string_equal(ev.reason, "CleanupFailed");
	assert_string_equal(ev.note, "cleanup failed, will retry: topic x: timed out");
}

/* ---------------------------------------------------------------- GPU */

/* One NodeList page: a node per entry, its allocatable nvidia.com/gpu as
 * JSON text (NULL: no such key; "-": no status.allocatable at all). */
static cJSON *node_list(const char *const *gpus, size_t n)
{
	cJSON *list = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(list, "items");

	assert_non_null(items);
	cJSON_AddStringToObject(list, "kind", "NodeList");
	for (size_t i = 0; i < n; i++) {
		char text[256];
		cJSON *node;

		if (gpus[i] != NULL && strcmp(gpus[i], "-") == 0)
			snprintf(text, sizeof(text),
			         "{\"metadata\":{\"name\":\"n%zu\"},\"status\":{}}", i);
		else if (gpus[i] == NULL)
			snprintf(text, sizeof(text),
			         "{\"metadata\":{\"name\":\"n%zu\"},\"status\":{\"allocatable\":"
			         "{\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\"}}}",
			         i);
		else
			snprintf(text, sizeof(text),
			         "{\"metadata\":{\"name\":\"n%zu\"},\"status\":{\"allocatable\":"
			         "{\"cpu\":\"8\",\"nvidia.com/gpu\":%s}}}",
			         i, gpus[i]);
		node = cJSON_Parse(text);
		assert_non_null(node);
		cJSON_AddItemToArray(items, node);
	}
	return list;
}

/* Which nodes count as having a GPU: allocatable nvidia.com/gpu above zero,
 * in any form the API (or a hand-made Node) writes a quantity. */
static void test_gpu_nodes(void **state)
{
	static const struct {
		const char *what;
		const char *gpus[4];
		size_t n;
		long long with_gpu;
	} cases[] = {
	    {"no nodes", {NULL}, 0, 0},
	    {"a node without the resource", {NULL}, 1, 0},
	    {"a node without allocatable", {"-"}, 1, 0},
	    {"the device plugin advertising none", {"\"0\""}, 1, 0},
	    {"one GPU", {"\"1\""}, 1, 1},
	    {"eight GPUs", {"\"8\""}, 1, 1},
	    {"a number, not a string", {"2"}, 1, 1},
	    {"zero as a number", {"0"}, 1, 0},
	    {"a suffix on a positive number", {"\"1k\""}, 1, 1},
	    {"a suffix on zero", {"\"0k\""}, 1, 0},
	    {"a fraction", {"\"500m\""}, 1, 1},
	    {"zero written long", {"\"0.000\""}, 1, 0},
	    {"an exponent", {"\"1e3\""}, 1, 1},
	    {"negative", {"\"-1\""}, 1, 0},
	    {"not a quantity", {"\"lots\""}, 1, 0},
	    {"not a quantity either", {"\"1 GPU\""}, 1, 0},
	    {"null", {"null"}, 1, 0},
	    {"one of three", {NULL, "\"0\"", "\"1\""}, 3, 1},
	    {"two of four", {"\"1\"", NULL, "\"4\"", "-"}, 4, 2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_gpu_nodes acc = {0, 0};
		cJSON *list = node_list(cases[i].gpus, cases[i].n);

		print_message("gpu nodes: %s\n", cases[i].what);
		assert_int_equal(vj_plan_gpu_nodes_add(list, &acc), 0);
		assert_int_equal(acc.nodes, (long long)cases[i].n);
		assert_int_equal(acc.with_gpu, cases[i].with_gpu);
		cJSON_Delete(list);
	}
}

/* Pages add up; what is not a list changes nothing. */
static void test_gpu_nodes_pages(void **state)
{
	static const char *const page1[] = {NULL, "\"0\""}, *const page2[] = {"\"1\""};
	struct vj_gpu_nodes acc = {0, 0};
	cJSON *a = node_list(page1, 2), *b = node_list(page2, 1);
	cJSON *status = cJSON_Parse("{\"kind\":\"Status\",\"code\":403}");

	(void)state;
	assert_int_equal(vj_plan_gpu_nodes_add(a, &acc), 0);
	assert_int_equal(acc.nodes, 2);
	assert_int_equal(acc.with_gpu, 0);
	assert_int_equal(vj_plan_gpu_nodes_add(b, &acc), 0);
	assert_int_equal(acc.nodes, 3);
	assert_int_equal(acc.with_gpu, 1);
	assert_int_equal(vj_plan_gpu_nodes_add(status, &acc), -1);
	assert_int_equal(vj_plan_gpu_nodes_add(NULL, &acc), -1);
	assert_int_equal(acc.nodes, 3);
	assert_int_equal(acc.with_gpu, 1);
	cJSON_Delete(status);
	cJSON_Delete(b);
	cJSON_Delete(a);
}

/* The GPU check after vj_plan_begin: only a job about to run, only an
 * NVENC encoder, only when the nodes were counted and none has one. */
static void test_gpu_due(void **state)
{
	static const struct {
		const char *what, *codec, *old_phase;
		enum vj_step step;
		int want;
	} cases[] = {
	    {"new NVENC job", "h264_nvenc", NULL, VJ_STEP_RUN, 1},
	    {"pending NVENC job", "hevc_nvenc", "Pending", VJ_STEP_RUN, 1},
	    {"splitting: started, not checked again", "h264_nvenc", "Splitting", VJ_STEP_RUN, 0},
	    {"processing", "h264_nvenc", "Processing", VJ_STEP_RUN, 0},
	    {"assembling", "h264_nvenc", "Assembling", VJ_STEP_RUN, 0},
	    {"software encoder", "libx264", NULL, VJ_STEP_RUN, 0},
	    {"being deleted", "h264_nvenc", NULL, VJ_STEP_FINALIZE, 0},
	    {"finished", "h264_nvenc", "Failed", VJ_STEP_FINISHED, 0},
	    {"reported", "h264_nvenc", NULL, VJ_STEP_REPORT, 0},
	    {"retried", "h264_nvenc", NULL, VJ_STEP_RETRY, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_resource res = {
		    .ns = "ns", .name = "vj", .old_phase = cases[i].old_phase};

		if (vj_plan_gpu_due(&res, cases[i].codec, cases[i].step) != cases[i].want)
			fail_msg("%s: want %d", cases[i].what, cases[i].want);
	}
}

static void test_gpu_check(void **state)
{
	static const struct vj_gpu_nodes none1 = {1, 0}, none3 = {3, 0}, empty = {0, 0},
	                                 some = {3, 1};
	static const struct {
		const char *what;
		enum vj_step step;
		const char *codec;
		const struct vj_gpu_nodes *nodes;
		enum vj_step want;
		const char *message; /* NoGPU's, all of it */
	} cases[] = {
	    {"h264_nvenc, one node without a GPU", VJ_STEP_RUN, "h264_nvenc", &none1,
	     VJ_STEP_REPORT,
	     "spec.encoder.codec h264_nvenc needs a node with an NVIDIA GPU (allocatable "
	     "nvidia.com/gpu); the cluster's one node has none. Re-create the VideoJob once a "
	     "node has one"},
	    {"hevc_nvenc, three nodes without", VJ_STEP_RUN, "hevc_nvenc", &none3, VJ_STEP_REPORT,
	     "spec.encoder.codec hevc_nvenc needs a node with an NVIDIA GPU (allocatable "
	     "nvidia.com/gpu); none of the cluster's 3 nodes has one. Re-create the VideoJob once "
	     "a node has one"},
	    {"no nodes at all", VJ_STEP_RUN, "h264_nvenc", &empty, VJ_STEP_REPORT,
	     "spec.encoder.codec h264_nvenc needs a node with an NVIDIA GPU (allocatable "
	     "nvidia.com/gpu); the cluster has no nodes. Re-create the VideoJob once a node has "
	     "one"},
	    {"a node has one", VJ_STEP_RUN, "h264_nvenc", &some, VJ_STEP_RUN, NULL},
	    {"the nodes could not be read: the scheduler judges", VJ_STEP_RUN, "h264_nvenc", NULL,
	     VJ_STEP_RUN, NULL},
	    {"a software encoder needs no GPU", VJ_STEP_RUN, "libx264", &none1, VJ_STEP_RUN, NULL},
	    {"nor does VP9", VJ_STEP_RUN, "libvpx-vp9", &empty, VJ_STEP_RUN, NULL},
	    {"being deleted: finalized, not judged", VJ_STEP_FINALIZE, "h264_nvenc", &none1,
	     VJ_STEP_FINALIZE, NULL},
	    {"finished: left alone", VJ_STEP_FINISHED, "h264_nvenc", &none1, VJ_STEP_FINISHED,
	     NULL},
	    {"already reported", VJ_STEP_REPORT, "h264_nvenc", &none1, VJ_STEP_REPORT, NULL},
	    {"out of memory: retried", VJ_STEP_RETRY, "h264_nvenc", &none1, VJ_STEP_RETRY, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_begin b = {.step = cases[i].step, .reason = "kept", .message = "kept"};
		char msg[VJ_PLAN_MSG_MAX] = "";

		print_message("gpu check: %s\n", cases[i].what);
		vj_plan_gpu(cases[i].codec, cases[i].nodes, &b, msg, sizeof(msg));
		assert_int_equal(b.step, cases[i].want);
		if (cases[i].message == NULL) {
			assert_string_equal(b.reason, "kept");
			assert_string_equal(b.message, "kept");
			continue;
		}
		assert_string_equal(b.reason, "NoGPU");
		assert_ptr_equal(b.message, msg);
		assert_string_equal(b.message, cases[i].message);
	}
}

/* A job without a GPU, from the begin of its pass to its status: Failed,
 * Ready False NoGPU, Failed True, one Warning Event with the reason; and
 * nothing to run (the step is a report, so no child is made). */
static void test_no_gpu_status(void **state)
{
	static const struct vj_gpu_nodes none = {1, 0};
	struct vj_resource r = {.ns = "media", .name = "clip", .generation = 1, .name_ok = 1};
	struct vj_begin b;
	struct vj_plan p;
	char msg[VJ_PLAN_MSG_MAX];

	(void)state;
	vj_plan_begin(&r, &b);
	assert_int_equal(b.step, VJ_STEP_RUN);
	vj_plan_gpu("h264_nvenc", &none, &b, msg, sizeof(msg));
	assert_int_equal(b.step, VJ_STEP_REPORT);
	struct vj_observed o = {.generation = 1,
	                        .now = NOW,
	                        .stop = VJ_STOP_REPORT,
	                        .stop_reason = b.reason,
	                        .stop_error = b.message};
	assert_int_equal(vj_plan_status(&o, &p), 0);
	assert_string_equal(str(p.status, "phase"), "Failed");
	assert_string_equal(cond_field(p.status, "Ready", "status"), "False");
	assert_string_equal(cond_field(p.status, "Ready", "reason"), "NoGPU");
	assert_non_null(strstr(cond_field(p.status, "Ready", "message"), "h264_nvenc"));
	assert_non_null(strstr(cond_field(p.status, "Ready", "message"), "nvidia.com/gpu"));
	assert_string_equal(cond_field(p.status, "Failed", "status"), "True");
	assert_string_equal(cond_field(p.status, "Failed", "reason"), "NoGPU");
	assert_string_equal(cond_field(p.status, "Complete", "status"), "False");
	assert_true(has(p.status, "completionTime"));
	assert_int_equal(num(p.status, "replicas"), 0);
	assert_int_equal(p.rc, VJ_PLAN_OK); /* not retried: it stays Failed */
	assert_int_equal(p.n_events, 1);
	assert_int_equal(p.events[0].type, EVENTS_WARNING);
	assert_string_equal(p.events[0].reason, "NoGPU");
	assert_string_equal(p.events[0].note, msg);
	cJSON_Delete(p.status);

	/* The next pass finds it Failed for its generation: left alone (the
	 * process Deployment, if one was made before, is removed). */
	r.old_phase = "Failed";
	r.observed_generation = 1;
	vj_plan_begin(&r, &b);
	assert_int_equal(b.step, VJ_STEP_FINISHED);
}

/* The process container's resources: spec.workers.resources as written,
 * plus one nvidia.com/gpu for an NVENC encoder unless the user named it. */
static void test_process_resources(void **state)
{
	static const struct {
		const char *what, *codec;
		const char *in;   /* JSON, NULL: no resources */
		const char *want; /* JSON, NULL: none */
	} cases[] = {
	    {"software, none", "libx264", NULL, NULL},
	    {"software, as written", "libx265", "{\"limits\":{\"memory\":\"1Gi\"}}",
	     "{\"limits\":{\"memory\":\"1Gi\"}}"},
	    {"nvenc, none written", "h264_nvenc", NULL, "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}"},
	    {"nvenc, added to the limits", "hevc_nvenc",
	     "{\"requests\":{\"cpu\":\"1\"},\"limits\":{\"memory\":\"1Gi\"}}",
	     "{\"requests\":{\"cpu\":\"1\"},\"limits\":{\"memory\":\"1Gi\",\"nvidia.com/"
	     "gpu\":\"1\"}}"},
	    {"nvenc, limits made", "h264_nvenc", "{\"requests\":{\"memory\":\"64Mi\"}}",
	     "{\"requests\":{\"memory\":\"64Mi\"},\"limits\":{\"nvidia.com/gpu\":\"1\"}}"},
	    {"nvenc, the user's limit wins", "h264_nvenc",
	     "{\"limits\":{\"nvidia.com/gpu\":\"2\"}}", "{\"limits\":{\"nvidia.com/gpu\":\"2\"}}"},
	    {"nvenc, the user's limit wins as a number", "h264_nvenc",
	     "{\"limits\":{\"nvidia.com/gpu\":2}}", "{\"limits\":{\"nvidia.com/gpu\":2}}"},
	    {"nvenc, the user's request becomes the limit", "hevc_nvenc",
	     "{\"requests\":{\"nvidia.com/gpu\":\"2\"}}",
	     "{\"requests\":{\"nvidia.com/gpu\":\"2\"},\"limits\":{\"nvidia.com/gpu\":\"2\"}}"},
	    {"nvenc, both written: kept", "h264_nvenc",
	     "{\"requests\":{\"nvidia.com/gpu\":3},\"limits\":{\"nvidia.com/gpu\":3}}",
	     "{\"requests\":{\"nvidia.com/gpu\":3},\"limits\":{\"nvidia.com/gpu\":3}}"},
	    {"nvenc, a null limits is none", "h264_nvenc", "{\"limits\":null}",
	     "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}"},
	    {"nvenc, empty", "h264_nvenc", "{}", "{\"limits\":{\"nvidia.com/gpu\":\"1\"}}"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *in = cases[i].in != NULL ? cJSON_Parse(cases[i].in) : NULL;
		cJSON *want = cases[i].want != NULL ? cJSON_Parse(cases[i].want) : NULL;
		char *before = in != NULL ? cJSON_PrintUnformatted(in) : NULL;
		cJSON *out = (cJSON *)1;

		print_message("process resources: %s\n", cases[i].what);
		assert_true(cases[i].in == NULL || in != NULL);
		assert_true(cases[i].want == NULL || want != NULL);
		assert_int_equal(vj_plan_process_resources(in, cases[i].codec, &out), 0);
		if (want == NULL) {
			assert_null(out);
		} else {
			char *got = cJSON_PrintUnformatted(out);
			if (!cJSON_Compare(out, want, 1))
				fail_msg("got %s, want %s", got, cases[i].want);
			free(got);
			assert_ptr_not_equal(out, in); /* a copy, the caller's */
		}
		if (in != NULL) {
			/* The spec as written is not touched (the Jobs use it). */
			char *after = cJSON_PrintUnformatted(in);
			assert_string_equal(after, before);
			free(after);
		}
		free(before);
		cJSON_Delete(out);
		cJSON_Delete(want);
		cJSON_Delete(in);
	}
}

/* --------------------------------------------------------------- jobs */

/* Only a split Job without a pod, with its workers stopped, may wait for
 * a change instead of polling. */
static void test_wait_for_change(void **state)
{
	static const char *stopped = "{\"spec\":{\"replicas\":0},\"status\":{}}";
	static const char *running = "{\"spec\":{\"replicas\":1},\"status\":{\"readyReplicas\":1}}";
	static const struct {
		const char *phase, *job, *dep;
		int wait;
	} cases[] = {
	    {"Splitting", "{}", NULL, 1},
	    {"Splitting", "{\"status\":{}}", NULL, 1},
	    {"Splitting", "{\"status\":{\"active\":0}}", NULL, 1},
	    {"Splitting", "{}", "STOPPED", 1},
	    {"Splitting", "{\"status\":{\"active\":1}}", NULL, 0},    /* a pod exists */
	    {"Splitting", "{}", "RUNNING", 0},                        /* workers run */
	    {"Splitting", "{\"status\":{\"succeeded\":1}}", NULL, 0}, /* done: move on */
	    {"Splitting",
	     "{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":"
	     "\"True\"}]}}",
	     NULL, 0},
	    {"Splitting", NULL, NULL, 0}, /* the Job not read */
	    {"Processing", "{}", "STOPPED", 0},
	    {"Assembling", "{}", NULL, 0},
	    {"Pending", "{}", NULL, 0},
	    {NULL, "{}", NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *job = cases[i].job != NULL ? cJSON_Parse(cases[i].job) : NULL;
		const char *d = cases[i].dep == NULL                   ? NULL
		                : strcmp(cases[i].dep, "STOPPED") == 0 ? stopped
		                                                       : running;
		cJSON *dep = d != NULL ? cJSON_Parse(d) : NULL;
		if (vj_plan_wait_for_change(cases[i].phase, job, dep) != cases[i].wait)
			fail_msg("case %zu: want %d", i, cases[i].wait);
		cJSON_Delete(job);
		cJSON_Delete(dep);
	}
}

/* The assemble Job is read only where a pass may have made it. */
static void test_assemble_may_exist(void **state)
{
	struct vj_progress split = {.split_done = 1}, not_yet = {.split_done = 0};

	(void)state;
	/* No progress read: the status says how far the job got. */
	assert_false(vj_plan_assemble_may_exist(NULL, NULL));
	assert_false(vj_plan_assemble_may_exist("", NULL));
	assert_false(vj_plan_assemble_may_exist("Pending", NULL));
	assert_false(vj_plan_assemble_may_exist("Splitting", NULL));
	assert_true(vj_plan_assemble_may_exist("Processing", NULL));
	assert_true(vj_plan_assemble_may_exist("Assembling", NULL));
	assert_true(vj_plan_assemble_may_exist("Failed", NULL));
	/* Progress read: the split's end decides, whatever the status says. */
	assert_false(vj_plan_assemble_may_exist("Assembling", &not_yet));
	assert_true(vj_plan_assemble_may_exist("Splitting", &split));
	assert_true(vj_plan_assemble_may_exist(NULL, &split));
}

static void test_job_outcome(void **state)
{
	static const struct {
		const char *job;
		int outcome;
	} cases[] = {
	    {NULL, 0},
	    {"{}", 0},
	    {"{\"status\":{\"active\":1}}", 0},
	    {"{\"status\":{\"succeeded\":1}}", 1},
	    {"{\"status\":{\"succeeded\":0,\"failed\":1}}", 0}, /* retried: backoffLimit */
	    {"{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\"}]}}", -1},
	    {"{\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"False\"}]}}", 0},
	    {"{\"status\":{\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}", 0},
	    {"{\"status\":{\"succeeded\":1,\"conditions\":[{\"type\":\"Failed\",\"status\":"
	     "\"True\"}]}}",
	     1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *job = cases[i].job != NULL ? cJSON_Parse(cases[i].job) : NULL;
		assert_int_equal(vj_plan_job_outcome(job), cases[i].outcome);
		cJSON_Delete(job);
	}
	assert_true(vj_plan_terminal("Succeeded"));
	assert_true(vj_plan_terminal("Failed"));
	assert_false(vj_plan_terminal("Assembling"));
	assert_false(vj_plan_terminal(NULL));
}

/* -------------------------------------------------------------- phase */

static const struct vj_progress p_none = {0};
static const struct vj_progress p_split = {.segments_total = 4, .split_done = 1};
static const struct vj_progress p_some = {.segments_total = 4,
                                          .segments_done = 1,
                                          .frames_total = 400,
                                          .frames_done = 100,
                                          .split_done = 1};
static const struct vj_progress p_retrying = {
    .segments_total = 4, .segments_done = 2, .segments_failed = 1, .split_done = 1};
static const struct vj_progress p_lost = {
    .segments_total = 4, .segments_done = 3, .segments_failed = 1, .split_done = 1};
static const struct vj_progress p_all = {.segments_total = 4,
                                         .segments_done = 4,
                                         .frames_total = 400,
                                         .frames_done = 400,
                                         .split_done = 1};
static const struct vj_progress p_assembled = {.segments_total = 4,
                                               .segments_done = 4,
                                               .frames_total = 400,
                                               .frames_done = 400,
                                               .split_done = 1,
                                               .assembled = 1};
static const struct vj_progress p_failed = {.split_done = 0,
                                            .failed = "split media/x: open: Invalid data"};

static const struct {
	const char *what;
	int split_job, assemble_job;
	const struct vj_progress *progress;
	const char *phase, *reason, *message;
	const char *explain;
	int explain_failed, run_workers, run_assemble, remove_workers;
} phase_cases[] = {
    {"nothing recorded, the split Job running", 0, 0, NULL, "Splitting", "Splitting",
     "probing the source", "split", 0, 1, 0, 0},
    {"Redis unread, the split Job done: its pods say nothing more", 1, 0, NULL, "Splitting",
     "Splitting", "probing", NULL, 0, 1, 0, 0},
    {"progress empty, split Job running", 0, 0, &p_none, "Splitting", "Splitting", "probing",
     "split", 0, 1, 0, 0},
    {"the split Job failed", -1, 0, NULL, "Failed", "SplitFailed", "the split Job failed", "split",
     1, 0, 0, 1},
    {"a split Job failing after the split was recorded does not count", -1, 0, &p_split,
     "Processing", "Processing", "0 of 4 segments done", NULL, 0, 1, 0, 0},
    {"processing", 1, 0, &p_some, "Processing", "Processing", "1 of 4 segments done", NULL, 0, 1, 0,
     0},
    {"a failed segment still retried", 1, 0, &p_retrying, "Processing", "Processing",
     "2 of 4 segments done", NULL, 0, 1, 0, 0},
    {"segments failed for good", 1, 0, &p_lost, "Failed", "SegmentsFailed",
     "1 of 4 segments failed after every attempt", NULL, 0, 0, 0, 1},
    {"every segment done: assemble", 1, 0, &p_all, "Assembling", "Assembling",
     "all 4 segments done: assembling the output", "assemble", 0, 0, 1, 0},
    {"the assemble Job failed", 1, -1, &p_all, "Failed", "AssembleFailed",
     "the assemble Job failed", "assemble", 1, 0, 0, 1},
    {"assembled", 1, 1, &p_assembled, "Succeeded", "Succeeded",
     "4 segments processed and assembled", NULL, 0, 0, 0, 1},
    {"assembled, whatever the assemble Job says later", 1, -1, &p_assembled, "Succeeded",
     "Succeeded", "4 segments", NULL, 0, 0, 0, 1},
    {"a worker recorded the job's failure", 0, 0, &p_failed, "Failed", "JobFailed",
     "split media/x: open: Invalid data", NULL, 0, 0, 0, 1},
};

static void test_phase(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(phase_cases) / sizeof(phase_cases[0]); i++) {
		struct vj_phase ph;

		print_message("phase: %s\n", phase_cases[i].what);
		vj_plan_phase(phase_cases[i].split_job, phase_cases[i].assemble_job,
		              phase_cases[i].progress, &ph);
		assert_string_equal(ph.phase, phase_cases[i].phase);
		assert_string_equal(ph.reason, phase_cases[i].reason);
		assert_non_null(strstr(ph.message, phase_cases[i].message));
		if (phase_cases[i].explain == NULL)
			assert_null(ph.explain);
		else
			assert_string_equal(ph.explain, phase_cases[i].explain);
		assert_int_equal(ph.explain_failed, phase_cases[i].explain_failed);
		assert_int_equal(ph.run_workers, phase_cases[i].run_workers);
		assert_int_equal(ph.run_assemble, phase_cases[i].run_assemble);
		assert_int_equal(ph.remove_workers, phase_cases[i].remove_workers);
		/* Exactly one thing to do about the workers, or none. */
		assert_true(ph.run_workers + ph.run_assemble + ph.remove_workers <= 1);
	}
}

static void test_progress_text(void **state)
{
	char pct[8];

	(void)state;
	assert_string_equal(reconcile_vj_progress(0, 0, pct, sizeof(pct)), "0%");
	assert_string_equal(reconcile_vj_progress(1, 3, pct, sizeof(pct)), "33%");
	assert_string_equal(reconcile_vj_progress(3, 3, pct, sizeof(pct)), "100%");
	assert_string_equal(reconcile_vj_progress(5, 3, pct, sizeof(pct)), "100%");
	assert_string_equal(reconcile_vj_progress(-1, 3, pct, sizeof(pct)), "0%");
}

/* ------------------------------------------------------------- status */

static const struct workers_health pods_ok = {
    .desired = 2, .ready = 2, .status = "True", .reason = "WorkersReady", .message = "2 of 2"};
static const struct workers_health pods_crash = {.desired = 2,
                                                 .ready = 1,
                                                 .failing = 1,
                                                 .status = "False",
                                                 .reason = "CrashLoopBackOff",
                                                 .message = "pod p-1: CrashLoopBackOff"};
static const struct workers_health claim_missing = {
    .failing = 1,
    .status = "False",
    .reason = "Unschedulable",
    .message = "pod s-1: persistentvolumeclaim \"media\" not found"};

/* A pass: where it stopped, or the Jobs' outcomes and progress (phase()
 * plans the phase) and what the children the phase needs gave. */
struct pass {
	const char *old; /* the stored status, JSON; NULL: none */
	enum vj_stop stop;
	const char *stop_reason, *stop_error;
	int no_topic; /* the spec did not parse */
	int split_job, assemble_job;
	const struct vj_progress *progress;
	const struct workers_health *job_pods;
	const char *job_exit_message;
	int workers_failed;
	const struct workers_health *workers;
	int assemble_failed;
};

struct want {
	const char *phase, *ready, *ready_reason, *ready_message; /* Ready */
	const char *complete;                                     /* Complete's status */
	const char *failed_reason;                                /* Failed: "NotFailed" or why */
	const char *progress;                                     /* NULL: no progress fields */
	int replicas;
	int completion; /* completionTime is there */
	enum vj_plan_rc rc;
	size_t n_events;
	const char *event[2]; /* "Type Reason" */
};

static const struct {
	const char *what;
	struct pass in;
	struct want w;
} status_cases[] = {
    {"invalid spec: failed at once",
     {.stop = VJ_STOP_REPORT,
      .stop_reason = "InvalidSpec",
      .stop_error = "spec.encoder.crf: 99",
      .no_topic = 1},
     {"Failed",
      "False",
      "InvalidSpec",
      "spec.encoder.crf: 99",
      "False",
      "InvalidSpec",
      NULL,
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Warning InvalidSpec"}}},
    {"invalid name",
     {.stop = VJ_STOP_REPORT,
      .stop_reason = "InvalidName",
      .stop_error = "at most 63",
      .no_topic = 1},
     {"Failed",
      "False",
      "InvalidName",
      "at most 63",
      "False",
      "InvalidName",
      NULL,
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Warning InvalidName"}}},
    {"Kafka away on a new job: Pending, polled",
     {.stop = VJ_STOP_KAFKA, .stop_error = "timed out"},
     {"Pending",
      "False",
      "KafkaUnavailable",
      "Kafka at k:9092: timed out",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning KafkaUnavailable"}}},
    {"a refused login on a new job: its reason, polled",
     {.stop = VJ_STOP_KAFKA,
      .stop_reason = "KafkaAuthenticationFailed",
      .stop_error = "SASL authentication error"},
     {"Pending",
      "False",
      "KafkaAuthenticationFailed",
      "Kafka at k:9092: SASL authentication error",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning KafkaAuthenticationFailed"}}},
    {"a Secret missing mid-job: the phase stays",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Processing\"}]}",
      .stop = VJ_STOP_KAFKA,
      .stop_reason = "SecretNotFound",
      .stop_error = "Secret \"c\" does not exist in namespace \"n\""},
     {"Processing",
      "False",
      "SecretNotFound",
      "Kafka at k:9092: Secret \"c\" does not exist in namespace \"n\"",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning SecretNotFound"}}},
    {"Kafka away mid-job: the phase stays, one Event for the new reason",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Processing\"}]}",
      .stop = VJ_STOP_KAFKA,
      .stop_error = "down"},
     {"Processing",
      "False",
      "KafkaUnavailable",
      "Kafka at k:9092: down",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning KafkaUnavailable"}}},
    {"Kafka still away: no Event",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"False\",\"reason\":\"KafkaUnavailable\"}]}",
      .stop = VJ_STOP_KAFKA,
      .stop_error = "down"},
     {"Processing",
      "False",
      "KafkaUnavailable",
      "Kafka at k:9092: down",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      0,
      {NULL}}},
    {"the ConfigMap not applied: retried",
     {.old = "{\"phase\":\"Splitting\"}", .stop = VJ_STOP_CONFIG, .stop_error = "apply: 403"},
     {"Splitting",
      "False",
      "ApplyFailed",
      "apply: 403",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_ERROR,
      1,
      {"Warning ApplyFailed"}}},
    {"no worker image: Pending whatever was stored, polled",
     {.old = "{\"phase\":\"Splitting\"}", .stop = VJ_STOP_NO_IMAGE},
     {"Pending",
      "False",
      "ApplyFailed",
      "no worker image: set --worker-image",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning ApplyFailed"}}},
    {"the split Job not made: retried",
     {.stop = VJ_STOP_SPLIT_JOB, .stop_error = "jobs x-split: 422"},
     {"Pending",
      "False",
      "ApplyFailed",
      "jobs x-split: 422",
      "False",
      "NotFailed",
      NULL,
      0,
      0,
      VJ_PLAN_ERROR,
      1,
      {"Warning ApplyFailed"}}},
    {"splitting",
     {.workers = &pods_ok},
     {"Splitting",
      "True",
      "Splitting",
      "probing the source",
      "False",
      "NotFailed",
      NULL,
      2,
      0,
      VJ_PLAN_POLL,
      1,
      {"Normal Splitting"}}},
    {"the split Job's pod cannot run: its reason, and one more Event",
     {.job_pods = &claim_missing, .workers = &pods_ok},
     {"Splitting",
      "False",
      "Unschedulable",
      "the split Job: pod s-1: persistentvolumeclaim",
      "False",
      "NotFailed",
      NULL,
      2,
      0,
      VJ_PLAN_POLL,
      2,
      {"Normal Splitting", "Warning Unschedulable"}}},
    {"the split Job's trouble comes before the workers'",
     {.job_pods = &claim_missing, .workers = &pods_crash},
     {"Splitting",
      "False",
      "Unschedulable",
      "the split Job",
      "False",
      "NotFailed",
      NULL,
      1,
      0,
      VJ_PLAN_POLL,
      2,
      {"Normal Splitting", "Warning Unschedulable"}}},
    {"processing, progress read",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Processing\"}]}",
      .split_job = 1,
      .progress = &p_some,
      .workers = &pods_ok},
     {"Processing",
      "True",
      "Processing",
      "1 of 4 segments done",
      "False",
      "NotFailed",
      "25%",
      2,
      0,
      VJ_PLAN_POLL,
      0,
      {NULL}}},
    {"processing, the workers crash",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Processing\"}]}",
      .split_job = 1,
      .progress = &p_some,
      .workers = &pods_crash},
     {"Processing",
      "False",
      "CrashLoopBackOff",
      "pod p-1: CrashLoopBackOff",
      "False",
      "NotFailed",
      "25%",
      1,
      0,
      VJ_PLAN_POLL,
      1,
      {"Warning CrashLoopBackOff"}}},
    {"processing, the workers fixed: the phase's Event again",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"False\",\"reason\":\"CrashLoopBackOff\"}]}",
      .split_job = 1,
      .progress = &p_some,
      .workers = &pods_ok},
     {"Processing",
      "True",
      "Processing",
      "1 of 4",
      "False",
      "NotFailed",
      "25%",
      2,
      0,
      VJ_PLAN_POLL,
      1,
      {"Normal Processing"}}},
    {"the process Deployment not made: retried",
     {.old = "{\"phase\":\"Processing\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Processing\"}]}",
      .split_job = 1,
      .progress = &p_some,
      .workers_failed = 1},
     {"Processing",
      "True",
      "Processing",
      "1 of 4",
      "False",
      "NotFailed",
      "25%",
      0,
      0,
      VJ_PLAN_ERROR,
      0,
      {NULL}}},
    {"Redis unread: no progress fields",
     {.old = "{\"phase\":\"Processing\"}", .split_job = 1, .workers = &pods_ok},
     {"Splitting",
      "True",
      "Splitting",
      "probing",
      "False",
      "NotFailed",
      NULL,
      2,
      0,
      VJ_PLAN_POLL,
      1,
      {"Normal Splitting"}}},
    {"assembling",
     {.old = "{\"phase\":\"Processing\"}", .split_job = 1, .progress = &p_all},
     {"Assembling",
      "True",
      "Assembling",
      "all 4 segments done",
      "False",
      "NotFailed",
      "100%",
      0,
      0,
      VJ_PLAN_POLL,
      1,
      {"Normal Assembling"}}},
    {"the assemble Job not made: retried",
     {.old = "{\"phase\":\"Assembling\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
             "\"True\",\"reason\":\"Assembling\"}]}",
      .split_job = 1,
      .progress = &p_all,
      .assemble_failed = 1},
     {"Assembling",
      "True",
      "Assembling",
      "all 4",
      "False",
      "NotFailed",
      "100%",
      0,
      0,
      VJ_PLAN_ERROR,
      0,
      {NULL}}},
    {"succeeded",
     {.old = "{\"phase\":\"Assembling\",\"startTime\":\"" EARLIER "\"}",
      .split_job = 1,
      .assemble_job = 1,
      .progress = &p_assembled},
     {"Succeeded",
      "True",
      "Succeeded",
      "4 segments processed and assembled",
      "True",
      "NotFailed",
      "100%",
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Normal Succeeded"}}},
    {"the split Job failed, with the worker's last words",
     {.split_job = -1, .job_exit_message = "split: open: No such file"},
     {"Failed",
      "True",
      "SplitFailed",
      "the split Job failed: split: open: No such file",
      "False",
      "SplitFailed",
      NULL,
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Warning SplitFailed"}}},
    {"the assemble Job failed, no last words",
     {.old = "{\"phase\":\"Assembling\"}", .split_job = 1, .assemble_job = -1, .progress = &p_all},
     {"Failed",
      "True",
      "AssembleFailed",
      "the assemble Job failed",
      "False",
      "AssembleFailed",
      "100%",
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Warning AssembleFailed"}}},
    /* A job that failed has nothing wrong with its infrastructure: Ready
     * stays True, with the failure's reason (Failed says the rest). */
    {"segments lost",
     {.old = "{\"phase\":\"Processing\"}",
      .split_job = 1,
      .progress = &p_lost,
      .workers = &pods_crash},
     {"Failed",
      "True",
      "SegmentsFailed",
      "1 of 4 segments failed",
      "False",
      "SegmentsFailed",
      "75%",
      0,
      1,
      VJ_PLAN_OK,
      1,
      {"Warning SegmentsFailed"}}},
};

static void check_status(const struct vj_plan *p, const struct want *w, const struct pass *in)
{
	const cJSON *st = p->status;

	assert_non_null(st);
	assert_string_equal(p->phase, w->phase);
	assert_string_equal(str(st, "phase"), w->phase);
	assert_int_equal(num(st, "observedGeneration"), 5);
	assert_string_equal(cond_field(st, "Ready", "status"), w->ready);
	assert_string_equal(cond_field(st, "Ready", "reason"), w->ready_reason);
	assert_non_null(strstr(cond_field(st, "Ready", "message"), w->ready_message));
	assert_string_equal(cond_field(st, "Complete", "status"), w->complete);
	assert_string_equal(cond_field(st, "Complete", "reason"),
	                    strcmp(w->complete, "True") == 0 ? "Succeeded" : w->phase);
	assert_string_equal(cond_field(st, "Failed", "status"),
	                    strcmp(w->failed_reason, "NotFailed") == 0 ? "False" : "True");
	assert_string_equal(cond_field(st, "Failed", "reason"), w->failed_reason);
	if (w->progress == NULL) {
		assert_false(has(st, "progress"));
		assert_false(has(st, "segmentsTotal"));
	} else {
		assert_string_equal(str(st, "progress"), w->progress);
		assert_true(has(st, "segmentsDone") && has(st, "framesTotal") &&
		            has(st, "framesDone"));
	}
	assert_int_equal(num(st, "replicas"), w->replicas);
	assert_int_equal(p->replicas, w->replicas);
	/* startTime kept once set; completionTime once finished. */
	assert_string_equal(str(st, "startTime"),
	                    in->old != NULL && strstr(in->old, "startTime") ? EARLIER : NOW);
	assert_int_equal(has(st, "completionTime"), w->completion);
	if (in->no_topic)
		assert_false(has(st, "topic"));
	else
		assert_string_equal(str(st, "topic"), "sluice-vj-media-clip");
	assert_int_equal(p->rc, w->rc);
	assert_int_equal(p->n_events, w->n_events);
	for (size_t e = 0; e < p->n_events; e++) {
		char got[200];
		snprintf(got, sizeof(got), "%s %s",
		         p->events[e].type == EVENTS_WARNING ? "Warning" : "Normal",
		         p->events[e].reason);
		assert_string_equal(got, w->event[e]);
		assert_string_equal(p->events[e].action, "Reconcile");
	}
}

static void test_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		const struct pass *in = &status_cases[i].in;
		cJSON *old = in->old != NULL ? cJSON_Parse(in->old) : NULL;
		struct vj_phase ph;
		struct vj_plan p;

		print_message("status: %s\n", status_cases[i].what);
		assert_true(in->old == NULL || old != NULL);
		struct vj_observed o = {
		    .generation = 5,
		    .old_status = old,
		    .now = NOW,
		    .stop = in->stop,
		    .stop_reason = in->stop_reason,
		    .stop_error = in->stop_error,
		    .bootstrap = "k:9092",
		    .topic = in->no_topic ? NULL : "sluice-vj-media-clip",
		};
		if (in->stop == VJ_STOP_NONE) {
			vj_plan_phase(in->split_job, in->assemble_job, in->progress, &ph);
			o.phase = &ph;
			o.progress = in->progress;
			o.job_pods = in->job_pods;
			o.job_exit_message = in->job_exit_message;
			o.workers_failed = in->workers_failed;
			if (ph.run_workers && in->workers != NULL) {
				o.workers = in->workers;
				o.ready_replicas = in->workers->ready;
			}
			o.assemble_failed = in->assemble_failed;
		}
		assert_int_equal(vj_plan_status(&o, &p), 0);
		check_status(&p, &status_cases[i].w, in);
		cJSON_Delete(p.status);
		cJSON_Delete(old);
	}
}

/* Conditions keep their lastTransitionTime while their status holds, and a
 * finished job keeps its completionTime. */
static void test_times_kept(void **state)
{
	cJSON *old =
	    cJSON_Parse("{\"phase\":\"Succeeded\",\"startTime\":\"" EARLIER
	                "\",\"completionTime\":\"" EARLIER "\",\"conditions\":["
	                "{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Succeeded\","
	                "\"lastTransitionTime\":\"" EARLIER "\"},"
	                "{\"type\":\"Complete\",\"status\":\"True\",\"reason\":\"Succeeded\","
	                "\"lastTransitionTime\":\"" EARLIER "\"},"
	                "{\"type\":\"Failed\",\"status\":\"True\",\"reason\":\"JobFailed\","
	                "\"lastTransitionTime\":\"" EARLIER "\"}]}");
	struct vj_phase ph;
	struct vj_plan p;

	(void)state;
	assert_non_null(old);
	vj_plan_phase(1, 1, &p_assembled, &ph);
	struct vj_observed o = {.generation = 2,
	                        .old_status = old,
	                        .now = NOW,
	                        .topic = "t",
	                        .phase = &ph,
	                        .progress = &p_assembled};
	assert_int_equal(vj_plan_status(&o, &p), 0);
	assert_string_equal(str(p.status, "startTime"), EARLIER);
	assert_string_equal(str(p.status, "completionTime"), EARLIER);
	assert_string_equal(cond_field(p.status, "Ready", "lastTransitionTime"), EARLIER);
	assert_string_equal(cond_field(p.status, "Complete", "lastTransitionTime"), EARLIER);
	/* Failed moved from True to False: a new time. */
	assert_string_equal(cond_field(p.status, "Failed", "lastTransitionTime"), NOW);
	/* Same phase, same Ready reason: no Event. */
	assert_int_equal(p.n_events, 0);
	cJSON_Delete(p.status);
	cJSON_Delete(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_begin),
	    cmocka_unit_test(test_cleanup),
	    cmocka_unit_test(test_gpu_nodes),
	    cmocka_unit_test(test_gpu_nodes_pages),
	    cmocka_unit_test(test_gpu_due),
	    cmocka_unit_test(test_gpu_check),
	    cmocka_unit_test(test_no_gpu_status),
	    cmocka_unit_test(test_process_resources),
	    cmocka_unit_test(test_wait_for_change),
	    cmocka_unit_test(test_job_outcome),
	    cmocka_unit_test(test_phase),
	    cmocka_unit_test(test_progress_text),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_times_kept),
	    cmocka_unit_test(test_assemble_may_exist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
