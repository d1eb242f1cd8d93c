/* dead_letter.c -- dead-letter reasons and JSON bodies; see dead_letter.h. */
#include "dead_letter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tw_time.h"
#include "tw_window.h"
#include "clock.h"

static const char *fmt_time(char *buf, size_t size, int64_t ns)
{
	if (ns == TW_TS_NONE) {
		snprintf(buf, size, "none");
		return buf;
	}
	if (clock_format_rfc3339(ns, buf, size) < 0)
		snprintf(buf, size, "%lld ns", (long long)ns);
	return buf;
}

const char *dead_letter_reason(char *buf, size_t size, int code, const struct tw_event *ev,
                               int64_t watermark_ns)
{
	char ts[CLOCK_RFC3339_MAX], wm[CLOCK_RFC3339_MAX];

	fmt_time(ts, sizeof(ts), ev->ts_ns);
	switch (code) {
	case TW_LATE:
		snprintf(buf, size,
		         "late: event time %s is before the watermark %s: every window that "
		         "contains it has closed",
		         ts, fmt_time(wm, sizeof(wm), watermark_ns));
		break;
	case TW_OVERFLOW:
		snprintf(
		    buf, size,
		    "overflow: the partition holds its most (pane, key) aggregates; event time "
		    "%s not added",
		    ts);
		break;
	case TW_WINDOW_E_RANGE:
		snprintf(buf, size,
		         "event time %s is out of the range windows handle: its windows, "
		         "watermark delay and allowed lateness must end by " TW_TIME_MAX_TEXT,
		         ts);
		break;
	default:
		snprintf(buf, size, "refused by the stream core (%d)", code);
		break;
	}
	return buf;
}

const char *dead_letter_kind(int code)
{
	switch (code) {
	case TW_LATE:
		return DLQ_KIND_LATE;
	case TW_OVERFLOW:
		return DLQ_KIND_OVERFLOW;
	default:
		return DLQ_KIND_MALFORMED;
	}
}

/* cJSON wants NUL-terminated strings; key parts and names are short. */
static int add_string_n(cJSON *obj, const char *name, const char *p, size_t len)
{
	char buf[TW_KEY_MAX + 1];

	if (len > TW_KEY_MAX)
		len = TW_KEY_MAX;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return cJSON_AddStringToObject(obj, name, buf) != NULL ? 0 : -1;
}

static int add_number_or_null(cJSON *obj, const char *name, double v)
{
	if (isfinite(v))
		return cJSON_AddNumberToObject(obj, name, v) != NULL ? 0 : -1;
	return cJSON_AddNullToObject(obj, name) != NULL ? 0 : -1;
}

static cJSON *head(const struct tw_spec *spec, const char *key, size_t key_len)
{
	char resource[512];
	cJSON *o = cJSON_CreateObject();
	cJSON *k;
	size_t start = 0, part = 0;

	if (o == NULL)
		return NULL;
	snprintf(resource, sizeof(resource), "%s/%s",
	         spec->namespace != NULL ? spec->namespace : "",
	         spec->name != NULL ? spec->name : "");
	if (cJSON_AddStringToObject(o, "resource", resource) == NULL)
		goto fail;
	k = cJSON_AddObjectToObject(o, "key");
	if (k == NULL)
		goto fail;
	for (size_t i = 0; spec->fields.nkeys > 0 && i <= key_len; i++) {
		if (i < key_len && key[i] != TW_KEY_SEP)
			continue;
		if (part < spec->fields.nkeys &&
		    add_string_n(k, spec->fields.keys[part], key + start, i - start) < 0)
			goto fail;
		part++;
		start = i + 1;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static char *finish(cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return text;
}

char *dead_letter_row_json(const struct tw_spec *spec, const struct tw_row *row)
{
	char t[CLOCK_RFC3339_MAX];
	cJSON *o = head(spec, row->key, row->key_len);
	cJSON *vals;

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "partition", row->partition) == NULL ||
	    cJSON_AddStringToObject(o, "start", fmt_time(t, sizeof(t), row->start_ns)) == NULL ||
	    cJSON_AddStringToObject(o, "end", fmt_time(t, sizeof(t), row->end_ns)) == NULL ||
	    cJSON_AddNumberToObject(o, "count", (double)row->count) == NULL)
		goto fail;
	vals = cJSON_AddObjectToObject(o, "values");
	if (vals == NULL)
		goto fail;
	for (uint32_t i = 0; i < row->nvalues && i < spec->fields.nvalues; i++) {
		const struct tw_value_result *v = &row->values[i];
		cJSON *f = cJSON_AddObjectToObject(vals, spec->fields.values[i]);
		if (f == NULL || cJSON_AddNumberToObject(f, "count", (double)v->count) == NULL ||
		    add_number_or_null(f, "sum", v->sum) < 0 ||
		    add_number_or_null(f, "min", v->min) < 0 ||
		    add_number_or_null(f, "max", v->max) < 0 ||
		    add_number_or_null(f, "mean", v->mean) < 0 ||
		    add_number_or_null(f, "p50", v->p50) < 0 ||
		    add_number_or_null(f, "p95", v->p95) < 0 ||
		    add_number_or_null(f, "p99", v->p99) < 0)
			goto fail;
	}
	return finish(o);
fail:
	cJSON_Delete(o);
	return NULL;
}

char *dead_letter_event_json(const struct tw_spec *spec, const struct tw_event *ev)
{
	char t[CLOCK_RFC3339_MAX];
	cJSON *o = head(spec, ev->key, ev->key_len);
	cJSON *vals;

	if (o == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "time", fmt_time(t, sizeof(t), ev->ts_ns)) == NULL)
		goto fail;
	vals = cJSON_AddObjectToObject(o, "values");
	if (vals == NULL)
		goto fail;
	for (size_t i = 0; i < spec->fields.nvalues && i < TW_VALUES_MAX; i++) {
		if ((ev->present & (1u << i)) != 0 &&
		    add_number_or_null(vals, spec->fields.values[i], ev->values[i]) < 0)
			goto fail;
	}
	return finish(o);
fail:
	cJSON_Delete(o);
	return NULL;
}
