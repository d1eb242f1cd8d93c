/*
 * topics.h - the Kafka topics a resource needs: is the input there, create
 * the ones the operator owns (a VideoJob's task topic, a dead-letter
 * topic), delete them when the resource goes.
 *
 * Resources name their own bootstrap servers, so this keeps one librdkafka
 * producer handle per distinct bootstrap string (at most TOPICS_MAX_CLIENTS,
 * the least recently used closed past that), made with lib/kafka.h and
 * allow.auto.create.topics=false so that asking about a topic never creates
 * it. An unknown host does not block start-up: a call waits at most its
 * timeout and says "unavailable".
 *
 * Threads: any thread; one mutex guards the handle cache (librdkafka
 * handles are thread-safe, calls run outside the lock).
 */
#ifndef SLUICE_TOPICS_H
#define SLUICE_TOPICS_H

#include <stddef.h>

#define TOPICS_MAX_CLIENTS 16

enum topics_rc {
	TOPICS_OK = 0,
	TOPICS_ENOTFOUND = -1,    /* the cluster answered: no such topic */
	TOPICS_EUNAVAILABLE = -2, /* no answer in time: unknown host, brokers down */
	TOPICS_EFAILED = -3,      /* another refusal (errbuf says which) */
};

struct topics;

/* A cache for client_id's handles; NULL when out of memory. */
struct topics *topics_new(const char *client_id);
/* Closes every handle. NULL is a no-op. */
void topics_free(struct topics *t);

/* Partition and replica counts of topic on bootstrap. */
int topics_describe(struct topics *t, const char *bootstrap, const char *topic, int timeout_ms,
                    int *partitions, int *replication, char *errbuf, size_t errbuf_size);

/* Creates topic (an existing one is success, left as it is). */
int topics_create(struct topics *t, const char *bootstrap, const char *topic, int partitions,
                  int replication, int timeout_ms, char *errbuf, size_t errbuf_size);

/* Deletes topic (an absent one is success). */
int topics_delete(struct topics *t, const char *bootstrap, const char *topic, int timeout_ms,
                  char *errbuf, size_t errbuf_size);

#endif
