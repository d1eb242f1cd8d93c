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
#include "scale_quiet.h"
#include "strmap.h"
#include "tw_progress.h"
#include "tw_spec.h"
#include "vj_spec.h"

#define MAX_RESOURCES 4096
#define TICK_MS 200
/* Resources decided together: their lag read in one round per cluster
 * (lag_read_many), their objects alive at once. */
#define CHUNK 64
/* The store is walked for new and deleted resources when its size changes
 * and at least this often (a walk parses every object). */
#define SWEEP_MS 30000

enum kind { KIND_TW, KIND_VJ };

static const struct kind_info {
	const char *plural, *label, *mode;
} kinds[] = {
    [KIND_TW] = {"telemetrywindows", "TelemetryWindow", "telemetry"},
    [KIND_VJ] = {"videojobs", "VideoJob", "process"},
};

/* A topic the entries read, with how many of them do (the name: the
 * topics map's own copy). The last to go tells the lag pool the topic is
 * no longer needed (lag_pool_forget): a shared topic stays. */
struct topic_ref {
	const char *name;
	size_t refs;
	unsigned mark; /* quiet_pass: the round that asked for it */
	size_t slot;   /* its index among that round's topics */
};

/*
 * What a quiet entry keeps from its last full poll (scale_quiet.h): the
 * memo the quiet check compares with, what its decision read (to feed the
 * history the same sample a full poll would: see quiet_poll), and the
 * reader by id (the pool may free a reader: never a pointer).
 */
struct quiet {
	struct quiet_memo m;
	struct scale_spec spec;
	uint64_t reader_id;
	uint64_t dec_hash; /* quiet_decision_hash of the last decision */
	int64_t consumed;
	int32_t partitions, current, ready;
	int work_known;
	int64_t work_events, work_busy_ms;
};

/* One resource's history; keyed "<plural>/<ns>/<name>" (key: the map's
 * own copy). Compact (issue 19): hashes, not copies, of the uid and of
 * the last bad annotation reported. */
struct entry {
	struct scale_state state;
	const char *key;       /* the entries map's key, stable while held */
	uint64_t uid_hash;     /* a new object under the same name starts afresh */
	uint64_t bad_hash;     /* the malformed pause annotation last reported; 0: none */
	int64_t next_poll_ms;  /* monotonic: when its next poll is due */
	int64_t polling_ms;    /* its pollingInterval at the last parse; 0: the operator's */
	int64_t last_scale_ms; /* wall clock; 0: never scaled by this process */
	/* Per partition, for the persistent-lag rule: track_n entries, one per
	 * partition of its topic at the last read (NULL until then). */
	struct scale_partition_track *track;
	int32_t track_n;
	unsigned seen; /* the sweep that last saw it */
	enum kind kind;
	struct quiet *quiet;     /* NULL: not quiet, its next poll is full */
	struct topic_ref *topic; /* the topic of its last target; NULL: none yet */
	/* != 0: its last full poll had nothing to decide (a VideoJob not
	 * running, a spec the reconciler refuses): polls are skipped while
	 * its object's resourceVersion hashes so (no parse). */
	uint64_t inert_rv;
	int inert_no_dep; /* ... and its Deployment absent from its cache */
};

/* FNV-1a, never 0 (0 means "none"). */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* The multiple of every at or before t (t >= 0: the monotonic clock). */
static int64_t grid_of(int64_t t, int64_t every)
{
	return t - t % every;
}

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

/* One resource's poll in a chunk: what was observed before its lag read. */
struct poll {
	struct entry *e;
	cJSON *obj;
	struct target t;
	struct lag_reader *reader; /* NULL: no read (err says why) */
	char *dep_name;
	struct scale_obs ob;
	uint64_t dep_rv; /* hash of the Deployment's resourceVersion, read before it */
	int ready;       /* prepared: to be read and decided */
	int gone;        /* no longer in the store: forget it */
	char err[LAG_ERROR_MAX];
};

struct autoscaler {
	struct autoscaler_options o;
	struct strmap *entries;
	struct strmap *topics; /* name -> struct topic_ref */
	struct lag_pool *pool;
	/* One chunk's polls, lag queries, results and errors (reused). */
	struct poll polls[CHUNK];
	struct lag_query q[CHUNK];
	struct lag_result res[CHUNK];
	char errs[CHUNK][LAG_ERROR_MAX];
	/* The entries due this tick and their scheduled times (grown as
	 * needed). */
	struct entry **due;
	int64_t *due_ms;
	size_t due_cap;
	/* The quiet check's scratch (grown as needed): per quiet due entry,
	 * the index of its topic among those asked, and the topics' names,
	 * end sums and errors of one reader's lag_read_ends. */
	size_t *quiet_topic;
	const char **ends_topic;
	int32_t *ends_parts; /* the partitions the quiet entries' last full polls read */
	int64_t *ends_sum;
	char (*ends_err)[LAG_ERROR_MAX];
	unsigned char *quiet_done; /* per due entry: done (1), to check (2), full (0) */
	size_t quiet_cap;
	unsigned ends_round;    /* numbers the reader rounds of quiet_pass */
	int64_t *zeros;         /* scratch_cap zeros: a quiet sample's per-partition lag */
	int64_t next_due_ms;    /* monotonic: no entry is due before */
	int64_t next_sweep_ms;  /* monotonic */
	size_t swept_len;       /* the stores' sizes at the last sweep */
	int64_t wall_offset_ms; /* wall - monotonic, fixed at the start */
	/* Scratch of one poll, grown to the largest partition count seen:
	 * positions and how long each stood still. */
	int64_t *pos, *still;
	size_t scratch_cap, zeros_cap;
	pthread_t thread;
	atomic_int stop;
	unsigned sweep;
	struct metrics_family *m_lag, *m_desired, *m_decisions, *m_errors;
	struct metrics_family *m_rate, *m_input, *m_lag_seconds, *m_ready, *m_persistent;
};

static const char *str_at(const cJSON *obj, const char *a, const char *b)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, a);

	return cJSON_GetStringValue(b != NULL ? cJSON_GetObjectItemCaseSensitive(o, b) : o);
}

/* ---- entries and their topics ---- */

/* Holds name for an entry; NULL when out of memory. */
static struct topic_ref *topic_hold(struct autoscaler *a, const char *name)
{
	struct topic_ref *t = strmap_get(a->topics, name);

	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL || strmap_put(a->topics, name, t, &t->name, NULL) != STRMAP_OK) {
			free(t);
			return NULL;
		}
	}
	t->refs++;
	return t;
}

/* Lets go of t; the last entry to do so tells the pool (lag_pool_forget). */
static void topic_release(struct autoscaler *a, struct topic_ref *t)
{
	char name[512];

	if (t == NULL || --t->refs > 0)
		return;
	snprintf(name, sizeof(name), "%s", t->name); /* t->name is the map's */
	lag_pool_forget(a->pool, name);
	free(strmap_remove(a->topics, name));
}

/* e reads topic from now on. */
static void entry_set_topic(struct autoscaler *a, struct entry *e, const char *topic)
{
	struct topic_ref *t;

	if (e->topic != NULL && strcmp(e->topic->name, topic) == 0)
		return;
	t = topic_hold(a, topic);
	topic_release(a, e->topic);
	e->topic = t;
}

/* Frees e (NULL: no-op). gone: its resource was deleted, so its series
 * leave /metrics too ("<plural>/<ns>/<name>" is its key). */
static void entry_drop(struct autoscaler *a, struct entry *e, const char *key, int gone)
{
	if (e == NULL)
		return;
	if (gone && a->o.metrics != NULL && key != NULL) {
		char ns[REFLECTOR_KEY_MAX];
		const char *k = strchr(key, '/'), *name;

		if (k != NULL && (name = strchr(k + 1, '/')) != NULL &&
		    (size_t)(name - k - 1) < sizeof(ns)) {
			memcpy(ns, k + 1, (size_t)(name - k - 1));
			ns[name - k - 1] = '\0';
			(void)metrics_remove_matching(
			    a->o.metrics, (const char *const[]){"kind", "namespace", "name", NULL},
			    (const char *const[]){kinds[e->kind].label, ns, name + 1, NULL});
		}
	}
	topic_release(a, e->topic);
	scale_state_free(&e->state);
	free(e->track);
	free(e->quiet);
	free(e);
}

/* Removes the entry under key, gone or not (see entry_drop). */
static void entry_remove(struct autoscaler *a, const char *key, int gone)
{
	char k[512];

	snprintf(k, sizeof(k), "%s", key); /* key may be the map's own copy */
	entry_drop(a, strmap_remove(a->entries, k), k, gone);
}

/* ---- what to scale: the spec's numbers, through the workers' own parsers ---- */

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
	char why[192];
	int32_t paused = scale_pause_from_annotations(ann, why, sizeof(why));
	uint64_t h = why[0] != '\0' ? hash_str(why) : 0;

	if (h != 0 && h != e->bad_hash) {
		log_warn("invalid annotation, not paused", "resource", k->plural, "namespace",
		         str_at(obj, "metadata", "namespace"), "name",
		         str_at(obj, "metadata", "name"), "error", why, NULL);
		events_emit(a->o.ctx->kube, obj, EVENTS_WARNING, "InvalidAnnotation", why, "Scale",
		            a->o.ctx->instance);
	}
	e->bad_hash = h;
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
static void track_partitions(struct autoscaler *a, struct entry *e, const struct lag_result *res,
                             struct scale_obs *ob)
{
	const int32_t n = res->partitions;
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
		a->pos[i] = res->p[i].position;
	scale_track_partitions(e->track, n, a->pos, res->lag, ob->now_ms, fresh, a->still);
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

/* The Deployment's spec.replicas and readiness from the controller's
 * cache of the operator's Deployments (no request per poll; the
 * projection keeps them, controller.c), or a GET where there is no cache.
 * 0, or -1 when there is none (not created yet, or gone with its job). */
static int deployment_of(const struct autoscaler *a, const char *ns, const char *dep_name,
                         int32_t *replicas, int32_t *ready)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	cJSON *dep = NULL;

	if (ctx->deploy_store != NULL) {
		char key[REFLECTOR_KEY_MAX];
		int n = snprintf(key, sizeof(key), "%s/%s", ns, dep_name);

		if (n < 0 || (size_t)n >= sizeof(key) ||
		    reflector_store_get(ctx->deploy_store, key, &dep) != 0)
			return -1;
	} else {
		struct kube_error kerr;
		struct kube_ref dref = {.group = "apps",
		                        .version = "v1",
		                        .resource = "deployments",
		                        .namespace = ns,
		                        .name = dep_name};
		if (kube_client_get(ctx->kube, &dref, &dep, &kerr) != 0)
			return -1;
	}
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(dep, "spec"), "replicas");
	*replicas = cJSON_IsNumber(r) ? (int32_t)r->valuedouble : 1;
	*ready = ready_of(dep);
	cJSON_Delete(dep);
	return 0;
}

static void poll_clear(struct poll *p)
{
	cJSON_Delete(p->obj);
	free(p->dep_name);
	if (p->ready)
		target_free(&p->t);
	memset(p, 0, sizeof(*p));
}

/* Everything of p's poll before its lag read: the object from the store,
 * its target, pause, Deployment and reader. p->ready when it is to be
 * read and decided; p->gone when the resource left the store. */
static void prepare(struct autoscaler *a, struct poll *p, int64_t due_ms)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	struct entry *e = p->e;
	const struct kind_info *k = &kinds[e->kind];
	struct reflector_store *store = e->kind == KIND_TW ? ctx->tw_store : ctx->vj_store;
	const char *store_key = e->key + strlen(k->plural) + 1;
	const char *ns, *name, *uid;
	char err[512];
	uint64_t rv;

	/* A full poll: it decides afresh whether the entry is quiet. */
	free(e->quiet);
	e->quiet = NULL;
	e->inert_rv = 0;
	e->inert_no_dep = 0;
	if (reflector_store_get(store, store_key, &p->obj) != 0) {
		p->gone = 1;
		return;
	}
	ns = str_at(p->obj, "metadata", "namespace");
	name = str_at(p->obj, "metadata", "name");
	uid = str_at(p->obj, "metadata", "uid");
	rv = hash_str(str_at(p->obj, "metadata", "resourceVersion"));
	if (uid != NULL && hash_str(uid) != e->uid_hash) {
		/* Another object under the same name: a fresh history. */
		scale_state_free(&e->state);
		free(e->track);
		e->track = NULL;
		e->track_n = 0;
		e->last_scale_ms = 0;
		e->bad_hash = 0;
		e->uid_hash = hash_str(uid);
	}
	if (e->kind == KIND_VJ) {
		const char *phase = str_at(p->obj, "status", "phase");

		if (phase == NULL ||
		    (strcmp(phase, "Splitting") != 0 && strcmp(phase, "Processing") != 0)) {
			e->inert_rv = rv; /* nothing to scale until the object changes */
			return;
		}
	}
	if (target_of(a, e->kind, p->obj, &p->t, err, sizeof(err)) != 0) {
		e->inert_rv = rv; /* the reconciler reports the spec; an edit fixes it */
		return;
	}
	p->ready = 1; /* p->t is held from here */
	entry_set_topic(a, e, p->t.topic);
	/* Its own pollingInterval from now on; a change moves the next poll
	 * to the first multiple of the new one after this poll (schedule). */
	if (p->t.spec.polling_interval_ms != (e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms))
		e->next_poll_ms =
		    grid_of(due_ms, p->t.spec.polling_interval_ms) + p->t.spec.polling_interval_ms;
	e->polling_ms = p->t.spec.polling_interval_ms;
	p->ob.ready_replicas = -1;
	p->ob.paused_replicas = paused_of(a, k, p->obj, e);
	p->ob.paused = p->ob.paused_replicas != SCALE_NOT_PAUSED;
	p->dep_name = children_name(p->obj, k->mode);
	if (p->dep_name != NULL && ns != NULL && ctx->deploy_store != NULL) {
		/* Before the Deployment itself: a change in between makes the
		 * next quiet check differ (a full poll), never miss. */
		char key[REFLECTOR_KEY_MAX], drv[64];
		int n = snprintf(key, sizeof(key), "%s/%s", ns, p->dep_name);

		if (n > 0 && (size_t)n < sizeof(key) &&
		    reflector_store_rv(ctx->deploy_store, key, drv, sizeof(drv)) == 0)
			p->dep_rv = hash_str(drv);
	}
	if (p->dep_name == NULL || ns == NULL || name == NULL ||
	    deployment_of(a, ns, p->dep_name, &p->ob.current_replicas, &p->ob.ready_replicas) !=
	        0) {
		if (ctx->deploy_store != NULL && p->dep_name != NULL) {
			/* No Deployment (yet, or any more): nothing to scale until
			 * the object changes or the Deployment appears. */
			e->inert_rv = rv;
			e->inert_no_dep = 1;
		}
		target_free(&p->t);
		p->ready = 0;
		return;
	}
	/* The poll's scheduled time, not the instant it ran: polls then fall
	 * evenly spaced, so an idle resource's history stays a quiet run
	 * with no ring (scale.h, "State"). */
	p->ob.now_ms = a->wall_offset_ms + due_ms;
	if (p->t.sec_error != NULL)
		snprintf(p->err, sizeof(p->err), "%s", p->t.sec_error);
	else
		p->reader = lag_pool_get(a->pool, p->t.bootstrap, p->t.sec, p->err, sizeof(p->err));
}

/* After a full poll of p decided dec with nothing to do: the entry is
 * quiet (scale_quiet.h) and remembers what its next polls compare with,
 * and what the history is fed on them (quiet_poll). */
static void remember_quiet(struct autoscaler *a, struct poll *p, const struct lag_result *res,
                           const struct scale_decision *dec)
{
	struct entry *e = p->e;
	struct quiet *q;
	int64_t end_sum = 0;

	if (p->dep_rv == 0 || e->topic == NULL || p->reader == NULL ||
	    a->o.ctx->deploy_store == NULL)
		return; /* nothing to compare with: every poll stays full */
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return;
	for (int32_t i = 0; i < res->partitions; i++)
		end_sum += res->p[i].end;
	/* since_full: the phase quiet_verdict_of computes. */
	q->m = (struct quiet_memo){
	    .obj_rv = hash_str(str_at(p->obj, "metadata", "resourceVersion")),
	    .dep_rv = p->dep_rv,
	    .end_sum = end_sum,
	};
	q->spec = p->t.spec;
	q->reader_id = lag_reader_id(p->reader);
	q->dec_hash = quiet_decision_hash(dec);
	q->consumed = res->consumed;
	q->partitions = res->partitions;
	q->current = p->ob.current_replicas;
	q->ready = p->ob.ready_replicas;
	q->work_known = p->ob.work_known;
	q->work_events = p->ob.work_events;
	q->work_busy_ms = p->ob.work_busy_ms;
	free(e->quiet);
	e->quiet = q;
}

/* Decides p's poll with its lag read (res: read_ok) and acts on it. */
static void finish(struct autoscaler *a, struct poll *p, const struct lag_result *res, int read_ok)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	struct entry *e = p->e;
	const struct kind_info *k = &kinds[e->kind];
	const char *ns = str_at(p->obj, "metadata", "namespace");
	const char *name = str_at(p->obj, "metadata", "name");
	const char *labels[] = {k->label, ns, name, NULL};
	struct scale_obs *ob = &p->ob;
	struct scale_decision dec;
	struct kube_error kerr;
	char err[512];
	cJSON *patch;

	if (read_ok) {
		ob->ok = 1;
		ob->total_lag = res->total_lag;
		ob->partition_lag = res->lag;
		ob->partitions = res->partitions;
		ob->consumed = res->consumed;
		track_partitions(a, e, res, ob);
		if (e->kind == KIND_TW)
			observe_work(a, ns, name, ob);
	} else {
		metrics_inc(a->m_errors, labels);
		log_warn("cannot read lag", "resource", k->plural, "namespace", ns, "name", name,
		         "error", p->err, NULL);
	}
	scale_decide(&p->t.spec, &e->state, ob, read_ok ? NULL : p->err, &dec);
	metrics_inc(a->m_decisions,
	            (const char *const[]){k->label, ns, name, scale_reason_name(dec.reason), NULL});
	set_metrics(a, labels, ob, &dec);

	if (dec.desired != ob->current_replicas) {
		struct kube_ref dref = {.group = "apps",
		                        .version = "v1",
		                        .resource = "deployments",
		                        .namespace = ns,
		                        .name = p->dep_name};
		cJSON *out = NULL;

		if (kube_client_scale(ctx->kube, &dref, dec.desired, &out, &kerr) == 0) {
			char note[SCALE_REASON_MAX + 96];

			e->last_scale_ms = ob->now_ms;
			snprintf(note, sizeof(note), "%d -> %d replicas (%s): %s",
			         ob->current_replicas, dec.desired, scale_reason_name(dec.reason),
			         dec.reason_text);
			log_info("scaled", "resource", k->plural, "namespace", ns, "name", name,
			         "reason", dec.reason_text, NULL);
			events_emit(ctx->kube, p->obj, EVENTS_NORMAL, "Scaled", note, "Scale",
			            ctx->instance);
		} else {
			kube_error_format(&kerr, err, sizeof(err));
			log_warn("cannot scale", "resource", k->plural, "namespace", ns, "name",
			         name, "deployment", p->dep_name, "error", err, NULL);
		}
		cJSON_Delete(out);
	}
	patch = status_patch(p->obj, &dec, e->last_scale_ms);
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
	const struct quiet_outcome qo = {
	    .read_ok = read_ok,
	    .total_lag = read_ok ? res->total_lag : -1,
	    .desired = dec.desired,
	    .current = ob->current_replicas,
	    .paused = ob->paused,
	    .reason = dec.reason,
	    .history_idle = scale_state_heap_bytes(&e->state) == 0,
	};
	if (quiet_eligible(&qo))
		remember_quiet(a, p, res, &dec);
}

static int by_reader(const void *x, const void *y)
{
	uintptr_t a = (uintptr_t)((const struct poll *)x)->reader;
	uintptr_t b = (uintptr_t)((const struct poll *)y)->reader;

	return (a > b) - (a < b);
}

/* Polls n due entries (n <= CHUNK) with their scheduled times: each
 * cluster's lag read in one round for all of them (lag_read_many). */
static void poll_chunk(struct autoscaler *a, struct entry **due, const int64_t *due_ms, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		a->polls[i].e = due[i];
		prepare(a, &a->polls[i], due_ms[i]);
	}
	/* The resources of one cluster next to each other. */
	qsort(a->polls, n, sizeof(a->polls[0]), by_reader);
	for (i = 0; i < n; i = j) {
		struct lag_reader *r = a->polls[i].reader;
		size_t m = 0;

		for (j = i; j < n && a->polls[j].reader == r; j++)
			if (a->polls[j].ready && r != NULL) {
				a->q[m] = (struct lag_query){
				    a->polls[j].t.group, a->polls[j].t.topic, LAG_RESET_EARLIEST};
				m++;
			}
		if (r == NULL || m == 0)
			continue;
		(void)lag_read_many(r, m, a->q, a->res, a->errs, a->o.kafka_timeout_ms);
		/* Back to the polls, in the same order. */
		m = 0;
		for (size_t k = i; k < j; k++) {
			struct poll *p = &a->polls[k];

			if (!p->ready)
				continue;
			if (a->errs[m][0] != '\0')
				snprintf(p->err, sizeof(p->err), "%s", a->errs[m]);
			if (atomic_load(&a->stop) == 0)
				finish(a, p, &a->res[m], a->errs[m][0] == '\0');
			p->ready = 2; /* decided */
			m++;
		}
	}
	for (i = 0; i < n; i++) {
		struct poll *p = &a->polls[i];

		if (p->ready == 1 && atomic_load(&a->stop) == 0)
			finish(a, p, NULL, 0); /* no reader: p->err says why */
		if (p->ready == 2)
			p->ready = 1;
		if (p->gone)
			entry_remove(a, p->e->key, 1);
		poll_clear(p);
	}
}

/* ---- the quiet fast path (scale_quiet.h) ---- */

/* Room for n due entries and n topics in the quiet scratch; 0 or -1. */
static int quiet_room(struct autoscaler *a, size_t n)
{
	if (n <= a->quiet_cap)
		return 0;
	size_t *qt = realloc(a->quiet_topic, n * sizeof(*qt));
	if (qt == NULL)
		return -1;
	a->quiet_topic = qt;
	const char **et = realloc(a->ends_topic, n * sizeof(*et));
	if (et == NULL)
		return -1;
	a->ends_topic = et;
	int32_t *ep = realloc(a->ends_parts, n * sizeof(*ep));
	if (ep == NULL)
		return -1;
	a->ends_parts = ep;
	unsigned char *qd = realloc(a->quiet_done, n);
	if (qd == NULL)
		return -1;
	a->quiet_done = qd;
	int64_t *es = realloc(a->ends_sum, n * sizeof(*es));
	if (es == NULL)
		return -1;
	a->ends_sum = es;
	char(*ee)[LAG_ERROR_MAX] = realloc(a->ends_err, n * sizeof(*ee));
	if (ee == NULL)
		return -1;
	a->ends_err = ee;
	a->quiet_cap = n;
	return 0;
}

/* Hash of the resourceVersion under key in store; 0 when absent. */
static uint64_t rv_of(struct reflector_store *store, const char *key)
{
	char rv[64];

	if (store == NULL || reflector_store_rv(store, key, rv, sizeof(rv)) != 0)
		return 0;
	return hash_str(rv);
}

/*
 * A quiet entry's poll that found nothing changed: the history gets the
 * sample a full poll would have given it (scale.h's idle run stays one, no
 * ring: the decisions after it are those of polls never skipped), with
 * what the last full poll read; lag 0, the per-partition lag and
 * persistent-lag clocks 0 (scale_track_partitions restarts a partition's
 * clock at any poll with no lag, so the skipped track updates change
 * nothing). 1 when the decision is the last full poll's (no status, no
 * scale, the same gauges: the poll is done); 0 with the state as it was
 * when it differs (time alone moved it: a full poll decides it now).
 */
static int quiet_poll(struct autoscaler *a, struct entry *e, int64_t due_ms)
{
	const struct quiet *q = e->quiet;
	const struct scale_state saved = e->state; /* no ring: a quiet entry's history holds none */
	struct scale_decision dec;

	if ((size_t)q->partitions > a->zeros_cap) {
		int64_t *z = calloc((size_t)q->partitions, sizeof(*z));

		if (z == NULL)
			return 0;
		free(a->zeros);
		a->zeros = z;
		a->zeros_cap = (size_t)q->partitions;
	}
	const struct scale_obs ob = {
	    .ok = 1,
	    .total_lag = 0,
	    .partition_lag = a->zeros,
	    .partitions = q->partitions,
	    .consumed = q->consumed,
	    .current_replicas = q->current,
	    .now_ms = a->wall_offset_ms + due_ms,
	    .ready_replicas = q->ready,
	    .partition_still_ms = a->zeros,
	    .paused = 0,
	    .paused_replicas = SCALE_NOT_PAUSED,
	    .work_known = q->work_known,
	    .work_events = q->work_events,
	    .work_busy_ms = q->work_busy_ms,
	};
	scale_decide(&q->spec, &e->state, &ob, NULL, &dec);
	if (e->state.ring == NULL && quiet_decision_hash(&dec) == q->dec_hash)
		return 1;
	scale_state_free(&e->state);
	e->state = saved;
	return 0;
}

/* Hash of e's Deployment's resourceVersion in the cache; 0: absent. */
static uint64_t dep_rv_of(struct autoscaler *a, const struct entry *e)
{
	const struct kind_info *k = &kinds[e->kind];
	char dkey[REFLECTOR_KEY_MAX];
	int n = snprintf(dkey, sizeof(dkey), "%s-%s", e->key + strlen(k->plural) + 1,
	                 k->mode); /* children_name */

	return n > 0 && (size_t)n < sizeof(dkey) ? rv_of(a->o.ctx->deploy_store, dkey) : 0;
}

/* The verdict for quiet entry e's poll due at due_ms, its topic's end sum
 * read (ends_ok). The periodic full poll comes every QUIET_FULL_EVERY-th
 * interval on the grid (schedule), at a phase of the entry's own (a hash
 * of its key): the polls of one interval share a tick, and the full ones
 * of many entries spread evenly over the ticks of the cycle instead of
 * falling together. */
static enum quiet_verdict quiet_verdict_of(struct autoscaler *a, struct entry *e, int64_t due_ms,
                                           int reader_ok, int ends_ok, int64_t end_sum)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	const struct kind_info *k = &kinds[e->kind];
	struct reflector_store *store = e->kind == KIND_TW ? ctx->tw_store : ctx->vj_store;
	const char *store_key = e->key + strlen(k->plural) + 1;
	struct quiet_seen seen = {.reader_ok = reader_ok, .ends_ok = ends_ok, .end_sum = end_sum};

	seen.obj_rv = rv_of(store, store_key);
	seen.obj_found = seen.obj_rv != 0;
	seen.dep_rv = dep_rv_of(a, e);
	seen.dep_found = seen.dep_rv != 0;
	struct quiet_memo m = e->quiet->m;
	const int64_t every = e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms;
	m.since_full =
	    (uint32_t)(((uint64_t)(due_ms / every) + hash_str(e->key)) % QUIET_FULL_EVERY);
	return quiet_check(&m, &seen, QUIET_FULL_EVERY);
}

/* A quiet entry's poll goes in full (why: verdict v, or its decision). */
static void quiet_to_full(struct entry *e, enum quiet_verdict v)
{
	log_debug("quiet resource polled in full", "resource", e->key, "why",
	          v == QUIET_SKIP ? "decision" : quiet_verdict_name(v), NULL);
}

/* The distinct topics of the quiet entries to check (done 2) read by
 * reader id into the ends scratch, each with the most partitions one of
 * its entries' last full polls read (one that read fewer then sees its
 * sum move and is polled in full); quiet_topic[i] is entry i's slot.
 * Returns how many. */
static size_t quiet_topics_of(struct autoscaler *a, size_t n, uint64_t id)
{
	const unsigned round = ++a->ends_round;
	size_t ntopics = 0;

	for (size_t i = 0; i < n; i++) {
		struct entry *e = a->due[i];
		struct topic_ref *t = e->topic;

		if (a->quiet_done[i] != 2 || e->quiet->reader_id != id)
			continue;
		if (t->mark != round) {
			t->mark = round;
			t->slot = ntopics;
			a->ends_topic[ntopics] = t->name;
			a->ends_parts[ntopics++] = 0;
		}
		if (e->quiet->partitions > a->ends_parts[t->slot])
			a->ends_parts[t->slot] = e->quiet->partitions;
		a->quiet_topic[i] = t->slot;
	}
	return ntopics;
}

/*
 * Before the full polls of a tick: the due entries that are inert (their
 * object unchanged) or quiet (object, Deployment and topic unchanged, the
 * decision the same) are done here and leave the due list. What a quiet
 * entry's store shows is looked at first (an edit, its periodic full
 * poll: no read); for the rest, one lag_read_ends per reader for their
 * distinct topics, with the partition counts their last full polls read
 * (no Metadata request). The polls fall on multiples of the polling
 * interval (tick), so this is one round per interval for all of them.
 * Returns how many are left, in order, for the full polls.
 */
static size_t quiet_pass(struct autoscaler *a, size_t n)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	unsigned char *done;
	size_t kept = 0, quiet = 0;

	if (n == 0 || quiet_room(a, n) != 0)
		return n;
	done = a->quiet_done;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = a->due[i];
		enum quiet_verdict v;

		done[i] = 0;
		if (e->inert_rv != 0) {
			const char *store_key = e->key + strlen(kinds[e->kind].plural) + 1;
			struct reflector_store *store =
			    e->kind == KIND_TW ? ctx->tw_store : ctx->vj_store;

			done[i] = rv_of(store, store_key) == e->inert_rv &&
			          (!e->inert_no_dep || dep_rv_of(a, e) == 0);
		} else if (e->quiet != NULL) {
			/* Its topic as last read: only what the stores say. */
			v = quiet_verdict_of(a, e, a->due_ms[i], 1, 1, e->quiet->m.end_sum);
			if (v == QUIET_SKIP) {
				quiet++;
				done[i] = 2; /* its topic to be read below */
			} else {
				quiet_to_full(e, v);
			}
		}
	}
	/* The quiet ones, reader by reader. */
	while (quiet > 0 && !atomic_load(&a->stop)) {
		uint64_t id = 0;
		struct lag_reader *r;
		size_t ntopics;

		for (size_t i = 0; i < n && id == 0; i++)
			if (done[i] == 2)
				id = a->due[i]->quiet->reader_id;
		ntopics = quiet_topics_of(a, n, id);
		r = lag_pool_find(a->pool, id);
		for (size_t off = 0; r != NULL && off < ntopics; off += LAG_READ_MANY_MAX) {
			size_t m =
			    ntopics - off < LAG_READ_MANY_MAX ? ntopics - off : LAG_READ_MANY_MAX;

			(void)lag_read_ends(r, m, a->ends_topic + off, a->ends_parts + off,
			                    a->ends_sum + off, a->ends_err + off,
			                    a->o.kafka_timeout_ms);
		}
		for (size_t i = 0; i < n; i++) {
			struct entry *e = a->due[i];
			size_t t = a->quiet_topic[i];
			enum quiet_verdict v;

			if (done[i] != 2 || e->quiet->reader_id != id)
				continue;
			quiet--;
			v = quiet_verdict_of(a, e, a->due_ms[i], r != NULL,
			                     r != NULL && a->ends_err[t][0] == '\0',
			                     r != NULL ? a->ends_sum[t] : 0);
			if (v == QUIET_SKIP && quiet_poll(a, e, a->due_ms[i])) {
				e->quiet->m.since_full++;
				done[i] = 1;
			} else {
				quiet_to_full(e, v);
				done[i] = 0;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		if (done[i] != 1) {
			a->due[kept] = a->due[i];
			a->due_ms[kept] = a->due_ms[i];
			kept++;
		}
	return kept;
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
};

/* The sweep: an entry for every resource in the stores (keys only: the
 * entry's uid is read at its first full poll). */
static int sweep_one(const char *key, const char *rv, void *opaque)
{
	struct collect *c = opaque;
	struct autoscaler *a = c->a;
	char k[512];
	struct entry *e;
	(void)rv;

	entry_key(k, sizeof(k), c->kind, key);
	e = strmap_get(a->entries, k);
	if (e == NULL) {
		void *old = NULL;

		e = calloc(1, sizeof(*e));
		if (e == NULL || strmap_put(a->entries, k, e, &e->key, &old) != 0) {
			free(e);
			return 0;
		}
		entry_drop(a, old, NULL, 0);
		e->kind = c->kind;
		a->next_due_ms = 0; /* due at once */
	}
	e->seen = a->sweep;
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

static size_t stores_len(const struct reconcile_ctx *ctx)
{
	return (ctx->tw_store != NULL ? reflector_store_len(ctx->tw_store) : 0) +
	       (ctx->vj_store != NULL ? reflector_store_len(ctx->vj_store) : 0);
}

/* Walks the stores' keys (no object parsed; when their size changed and
 * every SWEEP_MS): new resources get an entry, deleted ones lose theirs
 * with their metrics series and, the last of a topic, its topic. */
static void sweep(struct autoscaler *a, int64_t now)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	struct collect c = {.a = a};
	struct sweep_arg s = {.a = a};

	a->sweep++;
	a->swept_len = stores_len(ctx);
	a->next_sweep_ms = now + SWEEP_MS;
	if (ctx->tw_store != NULL) {
		c.kind = KIND_TW;
		reflector_store_foreach_key(ctx->tw_store, sweep_one, &c);
	}
	if (ctx->vj_store != NULL) {
		c.kind = KIND_VJ;
		reflector_store_foreach_key(ctx->vj_store, sweep_one, &c);
	}
	/* Deleted resources take their history with them. */
	strmap_foreach(a->entries, find_gone, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.gone[i] != NULL)
			entry_remove(a, s.gone[i], 1);
		free(s.gone[i]);
	}
	free(s.gone);
}

struct due_arg {
	struct autoscaler *a;
	int64_t now, next;
	size_t n;
};

/* Collects the entries due now (and moves their next poll one interval
 * on, from when it was due, so that polls stay evenly spaced). */
static int collect_due(const char *key, void *value, void *opaque)
{
	struct due_arg *d = opaque;
	struct autoscaler *a = d->a;
	struct entry *e = value;
	(void)key;

	if (d->now < e->next_poll_ms) {
		if (e->next_poll_ms < d->next)
			d->next = e->next_poll_ms;
		return 0;
	}
	if (d->n == a->due_cap) {
		size_t cap = a->due_cap ? a->due_cap * 2 : 256;
		struct entry **g = realloc(a->due, cap * sizeof(*g));

		if (g == NULL)
			return 1;
		a->due = g;
		int64_t *t = realloc(a->due_ms, cap * sizeof(*t));
		if (t == NULL)
			return 1;
		a->due_ms = t;
		a->due_cap = cap;
	}
	a->due[d->n++] = e;
	return 0;
}

static int collect_next(const char *key, void *value, void *opaque)
{
	struct due_arg *d = opaque;
	const struct entry *e = value;
	(void)key;

	if (e->next_poll_ms < d->next)
		d->next = e->next_poll_ms;
	return 0;
}

/*
 * Moves e's next poll one interval on and returns when this one is due.
 * Polls fall on multiples of the polling interval (on the monotonic
 * clock): every resource with the same interval is polled in the same
 * tick, so the quiet checks and full polls of all are one round each per
 * interval (quiet_pass, poll_chunk), not a round every tick. A first
 * poll runs at once, scheduled at the multiple just passed (less than an
 * interval ago), so the polls after it are evenly spaced from it and an
 * idle history stays one run (scale.h, "State").
 */
static int64_t schedule(struct autoscaler *a, struct entry *e, int64_t now)
{
	int64_t every = e->polling_ms > 0 ? e->polling_ms : a->o.polling_ms;
	int64_t due = e->next_poll_ms > 0 ? e->next_poll_ms : grid_of(now, every);

	e->next_poll_ms = due + every;
	if (e->next_poll_ms <= now) { /* fell behind: on from the multiple just passed */
		due = grid_of(now, every);
		e->next_poll_ms = due + every;
		/* A history of one poll (a first round that took longer than
		 * an interval, as after a restart with thousands of resources)
		 * starts again from this one: kept, its uneven first step would
		 * give every such resource a ring for a whole window. */
		if (e->state.ring == NULL && e->state.count <= 1)
			scale_state_free(&e->state);
	}
	return due;
}

static void tick(struct autoscaler *a)
{
	const struct reconcile_ctx *ctx = a->o.ctx;
	int64_t now = clock_mono_ms();
	struct due_arg d = {.a = a, .now = now, .next = INT64_MAX};

	if (now >= a->next_sweep_ms || stores_len(ctx) != a->swept_len)
		sweep(a, now);
	if (now < a->next_due_ms)
		return; /* nothing due: no walk at all */
	strmap_foreach(a->entries, collect_due, &d);
	for (size_t j = 0; j < d.n; j++)
		a->due_ms[j] = schedule(a, a->due[j], now);
	/* The quiet and inert ones first: those with nothing new are done. */
	d.n = quiet_pass(a, d.n);
	for (size_t i = 0; i < d.n; i += CHUNK) {
		size_t m = d.n - i < CHUNK ? d.n - i : CHUNK;

		if (!atomic_load(&a->stop))
			poll_chunk(a, a->due + i, a->due_ms + i, m);
	}
	/* The next due, the polled ones included (their intervals may have
	 * changed while polled). */
	d = (struct due_arg){.a = a, .now = INT64_MIN, .next = INT64_MAX};
	a->next_due_ms = INT64_MAX;
	strmap_foreach(a->entries, collect_next, &d);
	a->next_due_ms = d.next;
}

static int drop_entry(const char *key, void *value, void *opaque)
{
	entry_drop(opaque, value, key, 0);
	return 0;
}

static void forget_all(struct autoscaler *a)
{
	strmap_foreach(a->entries, drop_entry, a);
	strmap_free(a->entries);
	strmap_new(&a->entries, MAX_RESOURCES);
	a->next_due_ms = a->next_sweep_ms = 0;
	a->swept_len = 0;
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
	a->wall_offset_ms = clock_real_ns() / 1000000 - clock_mono_ms();
	if (strmap_new(&a->entries, MAX_RESOURCES) != 0 ||
	    strmap_new(&a->topics, MAX_RESOURCES) != 0 || lag_pool_new(16, &a->pool) != 0) {
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
	strmap_free(a->topics);
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
		strmap_foreach(a->entries, drop_entry, a);
		strmap_free(a->entries);
	}
	strmap_free(a->topics); /* empty: every entry let go of its topic */
	for (size_t i = 0; i < CHUNK; i++)
		lag_result_free(&a->res[i]);
	lag_pool_free(a->pool);
	free(a->due);
	free(a->due_ms);
	free(a->quiet_topic);
	free(a->ends_topic);
	free(a->ends_parts);
	free(a->quiet_done);
	free(a->ends_sum);
	free(a->ends_err);
	free(a->zeros);
	free(a->pos);
	free(a->still);
	free(a);
}
