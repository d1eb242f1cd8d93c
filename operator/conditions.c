/* conditions.c - see conditions.h. */
#include "conditions.h"

#include <string.h>
#include <time.h>

const cJSON *conditions_find(const cJSON *conditions, const char *type)
{
	const cJSON *c;

	if (!cJSON_IsArray(conditions) || type == NULL)
		return NULL;
	cJSON_ArrayForEach(c, conditions)
	{
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
		if (t != NULL && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

const char *conditions_status(const cJSON *conditions, const char *type)
{
	const cJSON *c = conditions_find(conditions, type);
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "status"));
	return s != NULL ? s : "";
}

int conditions_add(cJSON *conditions, const cJSON *old, const char *type, const char *status,
                   const char *reason, const char *message, long long generation, const char *now)
{
	const cJSON *prev = conditions_find(old, type);
	const char *when = now;
	cJSON *c = cJSON_CreateObject();

	if (prev != NULL) {
		const char *ps =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prev, "status"));
		const char *pt = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(prev, "lastTransitionTime"));
		if (ps != NULL && pt != NULL && strcmp(ps, status) == 0)
			when = pt;
	}
	if (c == NULL || !cJSON_AddItemToArray(conditions, c))
		goto fail;
	if (cJSON_AddStringToObject(c, "type", type) == NULL ||
	    cJSON_AddStringToObject(c, "status", status) == NULL ||
	    cJSON_AddStringToObject(c, "reason", reason) == NULL ||
	    cJSON_AddStringToObject(c, "message", message != NULL ? message : "") == NULL ||
	    cJSON_AddStringToObject(c, "lastTransitionTime", when) == NULL ||
	    cJSON_AddNumberToObject(c, "observedGeneration", (double)generation) == NULL)
		return -1;
	return 0;
fail:
	cJSON_Delete(c);
	return -1;
}

const char *conditions_now(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && size > 0)
		buf[0] = '\0';
	return buf;
}

const char *conditions_reason(const cJSON *conditions, const char *type)
{
	const cJSON *c = conditions_find(conditions, type);
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "reason"));
	return s != NULL ? s : "";
}
