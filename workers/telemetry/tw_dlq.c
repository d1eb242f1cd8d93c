/* tw_dlq.c -- the dead-letter producer; see tw_dlq.h. */
#include "tw_dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dead_letter.h"
#include "dlq.h"
#include "kafka.h"
#include "kafka_security.h"
#include "log.h"
#include "signals.h"

const char *const tw_dlq_kind_names[TW_DLQ_KINDS] = {DLQ_KIND_MALFORMED, DLQ_KIND_LATE,
                                                     DLQ_KIND_OVERFLOW, DLQ_KIND_REJECTED};

size_t tw_dlq_readable_key(char *dst, const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = key[i] == TW_KEY_SEP ? ',' : key[i];
	return len;
}

const char *tw_dlq_batch_reason(char *buf, size_t size, const char *sink, const char *error)
{
	/* One line, cut: a server's message can be long. */
	snprintf(buf, size, "%.32s rejected the batch: %.200s", sink, error);
	return buf;
}

/* A failed delivery, copied to be produced again (tw_dlq.h). */
struct tw_dlq_again {
	struct tw_dlq_again *next;
	intptr_t kind;
	rd_kafka_headers_t *headers; /* owned */
	size_t key_len, len;
	char *key, *payload; /* owned; NULL when empty */
};

static void again_free(struct tw_dlq_again *a)
{
	if (a->headers != NULL)
		rd_kafka_headers_destroy(a->headers);
	free(a->key);
	free(a->payload);
	free(a);
}

static char *copy_bytes(const void *p, size_t n, int *failed)
{
	char *c;

	if (p == NULL || n == 0)
		return NULL;
	if ((c = malloc(n)) == NULL)
		*failed = 1;
	else
		memcpy(c, p, n);
	return c;
}

/* Keeps msg, whose delivery failed, to be produced again. Returns 0, or -1
 * when it cannot (out of memory, too many kept). */
static int keep_again(struct tw_dlq *d, const rd_kafka_message_t *msg, intptr_t kind)
{
	rd_kafka_headers_t *hdrs = NULL;
	int failed = 0;

	if (d->nagain >= TW_DLQ_AGAIN_MAX)
		return -1;
	struct tw_dlq_again *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -1;
	a->kind = kind;
	a->key = copy_bytes(msg->key, msg->key_len, &failed);
	a->key_len = a->key != NULL ? msg->key_len : 0;
	a->payload = copy_bytes(msg->payload, msg->len, &failed);
	a->len = a->payload != NULL ? msg->len : 0;
	if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    (a->headers = rd_kafka_headers_copy(hdrs)) == NULL)
		failed = 1;
	if (failed) {
		again_free(a);
		return -1;
	}
	if (d->again_end != NULL)
		d->again_end->next = a;
	else
		d->again = a;
	d->again_end = a;
	d->nagain++;
	return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	struct tw_dlq *d = opaque;
	intptr_t kind = (intptr_t)msg->_private;
	char src[KAFKA_SOURCE_MAX] = "", n[24];

	(void)rk;
	if (kind < 0 || kind >= TW_DLQ_KINDS)
		kind = TW_DLQ_MALFORMED;
	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		d->delivered[kind]++;
		d->delivered_total++;
		return;
	}
	/* message.timeout.ms passed (SLUICE_KAFKA_MESSAGE_TIMEOUT_MS) with no
	 * broker to take it: keep it and produce it again; no commit moves
	 * past it meanwhile (tw_dlq_wait). */
	d->failed_total++;
	kafka_strerror(d->last_error, sizeof(d->last_error), msg->err);
	rd_kafka_headers_t *hdrs = NULL;
	const void *v = NULL;
	size_t vlen = 0;
	if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, DLQ_HEADER_SOURCE, &v, &vlen) ==
	        RD_KAFKA_RESP_ERR_NO_ERROR &&
	    v != NULL) {
		snprintf(src, sizeof(src), "%.*s", (int)vlen, (const char *)v);
	}
	if (keep_again(d, msg, kind) < 0) {
		log_error("dead letter not delivered, and cannot be kept to be sent again",
		          "resource", d->resource, "topic", d->spec->kafka.dead_letter_topic,
		          "source", src, "error", d->last_error, NULL);
		tw_health_set_fatal(d->health, "dead letter not delivered", d->last_error);
		return;
	}
	if (d->nagain == 1) /* the first of a run: one line, not one per letter */
		log_warn("dead letter not delivered: kept, to be sent again; consumption pauses "
		         "until it is delivered",
		         "resource", d->resource, "topic", d->spec->kafka.dead_letter_topic,
		         "source", src, "error", d->last_error, "failed_total",
		         (snprintf(n, sizeof(n), "%llu", (unsigned long long)d->failed_total), n),
		         NULL);
}

/* Produces the kept failed deliveries again, oldest first, until one is
 * refused (a full queue: the next try). Not before d->again_at unless
 * force. */
static void produce_again(struct tw_dlq *d, int force)
{
	int64_t now = clock_mono_ms();
	char text[256];

	if (d->again == NULL || d->producer == NULL || (!force && now < d->again_at))
		return;
	d->again_at = now + TW_DLQ_AGAIN_MS;
	while (d->again != NULL) {
		struct tw_dlq_again *a = d->again;
		rd_kafka_headers_t *h = a->headers != NULL ? rd_kafka_headers_copy(a->headers)
		                                           : rd_kafka_headers_new(0);
		if (h == NULL)
			return; /* the next try */
		rd_kafka_resp_err_t err = rd_kafka_producev(
		    d->producer, RD_KAFKA_V_TOPIC(d->spec->kafka.dead_letter_topic),
		    RD_KAFKA_V_KEY(a->key, a->key_len), RD_KAFKA_V_VALUE(a->payload, a->len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_OPAQUE((void *)a->kind), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_headers_destroy(h);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				log_error("cannot produce a dead letter again", "resource",
				          d->resource, "topic", d->spec->kafka.dead_letter_topic,
				          "error", kafka_strerror(text, sizeof(text), err), NULL);
				tw_health_set_fatal(d->health, "produce dead letter again", text);
			}
			return;
		}
		d->again = a->next;
		if (d->again == NULL)
			d->again_end = NULL;
		d->nagain--;
		again_free(a);
	}
}

size_t tw_dlq_undelivered(const struct tw_dlq *d)
{
	return d->nagain;
}

int tw_dlq_start(struct tw_dlq *d, const char *client_id, int create_topic, char *errbuf,
                 size_t errbuf_size)
{
	/* Infinite delivery timeout: librdkafka keeps retrying a dead letter
	 * while the broker is away, and the commit waits for it. */
	char timeout[16];
	const char *producer_extra[] = {"message.timeout.ms", NULL, "linger.ms", "5", NULL};
	char producer_id[340];
	int partitions = 0, replication = 0;

	producer_extra[1] =
	    kafka_message_timeout("0", timeout, sizeof(timeout), errbuf, errbuf_size);
	if (producer_extra[1] == NULL)
		return -1;
	snprintf(producer_id, sizeof(producer_id), "%s-dlq", client_id);
	struct kafka_security sec;
	if (spec_kafka_security_env(&d->spec->kafka, &sec, errbuf, errbuf_size) < 0)
		return -1;
	struct kafka_config pc = {.bootstrap = d->spec->kafka.bootstrap,
	                          .security = &sec,
	                          .client_id = producer_id,
	                          .extra = producer_extra};
	d->producer = kafka_producer_new(&pc, on_delivery, d, errbuf, errbuf_size);
	if (d->producer == NULL)
		return -1;
	if (create_topic) {
		char why[512];
		/* The dead-letter topic mirrors the source's partitions and
		 * replication, so keys spread the same way. */
		if (kafka_topic_describe(d->producer, d->spec->kafka.topic, 10000, &partitions,
		                         &replication, why, sizeof(why)) < 0)
			log_warn(
			    "cannot read the source topic: the dead-letter topic is not created",
			    "resource", d->resource, "topic", d->spec->kafka.topic, "error", why,
			    NULL);
		else if (kafka_topic_create(d->producer, d->spec->kafka.dead_letter_topic,
		                            partitions, replication, 10000, why, sizeof(why)) < 0)
			log_warn("cannot create the dead-letter topic", "resource", d->resource,
			         "topic", d->spec->kafka.dead_letter_topic, "error", why, NULL);
	}
	return 0;
}

void tw_dlq_close(struct tw_dlq *d)
{
	if (d->producer != NULL)
		rd_kafka_destroy(d->producer);
	d->producer = NULL;
	while (d->again != NULL) {
		struct tw_dlq_again *a = d->again;
		d->again = a->next;
		again_free(a);
	}
	d->again_end = NULL;
	d->nagain = 0;
}

/* Produces one dead letter; the headers are described in dead_letter.h.
 * Returns 0, or -1 after tw_health_set_fatal. */
static int produce_one(struct tw_dlq *d, enum tw_dlq_kind kind, const void *key, size_t key_len,
                       const void *value, size_t value_len, const char *reason, const char *source)
{
	char text[256];
	rd_kafka_resp_err_t err;
	int64_t start = 0;

	for (;;) {
		rd_kafka_headers_t *h = rd_kafka_headers_new(4);
		if (h == NULL) {
			tw_health_set_fatal(d->health, "dead letter", "out of memory");
			return -1;
		}
		if (rd_kafka_header_add(h, DLQ_HEADER_REASON, -1, reason, -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_KIND, -1, tw_dlq_kind_names[kind], -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_SOURCE, -1, source, -1) ||
		    rd_kafka_header_add(h, DLQ_HEADER_RESOURCE, -1, d->resource, -1)) {
			rd_kafka_headers_destroy(h);
			tw_health_set_fatal(d->health, "dead letter", "cannot add headers");
			return -1;
		}
		err = rd_kafka_producev(
		    d->producer, RD_KAFKA_V_TOPIC(d->spec->kafka.dead_letter_topic),
		    RD_KAFKA_V_KEY(key, key_len),
		    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_OPAQUE((void *)(intptr_t)kind), RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (start != 0) /* waited, not reading */
				tw_pause_stalled(d->pause, clock_mono_ms() - start);
			return 0; /* the producer owns h now */
		}
		rd_kafka_headers_destroy(h);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		/* The broker is slow or away: serve delivery reports to drain
		 * the queue, within a bound. */
		int64_t now = clock_mono_ms();
		if (start == 0)
			start = now;
		if (now - start > TW_DLQ_QUEUE_FULL_MS || signals_stop_requested())
			break;
		rd_kafka_poll(d->producer, 100);
	}
	log_error("cannot produce a dead letter", "resource", d->resource, "topic",
	          d->spec->kafka.dead_letter_topic, "source", source, "error",
	          kafka_strerror(text, sizeof(text), err), NULL);
	tw_health_set_fatal(d->health, "produce dead letter", text);
	return -1;
}

int tw_dlq_message(struct tw_dlq *d, enum tw_dlq_kind kind, const rd_kafka_message_t *m,
                   const char *reason)
{
	char src[KAFKA_SOURCE_MAX];

	kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition, m->offset);
	return produce_one(d, kind, m->key, m->key_len, m->payload, m->len, reason, src);
}

void tw_dlq_batch(struct tw_dlq *d, const struct tw_batch *b, const char *sink, const char *error)
{
	char reason[DLQ_REASON_MAX], src[KAFKA_SOURCE_MAX], key[TW_KEY_MAX];

	tw_dlq_batch_reason(reason, sizeof(reason), sink, error);
	for (size_t i = 0; !tw_health_is_fatal(d->health) && i < b->nrows; i++) {
		char *json = dead_letter_row_json(d->spec, &b->rows[i]);
		if (json == NULL) {
			tw_health_set_fatal(d->health, "dead letter", "out of memory");
			return;
		}
		kafka_source(src, sizeof(src), d->spec->kafka.topic, b->rows[i].partition, -1);
		(void)produce_one(d, TW_DLQ_REJECTED, key,
		                  tw_dlq_readable_key(key, b->rows[i].key, b->rows[i].key_len),
		                  json, strlen(json), reason, src);
		free(json);
	}
	for (size_t i = 0; !tw_health_is_fatal(d->health) && i < b->nevents; i++) {
		char *json = dead_letter_event_json(d->spec, &b->events[i]);
		if (json == NULL) {
			tw_health_set_fatal(d->health, "dead letter", "out of memory");
			return;
		}
		snprintf(src, sizeof(src), "%s/-/-", d->spec->kafka.topic);
		(void)produce_one(d, TW_DLQ_REJECTED, key,
		                  tw_dlq_readable_key(key, b->events[i].key, b->events[i].key_len),
		                  json, strlen(json), reason, src);
		free(json);
	}
}

void tw_dlq_poll(struct tw_dlq *d)
{
	if (d->producer != NULL) {
		rd_kafka_poll(d->producer, 0);
		produce_again(d, 0);
	}
}

int tw_dlq_wait(struct tw_dlq *d, int timeout_ms, int *left)
{
	*left = 0;
	if (d->producer == NULL)
		return 0;
	produce_again(d, 0);
	if (rd_kafka_outq_len(d->producer) > 0)
		(void)rd_kafka_flush(d->producer, timeout_ms); /* failures land in again */
	*left = rd_kafka_outq_len(d->producer) + (int)d->nagain;
	return *left == 0 ? 0 : -1;
}

int tw_dlq_fatal(struct tw_dlq *d, char *errbuf, size_t errbuf_size)
{
	return d->producer != NULL && kafka_fatal(d->producer, errbuf, errbuf_size);
}
