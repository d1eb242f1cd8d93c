/* Unit tests for lib/contract/vw_spec.c: the VideoWatch spec (defaults,
 * bounds, errors naming the field, the template judged as a VideoJob), the
 * job's name and object for a file, and the CRD
 * (crds/videowatches.sluice.dev.yaml) describing the same fields with the
 * same defaults. Run from the repository root (make does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "vj_spec.h"
#include "vw_spec.h"
#include "yaml_json.h"

#define CRD_PATH "crds/videowatches.sluice.dev.yaml"

static const char minimal[] =
    "{\"volume\":{\"mountPath\":\"/videos\",\"persistentVolumeClaim\":{\"claimName\":\"v\"}},"
    " \"template\":{\"output\":{\"uri\":\"file:///videos/out/{stem}.mp4\"},"
    "  \"kafka\":{\"bootstrap\":\"k:9092\"}}}";

static const char full[] =
    "{\"volume\":{\"mountPath\":\"/videos\",\"persistentVolumeClaim\":{\"claimName\":\"v\"}},"
    " \"directory\":\"in/cam1\",\"glob\":\"*.mp4\",\"settleSeconds\":5,\"rescanSeconds\":7,"
    " \"successfulJobsHistoryLimit\":4,\"failedJobsHistoryLimit\":2,"
    " \"upload\":{\"token\":{\"name\":\"up\",\"key\":\"token\"},\"maxBytes\":2097152,"
    "  \"port\":9000},"
    " \"watcher\":{\"image\":\"w:1\",\"imagePullPolicy\":\"Never\","
    "  \"resources\":{\"limits\":{\"memory\":\"64Mi\"}},\"nodeSelector\":{\"a\":\"b\"},"
    "  \"tolerations\":[{\"operator\":\"Exists\"}],\"affinity\":{}},"
    " \"template\":{\"output\":{\"uri\":\"file:///videos/out/{stem}-{ext}.mkv\"},"
    "  \"kafka\":{\"bootstrap\":\"k:9092\"},\"filters\":\"hue=s=0\","
    "  \"workers\":{\"maxReplicas\":2}}}";

static int parse(const char *json, struct vw_spec *out, char *err, size_t n)
{
	cJSON *spec = cJSON_Parse(json);
	int rc;

	assert_non_null(spec);
	rc = vw_spec_parse(spec, "cam", "media", out, err, n);
	cJSON_Delete(spec);
	return rc;
}

/* The spec minimal with member (a JSON "name":value pair) added. */
static int parse_with(const char *member, char *err, size_t n)
{
	char json[2048];
	struct vw_spec s;
	int rc;

	snprintf(json, sizeof(json), "{%s,%s", member, minimal + 1);
	rc = parse(json, &s, err, n);
	if (rc == 0)
		vw_spec_free(&s);
	return rc;
}

static void test_defaults(void **state)
{
	struct vw_spec s;
	char err[512] = "";
	char dir[256];

	(void)state;
	assert_int_equal(parse(minimal, &s, err, sizeof(err)), 0);
	assert_string_equal(s.mount_path, "/videos");
	assert_string_equal(s.directory, "");
	assert_string_equal(s.glob, "*");
	assert_int_equal(s.settle_seconds, 10);
	assert_int_equal(s.rescan_seconds, 30);
	assert_int_equal(s.successful_history, 3);
	assert_int_equal(s.failed_history, 1);
	assert_false(s.upload.enabled);
	assert_null(s.watcher);
	assert_null(s.uid);
	assert_int_equal(vw_spec_dir_path(&s, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/videos");
	vw_spec_free(&s);
	vw_spec_free(&s); /* twice is safe */
}

static void test_full(void **state)
{
	struct vw_spec s;
	char err[512] = "", dir[256];

	(void)state;
	assert_int_equal(parse(full, &s, err, sizeof(err)), 0);
	assert_string_equal(s.directory, "in/cam1");
	assert_string_equal(s.glob, "*.mp4");
	assert_int_equal(s.settle_seconds, 5);
	assert_int_equal(s.rescan_seconds, 7);
	assert_int_equal(s.successful_history, 4);
	assert_int_equal(s.failed_history, 2);
	assert_true(s.upload.enabled);
	assert_string_equal(s.upload.token.name, "up");
	assert_string_equal(s.upload.token.key, "token");
	assert_int_equal(s.upload.max_bytes, 2097152);
	assert_int_equal(s.upload.port, 9000);
	assert_non_null(s.watcher);
	assert_int_equal(vw_spec_dir_path(&s, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/videos/in/cam1");
	vw_spec_free(&s);
}

static void test_errors_name_the_field(void **state)
{
	static const struct {
		const char *member, *want;
	} cases[] = {
	    {"\"directory\":\"../x\"", "spec.directory"},
	    {"\"directory\":\"/abs\"", "spec.directory"},
	    {"\"directory\":\"a//b\"", "spec.directory"},
	    {"\"directory\":\"a/\"", "spec.directory"},
	    {"\"glob\":\"a/*\"", "spec.glob"},
	    {"\"settleSeconds\":-1", "spec.settleSeconds"},
	    {"\"settleSeconds\":86401", "spec.settleSeconds"},
	    {"\"rescanSeconds\":0", "spec.rescanSeconds"},
	    {"\"successfulJobsHistoryLimit\":1001", "spec.successfulJobsHistoryLimit"},
	    {"\"failedJobsHistoryLimit\":-1", "spec.failedJobsHistoryLimit"},
	    {"\"upload\":{}", "spec.upload.token"},
	    {"\"upload\":{\"token\":{\"name\":\"a\",\"key\":\"b\"},\"maxBytes\":10}",
	     "spec.upload.maxBytes"},
	    {"\"upload\":{\"token\":{\"name\":\"a\",\"key\":\"b\"},\"port\":0}",
	     "spec.upload.port"},
	    {"\"upload\":{\"token\":{\"name\":\"a\",\"key\":\"b\"},\"password\":\"x\"}",
	     "spec.upload.password"},
	    {"\"watcher\":{\"imagePullPolicy\":\"Sometimes\"}", "spec.watcher.imagePullPolicy"},
	    {"\"watcher\":{\"command\":[\"sh\"]}", "spec.watcher.command"},
	    {"\"typo\":1", "spec.typo"},
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse_with(cases[i].member, err, sizeof(err)), VW_SPEC_E_INVALID);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("%s: \"%s\" does not name %s", cases[i].member, err,
			         cases[i].want);
	}
}

static void test_required(void **state)
{
	struct vw_spec s;
	char err[512];

	(void)state;
	assert_int_equal(parse("{\"template\":{\"output\":{\"uri\":\"file:///v/o.mp4\"},"
	                       "\"kafka\":{\"bootstrap\":\"k:1\"}}}",
	                       &s, err, sizeof(err)),
	                 VW_SPEC_E_INVALID);
	assert_non_null(strstr(err, "spec.volume"));
	assert_int_equal(parse("{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}}}",
	                       &s, err, sizeof(err)),
	                 VW_SPEC_E_INVALID);
	assert_non_null(strstr(err, "spec.template"));
}

/* The template is judged as the VideoJob it makes, with the VideoJob's
 * own message under spec.template. */
static void test_template_judged_as_a_videojob(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
	    /* output off the volume */
	    {"{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}},"
	     "\"template\":{\"output\":{\"uri\":\"file:///elsewhere/{stem}.mp4\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}}",
	     "spec.template.output.uri"},
	    {"{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}},"
	     "\"template\":{\"output\":{\"uri\":\"file:///v/o/{stem}.mp4\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"},\"segmentSeconds\":0}}",
	     "spec.template.segmentSeconds"},
	    {"{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}},"
	     "\"template\":{\"output\":{\"uri\":\"file:///v/{stem}.mp4\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"},\"source\":{\"uri\":\"file:///v/a\"}}}",
	     "spec.template.source"},
	    {"{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}},"
	     "\"template\":{\"output\":{\"uri\":\"file:///v/o/{stem}.mp4\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"},\"encoder\":{\"codec\":\"h263\"}}}",
	     "spec.template.encoder.codec"},
	    /* the output would be a new file of the watch: a loop */
	    {"{\"volume\":{\"mountPath\":\"/v\",\"hostPath\":{\"path\":\"/x\"}},"
	     "\"template\":{\"output\":{\"uri\":\"file:///v/{stem}-out.mp4\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}}",
	     "taken as a new file"},
	};
	struct vw_spec s;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(cases[i].json, &s, err, sizeof(err)), VW_SPEC_E_INVALID);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].want);
	}
}

static void test_names_matched(void **state)
{
	struct vw_spec s;
	char err[512];

	(void)state;
	assert_int_equal(parse(full, &s, err, sizeof(err)), 0);
	assert_true(vw_name_matches(&s, "a.mp4"));
	assert_false(vw_name_matches(&s, "a.mov"));
	assert_false(vw_name_matches(&s, ".a.mp4"));
	assert_false(vw_name_matches(&s, ".upload-a.mp4-x"));
	assert_false(vw_name_matches(&s, "d/a.mp4"));
	assert_false(vw_name_matches(&s, ""));
	vw_spec_free(&s);
	assert_int_equal(parse(minimal, &s, err, sizeof(err)), 0);
	assert_true(vw_name_matches(&s, "anything"));
	assert_false(vw_name_matches(&s, ".sluice"));
	vw_spec_free(&s);
}

static void test_job_name(void **state)
{
	char a[64], b[64], c[64];

	(void)state;
	assert_int_equal(vw_job_name("cam", "Front Door 2024-01-01.MP4", a, sizeof(a)), 0);
	assert_int_equal(vw_job_name("cam", "Front Door 2024-01-01.MP4", b, sizeof(b)), 0);
	assert_string_equal(a, b); /* deterministic */
	assert_int_equal(strncmp(a, "cam-front-door-2024-01-0-", 25), 0);
	assert_int_equal(strlen(a), 25 + 8);
	/* Another file, another watch: another name. */
	assert_int_equal(vw_job_name("cam", "Front Door 2024-01-01.mov", c, sizeof(c)), 0);
	assert_string_not_equal(a, c);
	assert_int_equal(vw_job_name("cam2", "Front Door 2024-01-01.MP4", c, sizeof(c)), 0);
	assert_string_not_equal(a, c);
	/* Long names are cut; the result stays a DNS label of at most 47. */
	assert_int_equal(vw_job_name("a-very-long-watch-name-indeed-yes",
	                             "an-even-longer-file-name-than-that.mp4", c, sizeof(c)),
	                 0);
	assert_true(strlen(c) <= 47);
	for (const char *p = c; *p != '\0'; p++)
		assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-');
	assert_true(c[0] != '-' && c[strlen(c) - 1] != '-');
	/* Nothing usable in the stem: the hash alone follows the watch. */
	assert_int_equal(vw_job_name("cam", "___.mp4", c, sizeof(c)), 0);
	assert_int_equal(strlen(c), 4 + 8);
	assert_int_equal(vw_job_name("cam", "x.mp4", c, 8), -1);
}

static void test_job_object(void **state)
{
	cJSON *doc = cJSON_CreateObject(), *meta, *job;
	struct vw_spec s;
	struct vj_spec vs;
	char err[512], name[64];

	(void)state;
	meta = cJSON_AddObjectToObject(doc, "metadata");
	cJSON_AddStringToObject(meta, "name", "cam");
	cJSON_AddStringToObject(meta, "namespace", "media");
	cJSON_AddStringToObject(meta, "uid", "u-1");
	cJSON_AddItemToObject(doc, "spec", cJSON_Parse(full));
	assert_int_equal(vw_spec_parse_document(doc, &s, err, sizeof(err)), 0);
	cJSON_Delete(doc);
	assert_string_equal(s.uid, "u-1");

	assert_null(vw_job_object(&s, "a.mov", err, sizeof(err)));
	assert_non_null(strstr(err, "*.mp4"));
	/* URIs carry no white space: such a file is refused, with the reason. */
	assert_null(vw_job_object(&s, "clip 1.mp4", err, sizeof(err)));
	assert_non_null(strstr(err, "clip 1.mp4: spec.source.uri"));
	assert_non_null(strstr(err, "white space"));
	job = vw_job_object(&s, "clip_1.mp4", err, sizeof(err));
	assert_non_null(job);
	assert_int_equal(vw_job_name("cam", "clip_1.mp4", name, sizeof(name)), 0);
	meta = cJSON_GetObjectItem(job, "metadata");
	assert_string_equal(cJSON_GetObjectItem(meta, "name")->valuestring, name);
	assert_string_equal(cJSON_GetObjectItem(meta, "namespace")->valuestring, "media");
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "labels"), VW_LABEL_WATCH)->valuestring,
	    "cam");
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "annotations"), VW_ANNOTATION_FILE)
	        ->valuestring,
	    "clip_1.mp4");
	cJSON *owner = cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "ownerReferences"), 0);
	assert_string_equal(cJSON_GetObjectItem(owner, "uid")->valuestring, "u-1");
	assert_string_equal(cJSON_GetObjectItem(owner, "kind")->valuestring, "VideoWatch");
	/* A valid VideoJob with the file as source and the pattern filled. */
	assert_int_equal(
	    vj_spec_parse(cJSON_GetObjectItem(job, "spec"), name, "media", &vs, err, sizeof(err)),
	    0);
	assert_string_equal(vs.source_uri, "file:///videos/in/cam1/clip_1.mp4");
	assert_string_equal(vs.output_uri, "file:///videos/out/clip_1-mp4.mkv");
	assert_string_equal(vs.filters, "hue=s=0");
	assert_string_equal(vs.volume_mount_path, "/videos");
	vj_spec_free(&vs);
	cJSON_Delete(job);
	vw_spec_free(&s);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_vw_spec_XXXXXX", err[512];
	struct vw_spec s;
	int fd;
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f,
	        "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoWatch\","
	        "\"metadata\":{\"name\":\"cam\",\"namespace\":\"m\",\"uid\":\"u\"},\"spec\":%s}",
	        minimal);
	fclose(f);
	assert_int_equal(vw_spec_load_file(path, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "cam");
	assert_string_equal(s.uid, "u");
	vw_spec_free(&s);
	f = fopen(path, "w");
	fprintf(f, "{\"kind\":\"VideoJob\",\"metadata\":{\"name\":\"cam\"},\"spec\":%s}", minimal);
	fclose(f);
	assert_int_equal(vw_spec_load_file(path, &s, err, sizeof(err)), VW_SPEC_E_INVALID);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "kind"));
	unlink(path);
}

/* The CRD's spec properties are the parser's fields, and its defaults the
 * parser's: a spec with the CRD's defaults written out parses the same. */
static void test_crd_matches(void **state)
{
	char *text = NULL, err[512];
	size_t len = 0;
	FILE *f = fopen(CRD_PATH, "r");
	cJSON *crd = NULL, *props, *it, *spec;
	struct vw_spec bare, defaulted;

	(void)state;
	assert_non_null(f);
	text = calloc(1, 1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(len > 0);
	assert_int_equal(yaml_json_parse(text, len, &crd, err, sizeof(err)), 0);
	free(text);
	props = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(
	        cJSON_GetObjectItem(
	            cJSON_GetObjectItem(
	                cJSON_GetArrayItem(
	                    cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "spec"), "versions"), 0),
	                "schema"),
	            "openAPIV3Schema"),
	        "properties"),
	    "spec");
	props = cJSON_GetObjectItem(props, "properties");
	assert_non_null(props);
	/* Every CRD field is one the parser takes (an unknown one fails). */
	spec = cJSON_Parse(full);
	cJSON_ArrayForEach(it, props)
	{
		if (cJSON_GetObjectItem(spec, it->string) == NULL)
			fail_msg("CRD field spec.%s is missing from the test's full spec",
			         it->string);
	}
	cJSON_ArrayForEach(it, spec)
	{
		if (cJSON_GetObjectItem(props, it->string) == NULL)
			fail_msg("parser field spec.%s is not in the CRD", it->string);
	}
	cJSON_Delete(spec);
	/* The CRD's defaults written out parse to what the bare spec does. */
	spec = cJSON_Parse(minimal);
	cJSON_ArrayForEach(it, props)
	{
		cJSON *def = cJSON_GetObjectItem(it, "default");
		if (def != NULL && cJSON_GetObjectItem(spec, it->string) == NULL)
			cJSON_AddItemToObject(spec, it->string, cJSON_Duplicate(def, 1));
	}
	assert_int_equal(vw_spec_parse(spec, "cam", "m", &defaulted, err, sizeof(err)), 0);
	assert_int_equal(parse(minimal, &bare, err, sizeof(err)), 0);
	assert_string_equal(bare.directory, defaulted.directory);
	assert_string_equal(bare.glob, defaulted.glob);
	assert_int_equal(bare.settle_seconds, defaulted.settle_seconds);
	assert_int_equal(bare.rescan_seconds, defaulted.rescan_seconds);
	assert_int_equal(bare.successful_history, defaulted.successful_history);
	assert_int_equal(bare.failed_history, defaulted.failed_history);
	/* upload's own defaults */
	it = cJSON_GetObjectItem(cJSON_GetObjectItem(props, "upload"), "properties");
	assert_int_equal(
	    (long long)cJSON_GetObjectItem(cJSON_GetObjectItem(it, "maxBytes"), "default")
	        ->valuedouble,
	    VW_UPLOAD_MAX_BYTES_DEFAULT);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(it, "port"), "default")->valueint,
	                 8080);
	vw_spec_free(&bare);
	vw_spec_free(&defaulted);
	cJSON_Delete(spec);
	cJSON_Delete(crd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_errors_name_the_field),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_template_judged_as_a_videojob),
	    cmocka_unit_test(test_names_matched),
	    cmocka_unit_test(test_job_name),
	    cmocka_unit_test(test_job_object),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_crd_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
