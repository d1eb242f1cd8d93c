/* scale_pause.c - the pause annotations -> paused_replicas (scale_pause.h). */
#include "scale_pause.h"

#include <stdio.h>
#include <string.h>

#include "scale.h"

#define MAX_DIGITS 9 /* below INT32_MAX whatever the digits */

/* N from "N": digits only, 1..MAX_DIGITS of them; -1 otherwise. */
static int32_t count_of(const char *s)
{
	int32_t n = 0;
	size_t len = strlen(s);

	if (len == 0 || len > MAX_DIGITS)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	return n;
}

/* The value shown in why: cut, so a long value cannot fill the line. */
static int32_t malformed(char *why, size_t why_size, const char *name, const char *value,
                         const char *what)
{
	if (why_size > 0)
		snprintf(why, why_size, "annotation %s: \"%.64s%s\" is not %s", name, value,
		         strlen(value) > 64 ? "..." : "", what);
	return SCALE_NOT_PAUSED;
}

int32_t scale_pause_from_annotations(const cJSON *annotations, char *why, size_t why_size)
{
	const cJSON *n =
	    cJSON_GetObjectItemCaseSensitive(annotations, SCALE_PAUSE_REPLICAS_ANNOTATION);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(annotations, SCALE_PAUSE_ANNOTATION);

	if (why_size > 0)
		why[0] = '\0';
	if (n != NULL) {
		const char *v = cJSON_GetStringValue(n);
		int32_t count = v != NULL ? count_of(v) : -1;

		if (count < 0)
			return malformed(why, why_size, SCALE_PAUSE_REPLICAS_ANNOTATION,
			                 v != NULL ? v : "(not a string)",
			                 "a non-negative integer");
		return count;
	}
	if (p != NULL) {
		const char *v = cJSON_GetStringValue(p);

		if (v != NULL && strcmp(v, "true") == 0)
			return SCALE_PAUSED_KEEP;
		if (v != NULL && strcmp(v, "false") == 0)
			return SCALE_NOT_PAUSED;
		return malformed(why, why_size, SCALE_PAUSE_ANNOTATION,
		                 v != NULL ? v : "(not a string)", "\"true\" or \"false\"");
	}
	return SCALE_NOT_PAUSED;
}
