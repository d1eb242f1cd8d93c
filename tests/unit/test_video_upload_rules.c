/* Unit tests for workers/video/upload_rules.c: the upload endpoint's
 * decisions, as tables of requests and what each must get (status and
 * message), then the token comparison, the temporary name, the follow URL
 * and the 201's JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "upload_rules.h"
#include "vw_spec.h"

#define TOKEN "s3cret-Token_42"

static const char spec_json[] =
    "{\"volume\":{\"mountPath\":\"/videos\",\"persistentVolumeClaim\":{\"claimName\":\"v\"}},"
    "\"directory\":\"incoming\",\"glob\":\"*.mp4\","
    "\"upload\":{\"token\":{\"name\":\"up\",\"key\":\"token\"},\"maxBytes\":2097152},"
    "\"template\":{\"output\":{\"uri\":\"file:///videos/out/{stem}.mkv\"},"
    "\"kafka\":{\"bootstrap\":\"kafka:9092\"}}}";

static int setup(void **state)
{
	struct vw_spec *s = calloc(1, sizeof(*s));
	cJSON *j = cJSON_Parse(spec_json);
	char err[512];

	if (s == NULL || j == NULL)
		return -1;
	if (vw_spec_parse(j, "cam", "media", s, err, sizeof(err)) != 0) {
		fprintf(stderr, "spec: %s\n", err);
		cJSON_Delete(j);
		free(s);
		return -1;
	}
	cJSON_Delete(j);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	vw_spec_free(*state);
	free(*state);
	return 0;
}

struct req_case {
	const char *what;
	const char *method, *path, *auth;
	long long length;
	unsigned int status; /* 0: accepted */
	const char *message; /* a part of the message; NULL: any */
	const char *name;    /* accepted: the file name */
};

/* clang-format off */
static const struct req_case requests[] = {
    {"curl -T movie.mp4 .../uploads/", "PUT", "/uploads/movie.mp4", "Bearer " TOKEN, 1000, 0, NULL, "movie.mp4"},
    {"no length (chunked)", "PUT", "/uploads/a.mp4", "Bearer " TOKEN, -1, 0, NULL, "a.mp4"},
    {"exactly maxBytes", "PUT", "/uploads/a.mp4", "Bearer " TOKEN, 2097152, 0, NULL, "a.mp4"},
    {"scheme in any case", "PUT", "/uploads/a.mp4", "bearer " TOKEN, 1, 0, NULL, "a.mp4"},
    {"spaces after the scheme", "PUT", "/uploads/a.mp4", "Bearer   " TOKEN, 1, 0, NULL, "a.mp4"},
    {"spaces and UTF-8 in the name", "PUT", "/uploads/caf\xc3\xa9 2024.mp4", "Bearer " TOKEN, 1, 0, NULL, "caf\xc3\xa9 2024.mp4"},
    {"GET", "GET", "/uploads/a.mp4", "Bearer " TOKEN, -1, 405, "PUT /uploads/<file>", NULL},
    {"POST", "POST", "/uploads/a.mp4", "Bearer " TOKEN, 1, 405, "method not allowed", NULL},
    {"DELETE without a token is still 405", "DELETE", "/uploads/a.mp4", NULL, -1, 405, NULL, NULL},
    {"outside /uploads/", "PUT", "/a.mp4", "Bearer " TOKEN, 1, 404, "not found", NULL},
    {"/uploads without slash", "PUT", "/uploads", "Bearer " TOKEN, 1, 404, NULL, NULL},
    {"/uploadsX/", "PUT", "/uploadsX/a.mp4", "Bearer " TOKEN, 1, 404, NULL, NULL},
    {"no token", "PUT", "/uploads/a.mp4", NULL, 1, 401, "Authorization: Bearer", NULL},
    {"wrong token", "PUT", "/uploads/a.mp4", "Bearer nope", 1, 401, "unauthorized", NULL},
    {"token with a byte more", "PUT", "/uploads/a.mp4", "Bearer " TOKEN "x", 1, 401, NULL, NULL},
    {"token with a byte less", "PUT", "/uploads/a.mp4", "Bearer s3cret-Token_4", 1, 401, NULL, NULL},
    {"empty bearer", "PUT", "/uploads/a.mp4", "Bearer ", 1, 401, NULL, NULL},
    {"basic auth", "PUT", "/uploads/a.mp4", "Basic " TOKEN, 1, 401, NULL, NULL},
    {"token alone", "PUT", "/uploads/a.mp4", TOKEN, 1, 401, NULL, NULL},
    {"bad token wins over a bad name", "PUT", "/uploads/.x", "Bearer bad", 1, 401, NULL, NULL},
    {"bad token wins over a size", "PUT", "/uploads/a.mp4", "Bearer bad", 1LL << 40, 401, NULL, NULL},
    {"one byte over maxBytes", "PUT", "/uploads/a.mp4", "Bearer " TOKEN, 2097153, 413, "2097153 bytes is over the watch's limit of 2097152 bytes (spec.upload.maxBytes)", NULL},
    {"size wins over a bad name", "PUT", "/uploads/.x", "Bearer " TOKEN, 1LL << 40, 413, NULL, NULL},
    {"no name", "PUT", "/uploads/", "Bearer " TOKEN, 1, 400, "no file name", NULL},
    {"two segments", "PUT", "/uploads/a/b.mp4", "Bearer " TOKEN, 1, 400, "one path segment", NULL},
    {"trailing slash", "PUT", "/uploads/b.mp4/", "Bearer " TOKEN, 1, 400, "one path segment", NULL},
    {"dot file", "PUT", "/uploads/.hidden.mp4", "Bearer " TOKEN, 1, 400, "must not start with '.'", NULL},
    {"dot dot", "PUT", "/uploads/..", "Bearer " TOKEN, 1, 400, "must not start with '.'", NULL},
    {"a temporary upload's name", "PUT", "/uploads/.upload-a.mp4-0123456789abcdef", "Bearer " TOKEN, 1, 400, NULL, NULL},
    {"the glob", "PUT", "/uploads/clip.mov", "Bearer " TOKEN, 1, 400, "\"clip.mov\" does not match the watch's glob \"*.mp4\"", NULL},
    {"control byte", "PUT", "/uploads/a\nb.mp4", "Bearer " TOKEN, 1, 400, "control character", NULL},
    {"DEL byte", "PUT", "/uploads/a\x7f.mp4", "Bearer " TOKEN, 1, 400, "control character", NULL},
};
/* clang-format on */

static void test_requests(void **state)
{
	const struct vw_spec *spec = *state;

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		const struct req_case *c = &requests[i];
		struct upload_verdict v;
		const char *name = (const char *)1;
		int rc = upload_check_request(spec, TOKEN, c->method, c->path, c->auth, c->length,
		                              &name, &v);

		if (c->status == 0) {
			if (rc != 0)
				fail_msg("%s: refused %u %s", c->what, v.status, v.message);
			assert_non_null(name);
			assert_string_equal(name, c->name);
			continue;
		}
		if (rc == 0)
			fail_msg("%s: accepted, want %u", c->what, c->status);
		if (v.status != c->status)
			fail_msg("%s: got %u (%s), want %u", c->what, v.status, v.message,
			         c->status);
		assert_null(name);
		if (c->message != NULL && strstr(v.message, c->message) == NULL)
			fail_msg("%s: message \"%s\" lacks \"%s\"", c->what, v.message, c->message);
	}
}

static void test_long_names(void **state)
{
	const struct vw_spec *spec = *state;
	struct upload_verdict v;
	char name[UPLOAD_NAME_MAX + 8];

	memset(name, 'a', UPLOAD_NAME_MAX - 4);
	memcpy(name + UPLOAD_NAME_MAX - 4, ".mp4", 5);
	assert_int_equal(strlen(name), UPLOAD_NAME_MAX);
	assert_int_equal(upload_check_name(spec, name, &v), 0);
	assert_int_equal(v.status, 0);
	memset(name, 'a', UPLOAD_NAME_MAX - 3);
	memcpy(name + UPLOAD_NAME_MAX - 3, ".mp4", 5);
	assert_int_equal(upload_check_name(spec, name, &v), -1);
	assert_int_equal(v.status, 400);
	assert_non_null(strstr(v.message, "201 bytes long, at most 200"));
}

static void test_token(void **state)
{
	(void)state;
	assert_true(upload_token_ok("t", "Bearer t"));
	assert_true(upload_token_ok("t", "BEARER t"));
	assert_false(upload_token_ok("t", "Bearer t "));
	assert_false(upload_token_ok("t", "Bearer "));
	assert_false(upload_token_ok("t", "Bearer"));
	assert_false(upload_token_ok("t", NULL));
	assert_false(upload_token_ok("t", ""));
	assert_false(upload_token_ok("", "Bearer "));
	assert_false(upload_token_ok(NULL, "Bearer x"));
	assert_false(upload_token_ok("abc", "Bearer abd"));
	assert_false(upload_token_ok("abc", "Bearer ab"));
	assert_false(upload_token_ok("abc", "Bearer abcd"));
	/* A given token that holds expected and a NUL-free tail. */
	assert_false(upload_token_ok("abc", "Bearer abc\x01"));
}

static void test_over_limit(void **state)
{
	struct upload_verdict v;

	(void)state;
	assert_int_equal(upload_over_limit(0, 10, &v), 0);
	assert_int_equal(upload_over_limit(10, 10, &v), 0);
	assert_int_equal(upload_over_limit(11, 10, &v), 1);
	assert_int_equal(v.status, 413);
	assert_string_equal(v.message, "the upload is over the watch's limit of 10 bytes "
	                               "(spec.upload.maxBytes)");
}

static void test_temp_name(void **state)
{
	char buf[256], longname[UPLOAD_NAME_MAX + 1];

	(void)state;
	assert_int_equal(upload_temp_name(buf, sizeof(buf), "a.mp4", 0x0123456789abcdefULL), 0);
	assert_string_equal(buf, ".upload-a.mp4-0123456789abcdef");
	assert_int_equal(upload_temp_name(buf, sizeof(buf), "a.mp4", 1), 0);
	assert_string_equal(buf, ".upload-a.mp4-0000000000000001");
	/* The longest name still fits a directory entry (255 bytes). */
	memset(longname, 'x', UPLOAD_NAME_MAX);
	longname[UPLOAD_NAME_MAX] = '\0';
	assert_int_equal(upload_temp_name(buf, sizeof(buf), longname, 7), 0);
	assert_true(strlen(buf) <= 255);
	assert_int_equal(upload_temp_name(buf, 10, "a.mp4", 1), -1);
}

static void test_follow_url(void **state)
{
	char buf[256];

	(void)state;
	assert_int_equal(upload_follow_url(buf, sizeof(buf), NULL, "media", "cam-a-12345678"), 0);
	assert_string_equal(buf, "/apis/sluice.dev/v1alpha1/namespaces/media/videojobs/"
	                         "cam-a-12345678");
	assert_int_equal(upload_follow_url(buf, sizeof(buf), "", "media", "j"), 0);
	assert_string_equal(buf, "/apis/sluice.dev/v1alpha1/namespaces/media/videojobs/j");
	assert_int_equal(upload_follow_url(buf, sizeof(buf), "https://dash.example", "m", "j"), 0);
	assert_string_equal(buf, "https://dash.example/#/videojobs/m/j");
	assert_int_equal(upload_follow_url(buf, sizeof(buf), "http://10.0.0.1:8088//", "m", "j"),
	                 0);
	assert_string_equal(buf, "http://10.0.0.1:8088/#/videojobs/m/j");
	assert_int_equal(upload_follow_url(buf, 16, "https://dash.example", "m", "j"), -1);
}

static void test_response_json(void **state)
{
	char *text;
	cJSON *j;

	(void)state;
	text = upload_response_json("cam-a-1", "media", "a \"quoted\".mp4", NULL, NULL);
	assert_non_null(text);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "videoJob")->valuestring, "cam-a-1");
	assert_string_equal(cJSON_GetObjectItem(j, "namespace")->valuestring, "media");
	assert_string_equal(cJSON_GetObjectItem(j, "file")->valuestring, "a \"quoted\".mp4");
	assert_string_equal(cJSON_GetObjectItem(j, "url")->valuestring,
	                    "/apis/sluice.dev/v1alpha1/namespaces/media/videojobs/cam-a-1");
	assert_null(cJSON_GetObjectItem(j, "pending"));
	assert_int_equal(cJSON_GetArraySize(j), 4);
	cJSON_Delete(j);
	free(text);

	text = upload_response_json("j", "m", "f.mp4", "https://d/", "cannot create VideoJob j");
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "url")->valuestring,
	                    "https://d/#/videojobs/m/j");
	assert_string_equal(cJSON_GetObjectItem(j, "pending")->valuestring,
	                    "cannot create VideoJob j");
	cJSON_Delete(j);
	free(text);
}

static void test_upload_url(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(upload_url(buf, sizeof(buf), "10.1.2.3", 8080), 0);
	assert_string_equal(buf, "http://10.1.2.3:8080/uploads");
	assert_int_equal(upload_url(buf, sizeof(buf), "fd00::7", 8080), 0);
	assert_string_equal(buf, "http://[fd00::7]:8080/uploads");
	assert_int_equal(upload_url(buf, 8, "10.1.2.3", 8080), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_names, setup, teardown),
	    cmocka_unit_test(test_token),
	    cmocka_unit_test(test_over_limit),
	    cmocka_unit_test(test_temp_name),
	    cmocka_unit_test(test_follow_url),
	    cmocka_unit_test(test_response_json),
	    cmocka_unit_test(test_upload_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
