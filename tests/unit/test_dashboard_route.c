/* Unit tests for dashboard/dash_route.c: every route, methods, and the
 * segments a path may not carry, as a table of cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dash_route.h"

struct rcase {
	const char *method, *path;
	enum dash_route_id id;
	const char *ns, *name, *arg, *allow;
};

static const struct rcase cases[] = {
    /* the page */
    {"GET", "/", DASH_R_ASSET, "", "", "/index.html", NULL},
    {"HEAD", "/index.html", DASH_R_ASSET, "", "", "/index.html", NULL},
    {"GET", "/assets/app.js", DASH_R_ASSET, "", "", "/assets/app.js", NULL},
    {"GET", "/assets/uPlot.min.css", DASH_R_ASSET, "", "", "/assets/uPlot.min.css", NULL},
    {"POST", "/", DASH_R_BAD_METHOD, "", "", "", "GET, HEAD"},
    {"GET", "/assets/", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/assets/.hidden", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/assets/a/b.js", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/favicon.ico", DASH_R_NOT_FOUND, "", "", "", NULL},
    /* lists, info, workers */
    {"GET", "/api/v1/info", DASH_R_INFO, "", "", "", NULL},
    {"GET", "/api/v1/workers", DASH_R_WORKERS, "", "", "", NULL},
    {"GET", "/api/v1/videojobs", DASH_R_VJ_LIST, "", "", "", NULL},
    {"HEAD", "/api/v1/telemetrywindows", DASH_R_TW_LIST, "", "", "", NULL},
    {"GET", "/api/v1/videowatches", DASH_R_VW_LIST, "", "", "", NULL},
    {"DELETE", "/api/v1/videojobs", DASH_R_BAD_METHOD, "", "", "", "GET, HEAD"},
    {"GET", "/api/v1/videojobs/", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/pods", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v2/videojobs", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1", DASH_R_NOT_FOUND, "", "", "", NULL},
    /* one resource */
    {"GET", "/api/v1/videojobs/media/clip-1", DASH_R_VJ_GET, "media", "clip-1", "", NULL},
    {"GET", "/api/v1/videojobs/media/clip.v2/frames", DASH_R_VJ_FRAMES, "media", "clip.v2", "",
     NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors", DASH_R_TW_GET, "prod", "sensors", "", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/latest", DASH_R_TW_LATEST, "prod", "sensors", "",
     NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/history", DASH_R_TW_HISTORY, "prod", "sensors",
     "", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/export.csv", DASH_R_TW_EXPORT, "prod", "sensors",
     "", NULL},
    {"POST", "/api/v1/telemetrywindows/prod/sensors/load", DASH_R_TW_LOAD, "prod", "sensors", "",
     NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/load", DASH_R_BAD_METHOD, "", "", "", "POST"},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/load/0123456789abcdef", DASH_R_TW_LOAD_GET,
     "prod", "sensors", "0123456789abcdef", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/load/0123456789ABCDEF", DASH_R_NOT_FOUND, "", "",
     "", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/load/0123", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/load/0123456789abcdef/x", DASH_R_NOT_FOUND, "",
     "", "", NULL},
    {"GET", "/api/v1/videowatches/media/cam", DASH_R_VW_GET, "media", "cam", "", NULL},
    {"PUT", "/api/v1/videowatches/media/cam/upload/clip 1.mp4", DASH_R_VW_UPLOAD, "media", "cam",
     "clip 1.mp4", NULL},
    {"POST", "/api/v1/videowatches/media/cam/upload/clip.mp4", DASH_R_BAD_METHOD, "", "", "",
     "PUT"},
    {"PUT", "/api/v1/videowatches/media/cam/upload/", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"PUT", "/api/v1/videowatches/media/cam/upload/.x.mp4", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"PUT", "/api/v1/videowatches/media/cam/upload/a/b.mp4", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"PUT", "/api/v1/videowatches/media/cam/upload/a\tb", DASH_R_NOT_FOUND, "", "", "", NULL},
    /* a route of another kind is no route */
    {"GET", "/api/v1/videojobs/media/clip/latest", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/telemetrywindows/prod/sensors/frames", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"PUT", "/api/v1/videojobs/media/clip/upload/x.mp4", DASH_R_NOT_FOUND, "", "", "", NULL},
    /* bad segments */
    {"GET", "/api/v1/videojobs/Media/clip", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/media/-clip", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/media/clip-", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/me.dia/clip", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/../clip", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/media/..", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs//clip", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/media/clip/", DASH_R_NOT_FOUND, "", "", "", NULL},
    {"GET", "/api/v1/videojobs/media", DASH_R_NOT_FOUND, "", "", "", NULL},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		struct dash_route r;
		enum dash_route_id id = dash_route_parse(c->method, c->path, &r);

		if (id != c->id)
			fail_msg("%s %s: route %d, want %d", c->method, c->path, id, c->id);
		assert_int_equal(r.id, id);
		assert_string_equal(r.ns, c->ns);
		assert_string_equal(r.name, c->name);
		assert_string_equal(r.arg, c->arg);
		if (c->allow != NULL)
			assert_string_equal(r.allow, c->allow);
	}
}

static void test_lengths(void **state)
{
	char path[1024], long_name[300], ns[80];
	struct dash_route r;

	(void)state;
	memset(ns, 'a', 63);
	ns[63] = '\0';
	memset(long_name, 'b', 253);
	long_name[253] = '\0';
	snprintf(path, sizeof(path), "/api/v1/videojobs/%s/%s", ns, long_name);
	assert_int_equal(dash_route_parse("GET", path, &r), DASH_R_VJ_GET);
	assert_string_equal(r.name, long_name);
	ns[63] = 'a';
	ns[64] = '\0';
	snprintf(path, sizeof(path), "/api/v1/videojobs/%s/x", ns);
	assert_int_equal(dash_route_parse("GET", path, &r), DASH_R_NOT_FOUND);
	long_name[253] = 'b';
	long_name[254] = '\0';
	snprintf(path, sizeof(path), "/api/v1/videojobs/x/%s", long_name);
	assert_int_equal(dash_route_parse("GET", path, &r), DASH_R_NOT_FOUND);

	/* A file of 255 bytes is taken, 256 is not. */
	char file[300];
	memset(file, 'f', 255);
	file[255] = '\0';
	snprintf(path, sizeof(path), "/api/v1/videowatches/x/y/upload/%s", file);
	assert_int_equal(dash_route_parse("PUT", path, &r), DASH_R_VW_UPLOAD);
	assert_string_equal(r.arg, file);
	file[255] = 'f';
	file[256] = '\0';
	snprintf(path, sizeof(path), "/api/v1/videowatches/x/y/upload/%s", file);
	assert_int_equal(dash_route_parse("PUT", path, &r), DASH_R_NOT_FOUND);
}

static void test_plural_and_checks(void **state)
{
	(void)state;
	assert_string_equal(dash_route_plural(DASH_R_VJ_FRAMES), "videojobs");
	assert_string_equal(dash_route_plural(DASH_R_TW_LOAD_GET), "telemetrywindows");
	assert_string_equal(dash_route_plural(DASH_R_VW_UPLOAD), "videowatches");
	assert_null(dash_route_plural(DASH_R_INFO));
	assert_true(dash_route_ns_ok("a"));
	assert_true(dash_route_ns_ok("kube-system"));
	assert_false(dash_route_ns_ok(""));
	assert_false(dash_route_ns_ok("a_b"));
	assert_true(dash_route_name_ok("a.b-c"));
	assert_false(dash_route_name_ok("a..b/"));
	assert_true(dash_route_file_ok("Clip (1).MP4"));
	assert_false(dash_route_file_ok("a\\b"));
	assert_false(dash_route_file_ok("a\x7f"));
	assert_true(dash_route_load_id_ok("00ff00ff00ff00ff"));
	assert_false(dash_route_load_id_ok("00ff00ff00ff00fg"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_plural_and_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
