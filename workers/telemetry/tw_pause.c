/* tw_pause.c -- pausing consumption and the processing clock; see
 * tw_pause.h. */
#include "tw_pause.h"

#include "kafka.h"
#include "log.h"

int64_t tw_pause_now(const struct tw_pause *p, int64_t mono_ms)
{
	return (p->paused ? p->paused_since : mono_ms) - p->stall_ms;
}

void tw_pause_stalled(struct tw_pause *p, int64_t ms)
{
	if (!p->paused)
		p->stall_ms += ms;
}

void tw_pause_mark(struct tw_pause *p, int pause, int64_t mono_ms)
{
	if (p->paused == pause)
		return;
	if (pause)
		p->paused_since = mono_ms;
	else
		p->stall_ms += mono_ms - p->paused_since;
	p->paused = pause;
}

void tw_pause_partitions(rd_kafka_t *consumer, rd_kafka_topic_partition_list_t *list, int pause,
                         const char *resource)
{
	rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(consumer, list)
	                                : rd_kafka_resume_partitions(consumer, list);
	char text[256];

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn(pause ? "cannot pause partitions" : "cannot resume partitions", "resource",
		         resource, "error", kafka_strerror(text, sizeof(text), err), NULL);
	for (int i = 0; i < list->cnt; i++) {
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			char src[KAFKA_SOURCE_MAX];
			log_warn(pause ? "cannot pause a partition" : "cannot resume a partition",
			         "source",
			         kafka_source(src, sizeof(src), list->elems[i].topic,
			                      list->elems[i].partition, -1),
			         "error", kafka_strerror(text, sizeof(text), list->elems[i].err),
			         NULL);
		}
	}
}

int tw_pause_assignment(rd_kafka_t *consumer, int pause, const char *resource)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	rd_kafka_resp_err_t err = rd_kafka_assignment(consumer, &a);
	char text[256];

	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_warn("cannot read the assignment", "resource", resource, "error",
		         kafka_strerror(text, sizeof(text), err), NULL);
		return -1;
	}
	tw_pause_partitions(consumer, a, pause, resource);
	rd_kafka_topic_partition_list_destroy(a);
	return 0;
}
