/*
 * strmap.c - a bounded string-keyed hash map; see strmap.h.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Buckets start small (an operator watching a handful of resources should
 * not pay for thousands) and double while entries outnumber them. */
#define BUCKETS_MIN 16

struct node {
	struct node *next;
	uint64_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

struct strmap {
	struct node **buckets;
	size_t nbuckets; /* a power of two */
	size_t len, max;
};

/* FNV-1a, 64-bit: short keys, no adversary beyond resource names. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int strmap_new(struct strmap **out, size_t max_entries)
{
	struct strmap *m;

	*out = NULL;
	if (max_entries == 0)
		return STRMAP_EINVAL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return STRMAP_ENOMEM;
	m->nbuckets = BUCKETS_MIN;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return STRMAP_ENOMEM;
	}
	m->max = max_entries;
	*out = m;
	return 0;
}

void strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct node *n = m->buckets[i];

		while (n != NULL) {
			struct node *next = n->next;

			free(n);
			n = next;
		}
	}
	free(m->buckets);
	free(m);
}

static struct node **find(const struct strmap *m, const char *key, uint64_t h)
{
	struct node **pp = &m->buckets[h & (m->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct node **pp;

	if (m == NULL || key == NULL)
		return NULL;
	pp = find(m, key, hash_str(key));
	return *pp != NULL ? (*pp)->value : NULL;
}

/* Doubles the buckets; on allocation failure the map keeps its size (it
 * still works, with longer chains). */
static void grow(struct strmap *m)
{
	size_t n = m->nbuckets * 2;
	struct node **b;

	if (n > SIZE_MAX / sizeof(*b))
		return;
	b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct node *node = m->buckets[i];

		while (node != NULL) {
			struct node *next = node->next;
			size_t j = node->hash & (n - 1);

			node->next = b[j];
			b[j] = node;
			node = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

int strmap_put(struct strmap *m, const char *key, void *value, const char **stable_key, void **old)
{
	uint64_t h;
	struct node **pp, *n;
	size_t klen;

	if (old != NULL)
		*old = NULL;
	if (m == NULL || key == NULL)
		return STRMAP_EINVAL;
	h = hash_str(key);
	pp = find(m, key, h);
	if (*pp != NULL) {
		if (old != NULL)
			*old = (*pp)->value;
		(*pp)->value = value;
		if (stable_key != NULL)
			*stable_key = (*pp)->key;
		return 0;
	}
	if (m->len >= m->max)
		return STRMAP_EFULL;
	klen = strlen(key);
	n = malloc(sizeof(*n) + klen + 1);
	if (n == NULL)
		return STRMAP_ENOMEM;
	n->hash = h;
	n->value = value;
	memcpy(n->key, key, klen + 1);
	n->next = NULL;
	*pp = n;
	m->len++;
	if (stable_key != NULL)
		*stable_key = n->key;
	if (m->len > m->nbuckets)
		grow(m);
	return 0;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct node **pp, *n;
	void *value;

	if (m == NULL || key == NULL)
		return NULL;
	pp = find(m, key, hash_str(key));
	n = *pp;
	if (n == NULL)
		return NULL;
	*pp = n->next;
	value = n->value;
	free(n);
	m->len--;
	return value;
}

size_t strmap_len(const struct strmap *m)
{
	return m != NULL ? m->len : 0;
}

size_t strmap_max(const struct strmap *m)
{
	return m != NULL ? m->max : 0;
}

int strmap_foreach(const struct strmap *m, strmap_fn fn, void *opaque)
{
	if (m == NULL)
		return 0;
	for (size_t i = 0; i < m->nbuckets; i++)
		for (const struct node *n = m->buckets[i]; n != NULL; n = n->next) {
			int rc = fn(n->key, n->value, opaque);

			if (rc != 0)
				return rc;
		}
	return 0;
}
