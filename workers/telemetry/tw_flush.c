/* tw_flush.c -- the flush: its state machine and the adapter that runs it;
 * see tw_flush.h for the order of the steps and why. */
#include "tw_flush.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "tw_sink.h"

/* How long one wait for dead-letter delivery may block the loop before
 * the flush is retried like a sink's. */
#define DLQ_FLUSH_MS 2000
/* Repeated failures of one sink are logged at most this often. */
#define FAILURE_LOG_MS 10000
/* ... and those of the status Redis. */
#define REPORT_LOG_MS 30000
/* Checkpoints per commit request (their texts live on the stack) and
 * partitions per progress write. */
#define SLICE 64

/* ==== The state machine ==== */

static unsigned all_sinks(size_t nsinks)
{
	return nsinks >= TW_FLUSH_SINKS_MAX ? (1u << TW_FLUSH_SINKS_MAX) - 1 : (1u << nsinks) - 1;
}

struct tw_flush_decision tw_flush_decide(const struct tw_flush_state *st, int64_t now,
                                         size_t nsinks, int batch_empty, unsigned busy)
{
	struct tw_flush_decision d = {TW_FLUSH_NONE, 0};
	unsigned todo;

	if (!st->active)
		return d;
	if (!st->attempting) {
		d.step = now < st->retry_at ? TW_FLUSH_BACKOFF : TW_FLUSH_BEGIN;
		return d;
	}
	todo = all_sinks(nsinks) & ~(st->acked | st->started);
	if (todo != 0 && batch_empty) {
		d.step = TW_FLUSH_SKIP;
		d.sinks = todo;
	} else if ((todo & ~busy) != 0) {
		d.step = TW_FLUSH_WRITE;
		d.sinks = todo & ~busy; /* a busy one starts on a later call */
	} else if (st->running != 0 || todo != 0) {
		d.step = TW_FLUSH_PENDING;
	} else {
		d.step = st->failed ? TW_FLUSH_RETRY : TW_FLUSH_COMMIT;
	}
	return d;
}

void tw_flush_on_cut(struct tw_flush_state *st, int64_t now)
{
	st->active = 1;
	st->attempting = 0;
	st->acked = 0;
	st->attempt = 0;
	st->retry_after = 0;
	st->retry_at = now;
	st->frozen_at = now;
}

void tw_flush_on_begin(struct tw_flush_state *st)
{
	st->attempting = 1;
	st->started = 0;
	st->failed = 0;
}

void tw_flush_on_skip(struct tw_flush_state *st, unsigned sinks)
{
	st->acked |= sinks;
}

void tw_flush_on_started(struct tw_flush_state *st, unsigned sinks)
{
	st->started |= sinks;
	st->running |= sinks;
}

void tw_flush_on_retry(struct tw_flush_state *st, int64_t now, int64_t cap_ms, double jitter)
{
	st->attempting = 0;
	st->attempt++;
	st->retry_at = now + tw_flush_backoff_ms(st->attempt, st->retry_after, cap_ms, jitter);
	st->retry_after = 0;
}

/* Steps 3 and 4 went through: no batch in flight. */
static void on_done(struct tw_flush_state *st)
{
	st->attempting = 0;
	st->active = 0;
}

enum tw_flush_outcome tw_flush_outcome(struct tw_flush_state *st, size_t sink, int rc,
                                       int64_t retry_after_ms)
{
	unsigned bit = 1u << sink;

	st->running &= ~bit;
	if (rc == TW_SINK_OK || rc == TW_SINK_E_REJECT) {
		st->acked |= bit;
		return rc == TW_SINK_OK ? TW_FLUSH_ACKED : TW_FLUSH_REJECTED;
	}
	st->failed = 1;
	if (retry_after_ms > st->retry_after)
		st->retry_after = retry_after_ms;
	return TW_FLUSH_FAILED;
}

enum tw_flush_due tw_flush_due(size_t pending, size_t flush_rows, int64_t since_cut_ms,
                               int64_t interval_ms)
{
	if (pending >= flush_rows)
		return TW_FLUSH_DUE;
	if (since_cut_ms < interval_ms)
		return TW_FLUSH_NOT_DUE;
	return pending > 0 ? TW_FLUSH_DUE : TW_FLUSH_DUE_IF_CHANGED;
}

unsigned tw_flush_trims(const struct tw_flush_state *st, unsigned due, unsigned busy)
{
	unsigned may = due & ~busy;

	if (st->attempting) /* a write still to start goes first */
		may &= st->acked | st->started;
	return may;
}

int64_t tw_flush_backoff_ms(unsigned attempt, int64_t retry_after_ms, int64_t cap_ms, double jitter)
{
	int64_t d = 100;

	if (retry_after_ms > 0)
		return retry_after_ms < 300000 ? retry_after_ms : 300000;
	if (cap_ms < 100)
		cap_ms = 100;
	for (unsigned i = 1; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (!(jitter >= 0 && jitter < 1))
		jitter = 0;
	return d / 2 + (int64_t)((double)(d - d / 2) * jitter);
}

int64_t tw_flush_wait_ms(const struct tw_flush_state *st, int64_t now, int64_t idle_ms,
                         int64_t max_ms)
{
	if (st->running != 0)
		return max_ms; /* a finished write wakes the loop */
	if (st->active)
		return st->retry_at - now;
	return idle_ms;
}

/* ==== Health and logs ==== */

static void slot_ok(struct tw_flush *f, size_t slot)
{
	const char *name = tw_health_name(f->health, slot);

	if (tw_health_ok(f->health, slot)) {
		log_info("sink recovered", "resource", f->resource, "sink", name, NULL);
		f->last_fail_log[slot] = 0;
	}
	if (slot < f->nsinks)
		tw_metrics_set(f->metrics, f->metrics->sink_up, (const char *const[]){name, NULL},
		               1);
}

static void slot_failed(struct tw_flush *f, size_t slot, int64_t now, const char *error)
{
	tw_health_failed(f->health, slot, now, error);
	if (slot < f->nsinks)
		tw_metrics_set(f->metrics, f->metrics->sink_up,
		               (const char *const[]){tw_health_name(f->health, slot), NULL}, 0);
}

static void log_failure(struct tw_flush *f, size_t slot, int64_t now, const char *msg,
                        const char *error)
{
	char a[16], rows[32];

	if (f->last_fail_log[slot] != 0 && now - f->last_fail_log[slot] < FAILURE_LOG_MS)
		return;
	f->last_fail_log[slot] = now;
	snprintf(a, sizeof(a), "%u", f->st.attempt + 1);
	snprintf(rows, sizeof(rows), "%zu", f->rows->batch.nrows);
	log_warn(msg, "resource", f->resource, "sink", tw_health_name(f->health, slot), "attempt",
	         a, "rows", rows, "error", error, NULL);
}

/* ==== Step 1 ==== */

static int cps_push(struct tw_flush *f, int32_t partition, const struct tw_checkpoint *cp)
{
	if (f->ncps == f->cap) {
		size_t ncap = f->cap == 0 ? 16 : f->cap * 2;
		struct tw_flush_cp *n = realloc(f->cps, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		f->cps = n;
		f->cap = ncap;
	}
	f->cps[f->ncps].partition = partition;
	f->cps[f->ncps].cp = *cp;
	f->ncps++;
	return 0;
}

void tw_flush_cut(struct tw_flush *f, int64_t now)
{
	char meta[TW_CHECKPOINT_TEXT_MAX];
	struct tw_checkpoint cp;

	rowbuf_freeze(f->rows);
	f->ncps = 0;
	for (size_t i = 0; i < f->parts->n; i++) {
		const struct tw_part *p = &f->parts->v[i];
		if (tw_core_checkpoint(f->core, p->partition, &cp) == 0 &&
		    tw_part_changed(p, &cp, meta, sizeof(meta)) &&
		    cps_push(f, p->partition, &cp) < 0) {
			tw_health_set_fatal(f->health, "checkpoint", "out of memory");
			return;
		}
	}
	tw_flush_on_cut(&f->st, now);
	f->last_cut = now;
}

int tw_flush_changed(const struct tw_flush *f)
{
	char meta[TW_CHECKPOINT_TEXT_MAX];
	struct tw_checkpoint cp;

	for (size_t i = 0; i < f->parts->n; i++) {
		const struct tw_part *p = &f->parts->v[i];
		if (tw_core_checkpoint(f->core, p->partition, &cp) == 0 &&
		    tw_part_changed(p, &cp, meta, sizeof(meta)))
			return 1;
	}
	return 0;
}

void tw_flush_forget(struct tw_flush *f, int32_t partition)
{
	for (size_t i = 0; i < f->ncps;) {
		if (f->cps[i].partition == partition)
			f->cps[i] = f->cps[--f->ncps];
		else
			i++;
	}
}

/* ==== Step 2 ==== */

/* A sink's write came back: acknowledged, rejected (dead-lettered: retrying
 * cannot help), or failed (the attempt is retried after a backoff). */
static void write_done(struct tw_flush *f, size_t i, const struct sink_outcome *o, int64_t now)
{
	const char *name = tw_health_name(f->health, i);
	struct tw_batch b;

	switch (tw_flush_outcome(&f->st, i, o->rc, o->retry_after_ms)) {
	case TW_FLUSH_ACKED:
		slot_ok(f, i);
		break;
	case TW_FLUSH_REJECTED:
		rowbuf_batch(f->rows, &b);
		log_error("sink rejected the batch: dead-lettering its rows", "resource",
		          f->resource, "sink", name, "error", o->error, NULL);
		tw_dlq_batch(f->dlq, &b, name, o->error);
		slot_ok(f, i);
		break;
	case TW_FLUSH_FAILED:
		slot_failed(f, i, now, o->error);
		log_failure(f, i, now,
		            o->rc == TW_SINK_E_CONFIG
		                ? "sink misconfigured: retrying the batch"
		                : "sink write failed: retrying the same batch",
		            o->error);
		break;
	}
}

/* Collects what the sinks' threads finished: writes of the batch in flight
 * and retention trims. */
static void collect_outcomes(struct tw_flush *f, int64_t now)
{
	struct sink_outcome o;

	for (size_t i = 0; i < f->nsinks; i++) {
		if (!sink_runner_collect(f->runners[i], &o))
			continue;
		if (o.job == SINK_JOB_WRITE)
			write_done(f, i, &o, now);
		else if (o.rc != 0)
			log_warn("retention trim failed: trying again later", "resource",
			         f->resource, "sink", tw_health_name(f->health, i), "error",
			         o.error, NULL);
	}
}

static unsigned busy_sinks(const struct tw_flush *f, unsigned among)
{
	unsigned busy = 0;

	for (size_t i = 0; i < f->nsinks; i++)
		if ((among & (1u << i)) && sink_runner_busy(f->runners[i]))
			busy |= 1u << i;
	return busy;
}

static void schedule_retry(struct tw_flush *f, int64_t now)
{
	f->rng = f->rng * 1103515245u + 12345u;
	double jitter = (double)((f->rng >> 8) & 0xffff) / 65536.0;
	tw_flush_on_retry(&f->st, now, f->retry_max_ms, jitter);
}

/* ==== Steps 3 and 4 ==== */

/* The commit's per-partition results, copied onto the list we sent (the
 * callback's list is librdkafka's own). */
struct commit_result {
	rd_kafka_topic_partition_list_t *sent;
	rd_kafka_resp_err_t err;
	int called;
};

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct commit_result *r = opaque;

	(void)rk;
	r->called = 1;
	r->err = err;
	for (int i = 0; offsets != NULL && i < offsets->cnt; i++) {
		rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(
		    r->sent, offsets->elems[i].topic, offsets->elems[i].partition);
		if (e != NULL)
			e->err = offsets->elems[i].err;
	}
}

/* Step 4: commit the checkpoints taken at the cut, synchronously
 * (rd_kafka_commit_queue without a queue serves its callback itself). */
static void commit_checkpoints(struct tw_flush *f)
{
	char meta[SLICE][TW_CHECKPOINT_TEXT_MAX], text[256], src[KAFKA_SOURCE_MAX];
	size_t done = 0;

	/* In slices, so the metadata texts live on the stack. */
	while (done < f->ncps) {
		size_t n = f->ncps - done < SLICE ? f->ncps - done : SLICE;
		rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
		for (size_t i = 0; i < n; i++) {
			const struct tw_flush_cp *pc = &f->cps[done + i];
			rd_kafka_topic_partition_t *e =
			    rd_kafka_topic_partition_list_add(list, f->topic, pc->partition);
			int len = tw_checkpoint_format(&pc->cp, meta[i], sizeof(meta[i]));
			e->offset = pc->cp.offset;
			e->metadata = meta[i];
			e->metadata_size = len > 0 ? (size_t)len : 0;
		}
		struct commit_result r = {.sent = list};
		rd_kafka_resp_err_t err =
		    rd_kafka_commit_queue(f->consumer, list, NULL, on_commit, &r);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && r.called)
			err = r.err;
		for (int i = 0; i < list->cnt; i++) {
			rd_kafka_topic_partition_t *e = &list->elems[i];
			rd_kafka_resp_err_t perr =
			    e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? e->err : err;
			struct tw_part *p = tw_parts_find(f->parts, e->partition);
			kafka_source(src, sizeof(src), e->topic, e->partition, e->offset);
			if (perr == RD_KAFKA_RESP_ERR_NO_ERROR && p != NULL) {
				p->committed_offset = e->offset;
				memcpy(p->committed_meta, meta[i], sizeof(p->committed_meta));
				f->commits++;
				log_debug("committed", "source", src, "checkpoint", meta[i], NULL);
			} else if (perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
				/* A rebalance in progress, usually: the next flush
				 * commits a newer checkpoint, or the next owner replays. */
				f->commit_errors++;
				log_warn("commit failed", "resource", f->resource, "source", src,
				         "error", kafka_strerror(text, sizeof(text), perr), NULL);
			}
			e->metadata = NULL; /* ours, on the stack */
			e->metadata_size = 0;
		}
		rd_kafka_topic_partition_list_destroy(list);
		done += n;
	}
	f->ncps = 0;
}

/* After a commit: the owned partitions' counts to the status Redis
 * (tw_report.h). Never blocks longer than its timeout, never fails the
 * stream: a failure is counted, logged now and then, and retried by a later
 * flush after a backoff. */
static void report_progress(struct tw_flush *f, int64_t now)
{
	struct tw_progress_part parts[SLICE];
	int32_t ids[SLICE];
	char errbuf[512];
	size_t n = 0;

	if (f->report == NULL)
		return;
	/* In slices of partitions; one slice a flush covers the usual case. */
	for (size_t i = 0; i < f->parts->n; i++) {
		struct tw_core_stats st;

		if (tw_core_stats(f->core, f->parts->v[i].partition, &st) != 0)
			continue;
		ids[n] = f->parts->v[i].partition;
		parts[n].events = (int64_t)(st.events_in + st.skipped);
		parts[n].duplicates = (int64_t)st.duplicates;
		parts[n].late = (int64_t)st.window.late;
		parts[n].malformed = (int64_t)st.skipped;
		parts[n].windows = (int64_t)st.window.windows_emitted;
		parts[n].watermark_ns =
		    st.window.watermark_ns == TW_TS_NONE ? INT64_MIN : st.window.watermark_ns;
		if (++n < SLICE && i + 1 < f->parts->n)
			continue;
		errbuf[0] = '\0';
		int rc = tw_report_write(f->report, ids, parts, n, now, errbuf, sizeof(errbuf));
		n = 0;
		if (rc == TW_REPORT_WAITING)
			return;
		if (rc < 0) {
			if (f->last_report_log == 0 || now - f->last_report_log >= REPORT_LOG_MS) {
				f->last_report_log = now;
				log_warn(
				    "status redis write failed: the stream goes on, the status "
				    "is retried later",
				    "resource", f->resource, "error", errbuf, NULL);
			}
			return;
		}
	}
}

/* Steps 3 and 4, once every sink is done with the batch. */
static void commit(struct tw_flush *f, int64_t now)
{
	struct tw_batch b;
	char rows[32], events[32], ms[32];
	int left;

	/* Step 3: every dead letter so far delivered (those behind the cut
	 * too: a stricter wait, never a looser one). */
	int rc = tw_dlq_wait(f->dlq, DLQ_FLUSH_MS, &left);
	if (tw_health_is_fatal(f->health))
		return;
	if (rc < 0) {
		char n[64];
		snprintf(n, sizeof(n), "%d dead letters not yet delivered", left);
		slot_failed(f, f->dlq_slot, now, n);
		log_failure(f, f->dlq_slot, now, "waiting for dead-letter delivery", n);
		schedule_retry(f, now);
		return;
	}
	slot_ok(f, f->dlq_slot);
	commit_checkpoints(f);
	report_progress(f, now);
	rowbuf_batch(f->rows, &b);
	snprintf(rows, sizeof(rows), "%zu", b.nrows);
	snprintf(events, sizeof(events), "%zu", b.nevents);
	snprintf(ms, sizeof(ms), "%" PRId64, clock_mono_ms() - f->st.frozen_at);
	log_debug("batch acknowledged", "resource", f->resource, "rows", rows, "events", events,
	          "ms", ms, NULL);
	if (b.nrows > 0 || b.nevents > 0)
		f->batches++;
	rowbuf_release(f->rows);
	on_done(&f->st);
}

/* ==== The turn ==== */

void tw_flush_advance(struct tw_flush *f, int64_t now)
{
	struct tw_batch b;
	unsigned busy;

	collect_outcomes(f, now);
	if (tw_health_is_fatal(f->health) || !f->st.active)
		return;
	rowbuf_batch(f->rows, &b);
	busy = busy_sinks(f, all_sinks(f->nsinks));
	for (;;) {
		struct tw_flush_decision d =
		    tw_flush_decide(&f->st, now, f->nsinks, b.nrows == 0 && b.nevents == 0, busy);
		switch (d.step) {
		case TW_FLUSH_NONE:
		case TW_FLUSH_BACKOFF:
		case TW_FLUSH_PENDING:
			return;
		case TW_FLUSH_BEGIN:
			tw_flush_on_begin(&f->st);
			break;
		case TW_FLUSH_SKIP:
			tw_flush_on_skip(&f->st, d.sinks);
			break;
		case TW_FLUSH_WRITE:
			for (size_t i = 0; i < f->nsinks; i++) {
				unsigned bit = 1u << i;
				if (!(d.sinks & bit))
					continue;
				if (sink_runner_write(f->runners[i], &b) == 0)
					tw_flush_on_started(&f->st, bit);
				else
					busy |= bit; /* a trim is finishing: a later call */
			}
			break;
		case TW_FLUSH_RETRY:
			schedule_retry(f, now);
			return;
		case TW_FLUSH_COMMIT:
			commit(f, now);
			return;
		}
	}
}

/* Retention trims run on the sinks' threads when they have no write of the
 * batch in flight to do, so trimming never holds up the stream. */
static void start_trims(struct tw_flush *f)
{
	unsigned may;

	if (f->trim_due == 0)
		return;
	may = tw_flush_trims(&f->st, f->trim_due, busy_sinks(f, f->trim_due));
	for (size_t i = 0; i < f->nsinks; i++) {
		unsigned bit = 1u << i;
		if ((may & bit) && sink_runner_trim(f->runners[i], clock_real_ns()) == 0)
			f->trim_due &= ~bit;
	}
}

void tw_flush_step(struct tw_flush *f, int64_t now)
{
	if (!f->st.active) {
		switch (tw_flush_due(rowbuf_pending(f->rows), f->flush_rows, now - f->last_cut,
		                     f->interval_ms)) {
		case TW_FLUSH_DUE:
			tw_flush_cut(f, now);
			break;
		case TW_FLUSH_DUE_IF_CHANGED:
			if (tw_flush_changed(f))
				tw_flush_cut(f, now);
			else
				f->last_cut = now; /* nothing to do: look again an interval later */
			break;
		case TW_FLUSH_NOT_DUE:
			break;
		}
	}
	tw_flush_advance(f, now);
	start_trims(f);
}

int tw_flush_active(const struct tw_flush *f)
{
	return f->st.active;
}

void tw_flush_trim_all(struct tw_flush *f)
{
	f->trim_due = all_sinks(f->nsinks);
}

void tw_flush_free(struct tw_flush *f)
{
	free(f->cps);
	f->cps = NULL;
	f->ncps = f->cap = 0;
}
