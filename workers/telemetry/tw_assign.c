/* tw_assign.c -- the rebalance callback; see tw_assign.h. */
#include "tw_assign.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"

_Static_assert(TW_PART_NO_COMMIT == RD_KAFKA_OFFSET_INVALID,
               "tw_parts.h's no-commit offset is librdkafka's");

void tw_assign_restore(int64_t offset, const void *metadata, size_t metadata_size,
                       struct tw_restore *out)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	out->committed_offset = offset >= 0 ? offset : TW_PART_NO_COMMIT;
	if (offset < 0 || metadata == NULL || metadata_size == 0)
		return;
	n = metadata_size < sizeof(out->meta) - 1 ? metadata_size : sizeof(out->meta) - 1;
	memcpy(out->meta, metadata, n);
	out->meta[n] = '\0';
	if (tw_checkpoint_parse(out->meta, offset, &out->cp, out->error, sizeof(out->error)) == 0)
		out->have_cp = 1;
	else
		out->bad_meta = 1;
}

/* Reads the committed offsets and metadata of parts into parts itself,
 * retrying a few times: without them the checkpoints cannot be restored.
 * Returns 0, or -1 after tw_health_set_fatal. */
static int read_committed(struct tw_assign *a, rd_kafka_t *rk,
                          rd_kafka_topic_partition_list_t *parts)
{
	char text[256];
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

	for (int attempt = 1; attempt <= TW_ASSIGN_COMMITTED_TRIES; attempt++) {
		err = rd_kafka_committed(rk, parts, TW_ASSIGN_COMMITTED_TIMEOUT_MS);
		int part_err = 0;
		for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < parts->cnt; i++)
			if (parts->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
				err = parts->elems[i].err;
				part_err = 1;
			}
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		char n[16];
		snprintf(n, sizeof(n), "%d", attempt);
		log_warn("cannot read committed offsets", "resource", a->resource, "attempt", n,
		         "error", kafka_strerror(text, sizeof(text), err), "scope",
		         part_err ? "partition" : "request", NULL);
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
	}
	tw_health_set_fatal(a->health, "read committed offsets",
	                    kafka_strerror(text, sizeof(text), err));
	return -1;
}

/* Drops everything held for partition (see tw_assign.h). */
static void drop(struct tw_assign *a, int32_t partition)
{
	(void)tw_core_revoke(a->core, partition);
	tw_parts_remove(a->parts, partition);
	tw_flush_forget(a->flush, partition);
}

static void on_assign(struct tw_assign *a, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	char errbuf[512], src[KAFKA_SOURCE_MAX];

	if (parts->cnt > 0 && read_committed(a, rk, parts) < 0) {
		/* Without the commit there is nothing safe to start from; assign
		 * anyway (librdkafka expects it) and let the loop stop. */
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
	}
	for (int i = 0; !tw_health_is_fatal(a->health) && i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *e = &parts->elems[i];
		struct tw_restore r;

		tw_assign_restore(e->offset, e->metadata, e->metadata_size, &r);
		if (r.bad_meta)
			log_warn("committed metadata is not a checkpoint: starting the "
			         "partition's windows afresh at the committed offset",
			         "source",
			         kafka_source(src, sizeof(src), e->topic, e->partition, e->offset),
			         "metadata", r.meta, "error", r.error, NULL);
		if (tw_core_has(a->core, e->partition)) { /* assigned twice: start over */
			drop(a, e->partition);
			(void)rowbuf_drop_partition(a->rows, e->partition);
		}
		int rc = tw_core_assign(a->core, e->partition, r.have_cp ? &r.cp : NULL,
		                        tw_pause_now(a->pause, clock_mono_ms()));
		struct tw_part *p = rc == 0 ? tw_parts_add(a->parts, e->partition) : NULL;
		if (p == NULL) {
			char code[16];
			snprintf(code, sizeof(code), "%d", rc);
			tw_health_set_fatal(a->health, "assign partition",
			                    rc == 0 ? "out of memory" : code);
			break;
		}
		p->committed_offset = r.committed_offset;
		snprintf(p->committed_meta, sizeof(p->committed_meta), "%s",
		         r.have_cp ? r.meta : "");
		log_info("partition assigned", "resource", a->resource, "source",
		         kafka_source(src, sizeof(src), e->topic, e->partition, e->offset),
		         "checkpoint", r.have_cp ? r.meta : "none", NULL);
	}
	if (kafka_rebalance_assign(rk, parts, errbuf, sizeof(errbuf)) < 0)
		tw_health_set_fatal(a->health, "assign", errbuf);
	/* A partition keeps its paused state across a rebalance in librdkafka:
	 * set it to what the loop wants now. With incremental assignment parts
	 * holds only the new partitions; those kept were paused or resumed
	 * with the rest by tw_pause_assignment. */
	if (parts->cnt > 0)
		tw_pause_partitions(rk, parts, a->pause->paused, a->resource);
	tw_health_set_ready(a->health);
	tw_metrics_set(a->metrics, a->metrics->assigned, NULL, (double)a->parts->n);
}

static void on_revoke(struct tw_assign *a, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	char errbuf[512], src[KAFKA_SOURCE_MAX];
	int lost = rd_kafka_assignment_lost(rk);

	for (int i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *e = &parts->elems[i];
		/* Open windows are not emitted: the next owner replays them from
		 * the committed offset (docs/telemetry-semantics.md). */
		drop(a, e->partition);
		tw_report_forget(a->report, e->partition);
		/* Its windows not yet in flight come again from the replay. */
		(void)rowbuf_drop_partition(a->rows, e->partition);
		if (a->metrics->lag != NULL) {
			char pn[16];
			snprintf(pn, sizeof(pn), "%d", (int)e->partition);
			tw_metrics_set(a->metrics, a->metrics->lag,
			               (const char *const[]){e->topic, pn, NULL}, 0);
		}
		log_info(lost ? "partition lost" : "partition revoked", "resource", a->resource,
		         "source", kafka_source(src, sizeof(src), e->topic, e->partition, -1),
		         NULL);
	}
	if (kafka_rebalance_revoke(rk, parts, errbuf, sizeof(errbuf)) < 0)
		log_warn("cannot revoke partitions", "resource", a->resource, "error", errbuf,
		         NULL);
	tw_metrics_set(a->metrics, a->metrics->assigned, NULL, (double)a->parts->n);
}

void tw_assign_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct tw_assign *a = opaque;
	char text[256];

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		a->assigned = 1;
		on_assign(a, rk, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		on_revoke(a, rk, parts);
		break;
	default:
		log_error("rebalance failed: dropping every partition", "resource", a->resource,
		          "error", kafka_strerror(text, sizeof(text), err), NULL);
		on_revoke(a, rk, parts);
		break;
	}
}
