/* tw_agg_kind.c -- aggregation names; see tw_agg_kind.h. */
#include "tw_agg_kind.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned kind;
} agg_names[] = {
    {"count", TW_AGG_COUNT}, {"sum", TW_AGG_SUM}, {"min", TW_AGG_MIN}, {"max", TW_AGG_MAX},
    {"mean", TW_AGG_MEAN},   {"p50", TW_AGG_P50}, {"p95", TW_AGG_P95}, {"p99", TW_AGG_P99},
};

int tw_agg_parse(const char *name, unsigned *kind)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(agg_names) / sizeof(agg_names[0]); i++) {
		if (strcmp(name, agg_names[i].name) == 0) {
			*kind = agg_names[i].kind;
			return 0;
		}
	}
	return -1;
}

const char *tw_agg_name(unsigned kind)
{
	for (size_t i = 0; i < sizeof(agg_names) / sizeof(agg_names[0]); i++)
		if (agg_names[i].kind == kind)
			return agg_names[i].name;
	return NULL;
}
