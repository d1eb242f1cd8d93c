/*
 * fuzz_vw_spec.c - libFuzzer target for the VideoWatch spec reader
 * (lib/contract/vw_spec.c) and what the watcher makes from an accepted
 * spec: the watched folder's path, a file's VideoJob name and the VideoJob
 * object itself (vw_job_object).
 *
 * Checks beyond the sanitizers: a refusal is one line naming the field; an
 * accepted spec holds its documented bounds; a job name is a DNS label of at
 * most 47 bytes and the same for the same file; every VideoJob object the
 * watcher makes is one vj_spec_parse_document accepts (a template that
 * cannot make a valid job is refused up front or named per file, never
 * handed to the API server broken). Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_input.h"
#include "spec_read.h"
#include "vj_spec.h"
#include "vw_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names a folder may hold: plain, spaced, upper-case, UTF-8, hidden, no
 * extension, only an extension, and the longest an upload takes. */
static const char *const files[] = {
    "clip.mp4",
    "Front Door 2024-01-01.MOV",
    "\xc3\xa9t\xc3\xa9.mkv",
    ".hidden.mp4",
    "x",
    ".mp4",
    "a.b.c.webm",
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
    "8901234567890123456789012345678901234567890123456789012345678901234567890123456789012345"
    "678901234567890123.mp4",
};

static void check_job_name(const struct vw_spec *s, const char *file)
{
	char a[64], b[64];

	FUZZ_CHECK(vw_job_name(s->name, file, a, sizeof(a)) == 0);
	FUZZ_CHECK(strlen(a) <= 47 && spec_dns_name_ok(a, 63, 0));
	FUZZ_CHECK(vw_job_name(s->name, file, b, sizeof(b)) == 0 && strcmp(a, b) == 0);
	FUZZ_CHECK(vw_job_name(s->name, file, b, strlen(a)) == -1);
}

static void check_job_object(const struct vw_spec *s, const char *file)
{
	char errbuf[512];
	struct vj_spec job;
	cJSON *obj;
	int rc;

	errbuf[0] = '\0';
	obj = vw_job_object(s, file, errbuf, sizeof(errbuf));
	fuzz_note(obj != NULL ? "job made" : "no job", errbuf);
	if (obj == NULL) {
		fuzz_check_one_line(errbuf);
		return;
	}
	errbuf[0] = '\0';
	rc = vj_spec_parse_document(obj, &job, errbuf, sizeof(errbuf));
	if (rc != 0)
		fprintf(stderr, "vw_job_object made a VideoJob the reader refuses: %s\n", errbuf);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(strcmp(job.namespace, s->namespace) == 0);
	vj_spec_free(&job);
	cJSON_Delete(obj);
}

static void check_spec(const struct vw_spec *s)
{
	char dir[8192];

	FUZZ_CHECK(s->name != NULL && s->namespace != NULL);
	FUZZ_CHECK(s->mount_path != NULL && s->mount_path[0] == '/');
	FUZZ_CHECK(s->directory != NULL && s->directory[0] != '/');
	FUZZ_CHECK(s->glob != NULL);
	FUZZ_CHECK(s->settle_seconds >= 0 && s->settle_seconds <= 86400);
	FUZZ_CHECK(s->rescan_seconds >= 1 && s->rescan_seconds <= 3600);
	FUZZ_CHECK(s->successful_history >= 0 && s->successful_history <= 1000);
	FUZZ_CHECK(s->failed_history >= 0 && s->failed_history <= 1000);
	FUZZ_CHECK(!s->upload.enabled ||
	           (s->upload.token.name != NULL && s->upload.port >= 1 &&
	            s->upload.port <= 65535 && s->upload.max_bytes >= (1LL << 20) &&
	            s->upload.max_bytes <= (1LL << 40)));
	FUZZ_CHECK(s->volume != NULL && s->template != NULL);
	FUZZ_CHECK(vw_spec_dir_path(s, dir, sizeof(dir)) == 0 && dir[0] == '/');
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		check_job_name(s, files[i]);
		if (!vw_name_matches(s, files[i])) {
			FUZZ_CHECK(files[i][0] == '.' || strcmp(s->glob, "*") != 0);
			continue;
		}
		FUZZ_CHECK(files[i][0] != '.');
		check_job_object(s, files[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = fuzz_document(data, size);
	struct vw_spec spec;
	char errbuf[512];
	int rc;

	if (doc == NULL)
		return 0;
	errbuf[0] = '\0';
	rc = vw_spec_parse_document(doc, &spec, errbuf, sizeof(errbuf));
	fuzz_note(rc == 0 ? "accepted" : "refused", errbuf);
	FUZZ_CHECK(rc == 0 || rc == VW_SPEC_E_INVALID || rc == VW_SPEC_E_NOMEM);
	if (rc != 0) {
		fuzz_check_one_line(errbuf);
	} else {
		check_spec(&spec);
		vw_spec_free(&spec);
		vw_spec_free(&spec);
	}
	cJSON_Delete(doc);
	return 0;
}
