/* tw_metrics.c -- the telemetry worker's metric families; see
 * tw_metrics.h. */
#include "tw_metrics.h"

#include <stdio.h>

#include "log.h"
#include "tw_sink.h"

static void warn_once(struct tw_metrics *m)
{
	if (m->warned)
		return;
	m->warned = 1;
	log_warn("cannot update a metric (further failures are not logged)", NULL);
}

void tw_metrics_add(struct tw_metrics *m, struct metrics_family *f, const char *const labels[],
                    double v)
{
	if (f != NULL && v > 0 && metrics_add(f, labels, v) < 0)
		warn_once(m);
}

void tw_metrics_set(struct tw_metrics *m, struct metrics_family *f, const char *const labels[],
                    double v)
{
	if (f != NULL && metrics_set(f, labels, v) < 0)
		warn_once(m);
}

int tw_metrics_register(struct tw_metrics *m, struct metrics_registry *reg,
                        const char *const *sink_names, size_t nsinks, char *errbuf,
                        size_t errbuf_size)
{
	static const char *const sink_l[] = {"sink", NULL};
	static const char *const reason_l[] = {"reason", NULL};
	static const char *const kind_l[] = {"kind", NULL};
	static const char *const tp_l[] = {"topic", "partition", NULL};
	static const char *const p_l[] = {"partition", NULL};
	const struct {
		struct metrics_family **f;
		const char *name, *help;
	} counters[] = {
	    {&m->events_in, "sluice_tw_events_in_total",
	     "Messages read from the topic, valid or not."},
	    {&m->duplicates, "sluice_tw_duplicates_total",
	     "Events dropped as repeats of (key, event time) within the dedupe horizon."},
	    {&m->late, "sluice_tw_late_total",
	     "Events whose every window had closed: dead-lettered, never added."},
	    {&m->partial_late, "sluice_tw_partial_late_total",
	     "Hopping-window events added to their open windows only."},
	    {&m->replayed, "sluice_tw_replayed_total",
	     "Replayed events whose windows were emitted before the last commit."},
	    {&m->overflow, "sluice_tw_overflow_total",
	     "Events refused because a partition holds its most aggregates: dead-lettered."},
	    {&m->windows, "sluice_tw_windows_emitted_total",
	     "Window results (one key, one window)."},
	    {&m->batches, "sluice_tw_batches_total", "Batches every sink acknowledged."},
	    {&m->commits, "sluice_tw_commits_total", "Partition checkpoints committed to Kafka."},
	    {&m->commit_errors, "sluice_tw_commit_errors_total",
	     "Partition checkpoints Kafka refused to commit (retried by a later flush)."},
	    {&m->fetch_wakeups, "sluice_tw_fetch_wakeups_total",
	     "Times the Kafka fetcher was woken with a queue below half its bound (librdkafka "
	     "2.0.2 would wait up to a second)."},
	    {&m->status_errors, "sluice_tw_status_errors_total",
	     "Progress writes to the status Redis that failed (retried later; the stream goes "
	     "on)."},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		if (metrics_counter(reg, counters[i].name, counters[i].help, NULL, counters[i].f,
		                    errbuf, errbuf_size) < 0)
			return -1;
	if (metrics_counter(reg, "sluice_tw_malformed_total",
	                    "Messages the parser refused, or with an event time out of range, by "
	                    "reason: dead-lettered.",
	                    reason_l, &m->malformed, errbuf, errbuf_size) < 0 ||
	    metrics_counter(
	        reg, "sluice_tw_dlq_messages_total",
	        "Dead letters delivered, by kind (malformed, late, overflow, rejected).", kind_l,
	        &m->dlq, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_sink_up",
	                  "1 when the sink's last write succeeded, 0 while it fails.", sink_l,
	                  &m->sink_up, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_consumer_lag",
	                  "Messages between the committed offset and the end of the partition.",
	                  tp_l, &m->lag, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_watermark_seconds",
	                  "The partition's event-time watermark, in seconds since the epoch.", p_l,
	                  &m->watermark, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_assigned_partitions", "Partitions this member owns.",
	                  NULL, &m->assigned, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_paused",
	                  "1 while consumption is paused because the sinks are behind.", NULL,
	                  &m->paused, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(reg, "sluice_tw_rows_waiting",
	                  "Window rows and raw events held for the sinks.", NULL, &m->pending,
	                  errbuf, errbuf_size) < 0)
		return -1;
	/* sluice_tw_sink_write_seconds{sink} and sluice_tw_sink_errors_total
	 * {sink,op,result}: the sinks record them around every write and trim. */
	if (tw_sinks_set_metrics(reg) < 0) {
		snprintf(errbuf, errbuf_size, "metrics: cannot register the sink metrics");
		return -1;
	}
	/* Show every sink and kind from the start, so dashboards see 0s. */
	for (size_t i = 0; i < nsinks; i++)
		tw_metrics_set(m, m->sink_up, (const char *const[]){sink_names[i], NULL}, 1);
	for (size_t i = 0; i < TW_DLQ_KINDS; i++)
		if (metrics_add(m->dlq, (const char *const[]){tw_dlq_kind_names[i], NULL}, 0) < 0) {
			snprintf(errbuf, errbuf_size,
			         "metrics: cannot create sluice_tw_dlq_messages_total");
			return -1;
		}
	return 0;
}

/* Adds now - *synced to f, and remembers now. */
static void sync_one(struct tw_metrics *m, struct metrics_family *f, const char *const labels[],
                     uint64_t now, uint64_t *synced)
{
	tw_metrics_add(m, f, labels, (double)(now - *synced));
	*synced = now;
}

void tw_metrics_sync(struct tw_metrics *m, const struct tw_tally *now)
{
	const struct telemetry_counters *c = &now->c;
	struct tw_tally *s = &m->synced;

	sync_one(m, m->events_in, NULL, c->events_in, &s->c.events_in);
	sync_one(m, m->duplicates, NULL, c->duplicates, &s->c.duplicates);
	sync_one(m, m->late, NULL, c->late, &s->c.late);
	sync_one(m, m->partial_late, NULL, c->partial_late, &s->c.partial_late);
	sync_one(m, m->replayed, NULL, c->replayed, &s->c.replayed);
	sync_one(m, m->overflow, NULL, c->overflow, &s->c.overflow);
	sync_one(m, m->windows, NULL, c->windows_emitted, &s->c.windows_emitted);
	sync_one(m, m->batches, NULL, c->batches, &s->c.batches);
	sync_one(m, m->commits, NULL, c->commits, &s->c.commits);
	sync_one(m, m->commit_errors, NULL, now->commit_errors, &s->commit_errors);
	sync_one(m, m->fetch_wakeups, NULL, now->fetch_wakeups, &s->fetch_wakeups);
	for (size_t i = 0; i < TW_MALFORMED_KINDS; i++)
		sync_one(m, m->malformed, (const char *const[]){tw_malformed_names[i], NULL},
		         now->malformed_by[i], &s->malformed_by[i]);
	for (size_t i = 0; i < TW_DLQ_KINDS; i++)
		sync_one(m, m->dlq, (const char *const[]){tw_dlq_kind_names[i], NULL},
		         now->dlq_by[i], &s->dlq_by[i]);
	sync_one(m, m->status_errors, NULL, now->status_errors, &s->status_errors);
	/* Counted by label above; kept for completeness. */
	s->c.malformed = c->malformed;
	s->c.dead_lettered = c->dead_lettered;
}
