/*
 * topic_ledger.c - the topics a handle touched, and when to make it again.
 * See topic_ledger.h.
 */
#include "topic_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct entry {
	int64_t last_ms;
	int forgotten;
};

struct topic_ledger {
	struct strmap *topics; /* name -> struct entry * */
	int64_t stale_ms;
};

int topic_ledger_new(size_t cap, int64_t stale_ms, struct topic_ledger **out)
{
	struct topic_ledger *l;

	if (out == NULL)
		return TOPIC_LEDGER_EINVAL;
	*out = NULL;
	if (cap == 0)
		return TOPIC_LEDGER_EINVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return TOPIC_LEDGER_ENOMEM;
	if (strmap_new(&l->topics, cap) != STRMAP_OK) {
		free(l);
		return TOPIC_LEDGER_ENOMEM;
	}
	l->stale_ms = stale_ms;
	*out = l;
	return TOPIC_LEDGER_OK;
}

static int free_entry(const char *key, void *value, void *opaque)
{
	(void)key;
	(void)opaque;
	free(value);
	return 0;
}

void topic_ledger_free(struct topic_ledger *l)
{
	if (l == NULL)
		return;
	strmap_foreach(l->topics, free_entry, NULL);
	strmap_free(l->topics);
	free(l);
}

static int name_ok(const char *topic)
{
	return topic != NULL && topic[0] != '\0' &&
	       strnlen(topic, TOPIC_LEDGER_NAME_MAX + 1) <= TOPIC_LEDGER_NAME_MAX;
}

int topic_ledger_touch(struct topic_ledger *l, const char *topic, int64_t now_ms)
{
	struct entry *e;
	int rc;

	if (l == NULL || !name_ok(topic))
		return TOPIC_LEDGER_EINVAL;
	e = strmap_get(l->topics, topic);
	if (e != NULL) {
		if (now_ms > e->last_ms)
			e->last_ms = now_ms;
		e->forgotten = 0;
		return TOPIC_LEDGER_OK;
	}
	if (strmap_len(l->topics) >= strmap_max(l->topics))
		return TOPIC_LEDGER_FULL;
	e = malloc(sizeof(*e));
	if (e == NULL)
		return TOPIC_LEDGER_ENOMEM;
	*e = (struct entry){.last_ms = now_ms};
	rc = strmap_put(l->topics, topic, e, NULL, NULL);
	if (rc != STRMAP_OK) {
		free(e);
		return rc == STRMAP_EFULL ? TOPIC_LEDGER_FULL : TOPIC_LEDGER_ENOMEM;
	}
	return TOPIC_LEDGER_OK;
}

int topic_ledger_forget(struct topic_ledger *l, const char *topic)
{
	struct entry *e;

	if (l == NULL || topic == NULL)
		return 0;
	e = strmap_get(l->topics, topic);
	if (e == NULL)
		return 0;
	e->forgotten = 1;
	return 1;
}

int topic_ledger_has(const struct topic_ledger *l, const char *topic)
{
	return l != NULL && topic != NULL && strmap_get(l->topics, topic) != NULL;
}

struct count_ctx {
	int64_t now_ms, stale_ms;
	struct topic_ledger_counts *c;
};

static int count_entry(const char *key, void *value, void *opaque)
{
	const struct entry *e = value;
	struct count_ctx *ctx = opaque;

	(void)key;
	ctx->c->held++;
	if (e->forgotten) {
		ctx->c->forgotten++;
		ctx->c->dead++;
	} else if (ctx->stale_ms > 0 && ctx->now_ms - e->last_ms > ctx->stale_ms) {
		ctx->c->dead++;
	} else {
		ctx->c->live++;
	}
	return 0;
}

void topic_ledger_count(const struct topic_ledger *l, int64_t now_ms,
                        struct topic_ledger_counts *out)
{
	struct count_ctx ctx = {.now_ms = now_ms, .c = out};

	memset(out, 0, sizeof(*out));
	if (l == NULL)
		return;
	ctx.stale_ms = l->stale_ms;
	strmap_foreach(l->topics, count_entry, &ctx);
}

int topic_ledger_decide(size_t live, size_t dead)
{
	size_t limit = live > TOPIC_LEDGER_MIN_DEAD ? live : TOPIC_LEDGER_MIN_DEAD;

	return dead > 0 && dead >= limit;
}

int topic_ledger_renew(const struct topic_ledger *l, int64_t now_ms)
{
	struct topic_ledger_counts c;

	topic_ledger_count(l, now_ms, &c);
	return topic_ledger_decide(c.live, c.dead);
}

/* Copies the first key met into opaque and stops the walk. */
static int first_key(const char *key, void *value, void *opaque)
{
	(void)value;
	snprintf(opaque, TOPIC_LEDGER_NAME_MAX + 1, "%s", key);
	return 1;
}

void topic_ledger_clear(struct topic_ledger *l)
{
	struct strmap *fresh;

	if (l == NULL || strmap_len(l->topics) == 0)
		return;
	/* A new map rather than removing while iterating (strmap_foreach
	 * forbids it); on ENOMEM empty the old one key by key instead. */
	if (strmap_new(&fresh, strmap_max(l->topics)) == STRMAP_OK) {
		strmap_foreach(l->topics, free_entry, NULL);
		strmap_free(l->topics);
		l->topics = fresh;
		return;
	}
	while (strmap_len(l->topics) > 0) {
		char key[TOPIC_LEDGER_NAME_MAX + 1];
		if (strmap_foreach(l->topics, first_key, key) == 0)
			break;
		free(strmap_remove(l->topics, key));
	}
}

size_t topic_ledger_cap(const struct topic_ledger *l)
{
	return l != NULL ? strmap_max(l->topics) : 0;
}
