/*
 * strmap.h - a bounded map from NUL-terminated strings to pointers.
 *
 * The one hash table of the operator's control loop: the work queue finds a
 * key's state in it and the reflector's store finds an object by its
 * namespace/name. Chained hashing (FNV-1a), the bucket array doubling as
 * entries are added, never past max_entries entries.
 *
 * Ownership: keys are copied into the map and live until the entry is
 * removed; the pointer strmap_put() hands back for a key stays valid that
 * long, so owners may keep it instead of a copy of their own. Values are
 * the caller's: the map never frees or reads them.
 *
 * Threads: none of its own and no locks; the owner serialises access.
 */
#ifndef SLUICE_STRMAP_H
#define SLUICE_STRMAP_H

#include <stddef.h>

enum strmap_rc {
	STRMAP_OK = 0,
	STRMAP_EINVAL = -1, /* NULL key or map, max_entries 0 */
	STRMAP_ENOMEM = -2,
	STRMAP_EFULL = -3, /* max_entries entries already */
};

struct strmap;

/* A map for at most max_entries entries. Returns 0 with *out set, or
 * STRMAP_EINVAL / STRMAP_ENOMEM. */
int strmap_new(struct strmap **out, size_t max_entries);

/* Frees the map and its key copies, not the values. NULL is a no-op. */
void strmap_free(struct strmap *m);

/* The value stored for key, or NULL when absent. */
void *strmap_get(const struct strmap *m, const char *key);

/*
 * Stores value for key, replacing any value already there (returned in
 * *old when old is not NULL; NULL when the key was new). *stable_key (may
 * be NULL) receives the map's own copy of key. Returns 0, STRMAP_EFULL (a
 * new key with max_entries entries held), STRMAP_ENOMEM or STRMAP_EINVAL;
 * on error the map is unchanged.
 */
int strmap_put(struct strmap *m, const char *key, void *value, const char **stable_key, void **old);

/* Removes key; returns its value, or NULL when absent. The key copy
 * handed out by strmap_put() is freed. */
void *strmap_remove(struct strmap *m, const char *key);

/* Entries held. */
size_t strmap_len(const struct strmap *m);

/* The bound given to strmap_new(). */
size_t strmap_max(const struct strmap *m);

/*
 * Calls fn for every entry, in no particular order, until fn returns
 * non-zero (which is returned). fn must not add or remove entries.
 */
typedef int (*strmap_fn)(const char *key, void *value, void *opaque);
int strmap_foreach(const struct strmap *m, strmap_fn fn, void *opaque);

#endif /* SLUICE_STRMAP_H */
