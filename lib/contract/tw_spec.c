/* tw_spec.c -- TelemetryWindow spec: parse, default, validate; see tw_spec.h.
 *
 * Every check reports "<field path>: <what is wrong>", with the path as the
 * user wrote it in the manifest, so `kubectl apply` users and config-file
 * users read the same messages.
 */
#include "tw_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tw_agg_kind.h"
#include "spec_common.h"
#include "spec_read.h"
#include "yaml_json.h"

/* The shared readers' codes are returned as they are. */
_Static_assert((int)TW_SPEC_E_INVALID == (int)SPEC_E_INVALID &&
                   (int)TW_SPEC_E_NOMEM == (int)SPEC_E_NOMEM && (int)TW_SPEC_E_IO == (int)SPEC_E_IO,
               "spec_read.h and tw_spec.h disagree on error codes");

#define NS_PER_MS INT64_C(1000000)
#define GROUP_MAX_LEN 255

#define DEFAULT_DELAY_NS (INT64_C(10) * 1000 * NS_PER_MS)
#define DEFAULT_IDLE_NS (INT64_C(30) * 1000 * NS_PER_MS)
#define DEFAULT_TTL_NS (INT64_C(3600) * 1000 * NS_PER_MS)
/* Longest spec.sinks.redis.username (the CRD's maxLength). */
#define REDIS_USERNAME_MAX 256
#define DEFAULT_MAX_ROWS 1000
#define DEFAULT_MIN_REPLICAS 1
#define DEFAULT_MAX_REPLICAS 10
#define DEFAULT_LAG_THRESHOLD 1000
#define LAG_LIMIT INT64_C(1000000000000)

/* "1h", "2m", "5s" or "500ms": the shortest that states ns exactly at ms
 * resolution (spec durations have no finer one). */
static const char *dur_text(char *buf, size_t size, int64_t ns)
{
	int64_t ms = ns / NS_PER_MS;

	if (ns % NS_PER_MS != 0)
		snprintf(buf, size, "%" PRId64 "ns", ns);
	else if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, size, "%" PRId64 "h", ms / 3600000);
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, size, "%" PRId64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, size, "%" PRId64 "ms", ms);
	return buf;
}

/* *ns from a duration string at obj.name, or def when absent; *text is the
 * string as written (or def formatted), for later messages. */
static int get_duration(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                        int required, int64_t def, int64_t *ns, char *text, size_t text_size)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;
	long long ms;

	if (item == NULL) {
		if (required)
			return spec_fail(c, "%s.%s: required", path, name);
		*ns = def;
		dur_text(text, text_size, def);
		return 0;
	}
	if (!cJSON_IsString(item))
		return spec_fail(c, "%s.%s: must be a duration string such as \"30s\"", path, name);
	if (config_parse_duration_ms(item->valuestring, &ms) != 0)
		return spec_fail(
		    c, "%s.%s: \"%s\" is not a duration (such as 30s, 500ms, 2m, 1h, 1m30s)", path,
		    name, item->valuestring);
	if (ms > TW_SPEC_DURATION_MAX_NS / NS_PER_MS)
		return spec_fail(c, "%s.%s: %s is longer than 10000h", path, name,
		                 item->valuestring);
	*ns = (int64_t)ms * NS_PER_MS;
	snprintf(text, text_size, "%s", item->valuestring);
	return 0;
}

/*
 * Copies the list of strings at obj.name into out[0..*n): at most max
 * entries (out must hold max pointers, or *alloc_out is allocated when
 * out is NULL), each non-empty, at most TW_FIELD_NAME_MAX bytes, no repeats.
 */
static int get_names(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                     size_t max, char **out, char ***alloc_out, size_t *n)
{
	const cJSON *item = obj != NULL ? spec_member(obj, name) : NULL;
	const cJSON *it;
	int count, i = 0;

	*n = 0;
	if (item == NULL)
		return 0;
	if (!cJSON_IsArray(item))
		return spec_fail(c, "%s.%s: must be a list of strings", path, name);
	count = cJSON_GetArraySize(item);
	if ((size_t)count > max)
		return spec_fail(c, "%s.%s: %d entries, the most is %zu", path, name, count, max);
	if (out == NULL) {
		out = calloc(count > 0 ? (size_t)count : 1, sizeof(*out));
		if (out == NULL)
			return spec_nomem(c);
		*alloc_out = out;
	}
	cJSON_ArrayForEach(it, item)
	{
		if (!cJSON_IsString(it))
			return spec_fail(c, "%s.%s[%d]: must be a string", path, name, i);
		if (it->valuestring[0] == '\0')
			return spec_fail(c, "%s.%s[%d]: must not be empty", path, name, i);
		if (strlen(it->valuestring) > TW_FIELD_NAME_MAX)
			return spec_fail(c, "%s.%s[%d]: longer than %d bytes", path, name, i,
			                 TW_FIELD_NAME_MAX);
		for (int j = 0; j < i; j++)
			if (strcmp(out[j], it->valuestring) == 0)
				return spec_fail(c, "%s.%s[%d]: \"%s\" repeats %s.%s[%d]", path,
				                 name, i, it->valuestring, path, name, j);
		if (spec_dup(c, &out[i], it->valuestring) < 0)
			return TW_SPEC_E_NOMEM;
		*n = (size_t)++i;
	}
	return 0;
}

static int in_list(char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* ---- sections ------------------------------------------------------- */

static int parse_kafka(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {
	    "bootstrap", "topic", "group", "deadLetterTopic", "replicationFactor", "createTopic",
	    "tls",       "sasl",  NULL};
	const char *p = "spec.kafka";
	const cJSON *k;
	char def[GROUP_MAX_LEN + 64];
	int rc;

	if ((rc = spec_get_object(c, spec, "kafka", "spec", 1, &k)) < 0 ||
	    (rc = spec_check_fields(c, k, p, fields)) < 0 ||
	    (rc = spec_get_bootstrap(c, k, &out->kafka.bootstrap)) < 0 ||
	    (rc = spec_get_kafka_security(c, k, &out->kafka)) < 0 ||
	    (rc = spec_get_string(c, k, "topic", p, 1, NULL, SPEC_TEXT_MAX, &out->kafka.topic)) <
	        0 ||
	    (rc = spec_check_topic(c, p, "topic", out->kafka.topic, SPEC_TOPIC_MAX, NULL)) < 0)
		return rc;

	snprintf(def, sizeof(def), "sluice-tw-%s-%s", out->namespace, out->name);
	if ((rc = spec_get_string(c, k, "group", p, 0, def, SPEC_TEXT_MAX, &out->kafka.group)) < 0)
		return rc;
	if (strlen(out->kafka.group) > GROUP_MAX_LEN)
		return spec_fail(c, "%s.group: \"%s\" is longer than %d bytes", p, out->kafka.group,
		                 GROUP_MAX_LEN);

	snprintf(def, sizeof(def), "%s.dlq", out->kafka.topic);
	if ((rc = spec_get_string(c, k, "deadLetterTopic", p, 0, def, SPEC_TEXT_MAX,
	                          &out->kafka.dead_letter_topic)) < 0 ||
	    (rc = spec_check_topic(c, p, "deadLetterTopic", out->kafka.dead_letter_topic,
	                           SPEC_TOPIC_MAX, NULL)) < 0)
		return rc;
	if (strcmp(out->kafka.dead_letter_topic, out->kafka.topic) == 0)
		return spec_fail(c, "%s.deadLetterTopic: must differ from %s.topic", p, p);
	return spec_get_kafka_topics(c, k, 1, &out->kafka);
}

static int parse_format(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {"columns", "delimiter", NULL};
	const cJSON *f = spec_member(spec, "format"), *csv;
	const cJSON *d;
	int rc;

	out->format = TW_FORMAT_JSON;
	if (f != NULL) {
		if (!cJSON_IsString(f))
			return spec_fail(c, "spec.format: must be a string");
		if (tw_format_parse(f->valuestring, &out->format) < 0)
			return spec_fail(c, "spec.format: \"%s\" is not one of json, csv, influx",
			                 f->valuestring);
	}
	if ((rc = spec_get_object(c, spec, "csv", "spec", 0, &csv)) < 0)
		return rc;
	if (out->format != TW_FORMAT_CSV) {
		if (csv != NULL)
			return spec_fail(c, "spec.csv: only used with spec.format csv");
		return 0;
	}
	if (csv == NULL)
		return spec_fail(c, "spec.csv.columns: required when spec.format is csv");
	if ((rc = spec_check_fields(c, csv, "spec.csv", fields)) < 0 ||
	    (rc = get_names(c, csv, "columns", "spec.csv", TW_CSV_COLUMNS_MAX, NULL,
	                    &out->csv.columns, &out->csv.ncolumns)) < 0)
		return rc;
	if (out->csv.ncolumns == 0)
		return spec_fail(c, "spec.csv.columns: required when spec.format is csv");
	out->csv.delimiter = ',';
	d = spec_member(csv, "delimiter");
	if (d != NULL) {
		if (!cJSON_IsString(d) || strlen(d->valuestring) != 1)
			return spec_fail(c, "spec.csv.delimiter: must be one character");
		if (strchr("\"\r\n", d->valuestring[0]) != NULL)
			return spec_fail(
			    c, "spec.csv.delimiter: a quote, CR or LF cannot be the delimiter");
		out->csv.delimiter = d->valuestring[0];
	}
	return 0;
}

static int parse_timestamp_format(struct spec_ctx *c, const cJSON *f, struct tw_spec *out)
{
	const char *p = "spec.fields.timestampFormat";
	const cJSON *item = spec_member(f, "timestampFormat");
	const char *s;
	char why[256];
	struct tw_time_spec ts;
	enum tw_time_kind kind;

	if (item == NULL) {
		out->fields.timestamp_kind =
		    out->format == TW_FORMAT_LP ? TW_TIME_EPOCH_NS : TW_TIME_RFC3339;
		return 0;
	}
	if (!cJSON_IsString(item))
		return spec_fail(c, "%s: must be a string", p);
	s = item->valuestring;
	if (strchr(s, '%') != NULL) {
		if (out->format == TW_FORMAT_LP)
			return spec_fail(
			    c,
			    "%s: with spec.format influx only epoch_s, epoch_ms, epoch_us "
			    "or epoch_ns (the lines' precision)",
			    p);
		if (tw_time_spec_init(&ts, TW_TIME_STRPTIME, s, why, sizeof(why)) < 0)
			return spec_fail(c, "%s: \"%s\": %s", p, s, why);
		out->fields.timestamp_kind = TW_TIME_STRPTIME;
		return spec_dup(c, &out->fields.timestamp_pattern, s);
	}
	if (strcmp(s, "strptime") == 0)
		return spec_fail(c,
		                 "%s: give the strptime pattern itself, such as "
		                 "\"%%Y-%%m-%%d %%H:%%M:%%S\"",
		                 p);
	if (tw_time_kind_parse(s, &kind) < 0)
		return spec_fail(
		    c,
		    "%s: \"%s\" is not rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns or "
		    "a strptime pattern (with '%%')",
		    p, s);
	if (out->format == TW_FORMAT_LP && kind == TW_TIME_RFC3339)
		return spec_fail(c,
		                 "%s: with spec.format influx only epoch_s, epoch_ms, epoch_us or "
		                 "epoch_ns (the lines' precision)",
		                 p);
	out->fields.timestamp_kind = kind;
	return 0;
}

/* With CSV every field must be a column. */
static int check_columns(struct spec_ctx *c, const struct tw_spec *out)
{
	if (out->format != TW_FORMAT_CSV)
		return 0;
	if (!in_list(out->csv.columns, out->csv.ncolumns, out->fields.timestamp))
		return spec_fail(c, "spec.fields.timestamp: \"%s\" is not in spec.csv.columns",
		                 out->fields.timestamp);
	for (size_t i = 0; i < out->fields.nkeys; i++)
		if (!in_list(out->csv.columns, out->csv.ncolumns, out->fields.keys[i]))
			return spec_fail(c,
			                 "spec.fields.keys[%zu]: \"%s\" is not in spec.csv.columns",
			                 i, out->fields.keys[i]);
	for (size_t i = 0; i < out->fields.nvalues; i++)
		if (!in_list(out->csv.columns, out->csv.ncolumns, out->fields.values[i]))
			return spec_fail(
			    c, "spec.fields.values[%zu]: \"%s\" is not in spec.csv.columns", i,
			    out->fields.values[i]);
	return 0;
}

static int parse_fields(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {"timestamp", "timestampFormat", "keys", "values",
	                                     NULL};
	const char *p = "spec.fields";
	const cJSON *f;
	int rc, lp = out->format == TW_FORMAT_LP;

	if ((rc = spec_get_object(c, spec, "fields", "spec", 1, &f)) < 0 ||
	    (rc = spec_check_fields(c, f, p, fields)) < 0 ||
	    (rc = spec_get_string(c, f, "timestamp", p, !lp, "", TW_FIELD_NAME_MAX,
	                          &out->fields.timestamp)) < 0)
		return rc;
	if (lp && out->fields.timestamp[0] != '\0' && strcmp(out->fields.timestamp, "_time") != 0)
		return spec_fail(
		    c,
		    "%s.timestamp: with spec.format influx the line's own timestamp is "
		    "the event time: leave it out or write \"_time\"",
		    p);
	if ((rc = parse_timestamp_format(c, f, out)) < 0 ||
	    (rc = get_names(c, f, "keys", p, TW_KEYS_MAX, out->fields.keys, NULL,
	                    &out->fields.nkeys)) < 0 ||
	    (rc = get_names(c, f, "values", p, TW_VALUES_MAX, out->fields.values, NULL,
	                    &out->fields.nvalues)) < 0)
		return rc;
	return check_columns(c, out);
}

static int parse_window(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {
	    "size", "slide", "watermarkDelay", "allowedLateness", "idleTimeout", NULL};
	const char *p = "spec.window";
	const cJSON *w;
	char size[64], slide[64], text[64];
	int rc;

	if ((rc = spec_get_object(c, spec, "window", "spec", 1, &w)) < 0 ||
	    (rc = spec_check_fields(c, w, p, fields)) < 0 ||
	    (rc = get_duration(c, w, "size", p, 1, 0, &out->window.size_ns, size, sizeof(size))) <
	        0)
		return rc;
	if (out->window.size_ns <= 0)
		return spec_fail(c, "%s.size: must be longer than 0s", p);
	if ((rc = get_duration(c, w, "slide", p, 0, out->window.size_ns, &out->window.slide_ns,
	                       slide, sizeof(slide))) < 0)
		return rc;
	if (out->window.slide_ns <= 0)
		return spec_fail(c, "%s.slide: must be longer than 0s", p);
	if (out->window.slide_ns > out->window.size_ns)
		return spec_fail(c, "%s.slide: %s is longer than %s.size: %s", p, slide, p, size);
	if (out->window.size_ns % out->window.slide_ns != 0)
		return spec_fail(c, "%s.slide: %s does not divide %s.size: %s", p, slide, p, size);
	if (out->window.size_ns / out->window.slide_ns > TW_WINDOW_PANES_MAX)
		return spec_fail(c,
		                 "%s.slide: %s puts each event in %" PRId64
		                 " windows of %s.size: %s; "
		                 "the most is %d",
		                 p, slide, out->window.size_ns / out->window.slide_ns, p, size,
		                 TW_WINDOW_PANES_MAX);
	if ((rc = get_duration(c, w, "watermarkDelay", p, 0, DEFAULT_DELAY_NS,
	                       &out->window.watermark_delay_ns, text, sizeof(text))) < 0 ||
	    (rc = get_duration(c, w, "allowedLateness", p, 0, 0, &out->window.allowed_lateness_ns,
	                       text, sizeof(text))) < 0 ||
	    (rc = get_duration(c, w, "idleTimeout", p, 0, DEFAULT_IDLE_NS,
	                       &out->window.idle_timeout_ns, text, sizeof(text))) < 0)
		return rc;
	return 0;
}

static int parse_dedupe(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {"enabled", "horizon", "maxEntries", NULL};
	const char *p = "spec.dedupe";
	const cJSON *d;
	char text[64];
	long long n;
	int rc;

	if ((rc = spec_get_object(c, spec, "dedupe", "spec", 0, &d)) < 0 ||
	    (d != NULL && (rc = spec_check_fields(c, d, p, fields)) < 0) ||
	    (rc = spec_get_bool(c, d, "enabled", p, 1, &out->dedupe.enabled)) < 0 ||
	    (rc = get_duration(c, d, "horizon", p, 0,
	                       out->window.size_ns + out->window.watermark_delay_ns,
	                       &out->dedupe.horizon_ns, text, sizeof(text))) < 0 ||
	    (rc = spec_get_int(c, d, "maxEntries", p, TW_DEDUPE_MAX_ENTRIES_DEFAULT, 1,
	                       TW_DEDUPE_MAX_ENTRIES_LIMIT, &n)) < 0)
		return rc;
	if (out->dedupe.enabled && out->dedupe.horizon_ns <= 0)
		return spec_fail(c, "%s.horizon: must be longer than 0s", p);
	out->dedupe.max_entries = (uint32_t)n;
	return 0;
}

static int parse_aggregations(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	const cJSON *a = spec_member(spec, "aggregations"), *it;
	int i = 0;

	if (a == NULL) {
		out->aggregations = TW_AGG_ALL;
		return 0;
	}
	if (!cJSON_IsArray(a))
		return spec_fail(c, "spec.aggregations: must be a list of strings");
	if (cJSON_GetArraySize(a) == 0)
		return spec_fail(c, "spec.aggregations: must not be empty (leave it out for all)");
	cJSON_ArrayForEach(it, a)
	{
		unsigned kind;

		if (!cJSON_IsString(it))
			return spec_fail(c, "spec.aggregations[%d]: must be a string", i);
		if (tw_agg_parse(it->valuestring, &kind) < 0)
			return spec_fail(
			    c,
			    "spec.aggregations[%d]: \"%s\" is not one of count, sum, min, "
			    "max, mean, p50, p95, p99",
			    i, it->valuestring);
		if (out->aggregations & kind)
			return spec_fail(c, "spec.aggregations[%d]: \"%s\" is listed twice", i,
			                 it->valuestring);
		out->aggregations |= kind;
		i++;
	}
	return 0;
}

/* The common members (spec_common.h), and the TelemetryWindow's own: raw
 * events and window results, not both off. */
static int parse_influxdb(struct spec_ctx *c, const cJSON *sinks, struct tw_spec *out)
{
	static const char *const extra[] = {"raw", "windows", NULL};
	const char *p = "spec.sinks.influxdb";
	const cJSON *s;
	int rc;

	if ((rc = spec_parse_influxdb(c, sinks, extra, &out->sinks.influxdb, &s)) < 0 || s == NULL)
		return rc;
	if ((rc = spec_get_bool(c, s, "raw", p, 0, &out->sinks.influxdb_raw)) < 0 ||
	    (rc = spec_get_bool(c, s, "windows", p, 1, &out->sinks.influxdb_windows)) < 0)
		return rc;
	if (!out->sinks.influxdb_raw && !out->sinks.influxdb_windows)
		return spec_fail(c, "%s: raw and windows are both false: nothing to write", p);
	return 0;
}

static int parse_redis(struct spec_ctx *c, const cJSON *sinks, struct tw_spec *out)
{
	static const char *const fields[] = {"addr", "prefix", "ttl", "username", "password", NULL};
	const char *p = "spec.sinks.redis";
	const cJSON *s;
	char def[SPEC_NAME_MAX + SPEC_NAMESPACE_MAX + 16], text[64];
	int rc;

	if ((rc = spec_get_object(c, sinks, "redis", "spec.sinks", 0, &s)) < 0 || s == NULL)
		return rc;
	out->sinks.redis.enabled = 1;
	snprintf(def, sizeof(def), "sluice:%s:%s:", out->namespace, out->name);
	if ((rc = spec_check_fields(c, s, p, fields)) < 0 ||
	    (rc = spec_get_string(c, s, "addr", p, 1, NULL, SPEC_TEXT_MAX,
	                          &out->sinks.redis.addr)) < 0)
		return rc;
	if (!spec_host_port_ok(out->sinks.redis.addr))
		return spec_fail(c, "%s.addr: \"%s\" is not host:port", p, out->sinks.redis.addr);
	if ((rc = spec_get_string(c, s, "prefix", p, 0, def, SPEC_TEXT_MAX,
	                          &out->sinks.redis.prefix)) < 0 ||
	    (rc = get_duration(c, s, "ttl", p, 0, DEFAULT_TTL_NS, &out->sinks.redis.ttl_ns, text,
	                       sizeof(text))) < 0)
		return rc;
	if (out->sinks.redis.ttl_ns < 1000 * NS_PER_MS)
		return spec_fail(
		    c, "%s.ttl: %s is shorter than 1s (Redis expires in whole seconds)", p, text);
	if ((rc = spec_get_secret_ref(c, s, "password", p, 0, "", &out->sinks.redis.password.name,
	                              &out->sinks.redis.password.key)) < 0 ||
	    (rc = spec_get_string(c, s, "username", p, 0, NULL, REDIS_USERNAME_MAX,
	                          &out->sinks.redis.username)) < 0)
		return rc;
	/* An ACL user name has no blanks (ACL SETUSER could not create it). */
	if (out->sinks.redis.username != NULL && !spec_no_blank(out->sinks.redis.username))
		return spec_fail(c, "%s.username: \"%s\" has a blank", p,
		                 out->sinks.redis.username);
	if (out->sinks.redis.username != NULL && out->sinks.redis.password.name == NULL)
		return spec_fail(
		    c, "%s.username: needs %s.password (a Secret reference {name, key})", p, p);
	return 0;
}

static int parse_sinks(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {"influxdb", "postgres", "redis", NULL};
	const cJSON *s;
	int rc;

	if ((rc = spec_get_object(c, spec, "sinks", "spec", 0, &s)) < 0 || s == NULL)
		return rc;
	if ((rc = spec_check_fields(c, s, "spec.sinks", fields)) < 0 ||
	    (rc = parse_influxdb(c, s, out)) < 0 ||
	    (rc = spec_parse_postgres(c, s, "telemetry_windows", 1, &out->sinks.postgres)) < 0 ||
	    (rc = parse_redis(c, s, out)) < 0)
		return rc;
	return 0;
}

static int parse_retention(struct spec_ctx *c, const cJSON *spec, struct tw_spec *out)
{
	static const char *const fields[] = {"maxRowsPerKey", "maxAge", NULL};
	const char *p = "spec.retention";
	const cJSON *r;
	char text[64];
	long long n;
	int rc;

	if ((rc = spec_get_object(c, spec, "retention", "spec", 0, &r)) < 0 ||
	    (r != NULL && (rc = spec_check_fields(c, r, p, fields)) < 0) ||
	    (rc = spec_get_int(c, r, "maxRowsPerKey", p, DEFAULT_MAX_ROWS, 0, 1000000000, &n)) <
	        0 ||
	    (rc = get_duration(c, r, "maxAge", p, 0, 0, &out->retention.max_age_ns, text,
	                       sizeof(text))) < 0)
		return rc;
	out->retention.max_rows_per_key = (uint32_t)n;
	return 0;
}

static const struct spec_workers_rules workers_rules = {
    .min_replicas = DEFAULT_MIN_REPLICAS,
    .max_replicas = DEFAULT_MAX_REPLICAS,
    .lag_threshold = DEFAULT_LAG_THRESHOLD,
    .lag_limit = LAG_LIMIT,
    .max_follows_min = 1,
};

/* The input parser is the judge of field names (JSON paths, line-protocol
 * rules): ask it now, so a bad mapping fails at start-up with a path. */
static int check_parser(struct spec_ctx *c, const struct tw_spec *out)
{
	struct tw_parser_spec ps;
	struct tw_parser *parser;
	char why[256];

	tw_spec_parser_spec(out, &ps);
	parser = tw_parser_new(&ps, why, sizeof(why));
	if (parser == NULL)
		return spec_fail(c, "spec.fields: %s", why);
	tw_parser_free(parser);
	return 0;
}

void tw_spec_parser_spec(const struct tw_spec *spec, struct tw_parser_spec *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->format = spec->format;
	ps->ts_field = spec->fields.timestamp;
	ps->ts_kind = spec->fields.timestamp_kind;
	ps->ts_format = spec->fields.timestamp_pattern;
	/* char ** to const char *const *: C has no implicit conversion. */
	ps->key_fields = (const char *const *)spec->fields.keys;
	ps->n_key_fields = spec->fields.nkeys;
	ps->value_fields = (const char *const *)spec->fields.values;
	ps->n_value_fields = spec->fields.nvalues;
	ps->csv_columns = (const char *const *)spec->csv.columns;
	ps->n_csv_columns = spec->csv.ncolumns;
	ps->csv_delimiter = spec->csv.delimiter;
}

int tw_spec_parse(const cJSON *spec, const char *name, const char *namespace, struct tw_spec *out,
                  char *errbuf, size_t errbuf_size)
{
	static const char *const fields[] = {
	    "kafka",        "format", "csv",       "fields",  "window", "dedupe",
	    "aggregations", "sinks",  "retention", "workers", NULL};
	struct spec_ctx c = {errbuf, errbuf_size};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_identity(&c, name, namespace, spec, &out->name, &out->namespace)) == 0 &&
	    (rc = spec_check_fields(&c, spec, "spec", fields)) == 0 &&
	    (rc = parse_kafka(&c, spec, out)) == 0 && (rc = parse_format(&c, spec, out)) == 0 &&
	    (rc = parse_fields(&c, spec, out)) == 0 && (rc = parse_window(&c, spec, out)) == 0 &&
	    (rc = parse_dedupe(&c, spec, out)) == 0 &&
	    (rc = parse_aggregations(&c, spec, out)) == 0 &&
	    (rc = parse_sinks(&c, spec, out)) == 0 && (rc = parse_retention(&c, spec, out)) == 0 &&
	    (rc = spec_parse_workers(&c, spec, &workers_rules, &out->workers)) == 0)
		rc = check_parser(&c, out);
	if (rc < 0)
		tw_spec_free(out);
	return rc;
}

int tw_spec_parse_document(const cJSON *doc, struct tw_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	const cJSON *spec;
	const char *name, *ns;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_document(&c, doc, "TelemetryWindow", &spec, &name, &ns)) < 0)
		return rc;
	return tw_spec_parse(spec, name, ns, out, errbuf, errbuf_size);
}

int tw_spec_load_file(const char *path, struct tw_spec *out, char *errbuf, size_t errbuf_size)
{
	struct spec_ctx c = {errbuf, errbuf_size};
	char why[512];
	cJSON *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = spec_load_document(&c, path, TW_SPEC_FILE_MAX, &doc)) < 0)
		return rc;
	rc = tw_spec_parse_document(doc, out, why, sizeof(why));
	cJSON_Delete(doc);
	if (rc < 0)
		snprintf(errbuf, errbuf_size, "%s: %s", path, why);
	return rc;
}

void tw_spec_free(struct tw_spec *s)
{
	free(s->name);
	free(s->namespace);
	spec_kafka_free(&s->kafka);
	for (size_t i = 0; i < s->csv.ncolumns; i++)
		free(s->csv.columns[i]);
	free(s->csv.columns);
	free(s->fields.timestamp);
	free(s->fields.timestamp_pattern);
	for (size_t i = 0; i < s->fields.nkeys; i++)
		free(s->fields.keys[i]);
	for (size_t i = 0; i < s->fields.nvalues; i++)
		free(s->fields.values[i]);
	spec_influxdb_free(&s->sinks.influxdb);
	spec_postgres_free(&s->sinks.postgres);
	free(s->sinks.redis.addr);
	free(s->sinks.redis.prefix);
	free(s->sinks.redis.username);
	spec_secret_ref_free(&s->sinks.redis.password);
	spec_workers_free(&s->workers);
	memset(s, 0, sizeof(*s));
}
