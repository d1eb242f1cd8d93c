/*
 * leader.h - leader election with a coordination.k8s.io/v1 Lease, so two
 * operator replicas can run and exactly one acts.
 *
 * client-go's leaderelection package (tools/leaderelection/leaderelection.go)
 * in two parts:
 *
 *   - The decision (pure, no I/O): given the Lease as last read, when this
 *     candidate last saw it change on its own monotonic clock, and now, say
 *     whether to wait, take the Lease over (free, released or expired) or
 *     renew it (ours). Expiry is judged on the local clock from the moment
 *     the record was seen to change, never by comparing renewTime with our
 *     wall clock, so clock skew between nodes cannot elect two leaders.
 *   - The elector (a thread of its own, with a kube_client of its own so a
 *     busy pool of watches can never starve a renewal): every retry period
 *     GET the Lease, decide, then CREATE or UPDATE it with the
 *     resourceVersion read (optimistic concurrency: a 409 means another
 *     candidate wrote first, and the next round re-reads). A leader that has
 *     not renewed within the renew deadline, or that sees another holder in
 *     the Lease, steps down. On leader_stop a leader releases the Lease
 *     (holderIdentity cleared, leaseDurationSeconds 1) so the other replica
 *     takes over at its next retry instead of waiting out the lease.
 *
 * Timing (defaults as client-go and controller-runtime): lease duration
 * 15 s, renew deadline 10 s, retry period 2 s; lease > renew > 1.2 * retry.
 * A candidate polls every retry period plus up to 20 % jitter.
 *
 * Callbacks run on the elector's thread and must return promptly:
 * on_started_leading when this process becomes leader, on_stopped_leading
 * when it stops (lost, or released by leader_stop). The process should stop
 * acting when it is told it stopped; controller-runtime exits then, and so
 * should the operator (a replacement pod starts as a candidate again).
 *
 * Metrics (when a registry is given): sluice_leader (gauge, 1 while this
 * process leads) and sluice_leader_transitions_total (counter: times it
 * started or stopped leading).
 */
#ifndef SLUICE_LEADER_H
#define SLUICE_LEADER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "kube_config.h"
#include "metrics.h"

#define LEADER_ERR (-1)

/* Bounds of the names a Lease is made of (DNS subdomain names, 253). */
#define LEADER_NAME_MAX 254
/* holderIdentity: a pod name, or host_pid. */
#define LEADER_ID_MAX 256
/* A MicroTime: "2026-11-23T05:00:00.123456Z". */
#define LEADER_TIME_MAX 32

#define LEADER_DEFAULT_NAMESPACE "sluice-system"
#define LEADER_DEFAULT_ID "sluice-operator"

/*
 * The options of leader election, for an option table (config.h), as
 * docs/contracts.md §4 names them. The namespace has no default in the table:
 * leader_config_from() takes $POD_NAMESPACE, else "sluice-system".
 */
/* clang-format off */
#define LEADER_OPTIONS                                                                          \
	{.name = "leader-election.enabled", .flag = "--leader-elect",                           \
	 .env = "SLUICE_LEADER_ELECT", .type = CONFIG_BOOL, .def = "true",                      \
	 .help = "Elect one active replica through a Lease; false: act at once."},              \
	{.name = "leader-election.namespace", .flag = "--leader-election-namespace",            \
	 .env = "SLUICE_LEADER_ELECTION_NAMESPACE", .type = CONFIG_STRING,                      \
	 .help = "Namespace of the Lease; unset: $POD_NAMESPACE, else sluice-system."},          \
	{.name = "leader-election.id", .flag = "--leader-election-id",                          \
	 .env = "SLUICE_LEADER_ELECTION_ID", .type = CONFIG_STRING, .def = LEADER_DEFAULT_ID,    \
	 .help = "Name of the Lease the replicas contend for."},                                 \
	{.name = "leader-election.lease-duration", .flag = "--lease-duration",                  \
	 .env = "SLUICE_LEASE_DURATION", .type = CONFIG_DURATION, .def = "15s",                 \
	 .min = 1000, .max = 3600000,                                                           \
	 .help = "How long candidates wait before taking over a lease not renewed."},            \
	{.name = "leader-election.renew-deadline", .flag = "--renew-deadline",                  \
	 .env = "SLUICE_RENEW_DEADLINE", .type = CONFIG_DURATION, .def = "10s",                 \
	 .min = 100, .max = 3600000,                                                            \
	 .help = "How long the leader keeps trying to renew before it steps down."},             \
	{.name = "leader-election.retry-period", .flag = "--retry-period",                      \
	 .env = "SLUICE_RETRY_PERIOD", .type = CONFIG_DURATION, .def = "2s",                    \
	 .min = 10, .max = 3600000,                                                             \
	 .help = "How often candidates try to acquire and the leader renews."}
/* clang-format on */

typedef void (*leader_callback_fn)(void *arg);

struct leader_config {
	int enabled; /* 0: leader_start calls on_started_leading at once, no Lease */
	char namespace[LEADER_NAME_MAX];
	char name[LEADER_NAME_MAX];   /* the Lease's name */
	char identity[LEADER_ID_MAX]; /* holderIdentity */
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	leader_callback_fn on_started_leading; /* may be NULL */
	leader_callback_fn on_stopped_leading; /* may be NULL */
	void *arg;                             /* passed to both */
};

/*
 * Fills out from the LEADER_OPTIONS of cfg: namespace from the option, else
 * $POD_NAMESPACE, else "sluice-system"; identity from leader_identity();
 * callbacks NULL. Then leader_config_check(). Returns 0, or LEADER_ERR with
 * errbuf set.
 */
int leader_config_from(struct leader_config *out, const struct config *cfg, char *errbuf,
                       size_t errbuf_size);

/*
 * Checks names (non-empty, fitting) and timing: every duration > 0,
 * lease_duration > renew_deadline > 1.2 * retry_period (client-go's rule:
 * a leader must give up before anyone may take over, after at least one
 * retry). Returns 0 or LEADER_ERR with errbuf set. Pure.
 */
int leader_config_check(const struct leader_config *lc, char *errbuf, size_t errbuf_size);

/*
 * This process's holderIdentity: $POD_NAME when set (the Deployment passes it
 * through the downward API), else "<hostname>_<pid>". Returns 0 or LEADER_ERR
 * (does not fit).
 */
int leader_identity(char *buf, size_t size);

/* ---------------------------------------------------------------- pure core */

/* The Lease's spec as it matters here. */
struct leader_record {
	char holder[LEADER_ID_MAX]; /* "" when free or released */
	int64_t lease_duration_s;
	int64_t transitions;
	char acquire_time[LEADER_TIME_MAX]; /* MicroTime as the server keeps it; "" */
	char renew_time[LEADER_TIME_MAX];
	char resource_version[64]; /* metadata.resourceVersion; "" for a new Lease */
};

/*
 * Reads a Lease object into rec (missing fields: empty / 0). Returns 0, or
 * LEADER_ERR when lease is not an object with metadata or a field has the
 * wrong type or does not fit. Pure.
 */
int leader_record_parse(const cJSON *lease, struct leader_record *rec);

/*
 * Whether two records differ in what a holder writes (holder, duration,
 * transitions, times). A change means the holder is alive: the candidate
 * restarts its expiry clock. Pure.
 */
int leader_record_changed(const struct leader_record *a, const struct leader_record *b);

enum leader_action {
	LEADER_WAIT,    /* another holder's lease is still valid */
	LEADER_ACQUIRE, /* free, released or expired: take it over */
	LEADER_RENEW,   /* ours: renew it */
};

/*
 * The decision of one round. observed_ms is the monotonic time when rec was
 * first seen as it is now; the lease expires lease_duration_s after that.
 * rec NULL means no Lease exists (acquire by creating it). Pure.
 */
enum leader_action leader_decide(const struct leader_record *rec, const char *identity,
                                 int64_t observed_ms, int64_t now_ms);

/*
 * Whether a leader whose last successful renewal was at last_renew_ms
 * (monotonic) has missed its renew deadline by now_ms. Pure.
 */
int leader_renew_expired(int64_t last_renew_ms, int64_t now_ms, int64_t renew_deadline_ms);

/*
 * The next record this candidate writes: held by identity for
 * lease_duration_ms, renewed at now_rfc (a MicroTime); acquired at now_rfc
 * with transitions + 1 when prev (NULL: none) has another holder, else the
 * previous acquire time. release: holder "", lease duration 1 s, so others
 * take over at once (client-go's ReleaseOnCancel). Pure.
 */
void leader_record_next(const struct leader_record *prev, const char *identity,
                        int64_t lease_duration_ms, const char *now_rfc, int release,
                        struct leader_record *out);

/*
 * The Lease object for rec: apiVersion, kind, metadata (name, namespace and
 * the resourceVersion when rec has one) and spec. Returns a cJSON the caller
 * deletes, or NULL when out of memory. Pure.
 */
cJSON *leader_lease_build(const struct leader_record *rec, const char *namespace, const char *name);

/* Formats a wall-clock time (ns since the epoch) as a Kubernetes MicroTime,
 * exactly six fraction digits. Returns 0 or LEADER_ERR (size too small). */
int leader_format_microtime(int64_t ns, char *buf, size_t size);

/* ---------------------------------------------------------------- elector */

struct leader;

/*
 * Starts electing. kube is copied (the elector talks through a client of its
 * own, with request timeouts below the renew deadline); lc is copied.
 * metrics may be NULL; otherwise it must not hold the sluice_leader
 * families yet (one elector per registry). When lc->enabled is 0 no thread
 * starts: on_started_leading is called before this returns and
 * leader_is_leader() is 1 from then on. Returns 0 with *out set, or
 * LEADER_ERR with errbuf set.
 */
int leader_start(struct leader **out, const struct kube_config *kube,
                 const struct leader_config *lc, struct metrics_registry *metrics, char *errbuf,
                 size_t errbuf_size);

/*
 * 1 while this process holds the Lease and its last renewal is within the
 * renew deadline (so a renewal stuck in a request reads as not leading
 * before anyone else may take over), else 0. Any thread.
 */
int leader_is_leader(const struct leader *l);

/*
 * The holder last seen in the Lease ("" when none) into buf. Any thread.
 */
void leader_holder(const struct leader *l, char *buf, size_t size);

/*
 * Stops the elector: a leader releases the Lease (best effort, one request)
 * and on_stopped_leading is called; then the thread is joined and
 * everything freed. NULL is a no-op. Not from a callback.
 */
void leader_stop(struct leader *l);

#endif /* SLUICE_LEADER_H */
