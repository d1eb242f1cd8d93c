/* Unit tests for workers/video/watch_status.c (status.watcher: when it is
 * sent, the merge patch, reading it back) and workers/video/watch_marker.c
 * (the markers of taken files, in a temporary folder). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "watch_marker.h"
#include "watch_status.h"

#define T0 INT64_C(1000000)
#define MIN WATCH_STATUS_MIN_INTERVAL_MS

static void fill(struct watch_status *s)
{
	memset(s, 0, sizeof(*s));
	s->files_seen = 3;
	s->jobs_created = 2;
	s->files_rejected = 1;
	snprintf(s->last_file, sizeof(s->last_file), "b.mp4");
	snprintf(s->last_job, sizeof(s->last_job), "cam-b-1a2b3c4d");
	s->last_scan_ns = INT64_C(1795410000123000000); /* 2026-11-23T05:00:00.123Z */
	snprintf(s->upload_url, sizeof(s->upload_url), "http://10.0.0.7:8080/uploads");
}

/* Each field on its own makes a difference. */
static void test_equal(void **state)
{
	struct watch_status a, b;

	(void)state;
	fill(&a);
	fill(&b);
	assert_true(watch_status_equal(&a, &b));
	b.files_seen++;
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.jobs_created++;
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.files_rejected++;
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.last_scan_ns++;
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.last_file[0] = 'c';
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.last_job[0] = 'x';
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	snprintf(b.folder_error, sizeof(b.folder_error), "/videos: No such file or directory");
	assert_false(watch_status_equal(&a, &b));
	fill(&b);
	b.upload_url[0] = '\0';
	assert_false(watch_status_equal(&a, &b));
}

struct due_case {
	const char *what;
	int changed;       /* cur differs from sent */
	int64_t sent_at;   /* -1: none sent yet */
	int64_t now;       /* ms after T0 */
	int want, want_at; /* want_at: ms after T0, or -1 */
};

/* clang-format off */
static const struct due_case dues[] = {
    {"nothing sent yet: now", 0, -1, 0, 1, -1},
    {"nothing sent yet, even unchanged", 0, -1, 5, 1, -1},
    {"unchanged: never", 0, 0, 100 * MIN, 0, -1},
    {"changed, interval passed", 1, 0, MIN, 1, -1},
    {"changed, long after", 1, 0, 50 * MIN, 1, -1},
    {"changed too soon: at the interval's end", 1, 0, MIN - 1, 0, MIN},
    {"changed right after a send", 1, 10, 10, 0, 10 + MIN},
};
/* clang-format on */

static void test_due(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dues) / sizeof(dues[0]); i++) {
		const struct due_case *c = &dues[i];
		struct watch_status cur, sent;
		int64_t at = 12345;
		int got;

		fill(&cur);
		fill(&sent);
		if (c->changed)
			cur.files_seen++;
		got = watch_status_due(&cur, &sent, c->sent_at < 0 ? -1 : T0 + c->sent_at,
		                       T0 + c->now, &at);
		if (got != c->want || at != (c->want_at < 0 ? -1 : T0 + c->want_at))
			fail_msg("%s: got %d at %lld", c->what, got, (long long)(at - T0));
	}
}

static void test_patch(void **state)
{
	struct watch_status s;
	cJSON *p, *w;
	char *text;

	(void)state;
	fill(&s);
	p = watch_status_patch(&s);
	assert_non_null(p);
	text = cJSON_PrintUnformatted(p);
	assert_string_equal(text, "{\"status\":{\"watcher\":{\"filesSeen\":3,\"jobsCreated\":2,"
	                          "\"filesRejected\":1,\"lastFile\":\"b.mp4\",\"lastJob\":"
	                          "\"cam-b-1a2b3c4d\",\"folderError\":\"\",\"uploadURL\":"
	                          "\"http://10.0.0.7:8080/uploads\",\"lastScanTime\":"
	                          "\"2026-11-23T05:00:00.123Z\"}}}");
	free(text);
	cJSON_Delete(p);

	/* Before the first scan no lastScanTime; an error is sent as is. */
	memset(&s, 0, sizeof(s));
	snprintf(s.folder_error, sizeof(s.folder_error), "/videos/incoming: Permission denied");
	p = watch_status_patch(&s);
	w = cJSON_GetObjectItem(cJSON_GetObjectItem(p, "status"), "watcher");
	assert_null(cJSON_GetObjectItem(w, "lastScanTime"));
	assert_string_equal(cJSON_GetObjectItem(w, "folderError")->valuestring,
	                    "/videos/incoming: Permission denied");
	assert_string_equal(cJSON_GetObjectItem(w, "uploadURL")->valuestring, "");
	assert_int_equal(cJSON_GetObjectItem(w, "filesSeen")->valuedouble, 0);
	cJSON_Delete(p);
}

static void test_seed(void **state)
{
	struct watch_status s;
	cJSON *obj;

	(void)state;
	memset(&s, 0, sizeof(s));
	obj = cJSON_Parse("{\"metadata\":{\"name\":\"cam\"},\"status\":{\"active\":2,\"watcher\":"
	                  "{\"filesSeen\":40,\"jobsCreated\":38,\"filesRejected\":2,"
	                  "\"lastFile\":\"z.mp4\",\"lastJob\":\"cam-z-00000001\","
	                  "\"folderError\":\"old\",\"uploadURL\":\"http://old:1/uploads\"}}}");
	watch_status_seed(&s, obj);
	cJSON_Delete(obj);
	assert_int_equal(s.files_seen, 40);
	assert_int_equal(s.jobs_created, 38);
	assert_int_equal(s.files_rejected, 2);
	assert_string_equal(s.last_file, "z.mp4");
	assert_string_equal(s.last_job, "cam-z-00000001");
	/* What the new watcher knows better is not taken over. */
	assert_string_equal(s.folder_error, "");
	assert_string_equal(s.upload_url, "");

	/* Malformed or absent: left alone. */
	fill(&s);
	obj = cJSON_Parse("{\"status\":{\"watcher\":{\"filesSeen\":-1,\"jobsCreated\":1.5,"
	                  "\"filesRejected\":\"7\",\"lastFile\":3}}}");
	watch_status_seed(&s, obj);
	cJSON_Delete(obj);
	assert_int_equal(s.files_seen, 3);
	assert_int_equal(s.jobs_created, 2);
	assert_int_equal(s.files_rejected, 1);
	assert_string_equal(s.last_file, "b.mp4");
	obj = cJSON_Parse("{\"status\":{}}");
	watch_status_seed(&s, obj);
	cJSON_Delete(obj);
	watch_status_seed(&s, NULL);
	assert_int_equal(s.files_seen, 3);
}

/* ------------------------------------------------------------- markers */

static int tmp_setup(void **state)
{
	char *dir = strdup("/tmp/test_watch_marker.XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int tmp_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	if (system(cmd) != 0)
		return -1;
	free(*state);
	return 0;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_marker_path(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(watch_marker_path(buf, sizeof(buf), "/videos/in", "cam", "a.mp4"), 0);
	assert_string_equal(buf, "/videos/in/.sluice/cam/a.mp4");
	assert_int_equal(watch_marker_path(buf, sizeof(buf), "/videos/in", "cam", NULL), 0);
	assert_string_equal(buf, "/videos/in/.sluice/cam");
	assert_int_equal(watch_marker_path(buf, 10, "/videos/in", "cam", "a.mp4"), -1);
}

static void test_marker_write(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX], buf[256], err[512];
	struct stat st;

	assert_int_equal(watch_marker_exists(dir, "cam", "a.mp4"), 0);
	assert_int_equal(
	    watch_marker_write(dir, "cam", "a.mp4", "cam-a-12345678", err, sizeof(err)), 0);
	assert_int_equal(watch_marker_exists(dir, "cam", "a.mp4"), 1);
	/* Another watch on the same folder keeps markers of its own. */
	assert_int_equal(watch_marker_exists(dir, "other", "a.mp4"), 0);
	snprintf(path, sizeof(path), "%s/.sluice/cam/a.mp4", dir);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "cam-a-12345678");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* Written again (a second watcher at once): replaced whole. */
	assert_int_equal(watch_marker_write(dir, "cam", "a.mp4", "x", err, sizeof(err)), 0);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "x");
	/* No temporary file left behind. */
	snprintf(path, sizeof(path), "ls -A '%s/.sluice/cam' | wc -l | grep -qx 1", dir);
	assert_int_equal(system(path), 0);
}

static void test_marker_errors(void **state)
{
	const char *dir = *state;
	char path[PATH_MAX], err[512];
	FILE *f;

	/* .sluice is a file, not a folder: the marker cannot be written,
	 * and the message names where. */
	snprintf(path, sizeof(path), "%s/.sluice", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(watch_marker_write(dir, "cam", "a.mp4", "j", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/.sluice"));
	assert_non_null(strstr(err, "Not a directory"));
	assert_int_equal(watch_marker_exists(dir, "cam", "a.mp4"), 0);
	/* A folder that is not there. */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(watch_marker_write(path, "cam", "a.mp4", "j", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(watch_marker_exists(path, "cam", "a.mp4"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_due),
	    cmocka_unit_test(test_patch),
	    cmocka_unit_test(test_seed),
	    cmocka_unit_test(test_marker_path),
	    cmocka_unit_test_setup_teardown(test_marker_write, tmp_setup, tmp_teardown),
	    cmocka_unit_test_setup_teardown(test_marker_errors, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
