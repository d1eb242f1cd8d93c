/*
 * spec_read.h - reading a resource's spec out of a cJSON tree: the pieces
 * the TelemetryWindow (tw_spec.c) and VideoJob (vj_spec.c) parsers share.
 *
 * Every failure writes "<field path>: <what is wrong>" into the context's
 * buffer, with the path as the user wrote it in the manifest, and returns a
 * negative spec_rc (the same values as TW_SPEC_E_* and VJ_SPEC_E_*). A JSON
 * null is taken for an absent member (YAML's "ttl:").
 */
#ifndef SLUICE_SPEC_READ_H
#define SLUICE_SPEC_READ_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum spec_rc {
	SPEC_E_INVALID = -1, /* the spec breaks a rule; the buffer names the field */
	SPEC_E_NOMEM = -2,
	SPEC_E_IO = -3, /* spec_read_file: the file could not be read */
};

/* The longest field path a message names, NUL included. */
#define SPEC_PATH_MAX 160
/* Kubernetes: DNS subdomain names 253, namespaces (DNS labels) 63; Kafka
 * topic names 249; PostgreSQL identifiers 63. */
#define SPEC_NAME_MAX 253
#define SPEC_NAMESPACE_MAX 63
#define SPEC_TOPIC_MAX 249
#define SPEC_SQL_IDENT_MAX 63

struct spec_ctx {
	char *errbuf;
	size_t errbuf_size;
};

/* Writes the message; returns SPEC_E_INVALID. */
__attribute__((format(printf, 2, 3))) int spec_fail(struct spec_ctx *c, const char *fmt, ...);
/* "out of memory"; returns SPEC_E_NOMEM. */
int spec_nomem(struct spec_ctx *c);

/* obj.name, or NULL when absent or null. */
const cJSON *spec_member(const cJSON *obj, const char *name);
/* Refuses members not in allowed (NULL-terminated) and repeated members. */
int spec_check_fields(struct spec_ctx *c, const cJSON *obj, const char *path,
                      const char *const *allowed);
/* *out: the object at obj.name, or NULL when absent and optional. */
int spec_get_object(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                    int required, const cJSON **out);
/* *out: a copy of s. */
int spec_dup(struct spec_ctx *c, char **out, const char *s);
/* *out: a copy of the string at obj.name (obj may be NULL), of at most max
 * bytes, or of def when absent (NULL def: *out stays as it is). Empty
 * strings count as absent. */
int spec_get_string(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                    int required, const char *def, size_t max, char **out);
/* *out: the integer at obj.name (obj may be NULL) in min..max, or def. */
int spec_get_int(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                 long long def, long long min, long long max, long long *out);
/* *out: the boolean at obj.name (obj may be NULL), or def when absent. */
int spec_get_bool(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path, int def,
                  int *out);
/* *out_ms: the duration at obj.name (obj may be NULL) in min_ms..max_ms, or
 * def when absent. A string in lib/config's syntax ("30s", "500ms", "1m30s",
 * "0"; config_parse_duration_ms) or an integer number of seconds (as KEDA
 * writes pollingInterval: 30). */
int spec_get_duration_ms(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                         long long def, long long min_ms, long long max_ms, long long *out_ms);
/* A Secret reference {name, key} at obj.name into *ref_name and *ref_key,
 * which stay NULL when it is absent and optional; why follows "required"
 * in the message. name must be a DNS subdomain and key [-._a-zA-Z0-9]+, as
 * Kubernetes (and the CRDs) have it. */
int spec_get_secret_ref(struct spec_ctx *c, const cJSON *obj, const char *name, const char *path,
                        int required, const char *why, char **ref_name, char **ref_key);

/*
 * The pod placement fields both kinds take under spec.workers, which only
 * the operator reads (it copies them into the worker pods): env (a list of
 * {name, value} or {name, valueFrom}; a name the operator also sets is
 * taken from here), nodeSelector (a map of strings), tolerations (a list
 * of objects), affinity (an object), serviceAccountName (a DNS name).
 * Checks their shapes in w (may be NULL) under path; the API server checks
 * the rest when the pods are made.
 */
#define SPEC_POD_FIELDS "env", "nodeSelector", "tolerations", "affinity", "serviceAccountName"
int spec_check_pod_fields(struct spec_ctx *c, const cJSON *w, const char *path);

/* An absolute path with no "." or ".." component and no white space. */
int spec_abs_path_ok(const char *s);

/* A lower-case DNS-1123 name of at most max bytes: a-z 0-9 '-' (and '.'
 * when dots), alphanumeric at both ends. */
int spec_dns_name_ok(const char *s, size_t max, int dots);
/* A Kafka topic name: [a-zA-Z0-9._-], 1..249 bytes, not "." or "..". */
int spec_topic_ok(const char *s);
/* A lower-case PostgreSQL identifier: [a-z0-9_], not starting with a digit. */
int spec_sql_ident_ok(const char *s);
/* "host:port" with a port in 1..65535 (IPv6 as "[::1]:6379"). */
int spec_host_port_ok(const char *s);

/* A resource's identity: name (a DNS name) and namespace (a DNS label;
 * NULL or "" is "default") checked, spec checked to be an object, copies of
 * the two into *out_name and *out_namespace. */
int spec_identity(struct spec_ctx *c, const char *name, const char *namespace, const cJSON *spec,
                  char **out_name, char **out_namespace);

/* The whole file at path, NUL-terminated, into *data (the caller frees it)
 * and its length into *len; more than max bytes is an error. */
int spec_read_file(struct spec_ctx *c, const char *path, size_t max, char **data, size_t *len);

#endif /* SLUICE_SPEC_READ_H */
