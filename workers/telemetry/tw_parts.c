/* tw_parts.c -- the owned partitions' table; see tw_parts.h. */
#include "tw_parts.h"

#include <stdlib.h>
#include <string.h>

void tw_parts_free(struct tw_parts *ps)
{
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}

struct tw_part *tw_parts_find(struct tw_parts *ps, int32_t partition)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].partition == partition)
			return &ps->v[i];
	return NULL;
}

struct tw_part *tw_parts_add(struct tw_parts *ps, int32_t partition)
{
	struct tw_part *p = tw_parts_find(ps, partition);

	if (p != NULL)
		return p;
	if (ps->n == ps->cap) {
		size_t ncap = ps->cap == 0 ? 16 : ps->cap * 2;
		struct tw_part *nv = realloc(ps->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return NULL;
		ps->v = nv;
		ps->cap = ncap;
	}
	p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	p->partition = partition;
	p->committed_offset = TW_PART_NO_COMMIT;
	p->lag = -1;
	return p;
}

void tw_parts_remove(struct tw_parts *ps, int32_t partition)
{
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i].partition != partition)
			continue;
		ps->v[i] = ps->v[--ps->n];
		return;
	}
}

int tw_part_changed(const struct tw_part *p, const struct tw_checkpoint *cp, char *meta,
                    size_t meta_size)
{
	if (cp->offset == TW_OFFSET_NONE)
		return 0;
	if (tw_checkpoint_format(cp, meta, meta_size) < 0)
		meta[0] = '\0';
	return cp->offset != p->committed_offset || strcmp(meta, p->committed_meta) != 0;
}
