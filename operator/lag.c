/*
 * lag.c - a consumer group's lag on one topic in three batched requests.
 * See lag.h for what is measured and why.
 */
#include "lag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "strmap.h"
#include "topics.h"

#define LAG_CLIENT_ID "sluice-operator-lag"

/* "lag: <what>: <librdkafka's description> (<NAME>)"; returns -1. */
static int lag_fail(char *errbuf, size_t errbuf_size, const char *what, rd_kafka_resp_err_t err)
{
	char text[256];

	snprintf(errbuf, errbuf_size, "lag: %s: %s", what, kafka_strerror(text, sizeof(text), err));
	return -1;
}

struct lag_reader {
	rd_kafka_t *rk;
	char *bootstrap;
	int failed; /* a security failure: lag_pool_get makes a new one */
};

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

int lag_reader_new_sec(const char *bootstrap, const struct kafka_security *sec,
                       struct lag_reader **out, char *errbuf, size_t errbuf_size)
{
	/* A consumer handle for its isolation.level (see lag.h). It never
	 * subscribes, so it never joins its group; the group id is only
	 * required by kafka_consumer_new. */
	struct kafka_config kc = {
	    .bootstrap = bootstrap,
	    .security = sec,
	    .client_id = LAG_CLIENT_ID,
	    .group = LAG_CLIENT_ID,
	};
	struct lag_reader *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL || (r->bootstrap = strdup(bootstrap != NULL ? bootstrap : "")) == NULL) {
		free(r);
		snprintf(errbuf, errbuf_size, "lag: out of memory");
		return -1;
	}
	r->rk = kafka_consumer_new(&kc, NULL, NULL, errbuf, errbuf_size);
	if (r->rk == NULL) {
		free(r->bootstrap);
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void lag_reader_free(struct lag_reader *r)
{
	if (r == NULL)
		return;
	rd_kafka_consumer_close(r->rk);
	rd_kafka_destroy(r->rk);
	free(r->bootstrap);
	free(r);
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

static rd_kafka_topic_partition_list_t *partition_list(const char *topic, int32_t n, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);

	for (int32_t i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset = offset;
	return l;
}

/* Committed offsets through the admin API, into res->p[].committed. */
static int read_committed(struct lag_reader *r, const char *group, const char *topic,
                          int timeout_ms, struct lag_result *res, char *errbuf, size_t errbuf_size)
{
	char what[300], es[256];
	rd_kafka_topic_partition_list_t *parts = partition_list(topic, res->partitions, 0);
	rd_kafka_ListConsumerGroupOffsets_t *req =
	    rd_kafka_ListConsumerGroupOffsets_new(group, parts);
	rd_kafka_AdminOptions_t *opt =
	    rd_kafka_AdminOptions_new(r->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(r->rk);
	rd_kafka_event_t *ev = NULL;
	int rc = -1;

	snprintf(what, sizeof(what), "group \"%s\" offsets", group);
	rd_kafka_topic_partition_list_destroy(parts);
	if (rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, es, sizeof(es)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(errbuf, errbuf_size, "lag: %s: %s", what, es);
		goto out;
	}
	rd_kafka_ListConsumerGroupOffsets(r->rk, &req, 1, opt, q);
	/* The admin request times out by itself; the margin covers its
	 * coordinator lookup. */
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	if (ev == NULL) {
		lag_fail(errbuf, errbuf_size, what, RD_KAFKA_RESP_ERR__TIMED_OUT);
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(errbuf, errbuf_size, "lag: %s: %s (%s)", what,
		         rd_kafka_event_error_string(ev),
		         rd_kafka_err2name(rd_kafka_event_error(ev)));
		goto out;
	}
	const rd_kafka_ListConsumerGroupOffsets_result_t *result =
	    rd_kafka_event_ListConsumerGroupOffsets_result(ev);
	size_t ngroups = 0;
	const rd_kafka_group_result_t **groups =
	    result != NULL ? rd_kafka_ListConsumerGroupOffsets_result_groups(result, &ngroups)
	                   : NULL;
	if (ngroups != 1) {
		snprintf(errbuf, errbuf_size, "lag: %s: %zu groups in the reply", what, ngroups);
		goto out;
	}
	const rd_kafka_error_t *gerr = rd_kafka_group_result_error(groups[0]);
	if (gerr != NULL) {
		snprintf(errbuf, errbuf_size, "lag: %s: %s (%s)", what, rd_kafka_error_string(gerr),
		         rd_kafka_error_name(gerr));
		goto out;
	}
	const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(groups[0]);
	for (int i = 0; got != NULL && i < got->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &got->elems[i];
		if (tp->partition < 0 || tp->partition >= res->partitions ||
		    strcmp(tp->topic, topic) != 0)
			continue;
		/* A partition error fails the poll: taking it as "no commit"
		 * could read as a huge lag or none (KEDA #4098). */
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			char src[KAFKA_SOURCE_MAX];
			snprintf(what, sizeof(what), "group \"%s\" offset of %s", group,
			         kafka_source(src, sizeof(src), topic, tp->partition, -1));
			lag_fail(errbuf, errbuf_size, what, tp->err);
			goto out;
		}
		res->p[tp->partition].committed = tp->offset >= 0 ? tp->offset : -1;
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	return rc;
}

/* Earliest (ts -2) or latest (ts -1) offsets of every partition. */
static int read_offsets(struct lag_reader *r, const char *topic, int64_t ts, int timeout_ms,
                        struct lag_result *res, char *errbuf, size_t errbuf_size)
{
	char what[300], src[KAFKA_SOURCE_MAX];
	rd_kafka_topic_partition_list_t *l = partition_list(topic, res->partitions, ts);
	rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(r->rk, l, timeout_ms);
	int rc = 0;

	snprintf(what, sizeof(what), "topic \"%s\" %s offsets", topic,
	         ts == RD_KAFKA_OFFSET_END ? "end" : "start");
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = lag_fail(errbuf, errbuf_size, what, err);
		goto out;
	}
	for (int i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR || tp->offset < 0) {
			snprintf(what, sizeof(what), "%s offset of %s",
			         ts == RD_KAFKA_OFFSET_END ? "end" : "start",
			         kafka_source(src, sizeof(src), topic, tp->partition, -1));
			rc = lag_fail(errbuf, errbuf_size, what,
			              tp->err != RD_KAFKA_RESP_ERR_NO_ERROR
			                  ? tp->err
			                  : RD_KAFKA_RESP_ERR__INVALID_ARG);
			goto out;
		}
		if (ts == RD_KAFKA_OFFSET_END)
			res->p[tp->partition].end = tp->offset;
		else
			res->p[tp->partition].start = tp->offset;
	}
out:
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

static int read_once(struct lag_reader *r, const char *group, const char *topic,
                     enum lag_reset reset, int timeout_ms, struct lag_result *out, char *errbuf,
                     size_t errbuf_size)
{
	char why[512];
	int partitions = 0, replication = 0;

	if (kafka_topic_describe(r->rk, topic, timeout_ms, &partitions, &replication, why,
	                         sizeof(why)) < 0) {
		/* why reads "kafka: <reason>"; one prefix for every lag error. */
		snprintf(errbuf, errbuf_size, "lag: %s",
		         strncmp(why, "kafka: ", 7) == 0 ? why + 7 : why);
		return -1;
	}
	if (partitions <= 0) { /* KEDA #6897: this panicked its operator */
		snprintf(errbuf, errbuf_size, "lag: topic \"%s\": no partitions", topic);
		return -1;
	}
	if (result_size(out, partitions, errbuf, errbuf_size) < 0)
		return -1;
	if (read_committed(r, group, topic, timeout_ms, out, errbuf, errbuf_size) < 0 ||
	    read_offsets(r, topic, RD_KAFKA_OFFSET_END, timeout_ms, out, errbuf, errbuf_size) < 0 ||
	    read_offsets(r, topic, RD_KAFKA_OFFSET_BEGINNING, timeout_ms, out, errbuf,
	                 errbuf_size) < 0)
		return -1;

	out->total_lag = out->consumed = 0;
	out->uncommitted = 0;
	for (int32_t i = 0; i < out->partitions; i++) {
		struct lag_partition *p = &out->p[i];
		if (p->committed < 0) {
			out->uncommitted++;
			p->position = reset == LAG_RESET_LATEST ? p->end : p->start;
		} else {
			p->position = p->committed > p->start ? p->committed : p->start;
		}
		p->lag = p->end > p->position ? p->end - p->position : 0;
		out->lag[i] = p->lag;
		out->total_lag += p->lag;
		out->consumed += p->position;
	}
	return 0;
}

int lag_read(struct lag_reader *r, const char *group, const char *topic, enum lag_reset reset,
             int timeout_ms, struct lag_result *out, char *errbuf, size_t errbuf_size)
{
	char why[512];
	int rc = read_once(r, group, topic, reset, timeout_ms, out, errbuf, errbuf_size);

	/* The handle's error events say why a read timed out (a refused login
	 * or handshake), and are served so they never pile up. */
	if (topics_drain_errors(r->rk, why, sizeof(why)) != 0 && rc != 0) {
		r->failed = 1;
		snprintf(errbuf, errbuf_size, "lag: %s",
		         strncmp(why, "kafka: ", 7) == 0 ? why + 7 : why);
	}
	return rc;
}

int lag_reader_failed(const struct lag_reader *r)
{
	return r->failed;
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
