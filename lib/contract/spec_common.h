/* spec_common.h -- the sections a TelemetryWindow and a VideoJob share, one
 * model parsed one way: Secret references, the Kafka section's checks, the
 * workers section (replicas, lag thresholds, image, pull policy, container
 * resources), the InfluxDB and PostgreSQL sinks, and the file and document
 * envelope both kinds are read from. Each kind's own sections (tw_spec.c,
 * vj_spec.c) sit beside these and call them with the kind's defaults.
 *
 * Errors are spec_read.h's: "<field path>: <what is wrong>" in the context's
 * buffer and a negative spec_rc.
 */
#ifndef SLUICE_SPEC_COMMON_H
#define SLUICE_SPEC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "spec_read.h"

/* Longest plain string field (URLs, bootstrap lists, prefixes, images). */
#define SPEC_TEXT_MAX 1024
/* Most entries in workers.resources.requests (and in .limits), as the
 * CRDs' maxProperties. */
#define SPEC_RESOURCES_MAX 16
/* Most replicas a resource may ask for. */
#define SPEC_REPLICAS_MAX 1000

/* A reference to a key of a Kubernetes Secret (never the secret itself);
 * name NULL: not given. The value comes from lib/secret_env.h. */
struct spec_secret_ref {
	char *name;
	char *key;
};

/* Container resources, one map (requests or limits): names[i] -> values[i],
 * in the order written. Values are quantities as the user wrote them (an
 * integer as its decimal text), checked with Kubernetes' quantity syntax,
 * so the operator can copy them into the Pod spec as strings. */
struct spec_resource_list {
	char *names[SPEC_RESOURCES_MAX];
	char *values[SPEC_RESOURCES_MAX];
	size_t n;
};

/* spec.workers.scaling: the autoscaler's settings for one resource
 * (docs/autoscaling.md, "Settings"). Every member is optional and
 * SPEC_UNSET (-1) where not given, so the operator's flag (or scale.h's
 * built-in default) applies: operator/scale_json.h's scale_spec_from_workers
 * maps it. Booleans are 0 or 1 once given. Durations are in ms, from a
 * string in lib/config's syntax ("30s", "500ms", "5m", "1m30s", "0") or an
 * integer number of seconds (KEDA writes pollingInterval: 30), each at most
 * SPEC_SCALING_DURATION_MAX_MS. The rules are the CRDs': fallback needs
 * replicas; allowIdleConsumers goes with neither limitToPartitionsWithLag nor
 * partitionDistribution Even. fallback.replicas is not held to
 * [minReplicas, maxReplicas] (the decision clamps it, as KEDA does). The
 * workers parse it (so their file config is checked) and ignore it. */
#define SPEC_UNSET (-1)
#define SPEC_SCALING_DURATION_MAX_MS INT64_C(86400000) /* 24h */
#define SPEC_SCALING_DRAIN_MAX_S 86400
#define SPEC_SCALING_FAILURE_THRESHOLD_MAX 1000
struct spec_scaling {
	int64_t polling_interval_ms;      /* pollingInterval, > 0 */
	int64_t stabilization_window_ms;  /* stabilizationWindow, >= 0 */
	int64_t cooldown_period_ms;       /* cooldownPeriod, >= 0 */
	int64_t trend_window_ms;          /* trendWindow, >= 0 (0: no trend rule) */
	int64_t scale_up_interval_ms;     /* scaleUpInterval, >= 0 (0: none) */
	int32_t fallback_replicas;        /* fallback.replicas, 0..SPEC_REPLICAS_MAX */
	int32_t failure_threshold;        /* fallback.failureThreshold, 0..1000 */
	int allow_idle_consumers;         /* allowIdleConsumers */
	int limit_to_partitions_with_lag; /* limitToPartitionsWithLag */
	int exclude_persistent_lag;       /* excludePersistentLag */
	int64_t persistent_after_ms;      /* persistentLagAfter, > 0 */
	int64_t target_drain_ms;          /* targetDrainSeconds (1..86400 s) in ms */
	int32_t target_utilization_pct;   /* targetUtilization, 1..100 (percent) */
	int even_partitions;              /* partitionDistribution: "Even" 1, "Any" 0 */
};

/* spec.workers. image and image_pull_policy are NULL when unset (the
 * operator's --worker-image, Kubernetes' default policy). The placement
 * fields (env, nodeSelector, ...) are checked here but only the operator
 * reads them, from the resource itself. */
struct spec_workers {
	int32_t min_replicas, max_replicas;
	int64_t lag_threshold, activation_lag_threshold;
	struct spec_scaling scaling;
	char *image;
	char *image_pull_policy;
	struct spec_resource_list requests, limits;
};

/* What a kind's workers default to and allow. max_follows_min: an unset
 * maxReplicas is at least minReplicas (else it is max_replicas and a larger
 * minReplicas is an error). */
struct spec_workers_rules {
	int32_t min_replicas, max_replicas;
	int64_t lag_threshold, lag_limit;
	int max_follows_min;
};

enum spec_influx_api {
	SPEC_INFLUX_V1 = 1, /* /write?db= */
	SPEC_INFLUX_V2 = 2, /* /api/v2/write?org=&bucket=, a token required */
};

/* spec.sinks.influxdb's members both kinds have. */
struct spec_influxdb {
	int enabled;
	char *url, *database, *org; /* org NULL: unset */
	struct spec_secret_ref token;
	enum spec_influx_api api;
};

/* spec.sinks.postgres. table is always set (the kind's default). */
struct spec_postgres {
	int enabled;
	struct spec_secret_ref dsn;
	char *table;
	/* spec.sinks.postgres.tls.ca: the CA (PEM) the server's certificate
	 * must chain to, with its host name checked (sslmode=verify-full);
	 * name NULL: no tls section, the DSN's own sslmode. */
	struct spec_secret_ref tls_ca;
};

/* spec.kafka.tls: TLS to the brokers. ca: the CA bundle (PEM) the brokers'
 * certificates must chain to (name NULL: the system's trust store); cert and
 * key: a client certificate and its private key (PEM), both or neither;
 * server_name: the name every broker's certificate must carry (NULL: the
 * host of the address it is reached at). */
struct spec_kafka_tls {
	int enabled;
	struct spec_secret_ref ca, cert, key;
	char *server_name;
};

enum spec_sasl_mechanism {
	SPEC_SASL_NONE = 0,
	SPEC_SASL_PLAIN,
	SPEC_SASL_SCRAM_SHA_256,
	SPEC_SASL_SCRAM_SHA_512,
};

/* spec.kafka.sasl: username and password by Secret reference only. */
struct spec_kafka_sasl {
	enum spec_sasl_mechanism mechanism; /* SPEC_SASL_NONE: no SASL */
	struct spec_secret_ref username, password;
};

/* spec.kafka.createTopic (a TelemetryWindow's input topic): the operator
 * creates the topic when missing, and deletes it with the resource. */
struct spec_kafka_create_topic {
	int enabled;
	int32_t partitions;
	int32_t replication_factor; /* 0: the cluster's default (below) */
};

/* spec.kafka, as both kinds end up with it (a VideoJob derives group and
 * dead_letter_topic; a TelemetryWindow may set them). replication_factor
 * is that of the topics the operator creates; 0: min(3, brokers). */
struct spec_kafka {
	char *bootstrap, *topic, *group, *dead_letter_topic;
	struct spec_kafka_tls tls;
	struct spec_kafka_sasl sasl;
	int32_t replication_factor;
	struct spec_kafka_create_topic create_topic;
};

/* The workers section at spec.workers (absent: every default; scaling
 * absent: every member SPEC_UNSET), with the kind's rules. Frees nothing on error: the caller frees
 * out with the rest of its spec (spec_workers_free). */
int spec_parse_workers(struct spec_ctx *c, const cJSON *spec,
                       const struct spec_workers_rules *rules, struct spec_workers *out);
void spec_workers_free(struct spec_workers *w);

/* 1 when s is a Kubernetes resource quantity ("100m", "1.5Gi", "2e3"), by
 * the apimachinery grammar the CRDs' pattern states. */
int spec_quantity_ok(const char *s);

/*
 * spec.sinks.influxdb (sinks may be NULL): absent leaves out->enabled 0 and
 * *obj NULL. Present: checks its members against url, database, org, token,
 * api and the kind's extra (NULL-terminated, may be NULL), parses the common
 * ones, and sets *obj (may be NULL) for the caller to read its extras. The
 * URL must be http(s)://host[:port]... without credentials (a token is for
 * that); api v2 needs a token.
 */
int spec_parse_influxdb(struct spec_ctx *c, const cJSON *sinks, const char *const *extra,
                        struct spec_influxdb *out, const cJSON **obj);
void spec_influxdb_free(struct spec_influxdb *s);

/* spec.sinks.postgres (sinks may be NULL). table defaults to default_table
 * whether or not the section is there; dsn is a Secret reference, required
 * when dsn_required and the section is present; tls {ca: a Secret
 * reference, required}. */
int spec_parse_postgres(struct spec_ctx *c, const cJSON *sinks, const char *default_table,
                        int dsn_required, struct spec_postgres *out);
void spec_postgres_free(struct spec_postgres *s);

/* spec.kafka.bootstrap from k: required, brokers separated by commas, no
 * white space. */
int spec_get_bootstrap(struct spec_ctx *c, const cJSON *k, char **out);
/* A topic name at path.name ("spec.kafka.topic"): spec_topic_ok, at most
 * max bytes; hint, when not NULL, ends the message. */
int spec_check_topic(struct spec_ctx *c, const char *path, const char *name, const char *topic,
                     size_t max, const char *hint);
/* The protocol's bounds: a replication factor is an int16; partitions are
 * bounded here so that a typo cannot ask a cluster for millions. */
#define SPEC_KAFKA_RF_MAX 32767
#define SPEC_KAFKA_PARTITIONS_MAX 10000
/* spec.kafka.replicationFactor from k into out->replication_factor (0 or
 * absent: the cluster's default) and, when create_allowed (a
 * TelemetryWindow), spec.kafka.createTopic {partitions (required, 1..
 * SPEC_KAFKA_PARTITIONS_MAX), replicationFactor (0 or absent: spec.kafka's)}
 * into out->create_topic. The caller lists "replicationFactor" (and
 * "createTopic") among k's fields. */
int spec_get_kafka_topics(struct spec_ctx *c, const cJSON *k, int create_allowed,
                          struct spec_kafka *out);
/* spec.kafka.tls {ca, cert, key: Secret references; serverName} (present,
 * even empty: TLS) and spec.kafka.sasl {mechanism, username, password:
 * Secret references, all three required} from k into out->tls and
 * out->sasl. A cert without its key (or the reverse) is refused. The caller
 * lists "tls" and "sasl" among k's fields. lib/contract/kafka_security.h
 * turns the result into librdkafka's settings. */
int spec_get_kafka_security(struct spec_ctx *c, const cJSON *k, struct spec_kafka *out);
/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" to and from the enum; parse
 * returns 0 or -1, name NULL for SPEC_SASL_NONE. */
int spec_sasl_mechanism_parse(const char *s, enum spec_sasl_mechanism *out);
const char *spec_sasl_mechanism_name(enum spec_sasl_mechanism m);
void spec_kafka_free(struct spec_kafka *k);

void spec_secret_ref_free(struct spec_secret_ref *r);

/* 1 when s has no blank (space, tab, CR, LF). */
int spec_no_blank(const char *s);
/* 1 when a URL's authority has user:password@ (credentials belong in
 * Secrets). */
int spec_url_has_userinfo(const char *uri);

/*
 * A resource document in either form, {"apiVersion", "kind": kind,
 * "metadata": {"name", "namespace"}, "spec"} or {"name", "namespace",
 * "spec"}: checks the envelope and points *spec, *name and *ns (NULL when
 * absent) into doc. Errors name metadata.name, kind, ...
 */
int spec_document(struct spec_ctx *c, const cJSON *doc, const char *kind, const cJSON **spec,
                  const char **name, const char **ns);

/* Reads path (JSON when its first non-blank byte is '{', YAML otherwise; at
 * most max bytes) into *doc (the caller deletes it). Messages start with
 * the path: "/etc/sluice/tw.yaml: not valid JSON near byte 12". */
int spec_load_document(struct spec_ctx *c, const char *path, size_t max, cJSON **doc);

#endif
