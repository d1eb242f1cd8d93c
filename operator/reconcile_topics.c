/* reconcile_topics.c - see reconcile_topics.h. */
#include "reconcile_topics.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

int reconcile_kafka_security(const struct reconcile_ctx *ctx, const char *ns,
                             const struct spec_kafka *k, struct secret_lookup *l,
                             struct kafka_security *sec, const struct kafka_security **out,
                             char *err, size_t err_size)
{
	*l = (struct secret_lookup){.cache = ctx->secrets, .ns = ns};
	*out = NULL;
	memset(sec, 0, sizeof(*sec));
	if (!k->tls.enabled && k->sasl.mechanism == SPEC_SASL_NONE)
		return 0;
	if (ctx->secrets == NULL) {
		snprintf(err, err_size, "the operator cannot read Secrets");
		return -1;
	}
	if (spec_kafka_security(k, secret_lookup_get, l, sec, err, err_size) != 0)
		return -1;
	*out = sec;
	return 0;
}

void reconcile_topics_describe(const struct reconcile_ctx *ctx, const cJSON *obj,
                               const char *bootstrap, const struct kafka_security *sec,
                               struct reconcile_topic *t, size_t n)
{
	struct topic_owned owned;

	topic_plan_owned(reconcile_path(obj, "status", NULL), &owned);
	for (size_t i = 0; i < n; i++) {
		int parts = 0, repl = 0, rc;

		if (i > 0 && (t[0].rc == TOPICS_EAUTH || t[0].rc == TOPICS_ETLS)) {
			rc = t[0].rc;
			snprintf(t[i].error, sizeof(t[i].error), "%s", t[0].error);
		} else {
			rc = topics_describe(ctx->topics, bootstrap, sec, t[i].name,
			                     ctx->kafka_timeout_ms, &parts, &repl, t[i].error,
			                     sizeof(t[i].error));
		}
		t[i].rc = rc;

		t[i].owned = topic_plan_owns(&owned, t[i].name);
		t[i].partitions_now = rc == TOPICS_OK ? parts : 0;
		t[i].state = rc == TOPICS_OK          ? TOPIC_STATE_FOUND
		             : rc == TOPICS_ENOTFOUND ? TOPIC_STATE_NOT_FOUND
		                                      : TOPIC_STATE_UNAVAILABLE;
		if (t[i].state != TOPIC_STATE_UNAVAILABLE)
			t[i].error[0] = '\0';
	}
}

/* t's answer from topics_create_many's entry nt, logged. */
static void created_one(const cJSON *obj, struct reconcile_topic *t,
                        const struct topics_new_topic *nt)
{
	t->rc = nt->rc;
	t->created = nt->created;
	if (t->rc != TOPICS_OK) {
		snprintf(t->error, sizeof(t->error), "%s", nt->err);
		log_warn("topic not created", "topic", t->name, "error", t->error, NULL);
		return;
	}
	t->state = TOPIC_STATE_FOUND;
	t->partitions_now = t->partitions;
	log_info("topic created", "namespace", reconcile_meta(obj, "namespace"), "name",
	         reconcile_meta(obj, "name"), "topic", t->name, NULL);
}

int reconcile_topics_apply(const struct reconcile_ctx *ctx, const char *plural, const cJSON *obj,
                           const char *bootstrap, const struct kafka_security *sec,
                           struct reconcile_topic *t, size_t n, char *err, size_t err_size)
{
	const char *claim[TOPIC_PLAN_MAX];
	struct topic_owned owned;
	size_t nclaim = 0;

	topic_plan_owned(reconcile_path(obj, "status", NULL), &owned);
	for (size_t i = 0; i < n; i++) {
		t[i].action = topic_plan_action(t[i].state, t[i].may_create, t[i].owned);
		t[i].created = 0;
		if (t[i].action == TOPIC_CLAIM && nclaim < TOPIC_PLAN_MAX)
			claim[nclaim++] = t[i].name;
	}
	if (nclaim > 0 || !topic_plan_recorded(reconcile_path(obj, "status", NULL))) {
		cJSON *patch = topic_plan_claim(&owned, claim, nclaim);
		int rc =
		    patch != NULL ? reconcile_write_status(ctx, plural, obj, patch) : KUBE_ENOMEM;

		cJSON_Delete(patch);
		if (rc < 0) {
			snprintf(err, err_size, "recording the topics to create in the status: %s",
			         kube_strerror(rc));
			return -1;
		}
	}
	/* Together: one CreateTopics and one wait for the pass's topics. */
	for (size_t i = 0; i < n;) {
		struct topics_new_topic nt[TOPICS_CALL_MAX];
		size_t at[TOPICS_CALL_MAX], k = 0;

		for (; i < n && k < TOPICS_CALL_MAX; i++)
			if (t[i].action == TOPIC_CLAIM || t[i].action == TOPIC_CREATE) {
				nt[k] = (struct topics_new_topic){.topic = t[i].name,
				                                  .partitions = t[i].partitions,
				                                  .replication = t[i].replication};
				at[k++] = i;
			}
		topics_create_many(ctx->topics, bootstrap, sec, nt, k, ctx->kafka_timeout_ms);
		for (size_t j = 0; j < k; j++)
			created_one(obj, &t[at[j]], &nt[j]);
	}
	return 0;
}

int reconcile_topics_delete(const struct reconcile_ctx *ctx, const struct topic_owned *o,
                            const char *bootstrap, const struct kafka_security *sec, char *err,
                            size_t err_size)
{
	for (size_t i = 0; i < o->n; i++)
		if (topics_delete(ctx->topics, bootstrap, sec, o->name[i], ctx->kafka_timeout_ms,
		                  err, err_size) != TOPICS_OK)
			return -1;
	return 0;
}
