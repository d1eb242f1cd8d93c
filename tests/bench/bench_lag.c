/* bench_lag.c -- what one lag poll costs the operator on a 1,000-partition
 * topic (operator/lag.c: metadata, OffsetFetch and ListOffsets batched per
 * leader), against the naive per-partition watermark query, and what one
 * scaling decision (operator/scale.c) costs.
 *
 * Needs Kafka: KAFKA_BOOTSTRAP from build/stack.env (`make bench` sources it
 * when present). Without it the Kafka part is skipped with a message and
 * only the decision is measured. The topic it makes (bench-lag-<pid>) is
 * deleted at the end.
 *
 *   make stack-up && make bench   (or: . build/stack.env && build/bench/bench_lag)
 *
 * CPU time is the whole process's (getrusage: librdkafka's threads too),
 * over the polls only; RSS is read from /proc/self/statm.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "lag.h"
#include "scale.h"
#include "clock.h"

#define PARTITIONS 1000
#define POLLS 20
#define TIMEOUT_MS 30000
#define DECISIONS 2000000

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double rss_mib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static int delete_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_DeleteTopic_t *d = rd_kafka_DeleteTopic_new(topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	int rc = -1;

	rd_kafka_DeleteTopics(rk, &d, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
	if (ev != NULL) {
		rc = rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_DeleteTopic_destroy(d);
	rd_kafka_queue_destroy(q);
	return rc;
}

static int bench_kafka(const char *bootstrap)
{
	char topic[64], group[64], err[512];
	struct kafka_config kc = {.bootstrap = bootstrap, .client_id = "bench-lag"};
	struct lag_reader *r = NULL;
	struct lag_result res = {0};
	rd_kafka_t *prod, *cons;
	int rc = 1;

	snprintf(topic, sizeof(topic), "bench-lag-%ld", (long)getpid());
	snprintf(group, sizeof(group), "bench-lag-g-%ld", (long)getpid());
	prod = kafka_producer_new(&kc, NULL, NULL, err, sizeof(err));
	if (prod == NULL ||
	    kafka_topic_create(prod, topic, PARTITIONS, 1, TIMEOUT_MS, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_lag: %s\n", err);
		return 1;
	}
	/* 10 messages per partition; the group committed 4 in every other. */
	for (int p = 0; p < PARTITIONS; p++)
		for (int i = 0; i < 10; i++)
			if (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic),
			                      RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE("x", 1),
			                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			                      RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR)
				rd_kafka_poll(prod, 100);
	rd_kafka_flush(prod, TIMEOUT_MS);
	kc.group = group;
	cons = kafka_consumer_new(&kc, NULL, NULL, err, sizeof(err));
	if (cons == NULL) {
		fprintf(stderr, "bench_lag: %s\n", err);
		goto out;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
	for (int p = 0; p < PARTITIONS; p += 2)
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = 4;
	rd_kafka_commit(cons, l, 0);
	rd_kafka_topic_partition_list_destroy(l);

	double rss0 = rss_mib();
	if (lag_reader_new(bootstrap, &r, err, sizeof(err)) < 0 ||
	    lag_read(r, group, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_lag: %s\n", err);
		goto out;
	}
	double rss1 = rss_mib();
	if (res.total_lag != 500 * 6 + 500 * 10) {
		fprintf(stderr, "bench_lag: lag %" PRId64 ", expected 8000\n", res.total_lag);
		goto out;
	}
	double t0 = clock_mono_s(), c0 = cpu_s();
	for (int i = 0; i < POLLS; i++)
		if (lag_read(r, group, topic, LAG_RESET_EARLIEST, TIMEOUT_MS, &res, err,
		             sizeof(err)) < 0) {
			fprintf(stderr, "bench_lag: %s\n", err);
			goto out;
		}
	double wall = (clock_mono_s() - t0) / POLLS, cpu = (cpu_s() - c0) / POLLS;
	printf("bench_lag: topic of %d partitions, lag %" PRId64 " (%" PRId32
	       " partitions without a commit)\n",
	       PARTITIONS, res.total_lag, res.uncommitted);
	printf("  one lag poll (lag_read, batched):    %7.2f ms wall, %7.2f ms CPU (%d polls)\n",
	       wall * 1e3, cpu * 1e3, POLLS);
	printf("  RSS: %.1f MiB before the reader, %.1f MiB after its first poll, %.1f MiB after "
	       "%d polls\n",
	       rss0, rss1, rss_mib(), POLLS + 1);

	/* The naive way, for comparison: one watermark query per partition. */
	t0 = clock_mono_s();
	c0 = cpu_s();
	for (int p = 0; p < PARTITIONS; p++) {
		int64_t lo, hi;
		if (rd_kafka_query_watermark_offsets(cons, topic, p, &lo, &hi, TIMEOUT_MS) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "bench_lag: watermarks of partition %d failed\n", p);
			goto out;
		}
	}
	double wall_n = clock_mono_s() - t0, cpu_n = cpu_s() - c0;
	printf("  per-partition watermarks (1 round trip each, %d): %7.2f ms wall, %7.2f ms CPU "
	       "(%.0fx the batched poll's wall time, and without committed offsets)\n",
	       PARTITIONS, wall_n * 1e3, cpu_n * 1e3, wall_n / wall);
	rc = 0;
out:
	lag_result_free(&res);
	lag_reader_free(r);
	if (cons != NULL) {
		rd_kafka_consumer_close(cons);
		rd_kafka_destroy(cons);
	}
	if (delete_topic(prod, topic) < 0)
		fprintf(stderr, "bench_lag: could not delete topic %s\n", topic);
	rd_kafka_destroy(prod);
	return rc;
}

static void bench_decide(void)
{
	struct scale_spec spec;
	struct scale_state *st = calloc(1, sizeof(*st));
	struct scale_decision d;
	int64_t lag[PARTITIONS] = {0};
	int32_t cur = 1;
	uint64_t sum = 0;

	if (st == NULL)
		return;
	scale_spec_defaults(&spec);
	spec.max_replicas = 100;
	double t0 = clock_mono_s();
	for (int i = 0; i < DECISIONS; i++) {
		struct scale_obs o = {
		    .ok = 1,
		    .total_lag = ((int64_t)i * 7919) % 100000,
		    .partition_lag = lag,
		    .partitions = PARTITIONS,
		    .consumed = (int64_t)i * 100,
		    .current_replicas = cur,
		    .ready_replicas = -1,
		    .now_ms = INT64_C(1795410000000) + (int64_t)i * 5000,
		};
		cur = scale_decide(&spec, st, &o, NULL, &d);
		sum += (uint64_t)cur;
	}
	double per = (clock_mono_s() - t0) / DECISIONS;
	printf("  one scale_decide (5 s polls, full 300 s window, reason text): %.0f ns "
	       "(%d decisions, state %zu bytes per resource; checksum %" PRIu64 ")\n",
	       per * 1e9, DECISIONS, sizeof(*st), sum);
	free(st);
}

int main(void)
{
	const char *bootstrap = getenv("KAFKA_BOOTSTRAP");
	int rc = 0;

	if (bootstrap == NULL || bootstrap[0] == '\0')
		printf("bench_lag: lag poll skipped: KAFKA_BOOTSTRAP is not set (make stack-up, "
		       "then make bench)\n");
	else
		rc = bench_kafka(bootstrap);
	bench_decide();
	return rc;
}
