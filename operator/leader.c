/*
 * leader.c - leader election with a Lease (leader.h): the pure decision and
 * the elector thread around it.
 */
#include "leader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "kube_client.h"
#include "log.h"

/* ---------------------------------------------------------------- config */

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return LEADER_ERR;
	memcpy(dst, src, n + 1);
	return 0;
}

int leader_identity(char *buf, size_t size)
{
	const char *pod = getenv("POD_NAME");
	if (pod != NULL && pod[0] != '\0')
		return copy_str(buf, size, pod);
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	int n = snprintf(buf, size, "%s_%ld", host, (long)getpid());
	return n > 0 && (size_t)n < size ? 0 : LEADER_ERR;
}

int leader_config_check(const struct leader_config *lc, char *errbuf, size_t errbuf_size)
{
	if (lc->namespace[0] == '\0' || lc->name[0] == '\0' || lc->identity[0] == '\0')
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: namespace, lease name and identity must be set");
	if (lc->lease_duration_ms <= 0 || lc->renew_deadline_ms <= 0 || lc->retry_period_ms <= 0)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: durations must be positive");
	/* Whole seconds only: leaseDurationSeconds is an integer, and rounding
	 * down would let others take over before the leader steps down. */
	if (lc->lease_duration_ms % 1000 != 0)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: lease duration %" PRId64 "ms is not whole seconds",
		               lc->lease_duration_ms);
	if (lc->lease_duration_ms <= lc->renew_deadline_ms)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: lease duration (%" PRId64
		               "ms) must be greater than the renew deadline (%" PRId64 "ms)",
		               lc->lease_duration_ms, lc->renew_deadline_ms);
	/* client-go: RenewDeadline > JitterFactor (1.2) * RetryPeriod. */
	if (lc->renew_deadline_ms * 10 <= lc->retry_period_ms * 12)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: renew deadline (%" PRId64
		               "ms) must be greater than 1.2 x the retry period (%" PRId64 "ms)",
		               lc->renew_deadline_ms, lc->retry_period_ms);
	return 0;
}

int leader_config_from(struct leader_config *out, const struct config *cfg, char *errbuf,
                       size_t errbuf_size)
{
	memset(out, 0, sizeof(*out));
	out->enabled = config_get_bool(cfg, "leader-election.enabled");
	const char *ns = config_get_string(cfg, "leader-election.namespace");
	if (ns == NULL || ns[0] == '\0')
		ns = getenv("POD_NAMESPACE");
	if (ns == NULL || ns[0] == '\0')
		ns = LEADER_DEFAULT_NAMESPACE;
	if (copy_str(out->namespace, sizeof(out->namespace), ns) != 0)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: namespace \"%.64s...\" is too long", ns);
	const char *name = config_get_string(cfg, "leader-election.id");
	if (name == NULL || copy_str(out->name, sizeof(out->name), name) != 0)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: lease name is unset or too long");
	if (leader_identity(out->identity, sizeof(out->identity)) != 0)
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: identity is too long");
	out->lease_duration_ms = config_get_duration_ms(cfg, "leader-election.lease-duration");
	out->renew_deadline_ms = config_get_duration_ms(cfg, "leader-election.renew-deadline");
	out->retry_period_ms = config_get_duration_ms(cfg, "leader-election.retry-period");
	return leader_config_check(out, errbuf, errbuf_size);
}

/* ---------------------------------------------------------------- records */

static int get_str(const cJSON *o, const char *key, char *dst, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	dst[0] = '\0';
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return LEADER_ERR;
	return copy_str(dst, size, v->valuestring);
}

static int get_int(const cJSON *o, const char *key, int64_t *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	*dst = 0;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15)
		return LEADER_ERR;
	*dst = (int64_t)v->valuedouble;
	return 0;
}

int leader_record_parse(const cJSON *lease, struct leader_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(lease, "metadata");
	if (!cJSON_IsObject(lease) || !cJSON_IsObject(meta))
		return LEADER_ERR;
	if (get_str(meta, "resourceVersion", rec->resource_version, sizeof(rec->resource_version)))
		return LEADER_ERR;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	if (spec == NULL)
		return 0;
	if (!cJSON_IsObject(spec))
		return LEADER_ERR;
	if (get_str(spec, "holderIdentity", rec->holder, sizeof(rec->holder)) ||
	    get_int(spec, "leaseDurationSeconds", &rec->lease_duration_s) ||
	    get_int(spec, "leaseTransitions", &rec->transitions) ||
	    get_str(spec, "acquireTime", rec->acquire_time, sizeof(rec->acquire_time)) ||
	    get_str(spec, "renewTime", rec->renew_time, sizeof(rec->renew_time)))
		return LEADER_ERR;
	return 0;
}

int leader_record_changed(const struct leader_record *a, const struct leader_record *b)
{
	return strcmp(a->holder, b->holder) != 0 || a->lease_duration_s != b->lease_duration_s ||
	       a->transitions != b->transitions || strcmp(a->acquire_time, b->acquire_time) != 0 ||
	       strcmp(a->renew_time, b->renew_time) != 0;
}

enum leader_action leader_decide(const struct leader_record *rec, const char *identity,
                                 int64_t observed_ms, int64_t now_ms)
{
	if (rec == NULL || rec->holder[0] == '\0')
		return LEADER_ACQUIRE;
	if (strcmp(rec->holder, identity) == 0)
		return LEADER_RENEW;
	/* client-go's isLeaseValid: observedTime + leaseDuration > now. */
	if (observed_ms + rec->lease_duration_s * 1000 > now_ms)
		return LEADER_WAIT;
	return LEADER_ACQUIRE;
}

int leader_renew_expired(int64_t last_renew_ms, int64_t now_ms, int64_t renew_deadline_ms)
{
	return now_ms - last_renew_ms >= renew_deadline_ms;
}

void leader_record_next(const struct leader_record *prev, const char *identity,
                        int64_t lease_duration_ms, const char *now_rfc, int release,
                        struct leader_record *out)
{
	memset(out, 0, sizeof(*out));
	if (prev != NULL)
		memcpy(out->resource_version, prev->resource_version,
		       sizeof(out->resource_version));
	snprintf(out->renew_time, sizeof(out->renew_time), "%s", now_rfc);
	if (release) {
		/* client-go's release: holder cleared, 1 s lease, transitions kept. */
		out->lease_duration_s = 1;
		out->transitions = prev != NULL ? prev->transitions : 0;
		snprintf(out->acquire_time, sizeof(out->acquire_time), "%s", now_rfc);
		return;
	}
	snprintf(out->holder, sizeof(out->holder), "%s", identity);
	out->lease_duration_s = lease_duration_ms / 1000;
	if (prev != NULL && strcmp(prev->holder, identity) == 0) {
		out->transitions = prev->transitions;
		snprintf(out->acquire_time, sizeof(out->acquire_time), "%s",
		         prev->acquire_time[0] != '\0' ? prev->acquire_time : now_rfc);
	} else {
		out->transitions = prev != NULL ? prev->transitions + 1 : 0;
		snprintf(out->acquire_time, sizeof(out->acquire_time), "%s", now_rfc);
	}
}

cJSON *leader_lease_build(const struct leader_record *rec, const char *namespace, const char *name)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON *spec = cJSON_AddObjectToObject(o, "spec");
	int ok =
	    o != NULL && meta != NULL && spec != NULL &&
	    cJSON_AddStringToObject(o, "apiVersion", "coordination.k8s.io/v1") != NULL &&
	    cJSON_AddStringToObject(o, "kind", "Lease") != NULL &&
	    cJSON_AddStringToObject(meta, "name", name) != NULL &&
	    cJSON_AddStringToObject(meta, "namespace", namespace) != NULL &&
	    cJSON_AddStringToObject(spec, "holderIdentity", rec->holder) != NULL &&
	    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (double)rec->lease_duration_s) !=
	        NULL &&
	    cJSON_AddNumberToObject(spec, "leaseTransitions", (double)rec->transitions) != NULL;
	if (ok && rec->resource_version[0] != '\0')
		ok =
		    cJSON_AddStringToObject(meta, "resourceVersion", rec->resource_version) != NULL;
	if (ok && rec->acquire_time[0] != '\0')
		ok = cJSON_AddStringToObject(spec, "acquireTime", rec->acquire_time) != NULL;
	if (ok && rec->renew_time[0] != '\0')
		ok = cJSON_AddStringToObject(spec, "renewTime", rec->renew_time) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int leader_format_microtime(int64_t ns, char *buf, size_t size)
{
	/* The API server parses MicroTime with Go's RFC3339Micro layout, which
	 * wants exactly six fraction digits. */
	time_t secs = (time_t)(ns / 1000000000);
	int64_t frac = ns % 1000000000;
	if (frac < 0) {
		frac += 1000000000;
		secs -= 1;
	}
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL)
		return LEADER_ERR;
	int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 (int)(frac / 1000));
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return LEADER_ERR;
	}
	return 0;
}

/* ---------------------------------------------------------------- elector */

struct leader {
	struct leader_config cfg;
	struct kube_client *client;
	pthread_t thread;
	int has_thread;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop;                   /* under mu */
	char holder[LEADER_ID_MAX]; /* under mu: last holder seen */
	atomic_int leading;         /* we hold the Lease (the thread's view) */
	atomic_llong last_renew_ms; /* monotonic ms of the last renewal sent */
	unsigned rand_state;

	/* The thread's own state. */
	struct leader_record observed;
	int have_observed;
	int64_t observed_ms;

	struct metrics_family *m_leader;
	struct metrics_family *m_transitions;
};

static int now_microtime(char *buf, size_t size)
{
	return leader_format_microtime(clock_real_ns(), buf, size);
}

static void set_leading(struct leader *l, int leading, const char *why)
{
	if (atomic_load(&l->leading) == leading)
		return;
	atomic_store(&l->leading, leading);
	if (l->m_leader != NULL) {
		metrics_set(l->m_leader, NULL, leading);
		metrics_inc(l->m_transitions, NULL);
	}
	if (!l->cfg.enabled) {
		/* Nothing to report: without election this process always acts. */
	} else if (leading) {
		log_info("leader election: became leader", "lease", l->cfg.name, "namespace",
		         l->cfg.namespace, "identity", l->cfg.identity, NULL);
	} else {
		log_warn("leader election: stopped leading", "lease", l->cfg.name, "namespace",
		         l->cfg.namespace, "identity", l->cfg.identity, "reason", why, NULL);
	}
	if (leading && l->cfg.on_started_leading != NULL)
		l->cfg.on_started_leading(l->cfg.arg);
	if (!leading && l->cfg.on_stopped_leading != NULL)
		l->cfg.on_stopped_leading(l->cfg.arg);
}

static void note_holder(struct leader *l, const char *holder)
{
	pthread_mutex_lock(&l->mu);
	snprintf(l->holder, sizeof(l->holder), "%s", holder);
	pthread_mutex_unlock(&l->mu);
}

/* Remembers rec as the latest record seen, restarting the expiry clock when
 * it changed. */
static void observe(struct leader *l, const struct leader_record *rec, int64_t now)
{
	if (!l->have_observed || leader_record_changed(&l->observed, rec))
		l->observed_ms = now;
	l->observed = *rec;
	l->have_observed = 1;
	note_holder(l, rec->holder);
}

static void lease_ref(const struct leader *l, struct kube_ref *ref, int named)
{
	*ref = (struct kube_ref){.group = "coordination.k8s.io",
	                         .version = "v1",
	                         .resource = "leases",
	                         .namespace = l->cfg.namespace,
	                         .name = named ? l->cfg.name : NULL};
}

/* Writes next (create when there was no Lease). Returns a kube rc; on
 * success the record as stored is observed. */
static int write_record(struct leader *l, const struct leader_record *next, int create, int64_t now)
{
	struct kube_ref ref;
	struct kube_error err;
	cJSON *body = leader_lease_build(next, l->cfg.namespace, l->cfg.name);
	cJSON *out = NULL;
	if (body == NULL)
		return KUBE_ENOMEM;
	lease_ref(l, &ref, !create);
	int rc = create ? kube_client_create(l->client, &ref, body, &out, &err)
	                : kube_client_replace(l->client, &ref, body, &out, &err);
	cJSON_Delete(body);
	if (rc == 0) {
		struct leader_record stored;
		if (leader_record_parse(out, &stored) == 0)
			observe(l, &stored, now);
	} else if (rc == KUBE_ECONFLICT || rc == KUBE_EEXISTS) {
		/* Another candidate wrote first; the next round re-reads. */
		log_debug("leader election: lost a write race", "lease", l->cfg.name, "reason",
		          err.reason, NULL);
	} else {
		log_warn("leader election: lease write failed", "lease", l->cfg.name, "namespace",
		         l->cfg.namespace, "error", err.message, NULL);
	}
	cJSON_Delete(out);
	return rc;
}

/* One round of client-go's tryAcquireOrRenew. */
static void round_once(struct leader *l)
{
	struct kube_ref ref;
	struct kube_error err;
	cJSON *lease = NULL;
	int64_t start = clock_mono_ms();
	lease_ref(l, &ref, 1);
	int rc = kube_client_get(l->client, &ref, &lease, &err);
	int64_t now = clock_mono_ms();
	struct leader_record rec;
	const struct leader_record *cur = NULL;
	if (rc == 0) {
		if (leader_record_parse(lease, &rec) != 0) {
			log_warn("leader election: lease has fields of the wrong type", "lease",
			         l->cfg.name, NULL);
			cJSON_Delete(lease);
			goto failed;
		}
		cJSON_Delete(lease);
		observe(l, &rec, now);
		cur = &l->observed;
	} else if (rc != KUBE_ENOTFOUND) {
		log_warn("leader election: cannot read the lease", "lease", l->cfg.name,
		         "namespace", l->cfg.namespace, "error", err.message, NULL);
		goto failed;
	} else {
		l->have_observed = 0;
		note_holder(l, "");
	}

	enum leader_action act = leader_decide(cur, l->cfg.identity, l->observed_ms, now);
	if (act == LEADER_WAIT) {
		/* Someone else holds a valid lease: if we thought we led, it was
		 * taken from us; stop at once rather than wait for the deadline. */
		set_leading(l, 0, "lease held by another candidate");
		return;
	}
	char now_rfc[LEADER_TIME_MAX];
	if (now_microtime(now_rfc, sizeof(now_rfc)) != 0)
		goto failed;
	struct leader_record next;
	leader_record_next(cur, l->cfg.identity, l->cfg.lease_duration_ms, now_rfc, 0, &next);
	if (write_record(l, &next, cur == NULL, clock_mono_ms()) == 0) {
		/* Counted from before the GET: the lease is valid for others
		 * from no earlier than that. */
		atomic_store(&l->last_renew_ms, start);
		set_leading(l, 1, NULL);
		return;
	}
failed:
	if (atomic_load(&l->leading) &&
	    leader_renew_expired(atomic_load(&l->last_renew_ms), clock_mono_ms(),
	                         l->cfg.renew_deadline_ms))
		set_leading(l, 0, "renew deadline passed");
}

/* Gives the lease up so another candidate need not wait for it to expire.
 * Reads it first: the write must carry the current resourceVersion, and a
 * Lease someone else holds by now is not ours to clear. */
static void release(struct leader *l)
{
	struct kube_ref ref;
	struct kube_error err;
	cJSON *lease = NULL;
	struct leader_record cur, next;
	char now_rfc[LEADER_TIME_MAX];
	lease_ref(l, &ref, 1);
	if (kube_client_get(l->client, &ref, &lease, &err) != 0) {
		log_warn("leader election: cannot read the lease to release it", "lease",
		         l->cfg.name, "error", err.message, NULL);
		return;
	}
	int ok = leader_record_parse(lease, &cur) == 0;
	cJSON_Delete(lease);
	if (!ok || strcmp(cur.holder, l->cfg.identity) != 0 ||
	    now_microtime(now_rfc, sizeof(now_rfc)) != 0)
		return;
	leader_record_next(&cur, l->cfg.identity, l->cfg.lease_duration_ms, now_rfc, 1, &next);
	if (write_record(l, &next, 0, clock_mono_ms()) == 0)
		log_info("leader election: released the lease", "lease", l->cfg.name, NULL);
}

/* Sleeps ms or until leader_stop; returns the stop flag. */
static int sleep_ms(struct leader *l, int64_t ms)
{
	struct timespec ts = clock_mono_deadline(ms);

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		int rc = pthread_cond_timedwait(&l->cond, &l->mu, &ts);
		if (rc == ETIMEDOUT)
			break;
	}
	int stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

static void *elector_main(void *arg)
{
	struct leader *l = arg;
	log_info("leader election: candidate", "lease", l->cfg.name, "namespace", l->cfg.namespace,
	         "identity", l->cfg.identity, NULL);
	for (;;) {
		round_once(l);
		int64_t wait = l->cfg.retry_period_ms;
		/* Candidates spread their polls (client-go's JitterUntil), with a
		 * smaller factor than its 1.2 so a released lease is taken within
		 * about one retry period; the leader renews on the beat. */
		if (!atomic_load(&l->leading))
			wait += (int64_t)((double)rand_r(&l->rand_state) / RAND_MAX * 0.2 *
			                  (double)wait);
		if (sleep_ms(l, wait))
			break;
	}
	if (atomic_load(&l->leading)) {
		release(l);
		set_leading(l, 0, "stopping");
	}
	return NULL;
}

int leader_start(struct leader **out, const struct kube_config *kube,
                 const struct leader_config *lc, struct metrics_registry *metrics, char *errbuf,
                 size_t errbuf_size)
{
	*out = NULL;
	if (lc->enabled && leader_config_check(lc, errbuf, errbuf_size) != 0)
		return LEADER_ERR;
	struct leader *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return err_set(errbuf, errbuf_size, LEADER_ERR, "leader election: out of memory");
	l->cfg = *lc;
	l->rand_state = (unsigned)getpid() ^ (unsigned)clock_mono_ms();
	pthread_mutex_init(&l->mu, NULL);
	clock_cond_init(&l->cond);

	if (metrics != NULL &&
	    (metrics_gauge(metrics, "sluice_leader",
	                   "1 while this process holds the leader election lease.", NULL,
	                   &l->m_leader, errbuf, errbuf_size) != 0 ||
	     metrics_counter(metrics, "sluice_leader_transitions_total",
	                     "Times this process started or stopped leading.", NULL,
	                     &l->m_transitions, errbuf, errbuf_size) != 0)) {
		leader_stop(l);
		return LEADER_ERR;
	}

	if (!lc->enabled) {
		log_info("leader election: disabled, acting at once", NULL);
		atomic_store(&l->last_renew_ms, INT64_MAX / 2);
		set_leading(l, 1, NULL);
		*out = l;
		return 0;
	}

	struct kube_config copy;
	if (kube_config_copy(&copy, kube) != 0) {
		leader_stop(l);
		return err_set(errbuf, errbuf_size, LEADER_ERR, "leader election: out of memory");
	}
	/* Requests end well inside the renew deadline, so a leader learns in
	 * time that it could not renew. */
	int64_t timeout = lc->renew_deadline_ms / 2;
	if (timeout < lc->retry_period_ms)
		timeout = lc->retry_period_ms;
	struct kube_client_options opts = {
	    .connect_timeout_ms = (long)timeout, .timeout_ms = (long)timeout, .max_handles = 1};
	if (kube_client_new(&l->client, &copy, &opts, errbuf, errbuf_size) != 0) {
		kube_config_free(&copy);
		leader_stop(l);
		return LEADER_ERR;
	}
	if (pthread_create(&l->thread, NULL, elector_main, l) != 0) {
		leader_stop(l);
		return err_set(errbuf, errbuf_size, LEADER_ERR,
		               "leader election: cannot start its thread");
	}
	l->has_thread = 1;
	*out = l;
	return 0;
}

int leader_is_leader(const struct leader *l)
{
	struct leader *m = (struct leader *)l; /* atomics are read-only here */
	if (!atomic_load(&m->leading))
		return 0;
	return !leader_renew_expired(atomic_load(&m->last_renew_ms), clock_mono_ms(),
	                             l->cfg.renew_deadline_ms);
}

void leader_holder(const struct leader *l, char *buf, size_t size)
{
	struct leader *m = (struct leader *)l; /* the mutex is not state */
	pthread_mutex_lock(&m->mu);
	snprintf(buf, size, "%s", m->holder);
	pthread_mutex_unlock(&m->mu);
}

void leader_stop(struct leader *l)
{
	if (l == NULL)
		return;
	if (l->has_thread) {
		pthread_mutex_lock(&l->mu);
		l->stop = 1;
		pthread_cond_broadcast(&l->cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
	} else if (atomic_load(&l->leading)) {
		set_leading(l, 0, "stopping");
	}
	kube_client_free(l->client);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
