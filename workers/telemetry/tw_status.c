/* tw_status.c -- the telemetry worker's GET /status state; see tw_status.h. */
#include "tw_status.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"

int tw_status_init(struct tw_status *s, const char *resource, const char *topic,
                   struct tw_health *health, size_t nsinks)
{
	memset(s, 0, sizeof(*s));
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		return -1;
	s->inited = 1;
	s->resource = resource;
	s->topic = topic;
	s->health = health;
	s->nsinks = nsinks;
	return 0;
}

void tw_status_destroy(struct tw_status *s)
{
	if (!s->inited)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->parts);
	memset(s, 0, sizeof(*s));
}

static int by_partition(const void *a, const void *b)
{
	int32_t x = ((const struct tw_status_part *)a)->st.partition;
	int32_t y = ((const struct tw_status_part *)b)->st.partition;

	return (x > y) - (x < y);
}

int tw_status_publish(struct tw_status *s, const struct telemetry_counters *c,
                      const struct tw_status_part *parts, size_t n, int paused, uint64_t rows_held)
{
	int64_t now = clock_real_ns();

	pthread_mutex_lock(&s->mu);
	if (n > s->cap) {
		struct tw_status_part *v = realloc(s->parts, n * sizeof(*v));
		if (v == NULL) {
			pthread_mutex_unlock(&s->mu);
			return -1;
		}
		s->parts = v;
		s->cap = n;
	}
	if (n > 0) {
		memcpy(s->parts, parts, n * sizeof(*parts));
		qsort(s->parts, n, sizeof(*s->parts), by_partition);
	}
	s->nparts = n;
	s->c = *c;
	s->paused = paused;
	s->rows_held = rows_held;
	s->published = 1;
	s->published_ns = now;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* RFC 3339, or null for 0 (never). */
static cJSON *wall_time(int64_t ns)
{
	char buf[CLOCK_RFC3339_MAX];

	if (ns == 0 || clock_format_rfc3339(ns, buf, sizeof(buf)) < 0)
		return cJSON_CreateNull();
	return cJSON_CreateString(buf);
}

/* {"name", "ok", "failingForSeconds", "lastError", "lastSuccess"} */
static cJSON *slot_json(const struct tw_health_slot *v)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "name", v->name != NULL ? v->name : "") == NULL ||
	    cJSON_AddBoolToObject(o, "ok", !v->failing) == NULL ||
	    cJSON_AddNumberToObject(o, "failingForSeconds", (double)v->failing_for_ms / 1000) ==
	        NULL ||
	    !cJSON_AddItemToObject(o, "lastError",
	                           v->last_error[0] != '\0' ? cJSON_CreateString(v->last_error)
	                                                    : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(o, "lastSuccess", wall_time(v->last_ok_ns))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The snapshot's part, copied under the lock by tw_status_json. */
struct snapshot {
	int published;
	int64_t published_ns;
	struct telemetry_counters c;
	struct tw_status_part *parts;
	size_t nparts;
	int paused;
	uint64_t rows_held;
};

static cJSON *render(const struct tw_status *s, const struct snapshot *sn,
                     const struct tw_health_slot *slots, size_t nslots, const char *fatal,
                     int ready)
{
	struct telemetry_partition_status *ps = NULL;
	uint64_t open_windows = 0;
	char *text;
	cJSON *o, *arr, *parts;

	if (sn->nparts > 0) {
		ps = calloc(sn->nparts, sizeof(*ps));
		if (ps == NULL)
			return NULL;
	}
	for (size_t i = 0; i < sn->nparts; i++) {
		ps[i] = sn->parts[i].st;
		open_windows += ps[i].open_windows;
	}
	/* The counters and partitions under the names the TelemetryWindow's
	 * status and the worker's last log line use: one writer of them. */
	text = telemetry_status_json(s->resource, &sn->c, ps, sn->nparts);
	free(ps);
	o = text != NULL ? cJSON_Parse(text) : NULL;
	free(text);
	if (o == NULL)
		return NULL;
	parts = cJSON_GetObjectItem(o, "partitions");
	for (size_t i = 0; i < sn->nparts; i++) {
		cJSON *p = cJSON_GetArrayItem(parts, (int)i);
		int64_t off = sn->parts[i].consumed_offset;
		if (p == NULL || !cJSON_AddItemToObject(p, "consumedOffset",
		                                        off >= 0 ? cJSON_CreateNumber((double)off)
		                                                 : cJSON_CreateNull()))
			goto fail;
	}
	if (cJSON_AddStringToObject(o, "topic", s->topic != NULL ? s->topic : "") == NULL)
		goto fail;
	arr = cJSON_AddArrayToObject(o, "assignedPartitions");
	if (arr == NULL)
		goto fail;
	for (size_t i = 0; i < sn->nparts; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateNumber(sn->parts[i].st.partition)))
			goto fail;
	if (cJSON_AddNumberToObject(o, "openWindows", (double)open_windows) == NULL ||
	    cJSON_AddNumberToObject(o, "rowsHeld", (double)sn->rows_held) == NULL ||
	    cJSON_AddBoolToObject(o, "paused", sn->paused) == NULL ||
	    cJSON_AddBoolToObject(o, "ready", ready) == NULL ||
	    !cJSON_AddItemToObject(
	        o, "fatal", fatal[0] != '\0' ? cJSON_CreateString(fatal) : cJSON_CreateNull()) ||
	    !cJSON_AddItemToObject(o, "publishedAt",
	                           wall_time(sn->published ? sn->published_ns : 0)))
		goto fail;
	arr = cJSON_AddArrayToObject(o, "sinks");
	if (arr == NULL)
		goto fail;
	for (size_t i = 0; i < nslots && i < s->nsinks; i++)
		if (!cJSON_AddItemToArray(arr, slot_json(&slots[i])))
			goto fail;
	if (!cJSON_AddItemToObject(o, "deadLetterProducer",
	                           s->nsinks < nslots ? slot_json(&slots[s->nsinks])
	                                              : cJSON_CreateNull()))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

char *tw_status_json(struct tw_status *s, int64_t now_ms)
{
	struct tw_health_slot slots[TW_HEALTH_SLOTS];
	struct snapshot sn;
	char fatal[512] = "";
	int ready = 0;
	size_t nslots = 0;
	char *text = NULL;
	cJSON *o;

	/* Copy under the lock, render without it: the loop's next publish
	 * never waits for JSON. */
	pthread_mutex_lock(&s->mu);
	sn = (struct snapshot){.published = s->published,
	                       .published_ns = s->published_ns,
	                       .c = s->c,
	                       .nparts = s->nparts,
	                       .paused = s->paused,
	                       .rows_held = s->rows_held};
	if (sn.nparts > 0) {
		sn.parts = malloc(sn.nparts * sizeof(*sn.parts));
		if (sn.parts != NULL)
			memcpy(sn.parts, s->parts, sn.nparts * sizeof(*sn.parts));
	}
	pthread_mutex_unlock(&s->mu);
	if (sn.nparts > 0 && sn.parts == NULL)
		return NULL;
	if (s->health != NULL)
		nslots = tw_health_view(s->health, now_ms, slots, fatal, sizeof(fatal), &ready);
	o = render(s, &sn, slots, nslots, fatal, ready);
	free(sn.parts);
	if (o != NULL)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}
