/*
 * main.c - sluice-operator: turns VideoJob and TelemetryWindow resources
 * into Kafka-consuming worker Deployments (docs/architecture.md). Reads its options
 * (docs/contracts.md §4), connects to the API server (--kubeconfig or in-cluster),
 * starts the controller (controller.h) and serves /metrics, /healthz and
 * /readyz (ready once every cache has listed) until SIGTERM or SIGINT,
 * then stops the reflectors, lets reconciles in progress finish and exits.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app.h"
#include "autoscaler.h"
#include "clock.h"
#include "controller.h"
#include "kube_client.h"
#include "kube_config.h"
#include "leader.h"
#include "log.h"
#include "probe.h"
#include "redis_conn.h"
#include "signals.h"
#include "spec_defaults.h"

static const char *const pull_policies[] = {"", "Always", "IfNotPresent", "Never", NULL};

static const struct config_option options[] = {
    APP_COMMON_OPTIONS("8080"),
    LEADER_OPTIONS,
    KUBE_CONFIG_OPTION("kubeconfig"),
    {.name = "namespace",
     .flag = "--namespace",
     .env = "SLUICE_NAMESPACE",
     .type = CONFIG_STRING,
     .def = "",
     .help = "Namespace whose resources are reconciled; empty: all namespaces."},
    {.name = "worker-image",
     .flag = "--worker-image",
     .env = "SLUICE_WORKER_IMAGE",
     .type = CONFIG_STRING,
     .def = "sluice-worker:latest",
     .help = "Image of the worker pods, unless a resource names its own."},
    {.name = "worker-image-pull-policy",
     .flag = "--worker-image-pull-policy",
     .env = "SLUICE_WORKER_IMAGE_PULL_POLICY",
     .type = CONFIG_ENUM,
     .def = "",
     .choices = pull_policies,
     .help = "imagePullPolicy of the worker pods (Always, IfNotPresent, Never); empty: "
             "Kubernetes' default for the tag."},
    {.name = "worker-host-network",
     .flag = "--worker-host-network",
     .env = "SLUICE_WORKER_HOST_NETWORK",
     .type = CONFIG_BOOL,
     .def = "false",
     .help = "Run worker pods on the node's network (hostNetwork), e.g. where the servers "
             "they use listen on the node's loopback; each replica then picks a free port "
             "for its endpoint."},
    {.name = "watcher-api-server",
     .flag = "--watcher-api-server",
     .env = "SLUICE_WATCHER_API_SERVER",
     .type = CONFIG_STRING,
     .help = "host:port of the API server for the VideoWatch watcher pods (their "
             "KUBERNETES_SERVICE_HOST and _PORT), where the cluster's Service address does not "
             "reach it (host-network pods without kube-proxy)."},
    {.name = "dashboard-url",
     .flag = "--dashboard-url",
     .env = "SLUICE_DASHBOARD_URL",
     .type = CONFIG_STRING,
     .help = "The dashboard's URL: an upload's answer links to its VideoJob there."},
    {.name = "kafka-bootstrap",
     .flag = "--kafka-bootstrap",
     .env = "SLUICE_KAFKA_BOOTSTRAP",
     .type = CONFIG_STRING,
     .help = "Default Kafka bootstrap servers (host:port,...) for resources that name none."},
    SPEC_DEFAULTS_KAFKA_OPTIONS,
    {.name = "redis-addr",
     .flag = "--redis-addr",
     .env = "SLUICE_REDIS_ADDR",
     .type = CONFIG_STRING,
     .help = "Status Redis (host:port): workers report progress there (SLUICE_STATUS_REDIS), "
             "and the default sinks.redis."},
    {.name = "status-redis-username",
     .flag = "--status-redis-username",
     .env = "SLUICE_STATUS_REDIS_USERNAME",
     .type = CONFIG_STRING,
     .help = "ACL user of the status Redis (empty: the default user); the workers get it too."},
    {.name = "status-redis-password-file",
     .flag = "--status-redis-password-file",
     .env = "SLUICE_STATUS_REDIS_PASSWORD_FILE",
     .type = CONFIG_STRING,
     .help = "File holding the status Redis's password (a mounted Secret); else the "
             "environment's SLUICE_STATUS_REDIS_PASSWORD; neither: no AUTH."},
    {.name = "status-redis-password-secret",
     .flag = "--status-redis-password-secret",
     .env = "SLUICE_STATUS_REDIS_PASSWORD_SECRET",
     .type = CONFIG_STRING,
     .help = "Secret, in each resource's namespace, holding that password: the workers get it "
             "as SLUICE_STATUS_REDIS_PASSWORD (secretKeyRef), the default sinks.redis too."},
    {.name = "status-redis-password-key",
     .flag = "--status-redis-password-key",
     .env = "SLUICE_STATUS_REDIS_PASSWORD_KEY",
     .type = CONFIG_STRING,
     .def = "password",
     .help = "Key of the password in --status-redis-password-secret."},
    {.name = "postgres-secret",
     .flag = "--postgres-secret",
     .env = "SLUICE_POSTGRES_SECRET",
     .type = CONFIG_STRING,
     .help = "Secret with key \"dsn\": the default sinks.postgres.dsn."},
    {.name = "influx-url",
     .flag = "--influx-url",
     .env = "SLUICE_INFLUX_URL",
     .type = CONFIG_STRING,
     .help = "Default sinks.influxdb.url (with --influx-database)."},
    {.name = "influx-database",
     .flag = "--influx-database",
     .env = "SLUICE_INFLUX_DATABASE",
     .type = CONFIG_STRING,
     .help = "Default sinks.influxdb.database."},
    {.name = "workers",
     .flag = "--workers",
     .env = "SLUICE_WORKERS",
     .type = CONFIG_INT,
     .def = "4",
     .min = 1,
     .max = 64,
     .help = "Reconciles that may run at once (never two for one resource)."},
    {.name = "resync-period",
     .flag = "--resync-period",
     .env = "SLUICE_RESYNC_PERIOD",
     .type = CONFIG_DURATION,
     .def = "30s",
     .min = 1000,
     .max = 3600000,
     .help = "How often a resource is looked at again without a change (topics, progress)."},
    {.name = "polling-interval",
     .flag = "--polling-interval",
     .env = "SLUICE_POLLING_INTERVAL",
     .type = CONFIG_DURATION,
     .def = "5s",
     .min = 100,
     .max = 3600000,
     .help = "How often each resource's consumer-group lag is read and its workers scaled."},
    {.name = "stabilization-window",
     .flag = "--stabilization-window",
     .env = "SLUICE_STABILIZATION_WINDOW",
     .type = CONFIG_DURATION,
     .def = "5m",
     .min = 0,
     .max = 86400000,
     .help = "Scale down only to the highest replica count asked for within this window."},
    {.name = "cooldown-period",
     .flag = "--cooldown-period",
     .env = "SLUICE_COOLDOWN_PERIOD",
     .type = CONFIG_DURATION,
     .def = "5m",
     .min = 0,
     .max = 86400000,
     .help = "Scale to zero (minReplicas 0) only after the lag stayed at or below the "
             "activation threshold this long."},
    {.name = "trend-window",
     .flag = "--trend-window",
     .env = "SLUICE_TREND_WINDOW",
     .type = CONFIG_DURATION,
     .def = "60s",
     .min = 0,
     .max = 86400000,
     .help = "The span the lag's growth is measured over to add a replica early while it "
             "grows; 0 turns the trend rule off."},
    {.name = "fallback-replicas",
     .flag = "--fallback-replicas",
     .env = "SLUICE_FALLBACK_REPLICAS",
     .type = CONFIG_INT,
     .def = "-1",
     .min = -1,
     .max = 1000,
     .help = "Replicas to run while a resource's lag cannot be read (after "
             "--fallback-failure-threshold failed reads in a row); -1: none, keep the "
             "current count."},
    {.name = "fallback-failure-threshold",
     .flag = "--fallback-failure-threshold",
     .env = "SLUICE_FALLBACK_FAILURE_THRESHOLD",
     .type = CONFIG_INT,
     .def = "3",
     .min = 0,
     .max = 1000,
     .help = "Failed lag reads in a row before --fallback-replicas applies."},
    {0},
};

static const char usage[] = "Usage: sluice-operator [options]\n"
                            "\n"
                            "Runs the Sluice Kubernetes operator. Options also come from the\n"
                            "environment and a YAML file; flags win over both.\n";

/* The controller once started, for /readyz (read on the HTTP thread). */
static _Atomic(struct controller *) running;

/* Leadership as the elector's callbacks report it, read by the main loop:
 * 1 leading, 0 not. A replica that loses the lead (the API server away
 * past the renew deadline) stops reconciling and stays a candidate: the
 * process outlives an API server restart and leads again when it can. */
static atomic_int leading;

static void started_leading(void *arg)
{
	(void)arg;
	atomic_store(&leading, 1);
}

static int is_leading(void *arg)
{
	(void)arg;
	return atomic_load(&leading) == 1;
}

static void stopped_leading(void *arg)
{
	(void)arg;
	atomic_store(&leading, 0);
}

static int readyz(void *arg, char *reason, size_t reason_size)
{
	(void)arg;
	return controller_ready(atomic_load(&running), reason, reason_size);
}

/* This replica's name (POD_NAME or the host's), for /status: set once
 * main has it, read on the HTTP thread. */
static _Atomic(const char *) identity;

/* GET /status's state (docs/status.md), on the HTTP thread: what is shared
 * atomically or under the controller's own locks. */
static char *operator_state(void *arg)
{
	struct controller_status st;
	char at[CLOCK_RFC3339_MAX];
	cJSON *o = cJSON_CreateObject(), *res, *q, *err;
	char *text = NULL;

	(void)arg;
	controller_status(atomic_load(&running), &st);
	if (o == NULL)
		return NULL;
	const char *id = atomic_load(&identity);
	if (cJSON_AddStringToObject(o, "identity", id != NULL ? id : "") == NULL ||
	    cJSON_AddBoolToObject(o, "leader", atomic_load(&leading) == 1) == NULL ||
	    cJSON_AddBoolToObject(o, "reconciling", st.active) == NULL)
		goto out;
	res = cJSON_AddObjectToObject(o, "resources");
	for (size_t i = 0; res != NULL && i < st.nresources; i++) {
		cJSON *r = cJSON_AddObjectToObject(res, st.resource[i]);
		if (r == NULL ||
		    cJSON_AddNumberToObject(r, "cached", (double)st.objects[i]) == NULL ||
		    cJSON_AddBoolToObject(r, "synced", st.synced[i]) == NULL)
			goto out;
	}
	q = cJSON_AddObjectToObject(o, "workqueue");
	if (res == NULL || q == NULL ||
	    cJSON_AddNumberToObject(q, "depth", (double)st.queue_depth) == NULL ||
	    cJSON_AddNumberToObject(q, "waiting", (double)st.queue_waiting) == NULL ||
	    cJSON_AddNumberToObject(q, "processing", (double)st.queue_processing) == NULL ||
	    cJSON_AddNumberToObject(o, "reconcileErrors", (double)st.reconcile_errors) == NULL)
		goto out;
	if (st.last_error_key[0] == '\0') {
		if (cJSON_AddNullToObject(o, "lastReconcileError") == NULL)
			goto out;
	} else {
		err = cJSON_AddObjectToObject(o, "lastReconcileError");
		if (err == NULL || cJSON_AddStringToObject(err, "key", st.last_error_key) == NULL ||
		    clock_format_rfc3339(st.last_error_ns, at, sizeof(at)) < 0 ||
		    cJSON_AddStringToObject(err, "at", at) == NULL)
			goto out;
	}
	text = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return text;
}

static const char *opt(const struct config *cfg, const char *name)
{
	const char *v = config_get_string(cfg, name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Longest status Redis password read from a file. */
#define REDIS_PASSWORD_MAX 4096

/* The status Redis's password into buf: the file's first line when path is
 * set, else env SLUICE_STATUS_REDIS_PASSWORD; "" when neither. Returns 0,
 * or -1 with the reason in err (the file's, never its content). */
static int status_redis_password(const char *path, char *buf, size_t size, char *err,
                                 size_t err_size)
{
	const char *env = getenv(REDIS_CONN_ENV_PASSWORD);
	FILE *f;
	size_t n;

	buf[0] = '\0';
	if (path == NULL && env != NULL && strlen(env) >= size) {
		snprintf(err, err_size, "%s: longer than %zu bytes", REDIS_CONN_ENV_PASSWORD,
		         size - 1);
		return -1;
	}
	if (path == NULL) {
		snprintf(buf, size, "%s", env != NULL ? env : "");
		return 0;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, size - 1, f);
	if (ferror(f) || !feof(f)) {
		snprintf(err, err_size, "%s: %s", path,
		         ferror(f) ? "cannot read" : "too long for a password");
		fclose(f);
		explicit_bzero(buf, size);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0'; /* a Secret written with echo ends in \n */
	return 0;
}

int main(int argc, char **argv)
{
	struct app app = {.program = "sluice-operator",
	                  .component = "operator",
	                  .usage = usage,
	                  .options = options,
	                  .readyz = readyz,
	                  .state = operator_state};
	struct kube_config kcfg;
	struct kube_client *kube = NULL;
	struct controller *ctl = NULL;
	struct leader *elector = NULL;
	struct leader_config lc;
	struct autoscaler *scaler = NULL;
	char err[1024], host[256] = "sluice-operator";
	static char redis_password[REDIS_PASSWORD_MAX + 1];
	int status, rc = 1;

	/* The kubelet's exec probe (probe.h): replicas on one host network each
	 * listen on a port of their own, which only a port file tells. */
	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main("sluice-operator", argc, argv, 8080);

	/* One arena: the operator's threads mostly wait, and its RSS is a
	 * target (docs/operator.md, Size and speed); a second arena held
	 * megabytes freed by reconciles apart from the first's. Page-sized
	 * and larger buffers (LIST pages, watch lines) are mapped and unmapped
	 * apart from the heap. */
	app_limit_arenas(1);
	app_fix_mmap_threshold(64 * 1024);
	if (app_parse(&app, argc, argv, &status) < 0)
		return status;
	if (app_start(&app) < 0)
		goto out;

	const struct config *cfg = app.cfg;
	const char *kubeconfig = opt(cfg, "kubeconfig");

	if (status_redis_password(opt(cfg, "status-redis-password-file"), redis_password,
	                          sizeof(redis_password), err, sizeof(err)) != 0) {
		log_error("cannot read the status Redis password", "error", err, NULL);
		goto out;
	}
	struct spec_kafka_defaults kafka_security;
	if (spec_defaults_kafka_from(cfg, opt(cfg, "kafka-bootstrap"), &kafka_security, err,
	                             sizeof(err)) != 0) {
		log_error("bad Kafka defaults", "error", err, NULL);
		goto out;
	}
	const char *ns = config_get_string(cfg, "namespace");
	if (kube_config_load(&kcfg, kubeconfig, NULL, err, sizeof(err)) != 0) {
		log_error("cannot load the Kubernetes configuration", "error", err, NULL);
		goto out;
	}
	int workers = (int)config_get_int(cfg, "workers");
	struct kube_client_options ko = {.max_handles = (unsigned)workers + 6};
	if (kube_client_new(&kube, &kcfg, &ko, err, sizeof(err)) != 0) {
		log_error("cannot create the Kubernetes client", "error", err, NULL);
		kube_config_free(&kcfg);
		goto out;
	}
	if (getenv("POD_NAME") != NULL)
		snprintf(host, sizeof(host), "%s", getenv("POD_NAME"));
	else
		gethostname(host, sizeof(host) - 1);
	atomic_store(&identity, host);

	struct controller_options co = {
	    .kube = kube,
	    .namespace = ns,
	    .workers = workers,
	    .metrics = app.metrics,
	    .ctx =
	        {
	            .defaults =
	                {
	                    .worker_image = opt(cfg, "worker-image"),
	                    .kafka_bootstrap = opt(cfg, "kafka-bootstrap"),
	                    .kafka_security = kafka_security,
	                    .redis_addr = opt(cfg, "redis-addr"),
	                    .redis_username = opt(cfg, "status-redis-username"),
	                    .redis_password_secret = opt(cfg, "status-redis-password-secret"),
	                    .redis_password_key = opt(cfg, "status-redis-password-key"),
	                    .postgres_secret = opt(cfg, "postgres-secret"),
	                    .influx_url = opt(cfg, "influx-url"),
	                    .influx_database = opt(cfg, "influx-database"),
	                    .image_pull_policy = opt(cfg, "worker-image-pull-policy"),
	                    .host_network = config_get_bool(cfg, "worker-host-network"),
	                    .api_server = opt(cfg, "watcher-api-server"),
	                    .dashboard_url = opt(cfg, "dashboard-url"),
	                },
	            .redis_password = redis_password[0] != '\0' ? redis_password : NULL,
	            .instance = host,
	            .poll_ms = (int)config_get_duration_ms(cfg, "resync-period"),
	        },
	};
	log_info("operator running", "server", kube_client_config(kube)->server, "source",
	         kube_client_config(kube)->source, "namespace", ns[0] != '\0' ? ns : "(all)", NULL);
	if (controller_start(&ctl, &co, err, sizeof(err)) != 0) {
		log_error("cannot start the controller", "error", err, NULL);
		goto out;
	}
	atomic_store(&running, ctl);
	struct autoscaler_options ao = {
	    .ctx = controller_context(ctl),
	    .polling_ms = config_get_duration_ms(cfg, "polling-interval"),
	    .stabilization_ms = config_get_duration_ms(cfg, "stabilization-window"),
	    .cooldown_ms = config_get_duration_ms(cfg, "cooldown-period"),
	    .trend_ms = config_get_duration_ms(cfg, "trend-window"),
	    .fallback_replicas = (int32_t)config_get_int(cfg, "fallback-replicas"),
	    .fallback_failure_threshold =
	        (int32_t)config_get_int(cfg, "fallback-failure-threshold"),
	    .is_leader = is_leading,
	    .metrics = app.metrics,
	};
	if (autoscaler_start(&scaler, &ao, err, sizeof(err)) != 0) {
		log_error("cannot start the autoscaler", "error", err, NULL);
		goto out;
	}

	/* The caches fill on every replica; only the leader reconciles. */
	if (leader_config_from(&lc, cfg, err, sizeof(err)) != 0) {
		log_error("bad leader election options", "error", err, NULL);
		goto out;
	}
	lc.on_started_leading = started_leading;
	lc.on_stopped_leading = stopped_leading;
	if (leader_start(&elector, kube_client_config(kube), &lc, app.metrics, err, sizeof(err)) !=
	    0) {
		log_error("cannot start leader election", "error", err, NULL);
		goto out;
	}

	/* Until SIGTERM/SIGINT; leadership is checked every 100 ms, the
	 * metrics that mirror counters move every second. */
	int w, active = 0, tick = 0;
	while ((w = signals_wait(100)) == 0) {
		int l = atomic_load(&leading);
		if (l == 1 && !active) {
			if (controller_activate(ctl, err, sizeof(err)) != 0) {
				log_error("cannot start reconciling", "error", err, NULL);
				break;
			}
			active = 1;
		} else if (l == 0 && active) {
			controller_deactivate(ctl);
			active = 0;
		}
		if (++tick % 10 == 0)
			controller_update_metrics(ctl);
		if (tick % 100 == 0)
			app_trim_memory(); /* every 10 s: what bursts of events freed */
	}
	if (w < 0)
		log_error("cannot wait for signals", NULL);
	else if (w > 0)
		log_info("stop requested", "signal", signals_last() == 15 ? "SIGTERM" : "SIGINT",
		         NULL);
	rc = w > 0 ? 0 : 1;
out:
	atomic_store(&running, NULL);
	/* Reconciles and scaling end before the Lease is released, so the
	 * next leader never overlaps with this one. */
	autoscaler_stop(scaler);
	controller_stop(ctl);
	leader_stop(elector);
	kube_client_free(kube);
	app_stop(&app);
	return rc;
}
