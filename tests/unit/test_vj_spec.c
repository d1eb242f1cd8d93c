/* lib/contract/vj_spec.c: defaults, derived names, and an error naming the field for
 * each rule. */
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

#define BASE                                                                                       \
	"\"source\":{\"uri\":\"file:///in/a.mp4\"},\"output\":{\"uri\":\"file:///out/a.mp4\"},"    \
	"\"kafka\":{\"bootstrap\":\"k:9092\"}"

static int parse_text(const char *text, struct vj_spec *s, char *err, size_t size)
{
	cJSON *j = cJSON_Parse(text);
	int rc;

	assert_non_null(j);
	rc = vj_spec_parse(j, "clip", "media", s, err, size);
	cJSON_Delete(j);
	return rc;
}

static void test_defaults(void **state)
{
	struct vj_spec s;
	char err[256], id[64];

	(void)state;
	assert_int_equal(parse_text("{" BASE "}", &s, err, sizeof(err)), 0);
	assert_string_equal(s.source_uri, "file:///in/a.mp4");
	assert_int_equal(s.segment_seconds, 2);
	assert_int_equal(s.max_attempts, 3);
	assert_null(s.filters);
	assert_int_equal(s.analysis, VJ_ANALYSIS_ALL);
	assert_string_equal(s.encoder.codec, "libx264");
	assert_int_equal(s.encoder.crf, 23);
	assert_string_equal(s.encoder.preset, "medium");
	assert_string_equal(s.kafka.topic, "sluice-vj-media-clip");
	assert_string_equal(s.kafka.group, "sluice-vj-media-clip");
	assert_string_equal(s.kafka.dead_letter_topic, "sluice-vj-media-clip.dlq");
	assert_int_equal(s.workers.min_replicas, 0);
	assert_int_equal(s.workers.max_replicas, 4);
	assert_int_equal(s.workers.lag_threshold, 2);
	assert_null(s.workers.image);
	assert_int_equal(s.workers.requests.n, 0);
	assert_int_equal(s.workers.limits.n, 0);
	assert_int_equal(s.sinks.postgres.enabled, 0);
	assert_string_equal(s.sinks.postgres.table, "video_frames");
	assert_null(s.sinks.postgres.tls_ca.name); /* no tls: the DSN's own sslmode */
	assert_string_equal(s.sinks.redis.prefix, "sluice:vj:media:clip:");
	assert_null(s.sinks.redis.addr);
	assert_int_equal(s.sinks.influxdb.enabled, 0);
	assert_int_equal(vj_spec_job_id(&s, id, sizeof(id)), 0);
	assert_string_equal(id, "media/clip");
	assert_int_equal(vj_spec_job_id(&s, id, 5), -1);
	vj_spec_free(&s);
	vj_spec_free(&s); /* twice is safe */
}

static void test_given_values(void **state)
{
	struct vj_spec s;
	char err[256];

	(void)state;
	assert_int_equal(
	    parse_text("{\"source\":{\"uri\":\"http://127.0.0.1:8000/v.mp4\"},"
	               "\"output\":{\"uri\":\"file:///o.mp4\"},\"segmentSeconds\":5,"
	               "\"maxAttempts\":1,\"filters\":\"hue=s=0\",\"analysis\":[\"motion\"],"
	               "\"kafka\":{\"bootstrap\":\"a:1,b:2\",\"topic\":\"jobs\"},"
	               "\"sinks\":{\"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},"
	               "\"table\":\"frames\",\"tls\":{\"ca\":{\"name\":\"pgca\","
	               "\"key\":\"ca.crt\"}}},\"redis\":{\"addr\":\"r:6379\"}}}",
	               &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.segment_seconds, 5);
	assert_int_equal(s.max_attempts, 1);
	assert_string_equal(s.filters, "hue=s=0");
	assert_int_equal(s.analysis, VJ_ANALYSIS_MOTION);
	assert_string_equal(s.kafka.topic, "jobs");
	assert_string_equal(s.kafka.dead_letter_topic, "jobs.dlq");
	assert_string_equal(s.kafka.group, "sluice-vj-media-clip");
	assert_string_equal(s.sinks.postgres.dsn.name, "pg");
	assert_string_equal(s.sinks.postgres.table, "frames");
	assert_string_equal(s.sinks.postgres.tls_ca.name, "pgca");
	assert_string_equal(s.sinks.postgres.tls_ca.key, "ca.crt");
	assert_int_equal(s.sinks.postgres_delete_with_job, 0);
	assert_string_equal(s.sinks.redis.addr, "r:6379");
	vj_spec_free(&s);
}

/* spec.sinks.postgres.deleteWithJob beside the shared members, which keep
 * their meaning. */
static void test_postgres_delete_with_job(void **state)
{
	static const char *const cases[] = {"true", "false"};
	struct vj_spec s;
	char text[512], err[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		snprintf(text, sizeof(text),
		         "{\"source\":{\"uri\":\"file:///i.mp4\"},\"output\":{\"uri\":"
		         "\"file:///o.mp4\"},\"kafka\":{\"bootstrap\":\"k:1\"},\"sinks\":{"
		         "\"postgres\":{\"dsn\":{\"name\":\"pg\",\"key\":\"dsn\"},"
		         "\"deleteWithJob\":%s,\"table\":\"f\"}}}",
		         cases[i]);
		assert_int_equal(parse_text(text, &s, err, sizeof(err)), 0);
		assert_int_equal(s.sinks.postgres_delete_with_job, i == 0);
		assert_int_equal(s.sinks.postgres.enabled, 1);
		assert_string_equal(s.sinks.postgres.dsn.name, "pg");
		assert_string_equal(s.sinks.postgres.table, "f");
		vj_spec_free(&s);
	}
}

/* Every encoder the worker knows, and which of them need an NVIDIA GPU:
 * the one list the operator (nvidia.com/gpu, the node check) and the
 * worker (NVENC's options) both ask. */
static void test_encoder_codecs(void **state)
{
	static const struct {
		const char *codec;
		int nvenc;
	} cases[] = {
	    {"libx264", 0}, {"libx265", 0},    {"libvpx-vp9", 0},
	    {"mpeg4", 0},   {"h264_nvenc", 1}, {"hevc_nvenc", 1},
	};
	char text[512], err[256];
	struct vj_spec refused;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_spec s;

		snprintf(text, sizeof(text),
		         "{" BASE ",\"encoder\":{\"codec\":\"%s\",\"crf\":19,"
		         "\"preset\":\"veryslow\"}}",
		         cases[i].codec);
		if (parse_text(text, &s, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", cases[i].codec, err);
		assert_string_equal(s.encoder.codec, cases[i].codec);
		assert_int_equal(s.encoder.crf, 19);
		assert_string_equal(s.encoder.preset, "veryslow");
		assert_int_equal(vj_spec_codec_nvenc(s.encoder.codec), cases[i].nvenc);
		vj_spec_free(&s);
	}
	/* Other hardware encoders FFmpeg has are not taken: nothing asks a
	 * node for them. The message lists what is. */
	assert_int_equal(parse_text("{" BASE ",\"encoder\":{\"codec\":\"h264_vaapi\"}}", &refused,
	                            err, sizeof(err)),
	                 VJ_SPEC_E_INVALID);
	assert_non_null(strstr(err, "spec.encoder.codec: \"h264_vaapi\" is not one of"));
	assert_non_null(strstr(err, "h264_nvenc"));
	assert_non_null(strstr(err, "hevc_nvenc"));
	assert_int_equal(vj_spec_codec_nvenc(NULL), 0);
	assert_int_equal(vj_spec_codec_nvenc("nvenc"), 0);
	assert_int_equal(vj_spec_codec_nvenc("h264_nvenc "), 0);
}

/* Each case: a spec (BASE is spliced in with %s) and the start of the error. */
static void test_errors(void **state)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
	    {"{\"output\":{\"uri\":\"file:///o\"},\"kafka\":{\"bootstrap\":\"k:1\"}}",
	     "spec.source: required"},
	    {"{\"source\":{\"uri\":\"ftp://x/y\"},\"output\":{\"uri\":\"file:///o\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}",
	     "spec.source.uri: \"ftp://x/y\" is not"},
	    {"{\"source\":{\"uri\":\"http://u:p@h/v.mp4\"},\"output\":{\"uri\":\"file:///o\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}",
	     "spec.source.uri: credentials"},
	    {"{\"source\":{\"uri\":\"file:///a\"},\"output\":{\"uri\":\"http://h/o\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}",
	     "spec.output.uri: \"http://h/o\" is not file:///path"},
	    {"{\"source\":{\"uri\":\"file:///a\"},\"output\":{\"uri\":\"file:///a\"},"
	     "\"kafka\":{\"bootstrap\":\"k:1\"}}",
	     "spec.output.uri: must differ"},
	    {"{\"source\":{\"uri\":\"file:///a\"},\"output\":{\"uri\":\"file:///o\"}}",
	     "spec.kafka: required"},
	    {"{%s,\"segmentSeconds\":0}", "spec.segmentSeconds: 0 is out of range 1..60"},
	    {"{%s,\"segmentSeconds\":2.5}", "spec.segmentSeconds: 2.5 is not an integer"},
	    {"{%s,\"maxAttempts\":101}", "spec.maxAttempts: 101 is out of range 1..100"},
	    {"{%s,\"filters\":3}", "spec.filters: must be a string"},
	    {"{%s,\"analysis\":[\"luma\"]}", "spec.analysis[0]: \"luma\" is not one of"},
	    {"{%s,\"analysis\":[\"motion\",\"motion\"]}",
	     "spec.analysis[1]: \"motion\" is listed twice"},
	    {"{%s,\"encoder\":{\"codec\":\"h264\"}}", "spec.encoder.codec: \"h264\" is not one of"},
	    {"{%s,\"encoder\":{\"crf\":52}}", "spec.encoder.crf: 52 is out of range 0..51"},
	    {"{%s,\"encoder\":{\"preset\":\"quick\"}}", "spec.encoder.preset: \"quick\""},
	    {"{%s,\"encoder\":{\"bitrate\":1}}", "spec.encoder.bitrate: unknown field"},
	    {"{%s,\"colour\":1}", "spec.colour: unknown field"},
	    {"{%s,\"workers\":{\"minReplicas\":5,\"maxReplicas\":2}}",
	     "spec.workers.maxReplicas: 2 is below spec.workers.minReplicas: 5"},
	    {"{%s,\"workers\":{\"imagePullPolicy\":\"Sometimes\"}}",
	     "spec.workers.imagePullPolicy: \"Sometimes\" is not one of"},
	    {"{%s,\"workers\":{\"resources\":{\"requests\":{\"cpu\":true}}}}",
	     "spec.workers.resources.requests.cpu: must be a quantity"},
	    {"{%s,\"sinks\":{\"postgres\":{\"table\":\"Bad-Name\"}}}",
	     "spec.sinks.postgres.table: \"Bad-Name\" is not a lower-case SQL identifier"},
	    {"{%s,\"sinks\":{\"postgres\":{\"dsn\":\"postgres://u:p@h/db\"}}}",
	     "spec.sinks.postgres.dsn: must be a Secret reference"},
	    {"{%s,\"sinks\":{\"postgres\":{\"password\":\"x\"}}}",
	     "spec.sinks.postgres.password: unknown field"},
	    /* deleteWithJob: the VideoJob's own; a bool, with the DSN beside it. */
	    {"{%s,\"sinks\":{\"postgres\":{\"deleteWithJob\":\"yes\"}}}",
	     "spec.sinks.postgres.deleteWithJob: must be true or false"},
	    {"{%s,\"sinks\":{\"postgres\":{\"deleteWithJob\":true}}}",
	     "spec.sinks.postgres.deleteWithJob: needs spec.sinks.postgres.dsn"},
	    {"{%s,\"sinks\":{\"postgres\":{\"deleteWithJob\":true,\"table\":\"X\"}}}",
	     "spec.sinks.postgres.table: \"X\" is not a lower-case SQL identifier"},
	    /* spec.sinks.postgres.tls: the TelemetryWindow's, parsed by the same code. */
	    {"{%s,\"sinks\":{\"postgres\":{\"tls\":{}}}}",
	     "spec.sinks.postgres.tls.ca: required (a Secret reference {name, key} to the CA's "
	     "PEM)"},
	    {"{%s,\"sinks\":{\"postgres\":{\"tls\":{\"ca\":\"-----BEGIN\"}}}}",
	     "spec.sinks.postgres.tls.ca: must be a Secret reference"},
	    {"{%s,\"sinks\":{\"postgres\":{\"tls\":{\"ca\":{\"name\":\"c\",\"key\":\"k\"},"
	     "\"sslmode\":\"require\"}}}}",
	     "spec.sinks.postgres.tls.sslmode: unknown field"},
	    {"{%s,\"sinks\":{\"postgres\":{\"tls\":true}}}",
	     "spec.sinks.postgres.tls: must be an object"},
	    {"{%s,\"sinks\":{\"redis\":{\"addr\":\"nohost\"}}}",
	     "spec.sinks.redis.addr: \"nohost\" is not host:port"},
	    {"{%s,\"sinks\":{\"influxdb\":{\"url\":\"http://i:8086\",\"database\":\"d\","
	     "\"api\":\"v2\"}}}",
	     "spec.sinks.influxdb.token: required when"},
	    /* The job's volume: one source, a mount path the URIs are under. */
	    {"{%s,\"volume\":{\"mountPath\":\"/in\"}}", "spec.volume: needs a volume source"},
	    {"{%s,\"volume\":{\"mountPath\":\"/in\",\"hostPath\":{},\"nfs\":{}}}",
	     "spec.volume: one volume source, not both hostPath and nfs"},
	    {"{%s,\"volume\":{\"hostPath\":{\"path\":\"/v\"}}}", "spec.volume.mountPath: required"},
	    {"{%s,\"volume\":{\"mountPath\":\"in\",\"hostPath\":{}}}",
	     "spec.volume.mountPath: \"in\" is not an absolute path"},
	    {"{%s,\"volume\":{\"mountPath\":\"/a/../in\",\"hostPath\":{}}}",
	     "spec.volume.mountPath: \"/a/../in\" is not an absolute path"},
	    {"{%s,\"volume\":{\"mountPath\":\"/in\",\"readOnly\":true,\"hostPath\":{}}}",
	     "spec.volume.readOnly: the workers write"},
	    {"{%s,\"volume\":{\"mountPath\":\"/in\",\"subPath\":\"../x\",\"hostPath\":{}}}",
	     "spec.volume.subPath: must be a relative path"},
	    {"{%s,\"volume\":{\"mountPath\":\"/in\",\"hostPath\":{}}}",
	     "spec.output.uri: \"file:///out/a.mp4\" is not under spec.volume.mountPath /in"},
	    {"{%s,\"volume\":{\"mountPath\":\"/i\",\"hostPath\":{}}}",
	     "spec.source.uri: \"file:///in/a.mp4\" is not under spec.volume.mountPath /i"},
	    /* The pods' placement: shapes only. */
	    {"{%s,\"workers\":{\"env\":{\"A\":\"b\"}}}", "spec.workers.env: must be a list"},
	    {"{%s,\"workers\":{\"env\":[{\"value\":\"b\"}]}}",
	     "spec.workers.env[0].name: required"},
	    {"{%s,\"workers\":{\"env\":[{\"name\":\"A\"},{\"name\":\"A\"}]}}",
	     "spec.workers.env[1].name: \"A\" given twice"},
	    {"{%s,\"workers\":{\"env\":[{\"name\":\"A\",\"secret\":\"x\"}]}}",
	     "spec.workers.env[0].secret: unknown field"},
	    {"{%s,\"workers\":{\"nodeSelector\":{\"disk\":1}}}",
	     "spec.workers.nodeSelector.disk: must be a string"},
	    {"{%s,\"workers\":{\"tolerations\":[1]}}", "spec.workers.tolerations[0]: must be an"},
	    {"{%s,\"workers\":{\"affinity\":[]}}", "spec.workers.affinity: must be an object"},
	    {"{%s,\"workers\":{\"serviceAccountName\":\"Bad_SA\"}}",
	     "spec.workers.serviceAccountName: must be a DNS name"},
	};
	char text[1024], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vj_spec s;

		const char *at = strstr(cases[i].spec, "%s");

		/* Splice BASE in by hand: the cases are not format strings. */
		if (at != NULL)
			snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - cases[i].spec),
			         cases[i].spec, BASE, at + 2);
		else
			snprintf(text, sizeof(text), "%s", cases[i].spec);
		if (parse_text(text, &s, err, sizeof(err)) != VJ_SPEC_E_INVALID)
			fail_msg("case %zu (%s) parsed", i, text);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, cases[i].want);
	}
}

static void test_volume_holds_the_files(void **state)
{
	struct vj_spec s;
	char err[256];
	(void)state;

	assert_int_equal(parse_text("{\"source\":{\"uri\":\"file:///videos/in/a.mp4\"},"
	                            "\"output\":{\"uri\":\"file:///videos/out/a.mp4\"},"
	                            "\"kafka\":{\"bootstrap\":\"k:9092\"},"
	                            "\"volume\":{\"mountPath\":\"/videos\",\"subPath\":\"a\","
	                            "\"persistentVolumeClaim\":{\"claimName\":\"v\"}},"
	                            "\"workers\":{\"env\":[{\"name\":\"SLUICE_LOG_LEVEL\","
	                            "\"value\":\"debug\"}],\"serviceAccountName\":\"video\"}}",
	                            &s, err, sizeof(err)),
	                 0);
	assert_string_equal(s.volume_mount_path, "/videos");
	vj_spec_free(&s);
	/* An http(s) source needs no volume; the output still must be on it. */
	assert_int_equal(parse_text("{\"source\":{\"uri\":\"https://h/a.mp4\"},"
	                            "\"output\":{\"uri\":\"file:///videos/a.mp4\"},"
	                            "\"kafka\":{\"bootstrap\":\"k:9092\"},"
	                            "\"volume\":{\"mountPath\":\"/videos/\",\"hostPath\":{}}}",
	                            &s, err, sizeof(err)),
	                 0);
	vj_spec_free(&s);
	/* A prefix that is not a directory does not count. */
	assert_int_equal(parse_text("{\"source\":{\"uri\":\"file:///videos2/a.mp4\"},"
	                            "\"output\":{\"uri\":\"file:///videos/a.mp4\"},"
	                            "\"kafka\":{\"bootstrap\":\"k:9092\"},"
	                            "\"volume\":{\"mountPath\":\"/videos\",\"hostPath\":{}}}",
	                            &s, err, sizeof(err)),
	                 VJ_SPEC_E_INVALID);
	assert_non_null(strstr(err, "spec.source.uri"));
}

static void test_long_name_needs_topic(void **state)
{
	char name[254], text[512], err[512];
	cJSON *j;
	struct vj_spec s;

	(void)state;
	memset(name, 'a', 253);
	name[253] = '\0';
	snprintf(text, sizeof(text), "{" BASE "}");
	j = cJSON_Parse(text);
	assert_int_equal(vj_spec_parse(j, name, "ns", &s, err, sizeof(err)), VJ_SPEC_E_INVALID);
	assert_non_null(strstr(err, "set spec.kafka.topic"));
	cJSON_Delete(j);
}

static void test_documents(void **state)
{
	struct vj_spec s;
	char err[256];
	cJSON *j;

	(void)state;
	j = cJSON_Parse("{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"VideoJob\","
	                "\"metadata\":{\"name\":\"v\",\"namespace\":\"n\"},\"spec\":{" BASE "}}");
	assert_int_equal(vj_spec_parse_document(j, &s, err, sizeof(err)), 0);
	assert_string_equal(s.kafka.topic, "sluice-vj-n-v");
	vj_spec_free(&s);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"kind\":\"TelemetryWindow\",\"name\":\"v\",\"spec\":{" BASE "}}");
	assert_int_equal(vj_spec_parse_document(j, &s, err, sizeof(err)), VJ_SPEC_E_INVALID);
	assert_string_equal(err, "kind: \"TelemetryWindow\" is not VideoJob");
	cJSON_Delete(j);

	j = cJSON_Parse("{\"spec\":{" BASE "}}");
	assert_int_equal(vj_spec_parse_document(j, &s, err, sizeof(err)), VJ_SPEC_E_INVALID);
	assert_string_equal(err, "name: required");
	cJSON_Delete(j);
}

static void test_load_file_yaml_and_json(void **state)
{
	char path[] = "/tmp/test_vj_spec_XXXXXX", err[512];
	struct vj_spec s;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("name: clip\nnamespace: media\nspec:\n  source: {uri: 'file:///in.mkv'}\n"
	      "  output: {uri: 'file:///out.mp4'}\n  kafka: {bootstrap: 'k:9092'}\n"
	      "  segmentSeconds: 3\n",
	      f);
	fclose(f);
	assert_int_equal(vj_spec_load_file(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.segment_seconds, 3);
	assert_string_equal(s.namespace, "media");
	assert_string_equal(vj_spec_file_path(s.output_uri), "/out.mp4");
	assert_null(vj_spec_file_path("http://h/x"));
	vj_spec_free(&s);

	f = fopen(path, "w");
	fputs("{\"name\":\"clip\",\"spec\":{" BASE ",\"segmentSeconds\":\"2\"}}", f);
	fclose(f);
	assert_int_equal(vj_spec_load_file(path, &s, err, sizeof(err)), VJ_SPEC_E_INVALID);
	assert_non_null(strstr(err, ": spec.segmentSeconds: must be an integer"));
	unlink(path);
	assert_int_equal(vj_spec_load_file(path, &s, err, sizeof(err)), VJ_SPEC_E_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_given_values),
	    cmocka_unit_test(test_postgres_delete_with_job),
	    cmocka_unit_test(test_encoder_codecs),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_long_name_needs_topic),
	    cmocka_unit_test(test_volume_holds_the_files),
	    cmocka_unit_test(test_documents),
	    cmocka_unit_test(test_load_file_yaml_and_json),
	};

	return cmocka_run_group_tests_name("vj_spec", tests, NULL, NULL);
}
