/* dash_secret.h -- a Secret reference {name, key} of a resource's spec,
 * resolved by the dashboard itself: GET the Secret through the Kubernetes
 * API (the dashboard's own read-only RBAC grants get on secrets; the
 * operator never reads one) and decode data[key]. Called only when a
 * connection is opened (dash_pool.h), so a rotated Secret is read again
 * on the next reconnect. A value is never logged and never in a message:
 * errors name the namespace, Secret and key only.
 *
 * Threads: any (kube_client is).
 */
#ifndef SLUICE_DASH_SECRET_H
#define SLUICE_DASH_SECRET_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kube_client.h"

/* Most bytes of a value taken (a DSN, a token). */
#define DASH_SECRET_VALUE_MAX 65536

/*
 * data[key] of a Secret object, base64-decoded, into *out (NUL-terminated,
 * the caller frees it with dash_secret_free). Returns 0, or -1 with errbuf
 * naming what is missing: "Secret \"pg\" has no key \"dsn\"". Pure.
 */
int dash_secret_decode(const cJSON *secret, const char *name, const char *key, char **out,
                       char *errbuf, size_t errbuf_size);

/*
 * Reads Secret name in ns and decodes key. Returns 0 with *out set, or -1
 * with errbuf saying why: "cannot read Secret ns/pg: Forbidden (...)".
 */
int dash_secret_get(struct kube_client *kube, const char *ns, const char *name, const char *key,
                    char **out, char *errbuf, size_t errbuf_size);

/* Wipes and frees a value. NULL is a no-op. */
void dash_secret_free(char *value);

#endif
