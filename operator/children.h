/*
 * children.h - the objects the operator creates for a resource, built from
 * the resource alone (pure: no I/O), so each reconcile computes the same
 * desired state and server-side apply makes it so (pure cores, thin adapters:
 * CONTRIBUTING.md).
 *
 * For every resource: a ConfigMap "<name>-config" holding config.json, the
 * worker configuration of docs/contracts.md §1 ({"name", "namespace", "spec"}
 * with the operator's default sinks filled in); worker Deployments and Jobs
 * whose pods run `sluice-worker <mode> --config /etc/sluice/config.json`
 * with that ConfigMap mounted, a Secret reference turned into env
 * SLUICE_SECRET_<NAME>_<KEY> through secretKeyRef (lib/secret_env.h), and
 * SLUICE_STATUS_REDIS. Each child carries a controller ownerReference to
 * the resource, so the garbage collector deletes it with the resource, and
 * these labels:
 *
 *   app.kubernetes.io/name        sluice-worker
 *   app.kubernetes.io/instance    <resource name>
 *   app.kubernetes.io/component   <mode>: telemetry, split, process, assemble
 *   app.kubernetes.io/managed-by  sluice-operator  (the operator's watch selector)
 *   sluice.dev/<kind label>       <resource name>  (telemetrywindow, videojob)
 *
 * Label values are at most 63 bytes, so a resource name longer than that
 * is refused (children_name_ok); Kubernetes object names may be longer.
 *
 * Ownership: every function returning cJSON * or char * hands it to the
 * caller (cJSON_Delete / free); inputs are borrowed. NULL means out of
 * memory unless said otherwise.
 */
#ifndef SLUICE_CHILDREN_H
#define SLUICE_CHILDREN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "spec_defaults.h"

#define CHILDREN_MANAGED_BY "sluice-operator"
#define CHILDREN_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
/* The label selector the operator's child reflectors use. */
#define CHILDREN_SELECTOR CHILDREN_LABEL_MANAGED_BY "=" CHILDREN_MANAGED_BY
/* The pod template annotation whose change rolls the workers. */
#define CHILDREN_CONFIG_HASH "sluice.dev/config-hash"
#define CHILDREN_CONFIG_DIR "/etc/sluice"
#define CHILDREN_CONFIG_KEY "config.json"
/* A memory-backed emptyDir in every worker pod: the port file (probe.h). */
#define CHILDREN_RUN_DIR "/run/sluice"
/* The pod volume made from a resource's spec.volume. */
#define CHILDREN_DATA_VOLUME "data"
/* The workers' /metrics port off the host network (the workers' default,
 * lib/app's --metrics-port 9090). */
#define CHILDREN_METRICS_PORT 9090
/* The worker image's user and group (Dockerfile.worker). */
#define CHILDREN_UID 65532
/* Longest resource name the children's labels can carry. */
#define CHILDREN_NAME_MAX 63

/* What the operator fills in where a resource leaves a sink out, and what
 * its pods get (docs/contracts.md §3 and §4). NULL or "" members are unset. */
struct children_defaults {
	const char *worker_image;    /* --worker-image */
	const char *kafka_bootstrap; /* --kafka-bootstrap: kafka.bootstrap when left out */
	/* --kafka-tls, --kafka-*-secret, ...: that cluster's tls and sasl, for a
	 * resource naming none of bootstrap, tls, sasl (spec_defaults.h). */
	struct spec_kafka_defaults kafka_security;
	const char *redis_addr; /* --redis-addr: status Redis and default sinks.redis */
	/* Its credentials for the pods: --status-redis-username (plain env
	 * SLUICE_STATUS_REDIS_USERNAME) and the Secret that holds the
	 * password in the resource's namespace, --status-redis-password-secret
	 * and -key (env SLUICE_STATUS_REDIS_PASSWORD by secretKeyRef); the
	 * default sinks.redis gets the same. */
	const char *redis_username;
	const char *redis_password_secret, *redis_password_key;
	const char *postgres_secret;   /* --postgres-secret: a Secret with key "dsn" */
	const char *influx_url;        /* --influx-url */
	const char *influx_database;   /* --influx-database */
	const char *image_pull_policy; /* NULL: Kubernetes' default */
	int host_network;              /* --worker-host-network: pods on the host's network */
	/* --watcher-api-server "host:port": KUBERNETES_SERVICE_HOST and _PORT
	 * in the pods that call the API server (the VideoWatch watcher) where
	 * the cluster's own Service address is not reachable (a host-network
	 * node without kube-proxy). */
	const char *api_server;
	const char *dashboard_url; /* --dashboard-url: the watcher's follow links */
};

/* Whether name can be carried by the children's labels (1..63 bytes). */
int children_name_ok(const char *name);

/*
 * The effective spec of a TelemetryWindow: a deep copy of spec where the
 * operator's defaults fill what the resource leaves out: kafka.bootstrap
 * from kafka_bootstrap (with kafka_security's tls and sasl when the
 * resource names neither), and whole sinks — sinks.redis
 * {addr} from redis_addr, sinks.postgres {dsn: {name: postgres_secret, key:
 * "dsn"}}, sinks.influxdb {url, database} when both are set. A sink the
 * resource names is left exactly as it is.
 */
cJSON *children_tw_effective_spec(const cJSON *spec, const struct children_defaults *d);

/* A VideoJob's sinks have the same shapes (redis.addr, postgres.dsn,
 * influxdb url/database) and kafka.bootstrap the same place: one function
 * fills both kinds. */
static inline cJSON *children_vj_effective_spec(const cJSON *spec,
                                                const struct children_defaults *d)
{
	return children_tw_effective_spec(spec, d);
}

/* config.json: {"name", "namespace", "spec"} printed compactly; the key
 * order is fixed, so the same input gives the same bytes (and hash). */
char *children_config_json(const char *name, const char *namespace, const cJSON *spec);

/* FNV-1a 64 of text as 16 lower-case hex digits into buf (>= 17 bytes):
 * the pod template annotation, not a security measure. Returns buf. */
const char *children_config_hash(const char *text, char *buf, size_t size);

/* The controller ownerReference to owner (apiVersion, kind, name, uid,
 * controller, blockOwnerDeletion), or NULL when owner lacks one of them. */
cJSON *children_owner_ref(const cJSON *owner);

/* The labels above for a child of owner (kind_label: "telemetrywindow"). */
cJSON *children_labels(const char *kind_label, const char *name, const char *component);

/* The ConfigMap "<name>-config" with config.json = config_text, for
 * server-side apply (apiVersion, kind, metadata with labels and owner). */
cJSON *children_configmap(const cJSON *owner, const char *kind_label, const char *config_text);

/* A Secret reference to put in the pod's environment. */
struct children_secret {
	const char *name, *key;
};

/* The Secret references of spec.kafka.tls and .sasl (kafka_security.h's
 * spec_kafka_secret_refs) appended to out, which has room for
 * SPEC_KAFKA_SECRET_REFS_MAX more; returns how many. k is a struct
 * spec_kafka (spec_common.h). */
struct spec_kafka;
size_t children_kafka_secrets(const struct spec_kafka *k, struct children_secret *out);

/* What a worker pod runs. */
struct children_workload {
	const cJSON *owner;      /* the resource */
	const char *kind_label;  /* "telemetrywindow", "videojob" */
	const char *mode;        /* sluice-worker's mode and the component label */
	const char *config_hash; /* children_config_hash of config.json */
	const char *image;       /* NULL: defaults->worker_image */
	const char *pull_policy; /* NULL: defaults->image_pull_policy */
	const cJSON *resources;  /* the container's resources, or NULL */
	const cJSON *workers;    /* spec.workers: env, nodeSelector, tolerations, affinity,
	                            serviceAccountName (spec_read.h); NULL: none */
	const cJSON *volume;     /* spec.volume (VideoJob), or NULL */
	const struct children_secret *secrets; /* n_secrets references; repeats dropped */
	size_t n_secrets;
	int replicas; /* Deployment only; < 0: left out (the scaler owns it) */
	const struct children_defaults *defaults;
};

/* A child object of owner: apiVersion api, kind, metadata {name
 * child_name, owner's namespace, the labels above, the controller
 * ownerReference}; the caller adds the rest. NULL also when the owner's
 * name cannot be a label or it has no namespace. */
cJSON *children_object(const char *api, const char *kind, const cJSON *owner,
                       const char *child_name, const char *kind_label, const char *component);

/* "<name>-<mode>": the Deployment's or Job's name. Returns a malloc'd
 * string. */
char *children_name(const cJSON *owner, const char *mode);

/*
 * The worker Deployment: selector on sluice.dev/<kind_label> and the
 * component, the config hash as a pod template annotation (a new hash rolls
 * the pods), a non-root, read-only container. NULL also when the owner
 * lacks metadata or the image is unset.
 */
cJSON *children_deployment(const struct children_workload *w);

/* A run-to-completion Job of the same pod (restartPolicy Never,
 * backoffLimit). */
cJSON *children_job(const struct children_workload *w, int backoff_limit);

#endif
