/* Unit tests for the operator's desired-state functions: operator/children.c
 * (effective spec, config.json and its hash, owner references, ConfigMap,
 * Deployment, Job), operator/conditions.c (lastTransitionTime moves only on a
 * status change), reconcile_status_changed, events_build and
 * redis_keys_pattern. All pure: no server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_spec.h"
#include "children.h"
#include "conditions.h"
#include "events.h"
#include "kafka_security.h"
#include "reconcile.h"
#include "reconcile_vj.h"
#include "redis_keys.h"

static const char owner_json[] =
    "{\"apiVersion\":\"sluice.dev/v1alpha1\",\"kind\":\"TelemetryWindow\","
    "\"metadata\":{\"name\":\"sensors\",\"namespace\":\"media\",\"uid\":\"u-1\","
    "\"resourceVersion\":\"42\",\"generation\":3},"
    "\"spec\":{\"kafka\":{\"bootstrap\":\"k:9092\",\"topic\":\"telemetry\"},"
    "\"fields\":{\"timestamp\":\"ts\"},\"window\":{\"size\":\"30s\"},"
    "\"sinks\":{\"influxdb\":{\"url\":\"http://i:8086\",\"database\":\"d\","
    "\"token\":{\"name\":\"influx\",\"key\":\"token\"},\"api\":\"v2\",\"org\":\"o\"}}}}";

static const struct children_defaults defaults = {
    .worker_image = "sluice-worker:test",
    .redis_addr = "redis:6379",
    .postgres_secret = "pg",
    .influx_url = "http://default:8086",
    .influx_database = "dflt",
};

static const cJSON *at(const cJSON *o, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, ".", &save); p != NULL && o != NULL;
	     p = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(o))
			o = cJSON_GetArrayItem(o, atoi(p));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, p);
	}
	return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
	return cJSON_GetStringValue(at(o, path));
}

static void test_effective_spec_fills_only_missing_sinks(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	(void)state;
	assert_non_null(owner);
	cJSON *eff = children_tw_effective_spec(at(owner, "spec"), &defaults);
	assert_non_null(eff);
	/* The resource's own influxdb is kept as it is. */
	assert_string_equal(str_at(eff, "sinks.influxdb.url"), "http://i:8086");
	assert_string_equal(str_at(eff, "sinks.influxdb.database"), "d");
	/* Missing ones come from the operator. */
	assert_string_equal(str_at(eff, "sinks.redis.addr"), "redis:6379");
	assert_string_equal(str_at(eff, "sinks.postgres.dsn.name"), "pg");
	assert_string_equal(str_at(eff, "sinks.postgres.dsn.key"), "dsn");
	/* The worker's parser accepts it. */
	struct tw_spec ts;
	char err[512];
	assert_int_equal(tw_spec_parse(eff, "sensors", "media", &ts, err, sizeof(err)), 0);
	assert_true(ts.sinks.redis.enabled);
	assert_true(ts.sinks.postgres.enabled);
	tw_spec_free(&ts);

	/* No defaults: no sinks object at all. */
	struct children_defaults none = {0};
	cJSON *bare = cJSON_Parse("{\"window\":{\"size\":\"1m\"}}");
	cJSON *e2 = children_tw_effective_spec(bare, &none);
	assert_null(at(e2, "sinks"));
	cJSON_Delete(e2);
	cJSON_Delete(bare);
	cJSON_Delete(eff);
	cJSON_Delete(owner);
}

/* The status Redis's credentials: the default sinks.redis AUTHs as the
 * operator's user with the operator's Secret, and the pods get the user as a
 * value and the password by secretKeyRef (never its value). */
static void test_status_redis_auth(void **state)
{
	struct children_defaults d = defaults;
	cJSON *owner = cJSON_Parse(owner_json), *eff, *dep, *own;
	const cJSON *env, *e, *user = NULL, *pw = NULL;
	struct tw_spec ts;
	char err[512];

	(void)state;
	d.redis_username = "sluice";
	d.redis_password_secret = "redis-auth";
	d.redis_password_key = "password";
	eff = children_tw_effective_spec(at(owner, "spec"), &d);
	assert_non_null(eff);
	assert_string_equal(str_at(eff, "sinks.redis.username"), "sluice");
	assert_string_equal(str_at(eff, "sinks.redis.password.name"), "redis-auth");
	assert_string_equal(str_at(eff, "sinks.redis.password.key"), "password");
	assert_int_equal(tw_spec_parse(eff, "sensors", "media", &ts, err, sizeof(err)), 0);
	assert_string_equal(ts.sinks.redis.username, "sluice");
	tw_spec_free(&ts);
	cJSON_Delete(eff);

	/* A resource's own sinks.redis is left as it is. */
	own = cJSON_Parse("{\"sinks\":{\"redis\":{\"addr\":\"mine:6379\"}}}");
	eff = children_tw_effective_spec(own, &d);
	assert_null(at(eff, "sinks.redis.password"));
	assert_null(at(eff, "sinks.redis.username"));
	cJSON_Delete(eff);
	cJSON_Delete(own);

	struct children_workload w = {.owner = owner,
	                              .kind_label = "telemetrywindow",
	                              .mode = "telemetry",
	                              .config_hash = "0123456789abcdef",
	                              .replicas = 1,
	                              .defaults = &d};
	dep = children_deployment(&w);
	assert_non_null(dep);
	env = at(dep, "spec.template.spec.containers.0.env");
	cJSON_ArrayForEach(e, env)
	{
		const char *n = str_at(e, "name");
		if (strcmp(n, "SLUICE_STATUS_REDIS_USERNAME") == 0)
			user = e;
		if (strcmp(n, "SLUICE_STATUS_REDIS_PASSWORD") == 0)
			pw = e;
	}
	assert_non_null(user);
	assert_string_equal(str_at(user, "value"), "sluice");
	assert_non_null(pw);
	assert_null(at(pw, "value"));
	assert_string_equal(str_at(pw, "valueFrom.secretKeyRef.name"), "redis-auth");
	assert_string_equal(str_at(pw, "valueFrom.secretKeyRef.key"), "password");
	cJSON_Delete(dep);

	/* Without a Secret: neither, whatever the user. */
	d.redis_password_secret = NULL;
	dep = children_deployment(&w);
	user = pw = NULL;
	cJSON_ArrayForEach(e, at(dep, "spec.template.spec.containers.0.env"))
	{
		if (strncmp(str_at(e, "name"), "SLUICE_STATUS_REDIS_", 20) == 0)
			pw = e;
	}
	assert_null(pw);
	cJSON_Delete(dep);
	cJSON_Delete(owner);
}

/* The default cluster's security (--kafka-tls, --kafka-*-secret...): a
 * resource that names no bootstrap, tls or sasl gets it in its effective
 * spec, so its workers get each Secret by secretKeyRef as a resource's own
 * references; a resource with its own bootstrap gets none. */
static void test_default_kafka_security(void **state)
{
	struct children_defaults d = defaults;
	cJSON *spec = cJSON_Parse("{\"kafka\":{\"topic\":\"telemetry\"},\"fields\":{"
	                          "\"timestamp\":\"ts\"},\"window\":{\"size\":\"30s\"}}");
	cJSON *owner = cJSON_Parse(owner_json), *eff, *dep;
	struct children_secret secrets[SPEC_KAFKA_SECRET_REFS_MAX];
	const cJSON *e, *pw = NULL;
	struct tw_spec ts;
	char err[512];
	size_t n;

	(void)state;
	d.kafka_bootstrap = "kafka.kafka.svc:9094";
	d.kafka_security = (struct spec_kafka_defaults){.ca = "kafka-ca/ca.crt",
	                                                .sasl_mechanism = "SCRAM-SHA-512",
	                                                .sasl_username = "kafka-user/username",
	                                                .sasl_password = "kafka-user/password"};
	eff = children_tw_effective_spec(spec, &d);
	assert_non_null(eff);
	assert_int_equal(tw_spec_parse(eff, "sensors", "media", &ts, err, sizeof(err)), 0);
	assert_string_equal(ts.kafka.bootstrap, "kafka.kafka.svc:9094");
	assert_true(ts.kafka.tls.enabled);
	n = children_kafka_secrets(&ts.kafka, secrets);
	assert_int_equal(n, 3);
	struct children_workload w = {.owner = owner,
	                              .kind_label = "telemetrywindow",
	                              .mode = "telemetry",
	                              .config_hash = "0123456789abcdef",
	                              .secrets = secrets,
	                              .n_secrets = n,
	                              .replicas = 1,
	                              .defaults = &d};
	dep = children_deployment(&w);
	assert_non_null(dep);
	cJSON_ArrayForEach(e, at(dep, "spec.template.spec.containers.0.env"))
	{
		if (strcmp(str_at(e, "name"), "SLUICE_SECRET_KAFKA_USER_PASSWORD") == 0)
			pw = e;
	}
	assert_non_null(pw);
	assert_null(at(pw, "value"));
	assert_string_equal(str_at(pw, "valueFrom.secretKeyRef.name"), "kafka-user");
	assert_string_equal(str_at(pw, "valueFrom.secretKeyRef.key"), "password");
	cJSON_Delete(dep);
	tw_spec_free(&ts);
	cJSON_Delete(eff);

	/* owner_json names its own bootstrap: no default security. */
	eff = children_tw_effective_spec(at(owner, "spec"), &d);
	assert_string_equal(str_at(eff, "kafka.bootstrap"), "k:9092");
	assert_null(at(eff, "kafka.tls"));
	assert_null(at(eff, "kafka.sasl"));
	cJSON_Delete(eff);
	cJSON_Delete(owner);
	cJSON_Delete(spec);
}

static void test_config_json_and_hash(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	char h1[32], h2[32];
	(void)state;
	char *a = children_config_json("sensors", "media", at(owner, "spec"));
	char *b = children_config_json("sensors", "media", at(owner, "spec"));
	assert_non_null(a);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "{\"name\":\"sensors\",\"namespace\":\"media\",\"spec\":{"));
	children_config_hash(a, h1, sizeof(h1));
	assert_int_equal(strlen(h1), 16);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(owner, "spec"), "window",
	                          cJSON_Parse("{\"size\":\"1m\"}"));
	char *c = children_config_json("sensors", "media", at(owner, "spec"));
	children_config_hash(c, h2, sizeof(h2));
	assert_string_not_equal(h1, h2);
	free(a);
	free(b);
	free(c);
	cJSON_Delete(owner);
}

static void test_configmap_owner_and_labels(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	(void)state;
	cJSON *cm = children_configmap(owner, "telemetrywindow", "{}");
	assert_non_null(cm);
	assert_string_equal(str_at(cm, "metadata.name"), "sensors-config");
	assert_string_equal(str_at(cm, "metadata.namespace"), "media");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(at(cm, "data"), "config.json")), "{}");
	const cJSON *ref = at(cm, "metadata.ownerReferences.0");
	assert_string_equal(str_at(ref, "uid"), "u-1");
	assert_string_equal(str_at(ref, "kind"), "TelemetryWindow");
	assert_string_equal(str_at(ref, "apiVersion"), "sluice.dev/v1alpha1");
	assert_true(cJSON_IsTrue(at(ref, "controller")));
	assert_true(cJSON_IsTrue(at(ref, "blockOwnerDeletion")));
	const cJSON *labels = at(cm, "metadata.labels");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(labels, "app.kubernetes.io/managed-by")),
	    "sluice-operator");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(labels, "sluice.dev/telemetrywindow")),
	    "sensors");
	cJSON_Delete(cm);

	/* No uid: no owner reference, so no child. */
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(owner, "metadata"), "uid");
	assert_null(children_configmap(owner, "telemetrywindow", "{}"));
	cJSON_Delete(owner);
}

static void test_deployment(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	struct children_secret secrets[] = {{"pg", "dsn"}, {"influx", "token"}, {"pg", "dsn"}};
	(void)state;
	struct children_workload w = {.owner = owner,
	                              .kind_label = "telemetrywindow",
	                              .mode = "telemetry",
	                              .config_hash = "0123456789abcdef",
	                              .secrets = secrets,
	                              .n_secrets = 3,
	                              .replicas = 2,
	                              .defaults = &defaults};
	cJSON *d = children_deployment(&w);
	assert_non_null(d);
	assert_string_equal(str_at(d, "metadata.name"), "sensors-telemetry");
	assert_int_equal(at(d, "spec.replicas")->valueint, 2);
	const cJSON *ml = at(d, "spec.selector.matchLabels");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItem(ml, "sluice.dev/telemetrywindow")), "sensors");
	const cJSON *tmpl = at(d, "spec.template");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
	                        at(tmpl, "metadata.annotations"), CHILDREN_CONFIG_HASH)),
	                    "0123456789abcdef");
	const cJSON *c = at(tmpl, "spec.containers.0");
	assert_string_equal(str_at(c, "image"), "sluice-worker:test");
	assert_string_equal(str_at(c, "command.0"), "sluice-worker");
	assert_string_equal(str_at(c, "args.0"), "telemetry");
	assert_string_equal(str_at(c, "args.1"), "--config");
	assert_string_equal(str_at(c, "args.2"), "/etc/sluice/config.json");
	assert_string_equal(str_at(c, "volumeMounts.0.mountPath"), "/etc/sluice");
	assert_string_equal(str_at(tmpl, "spec.volumes.0.configMap.name"), "sensors-config");
	/* env: pod fields, the endpoint on the pod's address, two secrets (the
	 * repeat dropped), the status Redis, the client id, the port file. */
	const cJSON *env = at(c, "env");
	assert_int_equal(cJSON_GetArraySize(env), 9);
	assert_string_equal(str_at(env, "0.name"), "POD_NAME");
	assert_string_equal(str_at(env, "0.valueFrom.fieldRef.fieldPath"), "metadata.name");
	assert_string_equal(str_at(env, "1.name"), "POD_NAMESPACE");
	assert_string_equal(str_at(env, "2.name"), "POD_IP");
	assert_string_equal(str_at(env, "2.valueFrom.fieldRef.fieldPath"), "status.podIP");
	assert_string_equal(str_at(env, "3.name"), "SLUICE_METRICS_ADDR");
	assert_string_equal(str_at(env, "3.value"), "$(POD_IP)");
	assert_string_equal(str_at(env, "4.name"), "SLUICE_SECRET_PG_DSN");
	assert_string_equal(str_at(env, "4.valueFrom.secretKeyRef.name"), "pg");
	assert_string_equal(str_at(env, "4.valueFrom.secretKeyRef.key"), "dsn");
	assert_string_equal(str_at(env, "5.name"), "SLUICE_SECRET_INFLUX_TOKEN");
	assert_string_equal(str_at(env, "6.name"), "SLUICE_STATUS_REDIS");
	assert_string_equal(str_at(env, "6.value"), "redis:6379");
	assert_string_equal(str_at(env, "7.name"), "SLUICE_KAFKA_CLIENT_ID");
	assert_string_equal(str_at(env, "7.value"), "$(POD_NAME)");
	assert_string_equal(str_at(env, "8.name"), "SLUICE_METRICS_PORT_FILE");
	assert_string_equal(str_at(env, "8.value"), "/run/sluice/metrics-port");
	/* The metrics port, named for the workers' PodMonitor. */
	assert_string_equal(str_at(c, "ports.0.name"), "metrics");
	assert_int_equal(at(c, "ports.0.containerPort")->valueint, 9090);
	assert_true(cJSON_IsTrue(at(c, "securityContext.readOnlyRootFilesystem")));
	cJSON_Delete(d);

	/* replicas < 0: left out, the scaler's field. An image of its own. */
	w.replicas = -1;
	w.image = "mine:1";
	d = children_deployment(&w);
	assert_null(at(d, "spec.replicas"));
	assert_string_equal(str_at(d, "spec.template.spec.containers.0.image"), "mine:1");
	cJSON_Delete(d);

	/* A Job of the same pod. */
	w.mode = "split";
	cJSON *j = children_job(&w, 2);
	assert_string_equal(str_at(j, "kind"), "Job");
	assert_string_equal(str_at(j, "metadata.name"), "sensors-split");
	assert_string_equal(str_at(j, "spec.template.spec.restartPolicy"), "Never");
	assert_int_equal(at(j, "spec.backoffLimit")->valueint, 2);
	/* It runs to completion: no probes. */
	assert_null(at(j, "spec.template.spec.containers.0.readinessProbe"));
	assert_null(at(j, "spec.template.spec.containers.0.livenessProbe"));
	cJSON_Delete(j);

	/* No image anywhere: refused. */
	struct children_defaults noimg = {0};
	w.image = NULL;
	w.defaults = &noimg;
	assert_null(children_deployment(&w));
	cJSON_Delete(owner);
}

/* What a cluster that enforces Pod Security "restricted" and runs many
 * replicas on one node needs of every worker pod. */
static void test_pod_fit_for_any_cluster(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	struct children_workload w = {.owner = owner,
	                              .kind_label = "telemetrywindow",
	                              .mode = "telemetry",
	                              .config_hash = "0123456789abcdef",
	                              .replicas = 1,
	                              .defaults = &defaults};
	(void)state;
	cJSON *d = children_deployment(&w);
	const cJSON *ps = at(d, "spec.template.spec");
	const cJSON *c = at(ps, "containers.0");
	assert_true(cJSON_IsTrue(at(ps, "securityContext.runAsNonRoot")));
	assert_int_equal(at(ps, "securityContext.runAsUser")->valueint, 65532);
	assert_int_equal(at(ps, "securityContext.runAsGroup")->valueint, 65532);
	assert_string_equal(str_at(ps, "securityContext.seccompProfile.type"), "RuntimeDefault");
	assert_true(cJSON_IsFalse(at(c, "securityContext.allowPrivilegeEscalation")));
	assert_string_equal(str_at(c, "securityContext.capabilities.drop.0"), "ALL");
	/* Workers never call the API server. */
	assert_true(cJSON_IsFalse(at(ps, "automountServiceAccountToken")));
	/* Probes the kubelet runs in the container, on whatever port it got. */
	assert_string_equal(str_at(c, "readinessProbe.exec.command.0"), "sluice-worker");
	assert_string_equal(str_at(c, "readinessProbe.exec.command.1"), "probe");
	assert_string_equal(str_at(c, "readinessProbe.exec.command.2"), "/readyz");
	assert_string_equal(str_at(c, "livenessProbe.exec.command.2"), "/healthz");
	assert_string_equal(str_at(c, "terminationMessagePolicy"), "FallbackToLogsOnError");
	assert_string_equal(str_at(c, "volumeMounts.1.mountPath"), "/run/sluice");
	assert_string_equal(str_at(ps, "volumes.1.emptyDir.medium"), "Memory");
	/* Its own network by default. */
	assert_null(at(ps, "hostNetwork"));
	cJSON_Delete(d);

	/* On the host network each replica picks a free port. */
	struct children_defaults host = defaults;
	host.host_network = 1;
	w.defaults = &host;
	d = children_deployment(&w);
	ps = at(d, "spec.template.spec");
	assert_true(cJSON_IsTrue(at(ps, "hostNetwork")));
	assert_string_equal(str_at(ps, "dnsPolicy"), "ClusterFirstWithHostNet");
	const cJSON *env = at(ps, "containers.0.env");
	assert_string_equal(str_at(env, "2.name"), "POD_IP");
	assert_string_equal(str_at(env, "6.name"), "SLUICE_METRICS_PORT");
	assert_string_equal(str_at(env, "6.value"), "0");
	/* No port declared, no address but loopback. */
	assert_null(at(ps, "containers.0.ports"));
	for (int i = 0; i < cJSON_GetArraySize(env); i++)
		assert_string_not_equal(cJSON_GetArrayItem(env, i)->child->valuestring,
		                        "SLUICE_METRICS_ADDR");
	cJSON_Delete(d);

	/* The resource's placement and env; its env wins over the operator's. */
	cJSON *workers = cJSON_Parse(
	    "{\"env\":[{\"name\":\"SLUICE_KAFKA_CLIENT_ID\",\"value\":\"mine\"},"
	    "{\"name\":\"SLUICE_LOG_LEVEL\",\"value\":\"debug\"}],"
	    "\"nodeSelector\":{\"disk\":\"ssd\"},\"tolerations\":[{\"operator\":\"Exists\"}],"
	    "\"affinity\":{\"nodeAffinity\":{}},\"serviceAccountName\":\"video\"}");
	cJSON *volume = cJSON_Parse("{\"mountPath\":\"/data\",\"subPath\":\"jobs\","
	                            "\"persistentVolumeClaim\":{\"claimName\":\"videos\"}}");
	w.workers = workers;
	w.volume = volume;
	w.defaults = &defaults;
	d = children_deployment(&w);
	ps = at(d, "spec.template.spec");
	env = at(ps, "containers.0.env");
	int client_ids = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, env)
	{
		if (strcmp(str_at(e, "name"), "SLUICE_KAFKA_CLIENT_ID") == 0) {
			client_ids++;
			assert_string_equal(str_at(e, "value"), "mine");
		}
	}
	assert_int_equal(client_ids, 1);
	assert_string_equal(str_at(env, "3.name"), "SLUICE_METRICS_ADDR");
	assert_string_equal(str_at(env, "4.name"), "SLUICE_STATUS_REDIS");
	assert_string_equal(str_at(env, "5.name"), "SLUICE_METRICS_PORT_FILE");
	assert_string_equal(str_at(env, "6.name"), "SLUICE_KAFKA_CLIENT_ID");
	assert_string_equal(str_at(env, "7.name"), "SLUICE_LOG_LEVEL");
	assert_string_equal(str_at(ps, "nodeSelector.disk"), "ssd");
	assert_string_equal(str_at(ps, "tolerations.0.operator"), "Exists");
	assert_non_null(at(ps, "affinity.nodeAffinity"));
	assert_string_equal(str_at(ps, "serviceAccountName"), "video");
	assert_null(at(ps, "automountServiceAccountToken"));
	assert_string_equal(str_at(ps, "volumes.2.name"), "data");
	assert_string_equal(str_at(ps, "volumes.2.persistentVolumeClaim.claimName"), "videos");
	assert_null(at(ps, "volumes.2.mountPath"));
	assert_string_equal(str_at(ps, "containers.0.volumeMounts.2.mountPath"), "/data");
	assert_string_equal(str_at(ps, "containers.0.volumeMounts.2.subPath"), "jobs");
	assert_null(at(ps, "containers.0.volumeMounts.2.readOnly"));
	cJSON_Delete(d);
	cJSON_Delete(workers);
	cJSON_Delete(volume);
	cJSON_Delete(owner);
}

static void test_name_bound(void **state)
{
	char name[80];
	(void)state;
	memset(name, 'a', sizeof(name));
	name[63] = '\0';
	assert_true(children_name_ok(name));
	name[63] = 'a';
	name[64] = '\0';
	assert_false(children_name_ok(name));
	assert_false(children_name_ok(""));
}

static void test_conditions_transition_time(void **state)
{
	cJSON *old = cJSON_CreateArray(), *now = cJSON_CreateArray(), *again = cJSON_CreateArray();
	(void)state;
	assert_int_equal(conditions_add(old, NULL, "Ready", "False", "TopicNotFound", "x", 1,
	                                "2026-01-01T00:00:00Z"),
	                 0);
	/* Same status, new reason: the time stays. */
	assert_int_equal(conditions_add(now, old, "Ready", "False", "KafkaUnavailable", "y", 2,
	                                "2026-01-02T00:00:00Z"),
	                 0);
	assert_string_equal(str_at(now, "0.lastTransitionTime"), "2026-01-01T00:00:00Z");
	assert_int_equal(at(now, "0.observedGeneration")->valueint, 2);
	/* A new status: the time moves. */
	assert_int_equal(
	    conditions_add(again, now, "Ready", "True", "Running", NULL, 2, "2026-01-03T00:00:00Z"),
	    0);
	assert_string_equal(str_at(again, "0.lastTransitionTime"), "2026-01-03T00:00:00Z");
	assert_string_equal(conditions_status(again, "Ready"), "True");
	assert_string_equal(conditions_reason(again, "Ready"), "Running");
	assert_string_equal(conditions_status(again, "Other"), "");
	cJSON_Delete(old);
	cJSON_Delete(now);
	cJSON_Delete(again);
}

static void test_status_changed(void **state)
{
	cJSON *old = cJSON_Parse("{\"phase\":\"Running\",\"replicas\":2,\"lag\":5}");
	cJSON *same = cJSON_Parse("{\"phase\":\"Running\",\"replicas\":2}");
	cJSON *diff = cJSON_Parse("{\"phase\":\"Running\",\"replicas\":3}");
	(void)state;
	assert_false(reconcile_status_changed(old, same));
	assert_true(reconcile_status_changed(old, diff));
	assert_true(reconcile_status_changed(NULL, same));
	cJSON_Delete(old);
	cJSON_Delete(same);
	cJSON_Delete(diff);
}

static void test_event(void **state)
{
	cJSON *owner = cJSON_Parse(owner_json);
	(void)state;
	cJSON *e = events_build(owner, EVENTS_WARNING, "TopicNotFound", "topic t missing",
	                        "Reconcile", "op-1", 1700000000123456LL);
	assert_non_null(e);
	assert_string_equal(str_at(e, "apiVersion"), "events.k8s.io/v1");
	assert_string_equal(str_at(e, "type"), "Warning");
	assert_string_equal(str_at(e, "eventTime"), "2023-11-14T22:13:20.123456Z");
	assert_string_equal(str_at(e, "regarding.uid"), "u-1");
	assert_string_equal(str_at(e, "regarding.kind"), "TelemetryWindow");
	assert_string_equal(str_at(e, "metadata.namespace"), "media");
	assert_non_null(strstr(str_at(e, "metadata.name"), "sensors."));
	assert_string_equal(str_at(e, "reportingController"), EVENTS_CONTROLLER);
	cJSON_Delete(e);
	cJSON_Delete(owner);
}

static void test_redis_pattern(void **state)
{
	char buf[64];
	(void)state;
	assert_int_equal(redis_keys_pattern("sluice:tw:a:b:", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sluice:tw:a:b:*");
	assert_int_equal(redis_keys_pattern("x*y?[z]\\", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "x\\*y\\?\\[z\\]\\\\*");
	assert_int_equal(redis_keys_pattern("abcdef", buf, 7), -1);
	assert_int_equal(redis_keys_pattern("abcdef", buf, 8), 0);
}

static void test_vj_phase(void **state)
{
	struct vj_state st = {.failed = ""};
	const char *reason;
	char msg[256], pct[8];
	(void)state;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Splitting");
	st.split_job_failed = 1;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Failed");
	assert_string_equal(reason, "SplitFailed");
	st.split_job_failed = 0;
	st.split_done = 1;
	st.segments_total = 4;
	st.segments_done = 1;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Processing");
	assert_string_equal(msg, "1 of 4 segments done");
	/* A failed segment still being retried is not the end... */
	st.segments_failed = 1;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Processing");
	/* ...but once every segment is done or failed for good, it is. */
	st.segments_done = 3;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Failed");
	assert_string_equal(reason, "SegmentsFailed");
	st.segments_failed = 0;
	st.segments_done = 4;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Assembling");
	st.assemble_job_failed = 1;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Failed");
	assert_string_equal(reason, "AssembleFailed");
	st.assembled = 1;
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Succeeded");
	st.failed = "split: open: Invalid data";
	assert_string_equal(reconcile_vj_phase(&st, &reason, msg, sizeof(msg)), "Failed");
	assert_string_equal(reason, "JobFailed");
	assert_string_equal(msg, "split: open: Invalid data");

	assert_string_equal(reconcile_vj_progress(0, 0, pct, sizeof(pct)), "0%");
	assert_string_equal(reconcile_vj_progress(1, 3, pct, sizeof(pct)), "33%");
	assert_string_equal(reconcile_vj_progress(3, 3, pct, sizeof(pct)), "100%");
	assert_string_equal(reconcile_vj_progress(5, 3, pct, sizeof(pct)), "100%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_effective_spec_fills_only_missing_sinks),
	    cmocka_unit_test(test_status_redis_auth),
	    cmocka_unit_test(test_default_kafka_security),
	    cmocka_unit_test(test_config_json_and_hash),
	    cmocka_unit_test(test_configmap_owner_and_labels),
	    cmocka_unit_test(test_deployment),
	    cmocka_unit_test(test_pod_fit_for_any_cluster),
	    cmocka_unit_test(test_name_bound),
	    cmocka_unit_test(test_conditions_transition_time),
	    cmocka_unit_test(test_status_changed),
	    cmocka_unit_test(test_event),
	    cmocka_unit_test(test_redis_pattern),
	    cmocka_unit_test(test_vj_phase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
