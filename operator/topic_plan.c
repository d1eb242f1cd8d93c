/* topic_plan.c - see topic_plan.h. */
#include "topic_plan.h"

#include <string.h>

int topic_plan_owns(const struct topic_owned *o, const char *topic)
{
	for (size_t i = 0; topic != NULL && i < o->n; i++)
		if (strcmp(o->name[i], topic) == 0)
			return 1;
	return 0;
}

void topic_plan_owned(const cJSON *status, struct topic_owned *out)
{
	const cJSON *kafka = cJSON_GetObjectItemCaseSensitive(status, "kafka");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(kafka, "createdTopics");
	const cJSON *it;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsArray(list))
		return;
	cJSON_ArrayForEach(it, list)
	{
		const char *s = cJSON_GetStringValue(it);
		if (s == NULL || s[0] == '\0' || topic_plan_owns(out, s))
			continue;
		if (out->n == TOPIC_PLAN_MAX)
			break;
		out->name[out->n++] = s;
	}
}

int topic_plan_recorded(const cJSON *status)
{
	const cJSON *kafka = cJSON_GetObjectItemCaseSensitive(status, "kafka");
	return cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(kafka, "createdTopics"));
}

enum topic_action topic_plan_action(enum topic_state state, int may_create, int owned)
{
	if (state != TOPIC_STATE_NOT_FOUND)
		return TOPIC_KEEP;
	if (owned)
		return TOPIC_CREATE;
	return may_create ? TOPIC_CLAIM : TOPIC_MISSING;
}

cJSON *topic_plan_claim(const struct topic_owned *o, const char *const *claim, size_t n)
{
	cJSON *patch = cJSON_CreateObject(), *kafka, *list;
	struct topic_owned all = *o;

	for (size_t i = 0; i < n; i++) {
		if (claim[i] == NULL || topic_plan_owns(&all, claim[i]))
			continue;
		if (all.n == TOPIC_PLAN_MAX) {
			cJSON_Delete(patch);
			return NULL;
		}
		all.name[all.n++] = claim[i];
	}
	if (patch == NULL || (kafka = cJSON_AddObjectToObject(patch, "kafka")) == NULL ||
	    (list = cJSON_AddArrayToObject(kafka, "createdTopics")) == NULL) {
		cJSON_Delete(patch);
		return NULL;
	}
	for (size_t i = 0; i < all.n; i++) {
		cJSON *s = cJSON_CreateString(all.name[i]);
		if (s == NULL || !cJSON_AddItemToArray(list, s)) {
			cJSON_Delete(s);
			cJSON_Delete(patch);
			return NULL;
		}
	}
	return patch;
}

int topic_plan_grow(int current, int wanted)
{
	return current > 0 && wanted > current ? wanted : 0;
}
