/* watch_status.c -- status.watcher. See watch_status.h. */
#include "watch_status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

int watch_status_equal(const struct watch_status *a, const struct watch_status *b)
{
	return a->files_seen == b->files_seen && a->jobs_created == b->jobs_created &&
	       a->files_rejected == b->files_rejected && a->last_scan_ns == b->last_scan_ns &&
	       strcmp(a->last_file, b->last_file) == 0 && strcmp(a->last_job, b->last_job) == 0 &&
	       strcmp(a->folder_error, b->folder_error) == 0 &&
	       strcmp(a->upload_url, b->upload_url) == 0;
}

int watch_status_due(const struct watch_status *cur, const struct watch_status *sent,
                     int64_t sent_at_ms, int64_t now_ms, int64_t *at_ms)
{
	*at_ms = -1;
	if (sent_at_ms < 0)
		return 1;
	if (watch_status_equal(cur, sent))
		return 0;
	if (now_ms - sent_at_ms >= WATCH_STATUS_MIN_INTERVAL_MS)
		return 1;
	*at_ms = sent_at_ms + WATCH_STATUS_MIN_INTERVAL_MS;
	return 0;
}

cJSON *watch_status_patch(const struct watch_status *s)
{
	char when[CLOCK_RFC3339_MAX];
	cJSON *patch = cJSON_CreateObject(), *status, *w;

	if (patch == NULL || (status = cJSON_AddObjectToObject(patch, "status")) == NULL ||
	    (w = cJSON_AddObjectToObject(status, "watcher")) == NULL ||
	    cJSON_AddNumberToObject(w, "filesSeen", (double)s->files_seen) == NULL ||
	    cJSON_AddNumberToObject(w, "jobsCreated", (double)s->jobs_created) == NULL ||
	    cJSON_AddNumberToObject(w, "filesRejected", (double)s->files_rejected) == NULL ||
	    cJSON_AddStringToObject(w, "lastFile", s->last_file) == NULL ||
	    cJSON_AddStringToObject(w, "lastJob", s->last_job) == NULL ||
	    cJSON_AddStringToObject(w, "folderError", s->folder_error) == NULL ||
	    cJSON_AddStringToObject(w, "uploadURL", s->upload_url) == NULL)
		goto fail;
	if (s->last_scan_ns != 0) {
		if (clock_format_rfc3339(s->last_scan_ns, when, sizeof(when)) < 0 ||
		    cJSON_AddStringToObject(w, "lastScanTime", when) == NULL)
			goto fail;
	}
	return patch;
fail:
	cJSON_Delete(patch);
	return NULL;
}

static void seed_count(int64_t *dst, const cJSON *w, const char *name)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(w, name);

	if (cJSON_IsNumber(n) && n->valuedouble >= 0 && n->valuedouble < 9007199254740992.0 &&
	    floor(n->valuedouble) == n->valuedouble)
		*dst = (int64_t)n->valuedouble;
}

static void seed_string(char *dst, size_t size, const cJSON *w, const char *name)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(w, name);

	if (cJSON_IsString(s) && strlen(s->valuestring) < size)
		memcpy(dst, s->valuestring, strlen(s->valuestring) + 1);
}

void watch_status_seed(struct watch_status *s, const cJSON *watch)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(watch, "status");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(st, "watcher");

	if (!cJSON_IsObject(w))
		return;
	seed_count(&s->files_seen, w, "filesSeen");
	seed_count(&s->jobs_created, w, "jobsCreated");
	seed_count(&s->files_rejected, w, "filesRejected");
	seed_string(s->last_file, sizeof(s->last_file), w, "lastFile");
	seed_string(s->last_job, sizeof(s->last_job), w, "lastJob");
}
