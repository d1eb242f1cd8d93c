/* controller.c - see controller.h. */
#include "controller.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "children.h"
#include "clock.h"
#include "log.h"
#include "reconcile_tw.h"
#include "reconcile_vj.h"
#include "reconcile_vw.h"
#include "vw_spec.h"
#include "workqueue.h"

/* A kind the operator reconciles: its reflector and reconciler. */
struct kind {
	const char *kind;   /* the queue key's first part: "TelemetryWindow" */
	const char *plural; /* "telemetrywindows" */
	const char *label;  /* the children's label: "sluice.dev/telemetrywindow" */
	int (*reconcile)(const struct reconcile_ctx *ctx, const char *ns, const char *name);
};

static const struct kind kinds[] = {
    {RECONCILE_TW_KIND, RECONCILE_TW_PLURAL, "sluice.dev/telemetrywindow", reconcile_tw},
    {RECONCILE_VJ_KIND, RECONCILE_VJ_PLURAL, "sluice.dev/videojob", reconcile_vj},
    {RECONCILE_VW_KIND, RECONCILE_VW_PLURAL, VW_LABEL_WATCH, reconcile_vw},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The children watched, by label, so that their changes reach the owner. */
static const struct kube_ref child_refs[] = {
    {"apps", "v1", "deployments", NULL, NULL, NULL},
    {"batch", "v1", "jobs", NULL, NULL, NULL},
};
#define NCHILDREN (sizeof(child_refs) / sizeof(child_refs[0]))
#define NREFLECTORS (NKINDS + NCHILDREN)

#define MAX_WORKERS 64

/* What a reflector's handler gets. */
struct handler_arg {
	struct controller *c;
	const struct kind *kind; /* NULL: a child reflector */
};

struct controller {
	struct controller_options opts;
	struct reconcile_ctx ctx;
	struct workqueue *queue;
	struct reflector *refl[NREFLECTORS];
	const char *refl_name[NREFLECTORS];
	struct handler_arg handler_args[NREFLECTORS];
	pthread_t refl_threads[NREFLECTORS];
	int refl_started[NREFLECTORS];
	pthread_t workers[MAX_WORKERS];
	int want_workers;  /* started by controller_activate */
	int nworkers;      /* running */
	atomic_int active; /* reconciles allowed (this replica leads) */
	atomic_int busy;   /* workers inside an iteration that may reconcile */
	atomic_int stop;

	/* Metrics, and the last counters copied into them. */
	struct metrics_family *m_reconciles, *m_errors, *m_duration, *m_depth, *m_adds, *m_retries,
	    *m_restarts, *m_relists, *m_objects, *m_requests;
	uint64_t last_adds, last_retries;
	uint64_t last_restarts[NREFLECTORS], last_relists[NREFLECTORS];
	unsigned long long last_requests[KUBE_VERB_COUNT][KUBE_STATS_CODES];

	/* The last failed reconcile, for controller_status. */
	pthread_mutex_t err_mu;
	uint64_t errors;
	char last_error_key[WORKQUEUE_KEY_MAX];
	int64_t last_error_ns;
};
_Static_assert(NREFLECTORS <= CONTROLLER_STATUS_RESOURCES, "a status slot per reflector");

static void enqueue(struct controller *c, const char *kind, const char *ns, const char *name)
{
	char key[WORKQUEUE_KEY_MAX];
	int rc;

	if (workqueue_key(key, sizeof(key), kind, ns, name) != 0)
		return;
	rc = workqueue_add(c->queue, key);
	if (rc != 0 && rc != WORKQUEUE_ESHUTDOWN)
		log_error("cannot queue", "key", key, "error", workqueue_strerror(rc), NULL);
}

static const cJSON *meta(const cJSON *obj, const char *field)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	                                        field);
}

/* Whether an update is one the reconciler must see: not the status alone
 * (controller-runtime's GenerationChangedPredicate, plus what deletion
 * moves). */
static int worth_reconciling(const cJSON *obj, const cJSON *old)
{
	static const char *const fields[] = {"generation", "deletionTimestamp", "finalizers"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const cJSON *a = meta(obj, fields[i]), *b = meta(old, fields[i]);
		if ((a == NULL) != (b == NULL) || (a != NULL && !cJSON_Compare(a, b, 1)))
			return 1;
	}
	return 0;
}

static void on_resource(enum reflector_event ev, const char *key, const cJSON *obj,
                        const cJSON *old, void *opaque)
{
	struct handler_arg *a = opaque;
	const cJSON *o = obj != NULL ? obj : old;
	const char *watch;
	(void)key;

	/* A VideoWatch counts its VideoJobs' phases: any change of one of
	 * them, status included, is its business. */
	watch = strcmp(a->kind->kind, RECONCILE_VJ_KIND) == 0
	            ? cJSON_GetStringValue(
	                  cJSON_GetObjectItemCaseSensitive(meta(o, "labels"), VW_LABEL_WATCH))
	            : NULL;
	if (watch != NULL)
		enqueue(a->c, RECONCILE_VW_KIND, cJSON_GetStringValue(meta(o, "namespace")), watch);
	if (ev == REFLECTOR_UPDATED && !worth_reconciling(obj, old))
		return;
	enqueue(a->c, a->kind->kind, cJSON_GetStringValue(meta(o, "namespace")),
	        cJSON_GetStringValue(meta(o, "name")));
}

static void on_child(enum reflector_event ev, const char *key, const cJSON *obj, const cJSON *old,
                     void *opaque)
{
	struct handler_arg *a = opaque;
	const cJSON *o = obj != NULL ? obj : old;
	const cJSON *labels = meta(o, "labels");
	(void)ev;
	(void)key;

	for (size_t i = 0; i < NKINDS; i++) {
		const char *owner =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(labels, kinds[i].label));
		if (owner != NULL)
			enqueue(a->c, kinds[i].kind, cJSON_GetStringValue(meta(o, "namespace")),
			        owner);
	}
}

/* The Deployments' projection: reflector_keep_metadata (on_child reads
 * labels) plus what the autoscaler reads instead of a GET per poll
 * (autoscaler.c): spec.replicas, status.readyReplicas and
 * status.observedGeneration. Nothing else reads this cache. */
static void keep_deployment(cJSON *obj)
{
	static const char *const status_keep[] = {"readyReplicas", "observedGeneration"};
	cJSON *replicas = cJSON_DetachItemFromObjectCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "spec"), "replicas");
	cJSON *old_status = cJSON_DetachItemFromObjectCaseSensitive(obj, "status");
	cJSON *spec, *status;

	reflector_keep_metadata(obj);
	if (replicas != NULL && (spec = cJSON_AddObjectToObject(obj, "spec")) != NULL)
		cJSON_AddItemToObject(spec, "replicas", replicas);
	else
		cJSON_Delete(replicas);
	if (old_status != NULL && (status = cJSON_AddObjectToObject(obj, "status")) != NULL)
		for (size_t i = 0; i < sizeof(status_keep) / sizeof(status_keep[0]); i++) {
			cJSON *f =
			    cJSON_DetachItemFromObjectCaseSensitive(old_status, status_keep[i]);
			if (f != NULL)
				cJSON_AddItemToObject(status, status_keep[i], f);
		}
	cJSON_Delete(old_status);
}

static void *reflector_thread(void *arg)
{
	reflector_run(arg);
	return NULL;
}

static const struct kind *kind_named(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i].kind, name) == 0)
			return &kinds[i];
	return NULL;
}

static void *worker_thread(void *arg)
{
	struct controller *c = arg;
	char key[WORKQUEUE_KEY_MAX], split[WORKQUEUE_KEY_MAX];

	while (!atomic_load(&c->stop)) {
		const char *kind_name, *ns, *name;
		const struct kind *k;
		int rc = RECONCILE_ERROR;
		double t0;

		/* busy is raised before active is read, so controller_deactivate,
		 * which lowers active and then waits for busy to reach 0, never
		 * returns while a reconcile may still start. */
		atomic_fetch_add(&c->busy, 1);
		if (!atomic_load(&c->active)) {
			atomic_fetch_sub(&c->busy, 1);
			struct timespec pause = {0, 100 * 1000 * 1000};
			nanosleep(&pause, NULL);
			continue;
		}
		int got = workqueue_get(c->queue, key, sizeof(key), 500);
		if (got == WORKQUEUE_ETIMEDOUT) {
			atomic_fetch_sub(&c->busy, 1);
			continue;
		}
		if (got != 0) {
			atomic_fetch_sub(&c->busy, 1);
			break; /* shut down */
		}
		t0 = clock_mono_s();

		memcpy(split, key, sizeof(split));
		if (workqueue_key_split(split, &kind_name, &ns, &name) != 0 ||
		    (k = kind_named(kind_name)) == NULL) {
			workqueue_forget(c->queue, key);
			workqueue_done(c->queue, key);
			atomic_fetch_sub(&c->busy, 1);
			continue;
		}
		rc = k->reconcile(&c->ctx, ns, name);
		const char *labels[] = {k->kind, rc == RECONCILE_ERROR ? "error" : "success", NULL};
		const char *kl[] = {k->kind, NULL};
		metrics_inc(c->m_reconciles, labels);
		metrics_observe(c->m_duration, kl, clock_mono_s() - t0);
		if (rc == RECONCILE_ERROR) {
			int64_t delay = 0;
			metrics_inc(c->m_errors, kl);
			pthread_mutex_lock(&c->err_mu);
			c->errors++;
			snprintf(c->last_error_key, sizeof(c->last_error_key), "%s", key);
			c->last_error_ns = clock_real_ns();
			pthread_mutex_unlock(&c->err_mu);
			workqueue_add_rate_limited(c->queue, key, &delay);
			log_debug("reconcile failed, retrying", "key", key, NULL);
		} else {
			workqueue_forget(c->queue, key);
			if (rc == RECONCILE_POLL)
				workqueue_add_after(c->queue, key, c->ctx.poll_ms);
		}
		workqueue_done(c->queue, key);
		atomic_fetch_sub(&c->busy, 1);
	}
	return NULL;
}

static int register_metrics(struct controller *c, char *errbuf, size_t n)
{
	static const char *const kind_result[] = {"kind", "result", NULL};
	static const char *const kind[] = {"kind", NULL};
	static const char *const resource[] = {"resource", NULL};
	static const char *const verb_code[] = {"verb", "code", NULL};
	static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
	struct metrics_registry *r = c->opts.metrics;

	if (r == NULL)
		return 0;
	if (metrics_counter(r, "sluice_operator_reconcile_total", "Reconciles by kind and result.",
	                    kind_result, &c->m_reconciles, errbuf, n) != 0 ||
	    metrics_counter(r, "sluice_operator_reconcile_errors_total",
	                    "Reconciles that failed and were retried with backoff.", kind,
	                    &c->m_errors, errbuf, n) != 0 ||
	    metrics_histogram(r, "sluice_operator_reconcile_duration_seconds",
	                      "Time one reconcile took.", kind, bounds,
	                      sizeof(bounds) / sizeof(bounds[0]), &c->m_duration, errbuf, n) != 0 ||
	    metrics_gauge(r, "sluice_operator_workqueue_depth", "Keys queued, ready for a worker.",
	                  NULL, &c->m_depth, errbuf, n) != 0 ||
	    metrics_counter(r, "sluice_operator_workqueue_adds_total", "Keys queued.", NULL,
	                    &c->m_adds, errbuf, n) != 0 ||
	    metrics_counter(r, "sluice_operator_workqueue_retries_total",
	                    "Keys requeued after a failure.", NULL, &c->m_retries, errbuf,
	                    n) != 0 ||
	    metrics_counter(r, "sluice_operator_watch_restarts_total",
	                    "Watches started again (timeout, cut stream, API server away).",
	                    resource, &c->m_restarts, errbuf, n) != 0 ||
	    metrics_counter(r, "sluice_operator_relists_total",
	                    "Full LISTs after the first (410 Gone).", resource, &c->m_relists,
	                    errbuf, n) != 0 ||
	    metrics_gauge(r, "sluice_operator_cache_objects", "Objects in the reflector's cache.",
	                  resource, &c->m_objects, errbuf, n) != 0 ||
	    metrics_counter(r, "rest_client_requests_total",
	                    "Kubernetes API requests by verb and HTTP code.", verb_code,
	                    &c->m_requests, errbuf, n) != 0)
		return -1;
	return 0;
}

int controller_start(struct controller **out, const struct controller_options *opts, char *errbuf,
                     size_t errbuf_size)
{
	struct controller *c = calloc(1, sizeof(*c));
	const char *ns =
	    opts->namespace != NULL && opts->namespace[0] != '\0' ? opts->namespace : NULL;

	*out = NULL;
	if (c == NULL) {
		snprintf(errbuf, errbuf_size, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&c->err_mu, NULL) != 0) {
		free(c);
		snprintf(errbuf, errbuf_size, "cannot create a mutex");
		return -1;
	}
	c->opts = *opts;
	c->ctx = opts->ctx;
	c->ctx.kube = opts->kube;
	if (c->ctx.poll_ms <= 0)
		c->ctx.poll_ms = 30000;
	if (c->ctx.kafka_timeout_ms <= 0)
		c->ctx.kafka_timeout_ms = 5000;
	if (c->ctx.redis_timeout_ms <= 0)
		c->ctx.redis_timeout_ms = 3000;
	c->want_workers = opts->workers > 0 ? opts->workers : 4;
	if (c->want_workers > MAX_WORKERS)
		c->want_workers = MAX_WORKERS;
	if (register_metrics(c, errbuf, errbuf_size) != 0)
		goto fail;
	c->ctx.topics = topics_new("sluice-operator");
	/* The Secrets resources' Kafka settings name, kept SECRET_CACHE_TTL_MS. */
	c->ctx.secrets = secret_cache_new(secret_cache_kube_fetch, opts->kube, SECRET_CACHE_TTL_MS);
	/* One kept connection per Redis address, lent to one worker at a time. */
	c->ctx.redis = redis_pool_new(c->ctx.redis_timeout_ms, 0);
	if (c->ctx.topics == NULL || c->ctx.redis == NULL || c->ctx.secrets == NULL ||
	    redis_pool_auth(c->ctx.redis, c->ctx.defaults.redis_addr,
	                    c->ctx.defaults.redis_username, c->ctx.redis_password) != 0) {
		snprintf(errbuf, errbuf_size, "out of memory");
		goto fail;
	}
	if (workqueue_new(&c->queue, NULL, errbuf, errbuf_size) != 0)
		goto fail;

	for (size_t i = 0; i < NREFLECTORS; i++) {
		struct reflector_options ro = {.client = opts->kube, .stop = &c->stop};
		c->handler_args[i].c = c;
		if (i < NKINDS) {
			ro.name = kinds[i].plural;
			ro.ref = reconcile_kind_ref(kinds[i].plural, ns, NULL, NULL);
			ro.handler = on_resource;
			c->handler_args[i].kind = &kinds[i];
		} else {
			ro.ref = child_refs[i - NKINDS];
			ro.ref.namespace = ns;
			ro.name = ro.ref.resource;
			ro.label_selector = CHILDREN_SELECTOR;
			ro.handler = on_child;
			/* on_child reads labels; the autoscaler a Deployment's
			 * replicas and readiness (keep_deployment). */
			ro.project = strcmp(ro.ref.resource, "deployments") == 0
			                 ? keep_deployment
			                 : reflector_keep_metadata;
			c->handler_args[i].kind = NULL;
		}
		ro.opaque = &c->handler_args[i];
		c->refl_name[i] = ro.name;
		if (reflector_new(&c->refl[i], &ro, errbuf, errbuf_size) != 0)
			goto fail;
	}
	for (size_t i = NKINDS; i < NREFLECTORS; i++)
		if (strcmp(child_refs[i - NKINDS].resource, "deployments") == 0)
			c->ctx.deploy_store = reflector_get_store(c->refl[i]);
	for (size_t i = 0; i < NKINDS; i++) {
		struct reflector_store *s = reflector_get_store(c->refl[i]);
		if (strcmp(kinds[i].plural, RECONCILE_TW_PLURAL) == 0)
			c->ctx.tw_store = s;
		else if (strcmp(kinds[i].plural, RECONCILE_VJ_PLURAL) == 0)
			c->ctx.vj_store = s;
		else
			c->ctx.vw_store = s;
	}
	for (size_t i = 0; i < NREFLECTORS; i++) {
		if (pthread_create(&c->refl_threads[i], NULL, reflector_thread, c->refl[i]) != 0) {
			snprintf(errbuf, errbuf_size, "cannot start a reflector thread");
			goto fail;
		}
		c->refl_started[i] = 1;
	}
	log_info("controller started", "namespace", ns != NULL ? ns : "(all)", NULL);
	*out = c;
	return 0;
fail:
	controller_stop(c);
	return -1;
}

int controller_activate(struct controller *c, char *errbuf, size_t errbuf_size)
{
	int want = c->want_workers;

	atomic_store(&c->active, 1);
	if (c->nworkers > 0) {
		log_info("reconciling again", NULL);
		return 0;
	}
	for (int i = 0; i < want; i++) {
		if (pthread_create(&c->workers[i], NULL, worker_thread, c) != 0) {
			snprintf(errbuf, errbuf_size, "cannot start a worker thread");
			return -1;
		}
		c->nworkers = i + 1;
	}
	char nbuf[16];
	snprintf(nbuf, sizeof(nbuf), "%d", want);
	log_info("reconciling", "workers", nbuf, NULL);
	return 0;
}

void controller_deactivate(struct controller *c)
{
	if (c == NULL || !atomic_load(&c->active))
		return;
	atomic_store(&c->active, 0);
	while (atomic_load(&c->busy) > 0) {
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	log_info("reconciling paused", NULL);
}

void controller_stop(struct controller *c)
{
	if (c == NULL)
		return;
	atomic_store(&c->stop, 1);
	if (c->queue != NULL)
		workqueue_shutdown(c->queue);
	for (int i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	for (size_t i = 0; i < NREFLECTORS; i++)
		if (c->refl_started[i])
			pthread_join(c->refl_threads[i], NULL);
	for (size_t i = 0; i < NREFLECTORS; i++)
		reflector_free(c->refl[i]);
	workqueue_free(c->queue);
	topics_free(c->ctx.topics);
	secret_cache_free(c->ctx.secrets);
	redis_pool_free(c->ctx.redis);
	pthread_mutex_destroy(&c->err_mu);
	free(c);
}

int controller_ready(void *arg, char *reason, size_t reason_size)
{
	struct controller *c = arg;
	size_t used = 0;
	int waiting = 0;

	if (c == NULL) {
		snprintf(reason, reason_size, "starting");
		return 1;
	}
	for (size_t i = 0; i < NREFLECTORS; i++) {
		if (reflector_synced(c->refl[i]))
			continue;
		int w = snprintf(reason + used, reason_size - used, "%s%s not synced",
		                 waiting ? ", " : "", c->refl_name[i]);
		if (w > 0 && (size_t)w < reason_size - used)
			used += (size_t)w;
		waiting = 1;
	}
	return waiting;
}

void controller_update_metrics(struct controller *c)
{
	struct workqueue_stats qs;
	struct kube_client_stats ks;

	if (c == NULL || c->opts.metrics == NULL)
		return;
	workqueue_stats(c->queue, &qs);
	metrics_set(c->m_depth, NULL, (double)qs.depth);
	metrics_add(c->m_adds, NULL, (double)(qs.adds - c->last_adds));
	metrics_add(c->m_retries, NULL, (double)(qs.retries - c->last_retries));
	c->last_adds = qs.adds;
	c->last_retries = qs.retries;
	for (size_t i = 0; i < NREFLECTORS; i++) {
		struct reflector_stats rs;
		const char *l[] = {c->refl_name[i], NULL};
		reflector_stats(c->refl[i], &rs);
		metrics_add(c->m_restarts, l, (double)(rs.watch_restarts - c->last_restarts[i]));
		metrics_add(c->m_relists, l, (double)(rs.relists - c->last_relists[i]));
		metrics_set(c->m_objects, l, (double)rs.objects);
		c->last_restarts[i] = rs.watch_restarts;
		c->last_relists[i] = rs.relists;
	}
	kube_client_stats(c->opts.kube, &ks);
	for (int v = 0; v < KUBE_VERB_COUNT; v++)
		for (int k = 0; k < KUBE_STATS_CODES; k++) {
			unsigned long long d = ks.requests[v][k] - c->last_requests[v][k];
			if (d == 0)
				continue;
			const char *l[] = {kube_verb_name((enum kube_verb)v),
			                   kube_stats_code_name(k), NULL};
			metrics_add(c->m_requests, l, (double)d);
			c->last_requests[v][k] = ks.requests[v][k];
		}
}

void controller_status(struct controller *c, struct controller_status *st)
{
	struct workqueue_stats qs;

	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	for (size_t i = 0; i < NREFLECTORS; i++) {
		struct reflector_stats rs;
		reflector_stats(c->refl[i], &rs);
		st->resource[i] = c->refl_name[i];
		st->objects[i] = rs.objects;
		st->synced[i] = reflector_synced(c->refl[i]);
	}
	st->nresources = NREFLECTORS;
	workqueue_stats(c->queue, &qs);
	st->queue_depth = qs.depth;
	st->queue_waiting = qs.waiting;
	st->queue_processing = qs.processing;
	st->active = atomic_load(&c->active);
	pthread_mutex_lock(&c->err_mu);
	st->reconcile_errors = c->errors;
	snprintf(st->last_error_key, sizeof(st->last_error_key), "%s", c->last_error_key);
	st->last_error_ns = c->last_error_ns;
	pthread_mutex_unlock(&c->err_mu);
}

const struct reconcile_ctx *controller_context(const struct controller *c)
{
	return c != NULL ? &c->ctx : NULL;
}
