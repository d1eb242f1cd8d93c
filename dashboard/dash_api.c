/* dash_api.c -- the dashboard's routes over lib/httpd; see dash_api.h. */
#include "dash_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "dash_assets.h"
#include "dash_route.h"
#include "dash_upload.h"
#include "log.h"
#include "version.h"

#define WORKERS_DEFAULT 20
#define WORKERS_MAX 200

struct dash_api {
	struct dash_api_options o;
	char *namespace;
	struct httpd_handler handler;
	struct metrics_family *requests, *seconds;
};

/* What one request holds from begin to done. */
struct req {
	struct dash_api *a;
	struct dash_route route;
	int64_t start_ns;
	unsigned int status;
	struct dash_upload *up;
	struct dash_load_body *body;
	struct tw_spec spec; /* a load's TelemetryWindow */
	int have_spec;
	char bootstrap[1024];
};

/* ------------------------------------------------------------- answers */

static void answer(struct req *q, struct httpd_request *r, struct dash_reply *rep)
{
	q->status = rep->status;
	if (strncmp(rep->type, "application/json", 16) == 0)
		(void)httpd_header(r, "Cache-Control", "no-store");
	if (rep->body == NULL) {
		(void)httpd_respond_text(r, 500, "out of memory");
		return;
	}
	(void)httpd_respond_owned(r, rep->status, rep->type, rep->body, rep->len);
	rep->body = NULL;
}

static void answer_error(struct req *q, struct httpd_request *r, unsigned int status,
                         const char *msg)
{
	struct dash_reply rep = {0};

	dash_reply_error(&rep, status, "%s", msg);
	answer(q, r, &rep);
}

static void answer_text(struct req *q, struct httpd_request *r, unsigned int status,
                        const char *type, char *owned, size_t len)
{
	struct dash_reply rep = {.status = status, .type = type, .body = owned, .len = len};

	if (owned == NULL)
		dash_reply_error(&rep, 500, "out of memory");
	answer(q, r, &rep);
}

/* ------------------------------------------------------------- queries */

/* The query argument name as an integer in [min, max]; def when absent.
 * -1 when it is not one (then the request is answered with a 400). */
static int query_int(struct req *q, struct httpd_request *r, const char *name, long long min,
                     long long max, long long def, long long *out)
{
	const char *v = httpd_request_query(r, name);
	char *end, msg[256];
	long long n;

	*out = def;
	if (v == NULL || v[0] == '\0')
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		snprintf(msg, sizeof(msg), "%s: want an integer in %lld..%lld", name, min, max);
		answer_error(q, r, 400, msg);
		return -1;
	}
	*out = n;
	return 0;
}

static const char *query_str(struct httpd_request *r, const char *name)
{
	const char *v = httpd_request_query(r, name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static enum dash_kind route_kind(enum dash_route_id id)
{
	const char *p = dash_route_plural(id);

	if (p != NULL && strcmp(p, "videojobs") == 0)
		return DASH_VJ;
	if (p != NULL && strcmp(p, "telemetrywindows") == 0)
		return DASH_TW;
	return DASH_VW;
}

/* The cached object the route names, or NULL (answered 404). */
static cJSON *lookup(struct req *q, struct httpd_request *r)
{
	enum dash_kind k = route_kind(q->route.id);
	cJSON *obj = dash_cache_get(q->a->o.cache, k, q->route.ns, q->route.name);
	char msg[512];

	if (obj == NULL) {
		snprintf(msg, sizeof(msg), "no %s %s/%s", dash_kind_name(k), q->route.ns,
		         q->route.name);
		answer_error(q, r, 404, msg);
	}
	return obj;
}

/* ------------------------------------------------------------- GET routes */

static void serve_asset(struct req *q, struct httpd_request *r)
{
	const char *inm = httpd_request_header(r, "If-None-Match");

	for (const struct dash_asset *a = dash_assets; a->path != NULL; a++) {
		if (strcmp(a->path, q->route.arg) != 0)
			continue;
		(void)httpd_header(r, "ETag", a->etag);
		(void)httpd_header(r, "Cache-Control", "no-cache");
		(void)httpd_header(r, "X-Content-Type-Options", "nosniff");
		if (inm != NULL && strcmp(inm, a->etag) == 0) {
			q->status = 304;
			(void)httpd_respond(r, 304, a->type, "", 0);
			return;
		}
		q->status = 200;
		(void)httpd_respond(r, 200, a->type, (const char *)a->data, a->len);
		return;
	}
	answer_error(q, r, 404, "no such file");
}

static void serve_info(struct req *q, struct httpd_request *r)
{
	struct dash_api *a = q->a;
	cJSON *o = cJSON_CreateObject(), *synced = cJSON_AddObjectToObject(o, "synced");
	cJSON *counts = cJSON_AddObjectToObject(o, "counts");
	cJSON *defaults = cJSON_AddObjectToObject(o, "defaults");
	const struct dash_defaults *d = &a->o.defaults;
	struct dash_reply rep = {0};
	int bad = o == NULL || synced == NULL || counts == NULL || defaults == NULL;

	bad =
	    bad || cJSON_AddStringToObject(o, "version", SLUICE_VERSION) == NULL ||
	    cJSON_AddStringToObject(o, "gitRev", SLUICE_GIT_REV) == NULL ||
	    cJSON_AddStringToObject(o, "namespace", a->namespace) == NULL ||
	    cJSON_AddNumberToObject(o, "historySeconds", (double)a->o.history_ms / 1000) == NULL ||
	    cJSON_AddNumberToObject(o, "sampleSeconds", (double)a->o.sample_ms / 1000) == NULL ||
	    cJSON_AddNumberToObject(o, "sceneCutThreshold", DASH_SCENE_CUT) == NULL ||
	    cJSON_AddBoolToObject(defaults, "kafkaBootstrap",
	                          d->kafka_bootstrap != NULL && d->kafka_bootstrap[0] != '\0') ==
	        NULL ||
	    cJSON_AddBoolToObject(defaults, "redis",
	                          d->redis_addr != NULL && d->redis_addr[0] != '\0') == NULL ||
	    cJSON_AddBoolToObject(defaults, "postgres",
	                          d->postgres_secret != NULL && d->postgres_secret[0] != '\0') ==
	        NULL;
	for (int k = 0; !bad && k < DASH_KINDS; k++)
		bad = cJSON_AddBoolToObject(synced, dash_kind_plural((enum dash_kind)k),
		                            dash_cache_synced(a->o.cache, (enum dash_kind)k)) ==
		          NULL ||
		      cJSON_AddNumberToObject(
		          counts, dash_kind_plural((enum dash_kind)k),
		          (double)dash_cache_len(a->o.cache, (enum dash_kind)k)) == NULL;
	if (bad) {
		cJSON_Delete(o);
		o = NULL;
	}
	dash_reply_json(&rep, 200, o);
	answer(q, r, &rep);
}

static void serve_list(struct req *q, struct httpd_request *r)
{
	size_t len = 0;
	char *text = dash_cache_list(q->a->o.cache, route_kind(q->route.id),
	                             query_str(r, "namespace"), &len);

	answer_text(q, r, 200, "application/json", text, len);
}

static void serve_workers(struct req *q, struct httpd_request *r)
{
	const char *kind = query_str(r, "kind");
	enum dash_kind k = DASH_KINDS;
	long long limit;
	size_t len = 0;

	if (kind != NULL) {
		if (strcmp(kind, "videojobs") == 0)
			k = DASH_VJ;
		else if (strcmp(kind, "telemetrywindows") == 0)
			k = DASH_TW;
		else
			return answer_error(q, r, 400, "kind: want videojobs or telemetrywindows");
	}
	if (query_int(q, r, "limit", 1, WORKERS_MAX, WORKERS_DEFAULT, &limit) < 0)
		return;
	char *text = dash_cache_workers(q->a->o.cache, k, (size_t)limit, &len);
	answer_text(q, r, 200, "application/json", text, len);
}

static void serve_detail(struct req *q, struct httpd_request *r)
{
	enum dash_kind k = route_kind(q->route.id);
	cJSON *obj = lookup(q, r), *o, *s;
	struct dash_reply rep = {0};

	if (obj == NULL)
		return;
	o = dash_view_detail(k, obj);
	cJSON_Delete(obj);
	if (o != NULL && k != DASH_VW) {
		s = dash_cache_samples(q->a->o.cache, k, q->route.ns, q->route.name);
		if (s != NULL && !cJSON_AddItemToObject(o, "samples", s))
			cJSON_Delete(s);
	}
	dash_reply_json(&rep, 200, o);
	answer(q, r, &rep);
}

static void serve_frames(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	long long points;
	cJSON *obj;

	if (query_int(q, r, "points", 10, DASH_FRAMES_POINTS_MAX, DASH_FRAMES_POINTS_DEFAULT,
	              &points) < 0)
		return;
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	dash_store_frames(q->a->o.store, obj, (int)points, &rep);
	cJSON_Delete(obj);
	answer(q, r, &rep);
}

static void serve_latest(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	long long keys, last;
	cJSON *obj;

	if (query_int(q, r, "keys", 1, DASH_LATEST_KEYS_MAX, 20, &keys) < 0 ||
	    query_int(q, r, "last", 1, 60, 60, &last) < 0)
		return;
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	dash_store_latest(q->a->o.store, obj, (int)keys, (int)last, &rep);
	cJSON_Delete(obj);
	answer(q, r, &rep);
}

static void serve_history(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	int64_t now_ms = clock_real_ns() / 1000000;
	long long since, limit;
	cJSON *obj;

	if (query_int(q, r, "since", 0, now_ms / 1000 + 86400, (now_ms - q->a->o.history_ms) / 1000,
	              &since) < 0 ||
	    query_int(q, r, "limit", 1, DASH_HISTORY_ROWS_MAX, 5000, &limit) < 0)
		return;
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	dash_store_history(q->a->o.store, obj, since * 1000, query_str(r, "key"),
	                   query_str(r, "field"), (long)limit, &rep);
	cJSON_Delete(obj);
	answer(q, r, &rep);
}

static void serve_export(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	char disp[600];
	long long last;
	cJSON *obj;

	if (query_int(q, r, "last", 1, DASH_EXPORT_LAST_MAX, 100, &last) < 0)
		return;
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	dash_store_export(q->a->o.store, obj, last, query_str(r, "key"), &rep);
	cJSON_Delete(obj);
	if (rep.status == 200) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s_%s_last%lld.csv\"",
		         q->route.ns, q->route.name, last);
		(void)httpd_header(r, "Content-Disposition", disp);
		(void)httpd_header(r, "Cache-Control", "no-store");
	}
	answer(q, r, &rep);
}

static void serve_load_get(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	const char *w = httpd_request_query(r, "wait");
	char *end = NULL;
	long wait_s = w != NULL ? strtol(w, &end, 10) : 0;

	if (w != NULL && (end == w || *end != '\0' || wait_s < 0 || wait_s > DASH_LOAD_WAIT_MAX_S))
		return answer_error(q, r, 400, "wait: want whole seconds, 0..60");
	dash_loads_get(q->a->o.loads, q->route.ns, q->route.name, q->route.arg, (int)wait_s * 1000,
	               &rep);
	answer(q, r, &rep);
}

/* ------------------------------------------------------------- bodies */

static void begin_upload(struct req *q, struct httpd_request *r)
{
	const char *auth = httpd_request_header(r, "Authorization");
	struct dash_reply rep = {0};
	char url[2048], msg[512];
	cJSON *obj;
	const char *base;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
		(void)httpd_header(r, "WWW-Authenticate", "Bearer");
		return answer_error(q, r, 401,
		                    "an upload needs the VideoWatch's upload token: Authorization: "
		                    "Bearer <token>");
	}
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	base = dash_json_str(obj, "status.watcher.uploadURL");
	if (base == NULL || base[0] == '\0') {
		snprintf(msg, sizeof(msg),
		         "VideoWatch %s/%s has no upload endpoint: no spec.upload, or its watcher "
		         "has not reported status.watcher.uploadURL yet",
		         q->route.ns, q->route.name);
		cJSON_Delete(obj);
		return answer_error(q, r, 409, msg);
	}
	if (dash_upload_url(url, sizeof(url), base, q->route.arg) < 0) {
		snprintf(msg, sizeof(msg),
		         "VideoWatch %s/%s: status.watcher.uploadURL is not an "
		         "http(s) URL",
		         q->route.ns, q->route.name);
		cJSON_Delete(obj);
		return answer_error(q, r, 409, msg);
	}
	cJSON_Delete(obj);
	struct dash_upload_options uo = {
	    .url = url,
	    .authorization = auth,
	    .content_type = httpd_request_header(r, "Content-Type"),
	    .content_length = httpd_request_content_length(r),
	    .start_timeout_ms = q->a->o.upload_start_timeout_ms,
	};
	if (dash_upload_start(&q->up, &uo, &rep) != 0)
		answer(q, r, &rep); /* the watcher answered without the body, or failed */
}

/* A CSV or Parquet body, by its Content-Type: text/csv,
 * application/vnd.apache.parquet (or a generic binary type; the loader
 * tells the two apart by the file's first bytes). Anything else (a form's
 * text/plain, which any web page may send cross-site without asking) is
 * refused. */
static int csv_type(const char *ct)
{
	return ct != NULL && (strncasecmp(ct, "text/csv", 8) == 0 ||
	                      strncasecmp(ct, "application/octet-stream", 24) == 0 ||
	                      strncasecmp(ct, "application/vnd.apache.parquet", 30) == 0 ||
	                      strncasecmp(ct, "application/vnd.ms-excel", 24) == 0);
}

static void begin_load(struct req *q, struct httpd_request *r)
{
	struct dash_reply rep = {0};
	char err[1024], msg[1200];
	int known;
	cJSON *obj;

	if (!csv_type(httpd_request_header(r, "Content-Type")))
		return answer_error(q, r, 415,
		                    "send the file as Content-Type: text/csv (CSV) or "
		                    "application/vnd.apache.parquet (Parquet)");
	obj = lookup(q, r);
	if (obj == NULL)
		return;
	if (dash_store_tw_spec(q->a->o.store, obj, &q->spec, &known, err, sizeof(err)) < 0) {
		cJSON_Delete(obj);
		snprintf(msg, sizeof(msg), "the TelemetryWindow's spec: %s", err);
		return answer_error(q, r, 409, msg);
	}
	cJSON_Delete(obj);
	q->have_spec = 1;
	if (!known)
		return answer_error(q, r, 409,
		                    "the TelemetryWindow names no spec.kafka.bootstrap and the "
		                    "dashboard has no --kafka-bootstrap");
	if (q->spec.format == TW_FORMAT_LP)
		return answer_error(q, r, 400,
		                    "the TelemetryWindow reads InfluxDB line protocol (spec.format "
		                    "influx), not CSV");
	snprintf(q->bootstrap, sizeof(q->bootstrap), "%s", q->spec.kafka.bootstrap);
	if (dash_loads_begin(q->a->o.loads, q->route.ns, q->route.name,
	                     httpd_request_content_length(r), &q->body, &rep) != 0)
		answer(q, r, &rep);
}

/* ------------------------------------------------------------- callbacks */

static void on_begin(void *arg, struct httpd_request *r, void **state)
{
	struct dash_api *a = arg;
	struct req *q = calloc(1, sizeof(*q));

	*state = q;
	if (q == NULL) {
		(void)httpd_respond_text(r, 500, "out of memory");
		return;
	}
	q->a = a;
	q->start_ns = clock_mono_ns();
	switch (dash_route_parse(httpd_request_method(r), httpd_request_path(r), &q->route)) {
	case DASH_R_NOT_FOUND:
		return answer_error(q, r, 404, "not found");
	case DASH_R_BAD_METHOD:
		(void)httpd_header(r, "Allow", q->route.allow);
		return answer_error(q, r, 405, "method not allowed");
	case DASH_R_ASSET:
		return serve_asset(q, r);
	case DASH_R_INFO:
		return serve_info(q, r);
	case DASH_R_WORKERS:
		return serve_workers(q, r);
	case DASH_R_VJ_LIST:
	case DASH_R_TW_LIST:
	case DASH_R_VW_LIST:
		return serve_list(q, r);
	case DASH_R_VJ_GET:
	case DASH_R_TW_GET:
	case DASH_R_VW_GET:
		return serve_detail(q, r);
	case DASH_R_VJ_FRAMES:
		return serve_frames(q, r);
	case DASH_R_TW_LATEST:
		return serve_latest(q, r);
	case DASH_R_TW_HISTORY:
		return serve_history(q, r);
	case DASH_R_TW_EXPORT:
		return serve_export(q, r);
	case DASH_R_TW_LOAD_GET:
		return serve_load_get(q, r);
	case DASH_R_TW_LOAD:
		return begin_load(q, r);
	case DASH_R_VW_UPLOAD:
		return begin_upload(q, r);
	}
}

static void on_body(void *arg, struct httpd_request *r, void *state, const char *data, size_t len)
{
	struct req *q = state;
	struct dash_reply rep = {0};

	(void)arg;
	if (q->up != NULL && dash_upload_feed(q->up, data, len) != 0) {
		/* The watcher answered before the body was all in. */
		dash_upload_finish(q->up, &rep);
		q->up = NULL;
		answer(q, r, &rep);
	} else if (q->body != NULL && dash_loads_write(q->body, data, len, &rep) != 0) {
		q->body = NULL; /* discarded by dash_loads_write */
		answer(q, r, &rep);
	}
}

static void on_end(void *arg, struct httpd_request *r, void *state)
{
	struct req *q = state;
	struct dash_reply rep = {0};

	(void)arg;
	if (q->up != NULL) {
		dash_upload_finish(q->up, &rep);
		q->up = NULL;
		answer(q, r, &rep);
	} else if (q->body != NULL) {
		dash_loads_end(q->a->o.loads, q->body, &q->spec, q->bootstrap, &rep);
		q->body = NULL;
		answer(q, r, &rep);
	}
}

static const char *route_label(enum dash_route_id id)
{
	static const char *const names[] = {
	    [DASH_R_NOT_FOUND] = "not_found",
	    [DASH_R_BAD_METHOD] = "bad_method",
	    [DASH_R_ASSET] = "asset",
	    [DASH_R_INFO] = "info",
	    [DASH_R_WORKERS] = "workers",
	    [DASH_R_VJ_LIST] = "videojobs",
	    [DASH_R_VJ_GET] = "videojob",
	    [DASH_R_VJ_FRAMES] = "frames",
	    [DASH_R_TW_LIST] = "telemetrywindows",
	    [DASH_R_TW_GET] = "telemetrywindow",
	    [DASH_R_TW_LATEST] = "latest",
	    [DASH_R_TW_HISTORY] = "history",
	    [DASH_R_TW_EXPORT] = "export",
	    [DASH_R_TW_LOAD] = "load",
	    [DASH_R_TW_LOAD_GET] = "load_status",
	    [DASH_R_VW_LIST] = "videowatches",
	    [DASH_R_VW_GET] = "videowatch",
	    [DASH_R_VW_UPLOAD] = "upload",
	};

	return (size_t)id < sizeof(names) / sizeof(names[0]) && names[id] != NULL ? names[id]
	                                                                          : "unknown";
}

static void on_done(void *arg, void *state, int completed)
{
	struct dash_api *a = arg;
	struct req *q = state;
	char code[16];

	if (q == NULL)
		return;
	if (q->up != NULL) {
		log_warn("upload aborted: the client went away", "namespace", q->route.ns, "name",
		         q->route.name, "file", q->route.arg, NULL);
		dash_upload_abort(q->up);
	}
	dash_loads_discard(q->body);
	if (q->have_spec)
		tw_spec_free(&q->spec);
	snprintf(code, sizeof(code), "%u", completed ? q->status : 0u);
	const char *labels[] = {route_label(q->route.id), code, NULL};
	const char *route[] = {route_label(q->route.id), NULL};
	if (a->requests != NULL)
		(void)metrics_inc(a->requests, labels);
	if (a->seconds != NULL)
		(void)metrics_observe(a->seconds, route,
		                      (double)(clock_mono_ns() - q->start_ns) / 1e9);
	free(q);
}

struct dash_api *dash_api_new(const struct dash_api_options *o, char *errbuf, size_t errbuf_size)
{
	static const char *const labels[] = {"route", "code", NULL};
	static const char *const route[] = {"route", NULL};
	static const double bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};
	struct dash_api *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return NULL;
	}
	a->o = *o;
	a->namespace = strdup(o->namespace != NULL ? o->namespace : "");
	if (a->namespace == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		dash_api_free(a);
		return NULL;
	}
	if (o->metrics != NULL &&
	    (metrics_counter(o->metrics, "sluice_dashboard_requests_total",
	                     "Requests the dashboard answered, per route and status code (0: the "
	                     "client went away).",
	                     labels, &a->requests, errbuf, errbuf_size) != 0 ||
	     metrics_histogram(o->metrics, "sluice_dashboard_request_duration_seconds",
	                       "Time from a request's headers to its answer, per route.", route,
	                       bounds, sizeof(bounds) / sizeof(bounds[0]), &a->seconds, errbuf,
	                       errbuf_size) != 0)) {
		dash_api_free(a);
		return NULL;
	}
	a->handler = (struct httpd_handler){
	    .begin = on_begin, .body = on_body, .end = on_end, .done = on_done, .arg = a};
	return a;
}

void dash_api_free(struct dash_api *a)
{
	if (a == NULL)
		return;
	free(a->namespace);
	free(a);
}

const struct httpd_handler *dash_api_handler(struct dash_api *a)
{
	return &a->handler;
}
