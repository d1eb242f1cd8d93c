/* lib/contract/vj_task.c: the task message round-trips, and every broken field is
 * refused with its name. lib/contract/vj_progress.c: the pure fold of its replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vj_progress.h"
#include "vj_task.h"

static void sample(struct vj_task *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->job, sizeof(t->job), "media/clip");
	snprintf(t->source, sizeof(t->source), "http://127.0.0.1:8000/in.mp4");
	snprintf(t->output, sizeof(t->output), "file:///out/.clip.mp4.segments/seg-00003.mp4");
	t->segment = 3;
	t->segments = 10;
	t->stream = 0;
	t->tb_num = 1;
	t->tb_den = 12800;
	t->start_pts = 76800;
	t->end_pts = 102400;
	t->start_ms = 6000;
	t->end_ms = 8000;
	t->frames = 48;
}

static void test_round_trip(void **state)
{
	struct vj_task t, back;
	char err[256], key[16];
	char *text;

	(void)state;
	sample(&t);
	t.start_pts = INT64_C(1) << 52; /* large but exact in a double */
	t.end_pts = t.start_pts + 512;
	text = vj_task_encode(&t);
	assert_non_null(text);
	assert_int_equal(vj_task_decode(text, strlen(text), &back, err, sizeof(err)), 0);
	assert_memory_equal(&t, &back, sizeof(t));
	assert_int_equal(vj_task_key(&t, key, sizeof(key)), 0);
	assert_string_equal(key, "3");
	free(text);
}

static void test_frames_optional(void **state)
{
	static const char msg[] =
	    "{\"v\":1,\"job\":\"a/b\",\"source\":\"file:///s\",\"output\":\"file:///o\","
	    "\"segment\":0,\"segments\":1,\"stream\":1,\"time_base\":[1,90000],"
	    "\"start_pts\":0,\"end_pts\":9000,\"start_ms\":0,\"end_ms\":100,\"extra\":true}";
	struct vj_task t;
	char err[256];

	(void)state;
	assert_int_equal(vj_task_decode(msg, strlen(msg), &t, err, sizeof(err)), 0);
	assert_int_equal(t.frames, -1);
	assert_int_equal(t.stream, 1);
	assert_int_equal(t.tb_den, 90000);
}

/* Each case replaces one member of the sample's JSON. */
static void test_errors(void **state)
{
	static const struct {
		const char *field, *value, *want;
	} cases[] = {
	    {"v", "2", "task: v: version 2 is not 1"},
	    {"job", "\"nope\"", "task: job: \"nope\" is not <namespace>/<name>"},
	    {"job", "\"\"", "task: job: must not be empty"},
	    {"source", "7", "task: source: must be a string"},
	    {"segment", "10", "task: segment: 10 is not in 0..9"},
	    {"segment", "-1", "task: segment: -1 is not in 0..9"},
	    {"segment", "1.5", "task: segment: 1.5 is not an integer"},
	    {"segments", "0", "task: segments: 0 is below 1"},
	    {"segments", "4294967296", "task: segments: 4294967296 is out of range"},
	    {"stream", "-2", "task: stream: -2 is negative"},
	    {"time_base", "[0,1]", "task: time_base: must be two positive integers"},
	    {"time_base", "\"1/2\"", "task: time_base: must be [num, den]"},
	    {"end_pts", "76800", "task: end_pts: 76800 is not above start_pts: 76800"},
	    {"end_ms", "1", "task: end_ms: 1 is below start_ms: 6000"},
	    {"frames", "-5", "task: frames: -5 is below -1"},
	    {"start_pts", "1e300", "task: start_pts: 1e+300 is not an integer"},
	    {"output", "null", "task: output: must be a string"},
	};
	struct vj_task t, back;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *o, *v;
		char *text;

		sample(&t);
		text = vj_task_encode(&t);
		o = cJSON_Parse(text);
		free(text);
		v = cJSON_Parse(cases[i].value);
		assert_non_null(v);
		cJSON_ReplaceItemInObjectCaseSensitive(o, cases[i].field, v);
		text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (vj_task_decode(text, strlen(text), &back, err, sizeof(err)) == 0)
			fail_msg("case %zu (%s) decoded", i, text);
		if (strcmp(err, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		free(text);
	}
	assert_int_equal(vj_task_decode("[1]", 3, &back, err, sizeof(err)), -1);
	assert_string_equal(err, "task: must be a JSON object");
	assert_int_equal(vj_task_decode("{\"v\":1", 6, &back, err, sizeof(err)), -1);
	assert_string_equal(err, "task: not valid JSON");
	{
		struct vj_task r;

		sample(&r);
		char *text = vj_task_encode(&r);
		cJSON *o = cJSON_Parse(text);

		free(text);
		cJSON_DeleteItemFromObjectCaseSensitive(o, "end_ms");
		text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		assert_int_equal(vj_task_decode(text, strlen(text), &back, err, sizeof(err)), -1);
		assert_string_equal(err, "task: end_ms: required");
		free(text);
	}
}

static void test_segment_uri(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(vj_task_segment_uri("file:///data/out/clip.mp4", 7, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "file:///data/out/.clip.mp4.segments/seg-00007.mp4");
	assert_int_equal(vj_task_segment_dir_uri("file:///clip.mp4", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "file:///.clip.mp4.segments");
	assert_int_equal(vj_task_segment_uri("http://h/clip.mp4", 0, buf, sizeof(buf)), -1);
	assert_int_equal(vj_task_segment_uri("file:///dir/", 0, buf, sizeof(buf)), -1);
	assert_int_equal(vj_task_segment_uri("file:///data/out/clip.mp4", 7, buf, 20), -1);
	assert_int_equal(vj_task_segment_uri("file:///data/out/clip.mp4", -1, buf, sizeof(buf)),
	                 -1);
}

static void test_progress_fill(void **state)
{
	static const char *const meta[] = {"segments_total", "4",    "frames_total", "96",
	                                   "split_done",     "1",    "duration_ms",  "4000",
	                                   "failed",         "boom", "junk",         "x"};
	static const char *const done[] = {"0", "24", "2", "23", "3", "bad"};
	struct vj_progress p;
	char key[64];

	(void)state;
	vj_progress_fill(&p, meta, 6, done, 3, 1);
	assert_int_equal(p.segments_total, 4);
	assert_int_equal(p.frames_total, 96);
	assert_int_equal(p.duration_ms, 4000);
	assert_int_equal(p.split_done, 1);
	assert_int_equal(p.assembled, 0);
	assert_int_equal(p.segments_done, 3);
	assert_int_equal(p.frames_done, 47);
	assert_int_equal(p.segments_failed, 1);
	assert_string_equal(p.failed, "boom");
	assert_int_equal(vj_progress_key("media", "clip", "meta", key, sizeof(key)), 0);
	assert_string_equal(key, "sluice:vj:media:clip:meta");
	assert_int_equal(vj_progress_key("media", "clip", "meta", key, 10), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_frames_optional),
	    cmocka_unit_test(test_errors),        cmocka_unit_test(test_segment_uri),
	    cmocka_unit_test(test_progress_fill),
	};

	return cmocka_run_group_tests_name("vj_task", tests, NULL, NULL);
}
