/*
 * lag.c - consumer groups' lag on topics, many (group, topic) pairs in one
 * round of batched requests, with a handle made again before it keeps too
 * many topics it no longer reads. See lag.h for what is measured and why.
 */
#include "lag.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "strmap.h"
#include "topic_ledger.h"
#include "topics.h"

#define LAG_CLIENT_ID "sluice-operator-lag"
/* Partitions per ListOffsets call (round_list_offsets). */
#ifndef LAG_OFFSETS_CHUNK
#define LAG_OFFSETS_CHUNK 128
#endif

/* A fresh ledger has room for every topic of one read. */
_Static_assert(LAG_READ_MANY_MAX < LAG_TOPICS_MAX, "a read's topics fit in a fresh ledger");
_Static_assert(LAG_TOPICS_MAX <= KAFKA_DESCRIBE_MAX, "a reader's topics fit in one describe");

struct lag_reader {
	rd_kafka_t *rk;
	char *bootstrap;
	/* A copy of the security settings, to make the handle again. */
	struct kafka_security sec;
	int has_sec;
	struct topic_ledger *ledger; /* the topics rk touched */
	uint64_t renewals;
	uint64_t id; /* unique in the process, never 0 (lag_reader_id) */
	int failed;  /* a security failure: lag_pool_get makes a new one */
};

/* The next reader's id: readers are made by one thread at a time per
 * pool, but tests make them from several: atomic. */
static _Atomic uint64_t next_reader_id = 1;

int lag_reset_parse(const char *name, enum lag_reset *out)
{
	if (name != NULL && strcmp(name, "earliest") == 0)
		*out = LAG_RESET_EARLIEST;
	else if (name != NULL && strcmp(name, "latest") == 0)
		*out = LAG_RESET_LATEST;
	else
		return -1;
	return 0;
}

int lag_reader_new(const char *bootstrap, struct lag_reader **out, char *errbuf, size_t errbuf_size)
{
	return lag_reader_new_sec(bootstrap, NULL, out, errbuf, errbuf_size);
}

static void sec_free(struct kafka_security *sec)
{
	free((char *)sec->ca_pem);
	free((char *)sec->cert_pem);
	free((char *)sec->key_pem);
	free((char *)sec->server_name);
	free((char *)sec->sasl_mechanism);
	free((char *)sec->username);
	free((char *)sec->password);
	memset(sec, 0, sizeof(*sec));
}

/* *to = a deep copy of *from (NULL strings stay NULL); 0 or -1. */
static int sec_copy(struct kafka_security *to, const struct kafka_security *from)
{
	const char *const src[] = {from->ca_pem,      from->cert_pem,       from->key_pem,
	                           from->server_name, from->sasl_mechanism, from->username,
	                           from->password};
	const char **dst[] = {&to->ca_pem,         &to->cert_pem, &to->key_pem, &to->server_name,
	                      &to->sasl_mechanism, &to->username, &to->password};

	memset(to, 0, sizeof(*to));
	to->tls = from->tls;
	for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		if (src[i] == NULL)
			continue;
		*dst[i] = strdup(src[i]);
		if (*dst[i] == NULL) {
			sec_free(to);
			return -1;
		}
	}
	return 0;
}

/* A consumer handle for the reader's cluster, for its isolation.level (see
 * lag.h). It never subscribes, so it never joins its group; the group id
 * is only required by kafka_consumer_new. */
static rd_kafka_t *handle_new(const struct lag_reader *r, char *errbuf, size_t errbuf_size)
{
	struct kafka_config kc = {
	    .bootstrap = r->bootstrap,
	    .security = r->has_sec ? &r->sec : NULL,
	    .client_id = LAG_CLIENT_ID,
	    .group = LAG_CLIENT_ID,
	};

	return kafka_consumer_new(&kc, NULL, NULL, errbuf, errbuf_size);
}

static void handle_free(rd_kafka_t *rk)
{
	if (rk == NULL)
		return;
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

int lag_reader_new_sec(const char *bootstrap, const struct kafka_security *sec,
                       struct lag_reader **out, char *errbuf, size_t errbuf_size)
{
	struct lag_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL || (r->bootstrap = strdup(bootstrap != NULL ? bootstrap : "")) == NULL ||
	    (sec != NULL && sec_copy(&r->sec, sec) < 0) ||
	    topic_ledger_new(LAG_TOPICS_MAX, LAG_TOPIC_STALE_MS, &r->ledger) != 0) {
		lag_reader_free(r);
		snprintf(errbuf, errbuf_size, "lag: out of memory");
		return -1;
	}
	r->has_sec = sec != NULL;
	r->id = atomic_fetch_add(&next_reader_id, 1);
	r->rk = handle_new(r, errbuf, errbuf_size);
	if (r->rk == NULL) {
		lag_reader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void lag_reader_free(struct lag_reader *r)
{
	if (r == NULL)
		return;
	handle_free(r->rk);
	topic_ledger_free(r->ledger);
	sec_free(&r->sec);
	free(r->bootstrap);
	free(r);
}

/* Makes the handle again (nothing is in flight: we are between reads). A
 * failure keeps the old handle, which still works: it only holds more. */
static void renew(struct lag_reader *r)
{
	char err[512];
	rd_kafka_t *rk = handle_new(r, err, sizeof(err));

	if (rk == NULL) {
		log_warn("lag: cannot make the reader's handle again", "bootstrap", r->bootstrap,
		         "error", err, NULL);
		return;
	}
	handle_free(r->rk);
	r->rk = rk;
	topic_ledger_clear(r->ledger);
	r->renewals++;
}

void lag_reader_forget(struct lag_reader *r, const char *topic)
{
	if (r != NULL)
		topic_ledger_forget(r->ledger, topic);
}

uint64_t lag_reader_renewals(const struct lag_reader *r)
{
	return r->renewals;
}

int lag_reader_held_topics(struct lag_reader *r, int timeout_ms, int *held, char *errbuf,
                           size_t errbuf_size)
{
	char why[512];

	if (kafka_topics_held(r->rk, timeout_ms, held, why, sizeof(why)) < 0) {
		snprintf(errbuf, errbuf_size, "lag: %s",
		         strncmp(why, "kafka: ", 7) == 0 ? why + 7 : why);
		return -1;
	}
	return 0;
}

const char *lag_reader_bootstrap(const struct lag_reader *r)
{
	return r->bootstrap;
}

void lag_result_free(struct lag_result *res)
{
	free(res->p);
	free(res->lag);
	memset(res, 0, sizeof(*res));
}

static int result_size(struct lag_result *res, int32_t n, char *errbuf, size_t errbuf_size)
{
	if ((size_t)n > res->cap) {
		struct lag_partition *p = realloc(res->p, (size_t)n * sizeof(*p));
		if (p != NULL)
			res->p = p;
		int64_t *l = realloc(res->lag, (size_t)n * sizeof(*l));
		if (l != NULL)
			res->lag = l;
		if (p == NULL || l == NULL) {
			snprintf(errbuf, errbuf_size, "lag: out of memory");
			return -1;
		}
		res->cap = (size_t)n;
	}
	res->partitions = n;
	for (int32_t i = 0; i < n; i++) {
		res->p[i] = (struct lag_partition){.partition = i, .committed = -1};
		res->lag[i] = 0;
	}
	return 0;
}

/*
 * One lag_read_many round. Queries share topics and groups: a topic slot
 * holds what the Metadata and ListOffsets requests said of a topic (for
 * every query naming it), a group slot its OffsetFetch answer. A query
 * fails on its own (qerr), or with its topic or its group.
 */
struct topic_slot {
	const char *name;
	int32_t partitions;
	int64_t *start, *end; /* by partition */
	int failed;
	char error[LAG_ERROR_MAX];
};

struct group_slot {
	const char *name;
	rd_kafka_topic_partition_list_t *ask;       /* its topics' partitions */
	rd_kafka_topic_partition_list_t *committed; /* the answer */
	int answered, failed;
	char error[LAG_ERROR_MAX];
};

struct round {
	struct lag_reader *r;
	size_t n;
	const struct lag_query *q;
	struct lag_result *res;
	char (*errors)[LAG_ERROR_MAX]; /* by query, never NULL */
	unsigned char *failed;         /* by query */
	size_t *topic_of, *group_of;   /* by query: slot index */
	struct topic_slot *topics;
	size_t ntopics;
	struct group_slot *groups;
	size_t ngroups;
	const int32_t *known; /* by query: partitions known to the caller (lag_read_ends) */
	int timeout_ms;
};

/* snprintf into an error line, cut to fit (err_set's way, unsized). */
static void line_set(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line_set(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)err_setv(buf, size, 0, fmt, ap);
	va_end(ap);
}

/* Query i failed with the line fmt...; the first failure wins. */
static void qfail(struct round *rd, size_t i, const char *line)
{
	if (rd->failed[i])
		return;
	rd->failed[i] = 1;
	line_set(rd->errors[i], LAG_ERROR_MAX, "%s", line);
}

static void topic_fail(struct topic_slot *t, const char *line)
{
	if (t->failed)
		return;
	t->failed = 1;
	line_set(t->error, sizeof(t->error), "%s", line);
}

/* "lag: <what>: <librdkafka's description> (<NAME>)" into line. */
static void err_line(char *line, size_t size, const char *what, rd_kafka_resp_err_t err)
{
	char text[256];

	line_set(line, size, "lag: %s: %s", what, kafka_strerror(text, sizeof(text), err));
}

/* lib/kafka's "kafka: <reason>" as one of ours. */
static void kafka_line(char *line, size_t size, const char *why)
{
	line_set(line, size, "lag: %s", strncmp(why, "kafka: ", 7) == 0 ? why + 7 : why);
}

/* Index of name in the map (adding it at *count when new), or -1 when the
 * map is full (it never is: sized for every query). */
static long slot_of(struct strmap *m, const char *name, size_t *count)
{
	void *v = strmap_get(m, name);

	if (v != NULL)
		return (long)((uintptr_t)v - 1);
	if (strmap_put(m, name, (void *)(uintptr_t)(*count + 1), NULL, NULL) != STRMAP_OK)
		return -1;
	return (long)(*count)++;
}

/* The queries' distinct topics and groups into slots. */
static int round_slots(struct round *rd)
{
	struct strmap *tmap = NULL, *gmap = NULL;
	int rc = -1;

	if (strmap_new(&tmap, rd->n) != STRMAP_OK || strmap_new(&gmap, rd->n) != STRMAP_OK)
		goto out;
	for (size_t i = 0; i < rd->n; i++) {
		long t = slot_of(tmap, rd->q[i].topic, &rd->ntopics);
		/* No group: lag_read_ends, the topic's end only. */
		long g = rd->q[i].group != NULL ? slot_of(gmap, rd->q[i].group, &rd->ngroups) : 0;
		if (t < 0 || g < 0)
			goto out;
		rd->topic_of[i] = (size_t)t;
		rd->group_of[i] = (size_t)g;
		rd->topics[t].name = rd->q[i].topic;
		if (rd->known != NULL && rd->known[i] > 0)
			rd->topics[t].partitions = rd->known[i];
		if (rd->q[i].group != NULL)
			rd->groups[g].name = rd->q[i].group;
	}
	rc = 0;
out:
	strmap_free(tmap);
	strmap_free(gmap);
	return rc;
}

/* Records the topics in the reader's ledger, making the handle again first
 * when the ledger says so, or when it is full (see lag.h). A name the
 * ledger refuses fails its topic. */
static void round_ledger(struct round *rd)
{
	struct lag_reader *r = rd->r;
	int64_t now = clock_mono_ms();

	if (topic_ledger_renew(r->ledger, now))
		renew(r);
	for (int pass = 0; pass < 2; pass++) {
		int full = 0;
		for (size_t t = 0; t < rd->ntopics && !full; t++) {
			int rc = topic_ledger_touch(r->ledger, rd->topics[t].name, now);
			if (rc == TOPIC_LEDGER_FULL) {
				full = 1;
			} else if (rc != TOPIC_LEDGER_OK) {
				char line[LAG_ERROR_MAX];
				line_set(line, sizeof(line), "lag: topic \"%.*s\": %s",
				         TOPIC_LEDGER_NAME_MAX, rd->topics[t].name,
				         rc == TOPIC_LEDGER_EINVAL ? "not a topic name"
				                                   : "out of memory");
				topic_fail(&rd->topics[t], line);
			}
		}
		/* rd->ntopics <= LAG_READ_MANY_MAX < LAG_TOPICS_MAX: a fresh
		 * ledger has room for all. */
		if (!full)
			return;
		renew(r);
	}
}

/* Room for a topic's offsets once its partition count is known. */
static void topic_offsets_alloc(struct topic_slot *t)
{
	t->start = calloc((size_t)t->partitions, sizeof(*t->start));
	t->end = calloc((size_t)t->partitions, sizeof(*t->end));
	if (t->start == NULL || t->end == NULL)
		topic_fail(t, "lag: out of memory");
}

/* 1. Metadata: every topic's partition count, in one request, for the
 * topics whose count the caller does not know (none: no request; the
 * Metadata answer names every topic of the cluster, the costliest part of
 * an idle round). */
static void round_metadata(struct round *rd)
{
	struct kafka_topic_info *info = calloc(rd->ntopics, sizeof(*info));
	size_t *slot = calloc(rd->ntopics, sizeof(*slot));
	size_t k = 0;
	char why[512], line[LAG_ERROR_MAX];

	if (info == NULL || slot == NULL) {
		for (size_t t = 0; t < rd->ntopics; t++)
			topic_fail(&rd->topics[t], "lag: out of memory");
		goto out;
	}
	for (size_t t = 0; t < rd->ntopics; t++) {
		if (rd->topics[t].failed)
			continue;
		if (rd->topics[t].partitions > 0) {
			topic_offsets_alloc(&rd->topics[t]);
			continue;
		}
		slot[k] = t;
		info[k++].topic = rd->topics[t].name;
	}
	if (k == 0)
		goto out;
	if (kafka_topics_describe(rd->r->rk, info, k, rd->timeout_ms, why, sizeof(why)) < 0) {
		kafka_line(line, sizeof(line), why);
		for (size_t j = 0; j < k; j++)
			topic_fail(&rd->topics[slot[j]], line);
		goto out;
	}
	for (size_t j = 0; j < k; j++) {
		struct topic_slot *t = &rd->topics[slot[j]];
		char what[300];

		if (info[j].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			line_set(what, sizeof(what), "metadata of topic \"%s\"", t->name);
			err_line(line, sizeof(line), what, info[j].err);
			topic_fail(t, line);
		} else if (info[j].partitions <= 0) { /* KEDA #6897: this panicked its operator */
			line_set(line, sizeof(line), "lag: topic \"%s\": no partitions", t->name);
			topic_fail(t, line);
		} else {
			t->partitions = info[j].partitions;
			topic_offsets_alloc(t);
		}
	}
out:
	free(info);
	free(slot);
}

/* 2. OffsetFetch: one request per group, each with the partitions of all
 * its queries' topics, all in flight on q. Returns how many went out. */
static size_t round_offsets_ask(struct round *rd, rd_kafka_queue_t *q)
{
	size_t sent = 0;

	for (size_t i = 0; i < rd->n; i++) {
		struct group_slot *g = &rd->groups[rd->group_of[i]];
		const struct topic_slot *t = &rd->topics[rd->topic_of[i]];

		if (t->failed)
			continue;
		if (g->ask == NULL)
			g->ask = rd_kafka_topic_partition_list_new(t->partitions);
		if (rd_kafka_topic_partition_list_find(g->ask, t->name, 0) != NULL)
			continue; /* another query of the group on the same topic */
		for (int32_t p = 0; p < t->partitions; p++)
			rd_kafka_topic_partition_list_add(g->ask, t->name, p);
	}
	for (size_t gi = 0; gi < rd->ngroups; gi++) {
		struct group_slot *g = &rd->groups[gi];
		char es[256];

		if (g->ask == NULL)
			continue;
		rd_kafka_ListConsumerGroupOffsets_t *req =
		    rd_kafka_ListConsumerGroupOffsets_new(g->name, g->ask);
		rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(
		    rd->r->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);

		if (req == NULL || opt == NULL ||
		    rd_kafka_AdminOptions_set_request_timeout(
		        opt, rd->timeout_ms, es, sizeof(es)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			g->failed = 1;
			line_set(g->error, sizeof(g->error), "lag: group \"%s\" offsets: %s",
			         g->name, req == NULL || opt == NULL ? "out of memory" : es);
		} else {
			rd_kafka_AdminOptions_set_opaque(opt, g);
			rd_kafka_ListConsumerGroupOffsets(rd->r->rk, &req, 1, opt, q);
			sent++;
		}
		if (opt != NULL)
			rd_kafka_AdminOptions_destroy(opt);
		if (req != NULL)
			rd_kafka_ListConsumerGroupOffsets_destroy(req);
	}
	return sent;
}

/* One OffsetFetch answer into its group slot. */
static void round_offsets_take(struct round *rd, rd_kafka_event_t *ev)
{
	struct group_slot *g = rd_kafka_event_opaque(ev);
	const rd_kafka_ListConsumerGroupOffsets_result_t *result =
	    rd_kafka_event_ListConsumerGroupOffsets_result(ev);
	const rd_kafka_group_result_t **groups;
	size_t ngroups = 0;

	if (g == NULL || result == NULL || g < rd->groups || g >= rd->groups + rd->ngroups ||
	    g->answered)
		return; /* not one of ours (an error event of the handle) */
	g->answered = 1;
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		g->failed = 1;
		line_set(g->error, sizeof(g->error), "lag: group \"%s\" offsets: %s (%s)", g->name,
		         rd_kafka_event_error_string(ev),
		         rd_kafka_err2name(rd_kafka_event_error(ev)));
		return;
	}
	groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &ngroups);
	if (ngroups != 1) {
		g->failed = 1;
		line_set(g->error, sizeof(g->error),
		         "lag: group \"%s\" offsets: %zu groups in the reply", g->name, ngroups);
		return;
	}
	const rd_kafka_error_t *gerr = rd_kafka_group_result_error(groups[0]);
	if (gerr != NULL) {
		g->failed = 1;
		line_set(g->error, sizeof(g->error), "lag: group \"%s\" offsets: %s (%s)", g->name,
		         rd_kafka_error_string(gerr), rd_kafka_error_name(gerr));
		return;
	}
	const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(groups[0]);
	g->committed = got != NULL ? rd_kafka_topic_partition_list_copy(got)
	                           : rd_kafka_topic_partition_list_new(0);
}

/* Collects the answers of sent OffsetFetch requests. The admin requests
 * time out by themselves; the margin covers their coordinator lookups. */
static void round_offsets_collect(struct round *rd, rd_kafka_queue_t *q, size_t sent,
                                  int64_t deadline_ms)
{
	size_t got = 0;

	while (got < sent) {
		int64_t left = deadline_ms - clock_mono_ms();
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, left > 0 ? (int)left : 0);

		if (ev == NULL)
			break;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
			round_offsets_take(rd, ev);
			got++;
		}
		rd_kafka_event_destroy(ev);
	}
	for (size_t gi = 0; gi < rd->ngroups; gi++) {
		struct group_slot *g = &rd->groups[gi];
		if (g->ask != NULL && !g->answered && !g->failed) {
			char what[300];
			g->failed = 1;
			line_set(what, sizeof(what), "group \"%s\" offsets", g->name);
			err_line(g->error, sizeof(g->error), what, RD_KAFKA_RESP_ERR__TIMED_OUT);
		}
	}
}

/* ListOffsets for the partitions in l (offsets_for_times sorts l by topic:
 * every element is found again by its name), into their topics' slots. */
static void list_offsets_call(struct round *rd, int64_t ts, struct strmap *tmap,
                              rd_kafka_topic_partition_list_t *l)
{
	const char *which = ts == RD_KAFKA_OFFSET_END ? "end" : "start";
	rd_kafka_resp_err_t err;
	char what[300], line[LAG_ERROR_MAX], src[KAFKA_SOURCE_MAX];

	err = rd_kafka_offsets_for_times(rd->r->rk, l, rd->timeout_ms);
	for (int i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		void *v = strmap_get(tmap, tp->topic);
		struct topic_slot *t;

		if (v == NULL)
			continue;
		t = &rd->topics[(uintptr_t)v - 1];
		if (tp->partition < 0 || tp->partition >= t->partitions)
			continue;
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0) {
			rd_kafka_resp_err_t e = tp->err != RD_KAFKA_RESP_ERR_NO_ERROR ? tp->err
			                        : err != RD_KAFKA_RESP_ERR_NO_ERROR
			                            ? err
			                            : RD_KAFKA_RESP_ERR__INVALID_ARG;
			if (tp->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
			    err != RD_KAFKA_RESP_ERR_NO_ERROR)
				line_set(what, sizeof(what), "topic \"%s\" %s offsets", t->name,
				         which);
			else
				line_set(
				    what, sizeof(what), "%s offset of %s", which,
				    kafka_source(src, sizeof(src), t->name, tp->partition, -1));
			err_line(line, sizeof(line), what, e);
			topic_fail(t, line);
			continue;
		}
		if (ts == RD_KAFKA_OFFSET_END)
			t->end[tp->partition] = tp->offset;
		else
			t->start[tp->partition] = tp->offset;
	}
}

/* 3. ListOffsets: the earliest (ts -2) or latest (ts -1) offsets of every
 * partition of every topic read, LAG_OFFSETS_CHUNK partitions per call (a
 * request per leader each): librdkafka 2.0.2 matches each partition of an
 * answer to its request by a walk of the request's list, so one call of n
 * partitions costs n^2 string compares (1,200 partitions: most of an idle
 * round's CPU); a topic's partitions stay in one call. */
static void round_list_offsets(struct round *rd, int64_t ts, struct strmap *tmap)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(0);

	for (size_t t = 0; t < rd->ntopics; t++) {
		if (rd->topics[t].failed)
			continue;
		if (l->cnt > 0 && l->cnt + rd->topics[t].partitions > LAG_OFFSETS_CHUNK) {
			list_offsets_call(rd, ts, tmap, l);
			rd_kafka_topic_partition_list_destroy(l);
			l = rd_kafka_topic_partition_list_new(0);
		}
		for (int32_t p = 0; p < rd->topics[t].partitions; p++)
			rd_kafka_topic_partition_list_add(l, rd->topics[t].name, p)->offset = ts;
	}
	if (l->cnt > 0)
		list_offsets_call(rd, ts, tmap, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Query i's result from its topic's and group's slots. */
static void round_result(struct round *rd, size_t i)
{
	const struct topic_slot *t = &rd->topics[rd->topic_of[i]];
	const struct group_slot *g = &rd->groups[rd->group_of[i]];
	struct lag_result *out = &rd->res[i];
	char line[LAG_ERROR_MAX];

	if (t->failed) {
		qfail(rd, i, t->error);
		return;
	}
	if (g->failed) {
		qfail(rd, i, g->error);
		return;
	}
	if (result_size(out, t->partitions, line, sizeof(line)) < 0) {
		qfail(rd, i, line);
		return;
	}
	for (int j = 0; g->committed != NULL && j < g->committed->cnt; j++) {
		const rd_kafka_topic_partition_t *tp = &g->committed->elems[j];
		if (tp->partition < 0 || tp->partition >= out->partitions ||
		    strcmp(tp->topic, t->name) != 0)
			continue;
		/* A partition error fails the read: taking it as "no commit"
		 * could read as a huge lag or none (KEDA #4098). */
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			char what[600], src[KAFKA_SOURCE_MAX];
			line_set(what, sizeof(what), "group \"%s\" offset of %s", g->name,
			         kafka_source(src, sizeof(src), t->name, tp->partition, -1));
			err_line(line, sizeof(line), what, tp->err);
			qfail(rd, i, line);
			return;
		}
		out->p[tp->partition].committed = tp->offset >= 0 ? tp->offset : -1;
	}
	out->total_lag = out->consumed = 0;
	out->uncommitted = 0;
	for (int32_t p = 0; p < out->partitions; p++) {
		struct lag_partition *lp = &out->p[p];
		lp->start = t->start[p];
		lp->end = t->end[p];
		if (lp->committed < 0) {
			out->uncommitted++;
			lp->position = rd->q[i].reset == LAG_RESET_LATEST ? lp->end : lp->start;
		} else {
			lp->position = lp->committed > lp->start ? lp->committed : lp->start;
		}
		lp->lag = lp->end > lp->position ? lp->end - lp->position : 0;
		out->lag[p] = lp->lag;
		out->total_lag += lp->lag;
		out->consumed += lp->position;
	}
}

/* The security failure among the handle's error events (or in a failed
 * query's reason) that says why reads failed: every failed query's line
 * becomes its reason, and the reader is marked failed (lag.h). */
static void round_security(struct round *rd, size_t nfailed)
{
	char why[512], line[LAG_ERROR_MAX];
	int sec = topics_drain_errors(rd->r->rk, why, sizeof(why));

	if (nfailed == 0)
		return;
	if (sec != 0) {
		kafka_line(line, sizeof(line), why);
	} else {
		/* kafka_topics_describe may have taken the event already: its
		 * reason is then the failed queries' line. */
		for (size_t i = 0; i < rd->n && sec == 0; i++)
			if (rd->failed[i] &&
			    kafka_security_failure(0, rd->errors[i]) != KAFKA_SEC_NONE) {
				sec = 1;
				line_set(line, sizeof(line), "%s", rd->errors[i]);
			}
		if (sec == 0)
			return;
	}
	rd->r->failed = 1;
	for (size_t i = 0; i < rd->n; i++)
		if (rd->failed[i])
			line_set(rd->errors[i], LAG_ERROR_MAX, "%s", line);
}

static void round_free(struct round *rd)
{
	for (size_t t = 0; rd->topics != NULL && t < rd->ntopics; t++) {
		free(rd->topics[t].start);
		free(rd->topics[t].end);
	}
	for (size_t g = 0; rd->groups != NULL && g < rd->ngroups; g++) {
		if (rd->groups[g].ask != NULL)
			rd_kafka_topic_partition_list_destroy(rd->groups[g].ask);
		if (rd->groups[g].committed != NULL)
			rd_kafka_topic_partition_list_destroy(rd->groups[g].committed);
	}
	free(rd->topics);
	free(rd->groups);
	free(rd->topic_of);
	free(rd->group_of);
	free(rd->failed);
}

/* Fails every query with line; returns n. */
static size_t fail_all(size_t n, char (*errors)[LAG_ERROR_MAX], const char *line)
{
	for (size_t i = 0; errors != NULL && i < n; i++)
		line_set(errors[i], LAG_ERROR_MAX, "%s", line);
	return n;
}

/* Query i's end sum (lag_read_ends) from its topic's slot. */
static void round_end_sum(struct round *rd, size_t i, int64_t *sum)
{
	const struct topic_slot *t = &rd->topics[rd->topic_of[i]];

	*sum = 0;
	if (t->failed) {
		qfail(rd, i, t->error);
		return;
	}
	for (int32_t p = 0; p < t->partitions; p++)
		*sum += t->end[p];
}

/*
 * One round for lag_read_many (res != NULL: every step) or lag_read_ends
 * (end_sums != NULL, the queries' groups unused: the ledger, the Metadata
 * and the latest offsets only). Returns the number of queries that failed.
 */
static size_t read_round(struct lag_reader *r, size_t n, const struct lag_query q[],
                         const int32_t known[], struct lag_result res[], int64_t end_sums[],
                         char (*errors)[LAG_ERROR_MAX], int timeout_ms)
{
	char(*own)[LAG_ERROR_MAX] = NULL;
	struct round rd = {
	    .r = r, .n = n, .q = q, .res = res, .known = known, .timeout_ms = timeout_ms};
	struct strmap *tmap = NULL;
	rd_kafka_queue_t *queue = NULL;
	size_t nfailed = 0, sent = 0;
	char line[LAG_ERROR_MAX];

	if (n == 0)
		return 0;
	if (n > LAG_READ_MANY_MAX) {
		line_set(line, sizeof(line), "lag: %zu queries in one read, at most %d", n,
		         LAG_READ_MANY_MAX);
		return fail_all(n, errors, line);
	}
	for (size_t i = 0; i < n; i++) {
		if (errors != NULL)
			errors[i][0] = '\0';
		if (end_sums != NULL)
			end_sums[i] = 0;
		if ((res != NULL && q[i].group == NULL) || q[i].topic == NULL)
			return fail_all(n, errors,
			                res != NULL ? "lag: a query without a group or topic"
			                            : "lag: a query without a topic");
	}
	/* The round judges security failures by the lines: it needs them. */
	if (errors == NULL) {
		own = calloc(n, sizeof(*own));
		if (own == NULL)
			return n;
		errors = own;
	}
	rd.errors = errors;
	rd.failed = calloc(n, 1);
	rd.topic_of = calloc(n, sizeof(*rd.topic_of));
	rd.group_of = calloc(n, sizeof(*rd.group_of));
	rd.topics = calloc(n, sizeof(*rd.topics));
	rd.groups = calloc(n, sizeof(*rd.groups));
	if (rd.failed == NULL || rd.topic_of == NULL || rd.group_of == NULL || rd.topics == NULL ||
	    rd.groups == NULL || round_slots(&rd) < 0 || strmap_new(&tmap, n) != STRMAP_OK) {
		round_free(&rd);
		strmap_free(tmap);
		free(own);
		return fail_all(n, errors, "lag: out of memory");
	}
	for (size_t t = 0; t < rd.ntopics; t++)
		strmap_put(tmap, rd.topics[t].name, (void *)(uintptr_t)(t + 1), NULL, NULL);

	round_ledger(&rd);
	round_metadata(&rd);
	if (res != NULL) {
		queue = rd_kafka_queue_new(r->rk);
		sent = round_offsets_ask(&rd, queue);
	}
	int64_t deadline = clock_mono_ms() + timeout_ms + 1000;
	round_list_offsets(&rd, RD_KAFKA_OFFSET_END, tmap);
	if (res != NULL) {
		round_list_offsets(&rd, RD_KAFKA_OFFSET_BEGINNING, tmap);
		round_offsets_collect(&rd, queue, sent, deadline);
		rd_kafka_queue_destroy(queue);
	}

	for (size_t i = 0; i < n; i++) {
		if (res != NULL)
			round_result(&rd, i);
		else
			round_end_sum(&rd, i, &end_sums[i]);
		nfailed += rd.failed[i];
	}
	round_security(&rd, nfailed);
	round_free(&rd);
	strmap_free(tmap);
	free(own);
	return nfailed;
}

size_t lag_read_many(struct lag_reader *r, size_t n, const struct lag_query q[],
                     struct lag_result res[], char (*errors)[LAG_ERROR_MAX], int timeout_ms)
{
	return read_round(r, n, q, NULL, res, NULL, errors, timeout_ms);
}

size_t lag_read_ends(struct lag_reader *r, size_t n, const char *const topics[],
                     const int32_t partitions[], int64_t end_sums[], char (*errors)[LAG_ERROR_MAX],
                     int timeout_ms)
{
	struct lag_query *q;
	size_t failed;

	if (n == 0)
		return 0;
	if (n > LAG_READ_MANY_MAX)
		return read_round(r, n, NULL, NULL, NULL, end_sums, errors, timeout_ms);
	q = calloc(n, sizeof(*q));
	if (q == NULL)
		return fail_all(n, errors, "lag: out of memory");
	for (size_t i = 0; i < n; i++)
		q[i].topic = topics[i];
	failed = read_round(r, n, q, partitions, NULL, end_sums, errors, timeout_ms);
	free(q);
	return failed;
}

int lag_read(struct lag_reader *r, const char *group, const char *topic, enum lag_reset reset,
             int timeout_ms, struct lag_result *out, char *errbuf, size_t errbuf_size)
{
	const struct lag_query q = {.group = group, .topic = topic, .reset = reset};
	char errors[1][LAG_ERROR_MAX];

	if (lag_read_many(r, 1, &q, out, errors, timeout_ms) == 0)
		return 0;
	return err_set(errbuf, errbuf_size, -1, "%s", errors[0]);
}

int lag_reader_failed(const struct lag_reader *r)
{
	return r->failed;
}

uint64_t lag_reader_id(const struct lag_reader *r)
{
	return r != NULL ? r->id : 0;
}

struct lag_pool {
	struct strmap *readers; /* bootstrap -> struct lag_reader * */
};

int lag_pool_new(size_t max_readers, struct lag_pool **out)
{
	struct lag_pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return -1;
	if (strmap_new(&p->readers, max_readers) < 0) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

struct lag_reader *lag_pool_get(struct lag_pool *pool, const char *bootstrap,
                                const struct kafka_security *sec, char *errbuf, size_t errbuf_size)
{
	char key[TOPICS_KEY_MAX];
	struct lag_reader *r;
	void *old = NULL;

	topics_key(bootstrap, sec, key, sizeof(key));
	r = strmap_get(pool->readers, key);
	if (r != NULL && !r->failed)
		return r;
	if (r != NULL) /* its login failed: settings fixed since get a new one */
		lag_reader_free(strmap_remove(pool->readers, key));
	if (lag_reader_new_sec(bootstrap, sec, &r, errbuf, errbuf_size) < 0)
		return NULL;
	if (strmap_put(pool->readers, key, r, NULL, &old) < 0) {
		snprintf(errbuf, errbuf_size, "lag: too many Kafka clusters (%zu)",
		         strmap_max(pool->readers));
		lag_reader_free(r);
		return NULL;
	}
	return r;
}

struct find_arg {
	uint64_t id;
	struct lag_reader *found;
};

static int find_id(const char *key, void *value, void *opaque)
{
	struct find_arg *f = opaque;
	struct lag_reader *r = value;
	(void)key;

	if (r->id != f->id)
		return 0;
	f->found = r;
	return 1;
}

struct lag_reader *lag_pool_find(struct lag_pool *pool, uint64_t id)
{
	struct find_arg f = {id, NULL};

	if (pool == NULL || id == 0)
		return NULL;
	strmap_foreach(pool->readers, find_id, &f);
	return f.found != NULL && !f.found->failed ? f.found : NULL;
}

static int free_reader(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	lag_reader_free(value);
	return 0;
}

void lag_pool_free(struct lag_pool *pool)
{
	if (pool == NULL)
		return;
	strmap_foreach(pool->readers, free_reader, NULL);
	strmap_free(pool->readers);
	free(pool);
}

static int forget_in(const char *key, void *value, void *opaque)
{
	(void)key;
	lag_reader_forget(value, opaque);
	return 0;
}

void lag_pool_forget(struct lag_pool *pool, const char *topic)
{
	if (pool == NULL || topic == NULL)
		return;
	strmap_foreach(pool->readers, forget_in, (void *)topic);
}
