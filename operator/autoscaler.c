/* autoscaler.c - the lag scaler's loop (autoscaler.h). */
#include "autoscaler.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "children.h"
#include "clock.h"
#include "events.h"
#include "kube_client.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "reconcile_topics.h"
#include "redis_pool.h"
#include "reflector.h"
#include "scale.h"
#include "scale_json.h"
#include "scale_pause.h"
#include "strmap.h"
#include "tw_progress.h"
#include "tw_spec.h"
#include "vj_spec.h"

#define MAX_RESOURCES 4096
#define TICK_MS 200

enum kind { KIND_TW, KIND_VJ };

static const struct kind_info {
	const char *plural, *label, *mode;
} kinds[] = {
    [KIND_TW] = {"telemetrywindows", "TelemetryWindow", "telemetry"},
    [KIND_VJ] = {"videojobs", "VideoJob", "process"},
};

/* One resource's history; keyed "<plural>/<ns>/<name>". */
struct entry {
	struct scale_state state;
	char uid[64];          /* a new object under the same name starts afresh */
	int64_t next_poll_ms;  /* monotonic */
	int64_t polling_ms;    /* its pollingInterval at the last parse; 0: the operator's */
	int64_t last_scale_ms; /* wall clock; 0: never scaled by this process */
	unsigned seen;         /* the sweep that last saw it */
	/* Per partition, for the persistent-lag rule: track_n entries, one per
	 * partition of its topic at the last read (NULL until then). */
	struct scale_partition_track *track;
	int32_t track_n;
	/* The malformed pause annotation last reported ("" none): one Warning
	 * per value, not one per poll. */
	char bad_annotation[192];
};

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	free(e->track);
	free(e);
}

struct autoscaler {
	struct autoscaler_options o;
	struct strmap *entries;
	struct lag_pool *pool;
	struct lag_result res;
	/* Scratch of one poll, grown to the largest partition count seen:
	 * positions (from res.p) and how long each stood still. */
	int64_t *pos, *still;
	size_t scratch_cap;
	pthread_t thread;
	atomic_int stop;
	unsigned sweep;
	struct metrics_family *m_lag, *m_desired, *m_decisions, *m_errors;
	struct metrics_family *m_rate, *m_input, *m_lag_seconds, *m_ready, *m_persistent;
};

/* A resource to poll this tick, by its store key: the object itself is
 * read from the store when its turn comes, so one copy is alive at a time,
 * never one of every resource. */
struct due {
	enum kind kind;
	struct due *next;
	char key[];
};

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, a);

	return cJSON_GetStringValue(b != NULL ? cJSON_GetObjectItemCaseSensitive(o, b) : o);
}

/* ---- what to scale: the spec's numbers, through the workers' own parsers ---- */

struct target {
	char *bootstrap, *topic, *group;
	struct scale_spec spec;
	/* The resource's Kafka settings (NULL: PLAINTEXT), its Secret values
	 * held in lookup until target_free. */
	const struct kafka_security *sec;
	struct kafka_security sec_buf;
	struct secret_lookup lookup;
	char *sec_error; /* the settings could not be made: why */
};

static void target_free(struct target *t)
{
	secret_lookup_free(&t->lookup);
	free(t->sec_error);
	free(t->bootstrap);
	free(t->topic);
	free(t->group);
}

/* What a resource's spec.workers.scaling leaves unset: the operator's
 * flags (autoscaler_start resolved their defaults). */
static void operator_defaults(const struct autoscaler *a, struct scale_spec *s)
{
	scale_spec_defaults(s);
	s->polling_interval_ms = a->o.polling_ms;
	s->stabilization_window_ms = a->o.stabilization_ms;
	s->cooldown_period_ms = a->o.cooldown_ms;
	s->trend_window_ms = a->o.trend_ms;
	s->fallback_replicas = a->o.fallback_replicas < 0 ? -1 : a->o.fallback_replicas;
	s->failure_threshold = a->o.fallback_failure_threshold;
}

/* t's Kafka settings from k (reconcile_kafka_security); a Secret that
 * cannot be read leaves t->sec NULL and says why in t->sec_error (the
 * reconciler reports it as SecretNotFound). server_name is copied: k goes
 * with the parsed spec. */
static void security_of(const struct autoscaler *a, const char *ns, const struct spec_kafka *k,
                        struct target *t)
{
	char err[512];

	if (reconcile_kafka_security(a->o.ctx, ns, k, &t->lookup, &t->sec_buf, &t->sec, err,
	                             sizeof(err)) != 0) {
		t->sec = NULL;
		t->sec_error = strdup(err);
		if (t->sec_error == NULL)
			t->sec_error = strdup("out of memory");
		return;
	}
	if (t->sec != NULL && t->sec_buf.server_name != NULL && t->lookup.n < SECRET_LOOKUP_MAX &&
	    (t->lookup.held[t->lookup.n] = strdup(t->sec_buf.server_name)) != NULL)
		t->sec_buf.server_name = t->lookup.held[t->lookup.n++];
}

/* The resource's target, or -1 (the reconciler reports a bad spec). */
static int target_of(const struct autoscaler *a, enum kind kind, const cJSON *obj, struct target *t,
                     char *err, size_t errsz)
{
	const char *ns = str_at(obj, "metadata", "namespace");
	const char *name = str_at(obj, "metadata", "name");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const struct children_defaults *d = &a->o.ctx->defaults;
	struct scale_spec defaults;
	cJSON *eff;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	operator_defaults(a, &defaults);
	if (kind == KIND_TW) {
		struct tw_spec ts;

		eff = children_tw_effective_spec(spec, d);
		if (eff == NULL || tw_spec_parse(eff, name, ns, &ts, err, errsz) != 0) {
			cJSON_Delete(eff);
			return -1;
		}
		t->bootstrap = strdup(ts.kafka.bootstrap);
		t->topic = strdup(ts.kafka.topic);
		t->group = strdup(ts.kafka.group);
		security_of(a, ns, &ts.kafka, t);
		rc = scale_spec_from_workers(&ts.workers, &defaults, &t->spec, err, errsz);
		tw_spec_free(&ts);
	} else {
		struct vj_spec vs;

		/* The reconciler's effective spec: --kafka-bootstrap and the
		 * default cluster's security where the resource names none. */
		eff = children_vj_effective_spec(spec, d);
		if (eff == NULL || vj_spec_parse(eff, name, ns, &vs, err, errsz) != 0) {
			cJSON_Delete(eff);
			return -1;
		}
		t->bootstrap = strdup(vs.kafka.bootstrap);
		t->topic = strdup(vs.kafka.topic);
		t->group = strdup(vs.kafka.group);
		security_of(a, ns, &vs.kafka, t);
		rc = scale_spec_from_workers(&vs.workers, &defaults, &t->spec, err, errsz);
		vj_spec_free(&vs);
	}
	cJSON_Delete(eff);
	if (rc == 0 && (t->bootstrap == NULL || t->topic == NULL || t->group == NULL)) {
		snprintf(err, errsz, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		rc = scale_spec_validate(&t->spec, err, errsz);
	if (rc != 0)
		target_free(t);
	return rc;
}

/* ---- one poll ---- */

/* The status fields the autoscaler owns (scale_status_fill), as a merge
 * patch, or NULL when they already read so. */
static cJSON *status_patch(const cJSON *obj, const struct scale_decision *dec,
                           int64_t last_scale_ms)
{
	static const char *const owned[] = {"lag", "lagSeconds", "desiredReplicas", "lastScaleTime",
	                                    "scaling"};
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, "status");
	cJSON *st = cJSON_CreateObject(), *patch;
	int changed = 0;

	if (st == NULL || scale_status_fill(st, dec, -1, last_scale_ms) != 0) {
		cJSON_Delete(st);
		return NULL;
	}
	/* status.replicas is the reconciler's (the Deployment's readyReplicas):
	 * one writer per field. */
	cJSON_DeleteItemFromObjectCaseSensitive(st, "replicas");
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(st, owned[i]);

		if (n != NULL &&
		    !cJSON_Compare(n, cJSON_GetObjectItemCaseSensitive(old, owned[i]), 1))
			changed = 1;
	}
	if (!changed || (patch = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(st);
		return NULL;
	}
	cJSON_AddItemToObject(patch, "status", st);
	return patch;
}

/* The pause annotations (scale_pause.h); a malformed one is reported once
 * per value, as a Warning Event on the resource and a log line. */
static int32_t paused_of(struct autoscaler *a, const struct kind_info *k, const cJSON *obj,
                         struct entry *e)
{
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "annotations");
	char why[sizeof(e->bad_annotation)];
	int32_t paused = scale_pause_from_annotations(ann, why, sizeof(why));

	if (why[0] != '\0' && strcmp(why, e->bad_annotation) != 0) {
		log_warn("invalid annotation, not paused", "resource", k->plural, "namespace",
		         str_at(obj, "metadata", "namespace"), "name",
		         str_at(obj, "metadata", "name"), "error", why, NULL);
		events_emit(a->o.ctx->kube, obj, EVENTS_WARNING, "InvalidAnnotation", why, "Scale",
		            a->o.ctx->instance);
	}
	memcpy(e->bad_annotation, why, sizeof(why));
	return paused;
}

/* The Deployment's ready replicas: status.readyReplicas; absent, 0 once
 * its controller has written a status (it leaves zeros out), -1 before. */
static int32_t ready_of(const cJSON *dep)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(dep, "status");
	const cJSON *ready = cJSON_GetObjectItemCaseSensitive(st, "readyReplicas");

	if (cJSON_IsNumber(ready))
		return ready->valuedouble > 0 ? (int32_t)ready->valuedouble : 0;
	return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(st, "observedGeneration")) ? 0 : -1;
}

/* Feeds the persistent-lag tracking of e with a's last read: sets
 * ob->partition_still_ms (left NULL when out of memory: the rule then sees
 * no persistent partition). The track is one entry per partition, made
 * afresh when the partition count changes. */
static void track_partitions(struct autoscaler *a, struct entry *e, struct scale_obs *ob)
{
	const int32_t n = a->res.partitions;
	int fresh = 0;

	if (n <= 0)
		return;
	if ((size_t)n > a->scratch_cap) {
		int64_t *pos = realloc(a->pos, (size_t)n * sizeof(*pos));
		if (pos == NULL)
			return;
		a->pos = pos;
		int64_t *still = realloc(a->still, (size_t)n * sizeof(*still));
		if (still == NULL)
			return;
		a->still = still;
		a->scratch_cap = (size_t)n;
	}
	if (e->track == NULL || e->track_n != n) {
		struct scale_partition_track *t = calloc((size_t)n, sizeof(*t));

		if (t == NULL)
			return;
		free(e->track);
		e->track = t;
		e->track_n = n;
		fresh = 1;
	}
	for (int32_t i = 0; i < n; i++)
		a->pos[i] = a->res.p[i].position;
	scale_track_partitions(e->track, n, a->pos, a->res.lag, ob->now_ms, fresh, a->still);
	ob->partition_still_ms = a->still;
}

struct work_read {
	const char *ns, *name;
	struct tw_progress *out;
};

static int read_work_on(redisContext *c, const char *addr, void *arg, char *errbuf,
                        size_t errbuf_size)
{
	struct work_read *wr = arg;
	(void)addr;
	return tw_progress_read(c, wr->ns, wr->name, wr->out, errbuf, errbuf_size);
}

/* A TelemetryWindow's workers' own work (tw_progress.h's m.<member>.*)
 * from the status Redis, one HGETALL on the kept connection: fills ob's
 * work_* when there is some. No Redis, no hash or no member fields: the
 * rate per replica comes from the offsets (scale.h), never an error. */
static void observe_work(const struct autoscaler *a, const char *ns, const char *name,
                         struct scale_obs *ob)
{
	const char *addr = a->o.ctx->defaults.redis_addr;
	struct tw_progress p;
	struct work_read wr = {ns, name, &p};
	char err[512];

	if (addr == NULL || addr[0] == '\0' || ns == NULL || name == NULL)
		return;
	if (redis_pool_run(a->o.ctx->redis, addr, read_work_on, &wr, err, sizeof(err)) != 0) {
		log_debug("workers' work not read", "namespace", ns, "name", name, "error", err,
		          NULL);
		return;
	}
	if (p.work_members == 0)
		return;
	ob->work_known = 1;
	ob->work_events = p.work_events;
	ob->work_busy_ms = p.work_busy_ms;
}

static void set_metrics(struct autoscaler *a, const char *const labels[],
                        const struct scale_obs *ob, const struct scale_decision *dec)
{
	metrics_set(a->m_desired, labels, dec->desired);
	if (dec->lag >= 0)
		metrics_set(a->m_lag, labels, (double)dec->lag);
	if (dec->lag_seconds >= 0)
		metrics_set(a->m_lag_seconds, labels, (double)dec->lag_seconds);
	if (ob->ready_replicas >= 0)
		metrics_set(a->m_ready, labels, ob->ready_replicas);
	metrics_set(a->m_rate, labels, dec->rate_per_replica);
	if (dec->rates_known)
		metrics_set(a->m_input, labels, dec->input_rate);
	if (ob->ok)
		metrics_set(a->m_persistent, labels, (double)dec->persistent_lag);
}

static void poll_one(struct autoscaler *a, enum kind kind, const cJSON *obj, struct entry *e)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	const struct kind_info *k = &kinds[kind];
	const char *ns = str_at(obj, "metadata", "namespace");
	const char *name = str_at(obj, "metadata", "name");
	const char *labels[] = {k->label, ns, name, NULL};
	struct kube_error kerr;
	struct target t;
	struct scale_obs ob = {.ready_replicas = -1};
	struct scale_decision dec;
	struct lag_reader *reader;
	cJSON *dep = NULL, *patch;
	char err[512] = "", *dep_name;
	int read_ok;

	if (kind == KIND_VJ) {
		const char *phase = str_at(obj, "status", "phase");

		if (phase == NULL ||
		    (strcmp(phase, "Splitting") != 0 && strcmp(phase, "Processing") != 0))
			return;
	}
	if (target_of(a, kind, obj, &t, err, sizeof(err)) != 0)
		return;
	/* Its own pollingInterval from now on; a change moves the next poll. */
	if (t.spec.polling_interval_ms != (e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms))
		e->next_poll_ms += t.spec.polling_interval_ms -
		                   (e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms);
	e->polling_ms = t.spec.polling_interval_ms;
	ob.paused_replicas = paused_of(a, k, obj, e);
	ob.paused = ob.paused_replicas != SCALE_NOT_PAUSED;
	dep_name = children_name(obj, k->mode);
	if (dep_name == NULL)
		goto out;
	struct kube_ref dref = {.group = "apps",
	                        .version = "v1",
	                        .resource = "deployments",
	                        .namespace = ns,
	                        .name = dep_name};
	if (kube_client_get(ctx->kube, &dref, &dep, &kerr) != 0)
		goto out; /* not created yet, or already gone with the job */
	const cJSON *replicas = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(dep, "spec"), "replicas");
	ob.current_replicas = cJSON_IsNumber(replicas) ? (int32_t)replicas->valuedouble : 1;
	ob.ready_replicas = ready_of(dep);
	ob.now_ms = clock_real_ns() / 1000000;

	if (t.sec_error != NULL) {
		snprintf(err, sizeof(err), "%s", t.sec_error);
		reader = NULL;
	} else {
		reader = lag_pool_get(a->pool, t.bootstrap, t.sec, err, sizeof(err));
	}
	read_ok = reader != NULL && lag_read(reader, t.group, t.topic, LAG_RESET_EARLIEST,
	                                     a->o.kafka_timeout_ms, &a->res, err, sizeof(err)) == 0;
	if (read_ok) {
		ob.ok = 1;
		ob.total_lag = a->res.total_lag;
		ob.partition_lag = a->res.lag;
		ob.partitions = a->res.partitions;
		ob.consumed = a->res.consumed;
		track_partitions(a, e, &ob);
		if (kind == KIND_TW)
			observe_work(a, ns, name, &ob);
	} else {
		metrics_inc(a->m_errors, labels);
		log_warn("cannot read lag", "resource", k->plural, "namespace", ns, "name", name,
		         "error", err, NULL);
	}
	scale_decide(&t.spec, &e->state, &ob, read_ok ? NULL : err, &dec);
	metrics_inc(a->m_decisions,
	            (const char *const[]){k->label, ns, name, scale_reason_name(dec.reason), NULL});
	set_metrics(a, labels, &ob, &dec);

	if (dec.desired != ob.current_replicas) {
		cJSON *out = NULL;

		if (kube_client_scale(ctx->kube, &dref, dec.desired, &out, &kerr) == 0) {
			char note[SCALE_REASON_MAX + 96];

			e->last_scale_ms = ob.now_ms;
			snprintf(note, sizeof(note), "%d -> %d replicas (%s): %s",
			         ob.current_replicas, dec.desired, scale_reason_name(dec.reason),
			         dec.reason_text);
			log_info("scaled", "resource", k->plural, "namespace", ns, "name", name,
			         "reason", dec.reason_text, NULL);
			events_emit(ctx->kube, obj, EVENTS_NORMAL, "Scaled", note, "Scale",
			            ctx->instance);
		} else {
			kube_error_format(&kerr, err, sizeof(err));
			log_warn("cannot scale", "resource", k->plural, "namespace", ns, "name",
			         name, "deployment", dep_name, "error", err, NULL);
		}
		cJSON_Delete(out);
	}
	patch = status_patch(obj, &dec, e->last_scale_ms);
	if (patch != NULL) {
		struct kube_ref sref = reconcile_kind_ref(k->plural, ns, name, "status");
		cJSON *out = NULL;

		if (kube_client_merge_patch(ctx->kube, &sref, patch, &out, &kerr) != 0) {
			kube_error_format(&kerr, err, sizeof(err));
			log_warn("status update failed", "resource", k->plural, "namespace", ns,
			         "name", name, "error", err, NULL);
		}
		cJSON_Delete(out);
		cJSON_Delete(patch);
	}
out:
	cJSON_Delete(dep);
	free(dep_name);
	target_free(&t);
}

/* ---- the loop ---- */

/* A resource's key among the entries: its kind's plural, then its store
 * key ("namespace/name"). */
static void entry_key(char *buf, size_t size, enum kind kind, const char *store_key)
{
	snprintf(buf, size, "%s/%s", kinds[kind].plural, store_key);
}

struct collect {
	struct autoscaler *a;
	enum kind kind;
	int64_t now;
	struct due *list;
};

static int collect_due(const char *key, const cJSON *obj, void *opaque)
{
	struct collect *c = opaque;
	struct autoscaler *a = c->a;
	char k[512];
	const char *uid = str_at(obj, "metadata", "uid");
	struct entry *e;

	entry_key(k, sizeof(k), c->kind, key);
	e = strmap_get(a->entries, k);
	if (e != NULL && uid != NULL && strcmp(e->uid, uid) != 0) {
		entry_free(strmap_remove(a->entries, k));
		e = NULL;
	}
	if (e == NULL) {
		void *old = NULL;

		e = calloc(1, sizeof(*e));
		if (e == NULL || strmap_put(a->entries, k, e, NULL, &old) != 0) {
			free(e);
			return 0;
		}
		entry_free(old);
		snprintf(e->uid, sizeof(e->uid), "%s", uid != NULL ? uid : "");
	}
	e->seen = a->sweep;
	if (c->now < e->next_poll_ms)
		return 0;
	e->next_poll_ms = c->now + (e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms);
	struct due *d = malloc(sizeof(*d) + strlen(key) + 1);
	if (d == NULL)
		return 0;
	d->kind = c->kind;
	memcpy(d->key, key, strlen(key) + 1);
	d->next = c->list;
	c->list = d;
	return 0;
}

struct sweep_arg {
	struct autoscaler *a;
	char **gone;
	size_t n, cap;
};

static int find_gone(const char *key, void *value, void *opaque)
{
	struct sweep_arg *s = opaque;
	const struct entry *e = value;

	if (e->seen == s->a->sweep)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **g = realloc(s->gone, cap * sizeof(*g));

		if (g == NULL)
			return 1;
		s->gone = g;
		s->cap = cap;
	}
	s->gone[s->n++] = strdup(key);
	return 0;
}

static void tick(struct autoscaler *a)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	struct collect c = {.a = a, .now = clock_mono_ms()};
	struct sweep_arg s = {.a = a};

	a->sweep++;
	if (ctx->tw_store != NULL) {
		c.kind = KIND_TW;
		reflector_store_foreach(ctx->tw_store, collect_due, &c);
	}
	if (ctx->vj_store != NULL) {
		c.kind = KIND_VJ;
		reflector_store_foreach(ctx->vj_store, collect_due, &c);
	}
	while (c.list != NULL) {
		struct due *d = c.list;
		struct reflector_store *store = d->kind == KIND_TW ? ctx->tw_store : ctx->vj_store;
		cJSON *obj = NULL;
		char k[512];

		c.list = d->next;
		/* Gone since it was collected: the sweep below forgets it. */
		if (!atomic_load(&a->stop) && reflector_store_get(store, d->key, &obj) == 0) {
			entry_key(k, sizeof(k), d->kind, d->key);
			struct entry *e = strmap_get(a->entries, k);
			if (e != NULL)
				poll_one(a, d->kind, obj, e);
		}
		cJSON_Delete(obj);
		free(d);
	}
	/* Deleted resources take their history with them. */
	strmap_foreach(a->entries, find_gone, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.gone[i] != NULL)
			entry_free(strmap_remove(a->entries, s.gone[i]));
		free(s.gone[i]);
	}
	free(s.gone);
}

static int drop_entry(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	entry_free(value);
	return 0;
}

static void forget_all(struct autoscaler *a)
{
	strmap_foreach(a->entries, drop_entry, NULL);
	strmap_free(a->entries);
	strmap_new(&a->entries, MAX_RESOURCES);
}

static void *run(void *arg)
{
	struct autoscaler *a = arg;
	int leading = 0;

	while (!atomic_load(&a->stop)) {
		int now_leading = a->o.is_leader == NULL || a->o.is_leader(a->o.leader_arg);

		if (now_leading)
			tick(a);
		else if (leading && a->entries != NULL)
			forget_all(a); /* a follower keeps no history (autoscaler.h) */
		leading = now_leading;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return NULL;
}

int autoscaler_start(struct autoscaler **out, const struct autoscaler_options *opts, char *errbuf,
                     size_t errbuf_size)
{
	static const char *const labels[] = {"kind", "namespace", "name", NULL};
	static const char *const dlabels[] = {"kind", "namespace", "name", "reason", NULL};
	struct autoscaler *a = calloc(1, sizeof(*a));
	char merr[256];

	*out = NULL;
	if (a == NULL || opts == NULL || opts->ctx == NULL) {
		snprintf(errbuf, errbuf_size, "autoscaler: %s",
		         a == NULL ? "out of memory" : "no context");
		free(a);
		return -1;
	}
	a->o = *opts;
	if (a->o.polling_ms <= 0)
		a->o.polling_ms = SCALE_DEFAULT_POLLING_MS;
	if (a->o.stabilization_ms < 0)
		a->o.stabilization_ms = SCALE_DEFAULT_STABILIZATION_MS;
	if (a->o.cooldown_ms < 0)
		a->o.cooldown_ms = SCALE_DEFAULT_COOLDOWN_MS;
	if (a->o.trend_ms < 0)
		a->o.trend_ms = SCALE_DEFAULT_TREND_MS;
	if (a->o.fallback_failure_threshold < 0)
		a->o.fallback_failure_threshold = SCALE_DEFAULT_FAILURE_THRESHOLD;
	if (a->o.kafka_timeout_ms <= 0)
		a->o.kafka_timeout_ms = 5000;
	if (strmap_new(&a->entries, MAX_RESOURCES) != 0 || lag_pool_new(16, &a->pool) != 0) {
		snprintf(errbuf, errbuf_size, "autoscaler: out of memory");
		goto fail;
	}
	if (opts->metrics != NULL &&
	    (metrics_gauge(opts->metrics, "sluice_autoscaler_lag_messages",
	                   "Consumer-group lag of a resource's workers at the last poll.", labels,
	                   &a->m_lag, merr, sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_desired_replicas",
	                   "Replicas the last decision asked for.", labels, &a->m_desired, merr,
	                   sizeof(merr)) != 0 ||
	     metrics_counter(opts->metrics, "sluice_autoscaler_decisions_total",
	                     "Scaling decisions, by reason.", dlabels, &a->m_decisions, merr,
	                     sizeof(merr)) != 0 ||
	     metrics_counter(opts->metrics, "sluice_autoscaler_lag_errors_total",
	                     "Polls whose lag could not be read.", labels, &a->m_errors, merr,
	                     sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_rate_per_replica",
	                   "Measured messages/s one busy replica consumes (0: not measured yet).",
	                   labels, &a->m_rate, merr, sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_input_rate",
	                   "Messages/s arriving on the resource's topic.", labels, &a->m_input,
	                   merr, sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_lag_seconds",
	                   "Time to drain the lag at the consume rate.", labels, &a->m_lag_seconds,
	                   merr, sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_ready_replicas",
	                   "The worker Deployment's ready replicas.", labels, &a->m_ready, merr,
	                   sizeof(merr)) != 0 ||
	     metrics_gauge(opts->metrics, "sluice_autoscaler_persistent_lag_messages",
	                   "Lag left out as persistent (excludePersistentLag).", labels,
	                   &a->m_persistent, merr, sizeof(merr)) != 0)) {
		snprintf(errbuf, errbuf_size, "autoscaler: %s", merr);
		goto fail;
	}
	if (pthread_create(&a->thread, NULL, run, a) != 0) {
		snprintf(errbuf, errbuf_size, "autoscaler: cannot start its thread");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	lag_pool_free(a->pool);
	strmap_free(a->entries);
	free(a);
	return -1;
}

void autoscaler_stop(struct autoscaler *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->stop, 1);
	pthread_join(a->thread, NULL);
	if (a->entries != NULL) {
		strmap_foreach(a->entries, drop_entry, NULL);
		strmap_free(a->entries);
	}
	lag_result_free(&a->res);
	lag_pool_free(a->pool);
	free(a->pos);
	free(a->still);
	free(a);
}
