/* tw_ingest.c -- one message through parse, core and dead letters; see
 * tw_ingest.h. */
#include "tw_ingest.h"

#include <stdio.h>

#include "dead_letter.h"
#include "kafka.h"
#include "log.h"

const char *const tw_malformed_names[TW_MALFORMED_KINDS] = {
    "other", "syntax", "missing", "type", "timestamp", "too_long", "range"};

struct tw_ingest_action tw_ingest_decide(int rc)
{
	struct tw_ingest_action a = {TW_INGEST_FATAL, TW_IN_NONE, TW_DLQ_MALFORMED};

	switch (rc) {
	case TW_ADDED:
		a.what = TW_INGEST_KEEP;
		break;
	case TW_PARTIAL_LATE:
		a.what = TW_INGEST_KEEP;
		a.counter = TW_IN_PARTIAL_LATE;
		break;
	case TW_DUPLICATE:
		a.what = TW_INGEST_DROP;
		a.counter = TW_IN_DUPLICATES;
		break;
	case TW_REPLAYED:
		a.what = TW_INGEST_DROP;
		a.counter = TW_IN_REPLAYED;
		break;
	case TW_LATE:
		a.what = TW_INGEST_DEAD;
		a.counter = TW_IN_LATE;
		a.dlq = TW_DLQ_LATE;
		break;
	case TW_OVERFLOW:
		a.what = TW_INGEST_DEAD;
		a.counter = TW_IN_OVERFLOW;
		a.dlq = TW_DLQ_OVERFLOW;
		break;
	case TW_WINDOW_E_RANGE:
		a.what = TW_INGEST_MALFORMED;
		a.counter = TW_IN_MALFORMED;
		a.dlq = TW_DLQ_MALFORMED;
		break;
	case TW_WINDOW_E_OFFSET:
		a.what = TW_INGEST_REDELIVERED;
		break;
	default:
		break;
	}
	return a;
}

enum tw_malformed_kind tw_ingest_malformed_kind(int rc)
{
	return rc < 0 && -rc < TW_MALFORMED_RANGE ? (enum tw_malformed_kind) - rc
	                                          : TW_MALFORMED_OTHER;
}

void tw_ingest_emit(void *opaque, const struct tw_result *r)
{
	struct tw_ingest *in = opaque;

	if (rowbuf_add_result(in->rows, r) < 0) {
		tw_health_set_fatal(in->health, "hold window results",
		                    "out of memory or past the row bound");
		return;
	}
	in->n[TW_IN_WINDOWS]++;
}

void tw_ingest_message(struct tw_ingest *in, const rd_kafka_message_t *m, int64_t now)
{
	char reason[DLQ_REASON_MAX], src[KAFKA_SOURCE_MAX], text[256];
	struct tw_event ev;
	int rc;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Consumer errors are reported as messages; librdkafka recovers
		 * from the transient ones by itself. */
		log_warn("consumer error", "resource", in->resource, "source",
		         m->rkt != NULL
		             ? kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt),
		                            m->partition, m->offset)
		             : "",
		         "error", kafka_strerror(text, sizeof(text), m->err), "detail",
		         rd_kafka_message_errstr(m), NULL);
		return;
	}
	if (!tw_core_has(in->core, m->partition))
		return; /* left over from a revoked assignment */
	in->n[TW_IN_EVENTS]++;
	rc = tw_parser_parse(in->parser, m->payload != NULL ? m->payload : "", m->len, &ev, reason,
	                     sizeof(reason));
	if (rc < 0) {
		in->n[TW_IN_MALFORMED]++;
		in->malformed_by[tw_ingest_malformed_kind(rc)]++;
		(void)tw_dlq_message(in->dlq, TW_DLQ_MALFORMED, m, reason);
		(void)tw_core_skip(in->core, m->partition, m->offset);
		return;
	}
	rc = tw_core_process(in->core, m->partition, m->offset, &ev, now);
	struct tw_ingest_action a = tw_ingest_decide(rc);
	if (a.counter != TW_IN_NONE)
		in->n[a.counter]++;
	switch (a.what) {
	case TW_INGEST_KEEP:
		if (in->raw && rowbuf_add_event(in->rows, &ev) < 0)
			tw_health_set_fatal(in->health, "hold raw events",
			                    "out of memory or past the row bound");
		break;
	case TW_INGEST_DROP:
		break;
	case TW_INGEST_DEAD: {
		struct tw_core_stats st;
		int64_t wm = tw_core_stats(in->core, m->partition, &st) == 0
		                 ? st.window.watermark_ns
		                 : TW_TS_NONE;
		(void)tw_dlq_message(in->dlq, a.dlq, m,
		                     dead_letter_reason(reason, sizeof(reason), rc, &ev, wm));
		break;
	}
	case TW_INGEST_MALFORMED:
		in->malformed_by[TW_MALFORMED_RANGE]++;
		(void)tw_dlq_message(
		    in->dlq, a.dlq, m,
		    dead_letter_reason(reason, sizeof(reason), rc, &ev, TW_TS_NONE));
		(void)tw_core_skip(in->core, m->partition, m->offset);
		break;
	case TW_INGEST_REDELIVERED:
		/* Already processed: a redelivery after a seek. */
		log_debug("message at or below the last offset processed: skipped", "source",
		          kafka_source(src, sizeof(src), rd_kafka_topic_name(m->rkt), m->partition,
		                       m->offset),
		          NULL);
		break;
	case TW_INGEST_FATAL:
		if (rc == TW_WINDOW_E_NOMEM)
			snprintf(text, sizeof(text), "out of memory");
		else
			snprintf(text, sizeof(text), "%d", rc);
		tw_health_set_fatal(in->health, "stream core", text);
		break;
	}
}
