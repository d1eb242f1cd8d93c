/*
 * main.c - sluice-dashboard: a web page and a JSON API showing every
 * VideoJob, TelemetryWindow and VideoWatch live, with their results from
 * PostgreSQL and Redis, a VideoWatch's upload form and a TelemetryWindow's
 * CSV load form (docs/dashboard.md). Reads its options (flags, environment,
 * YAML file, as every Sluice binary), caches the three kinds from the API
 * server (--kubeconfig or in-cluster) and serves the page, /api/v1/...,
 * /metrics, /healthz and /readyz (ready once VideoJobs and
 * TelemetryWindows are listed) on --listen-addr:--port until SIGTERM or
 * SIGINT.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "dash_api.h"
#include "dash_cache.h"
#include "dash_load.h"
#include "dash_store.h"
#include "kube_client.h"
#include "kube_config.h"
#include "log.h"
#include "spec_defaults.h"

static const struct config_option options[] = {
    {.name = "log.level",
     .flag = "--log-level",
     .env = "SLUICE_LOG_LEVEL",
     .type = CONFIG_ENUM,
     .def = "info",
     .choices = app_log_levels,
     .help = "Lowest level that is logged."},
    /* The endpoint app_start serves: the page and the API beside /metrics,
     * /healthz and /readyz, under the dashboard's own flag names. */
    {.name = "metrics.addr",
     .flag = "--listen-addr",
     .env = "SLUICE_DASHBOARD_LISTEN_ADDR",
     .type = CONFIG_STRING,
     .def = "127.0.0.1",
     .help = "IP address the page, the API, /metrics, /healthz and /readyz listen on "
             "(0.0.0.0 in a pod)."},
    {.name = "metrics.port",
     .flag = "--port",
     .env = "SLUICE_DASHBOARD_PORT",
     .type = CONFIG_INT,
     .def = "8088",
     .min = 0,
     .max = 65535,
     .help = "Port of that endpoint; 0 picks a free one."},
    {.name = "metrics.port_file",
     .flag = "--port-file",
     .env = "SLUICE_DASHBOARD_PORT_FILE",
     .type = CONFIG_STRING,
     .help = "Write the endpoint's port to this file once it listens."},
    KUBE_CONFIG_OPTION("kubeconfig"),
    {.name = "namespace",
     .flag = "--namespace",
     .env = "SLUICE_NAMESPACE",
     .type = CONFIG_STRING,
     .def = "",
     .help = "Namespace whose resources are shown; empty: all namespaces."},
    {.name = "worker-binary",
     .flag = "--worker-binary",
     .env = "SLUICE_WORKER_BINARY",
     .type = CONFIG_STRING,
     .def = "",
     .help = "sluice-worker, run as `sluice-worker load` for the load form; empty: the one "
             "beside this binary, else sluice-worker on PATH."},
    {.name = "history-window",
     .flag = "--history-window",
     .env = "SLUICE_HISTORY_WINDOW",
     .type = CONFIG_DURATION,
     .def = "1h",
     .min = 60000,
     .max = 7 * 86400000LL,
     .help = "How far back the replicas and lag charts go (kept in memory), and the "
             "default span of a TelemetryWindow's history."},
    {.name = "sample-interval",
     .flag = "--sample-interval",
     .env = "SLUICE_SAMPLE_INTERVAL",
     .type = CONFIG_DURATION,
     .def = "5s",
     .min = 1000,
     .max = 600000,
     .help = "How often every resource's replicas and lag are sampled."},
    {.name = "kafka-bootstrap",
     .flag = "--kafka-bootstrap",
     .env = "SLUICE_KAFKA_BOOTSTRAP",
     .type = CONFIG_STRING,
     .help = "As the operator's: Kafka for a TelemetryWindow that names none (the load "
             "form)."},
    SPEC_DEFAULTS_KAFKA_OPTIONS,
    {.name = "redis-addr",
     .flag = "--redis-addr",
     .env = "SLUICE_REDIS_ADDR",
     .type = CONFIG_STRING,
     .help = "As the operator's: the Redis sink of a TelemetryWindow that names none."},
    {.name = "postgres-secret",
     .flag = "--postgres-secret",
     .env = "SLUICE_POSTGRES_SECRET",
     .type = CONFIG_STRING,
     .help = "As the operator's: Secret (key \"dsn\", in the resource's namespace) of the "
             "PostgreSQL sink of a resource that names none."},
    {.name = "store-timeout",
     .flag = "--store-timeout",
     .env = "SLUICE_STORE_TIMEOUT",
     .type = CONFIG_DURATION,
     .def = "10s",
     .min = 100,
     .max = 300000,
     .help = "Connect and query timeout for PostgreSQL and Redis."},
    {.name = "load-max-bytes",
     .flag = "--load-max-bytes",
     .env = "SLUICE_LOAD_MAX_BYTES",
     .type = CONFIG_INT,
     .def = "268435456",
     .min = 1,
     .max = 1LL << 40,
     .help = "Largest CSV file the load form takes (written to --work-dir while the loader "
             "runs)."},
    {.name = "work-dir",
     .flag = "--work-dir",
     .env = "SLUICE_WORK_DIR",
     .type = CONFIG_STRING,
     .def = "",
     .help = "Where loaded CSV files wait for the loader; empty: $TMPDIR, else /tmp."},
    {0},
};

static const char usage[] = "Usage: sluice-dashboard [options]\n"
                            "\n"
                            "Serves the Sluice dashboard: a web page and a JSON API (/api/v1/)\n"
                            "showing every VideoJob, TelemetryWindow and VideoWatch live.\n"
                            "Options also come from the environment and a YAML file; flags\n"
                            "win over both.\n";

/* The API once built; requests before it exists get a 503. The handler
 * httpd gets forwards to it. */
static _Atomic(struct dash_api *) api;
static _Atomic(struct dash_cache *) cache;

static void fw_begin(void *arg, struct httpd_request *r, void **state)
{
	struct dash_api *a = atomic_load(&api);

	(void)arg;
	*state = NULL;
	if (a == NULL) {
		(void)httpd_respond_text(r, 503, "starting");
		return;
	}
	const struct httpd_handler *h = dash_api_handler(a);
	h->begin(h->arg, r, state);
}

static void fw_body(void *arg, struct httpd_request *r, void *state, const char *data, size_t len)
{
	const struct httpd_handler *h = dash_api_handler(atomic_load(&api));

	(void)arg;
	h->body(h->arg, r, state, data, len);
}

static void fw_end(void *arg, struct httpd_request *r, void *state)
{
	const struct httpd_handler *h = dash_api_handler(atomic_load(&api));

	(void)arg;
	h->end(h->arg, r, state);
}

static void fw_done(void *arg, void *state, int completed)
{
	struct dash_api *a = atomic_load(&api);

	(void)arg;
	if (a != NULL && state != NULL) {
		const struct httpd_handler *h = dash_api_handler(a);
		h->done(h->arg, state, completed);
	}
}

static const struct httpd_handler forward = {
    .begin = fw_begin, .body = fw_body, .end = fw_end, .done = fw_done};

static int readyz(void *arg, char *reason, size_t reason_size)
{
	(void)arg;
	return dash_cache_ready(atomic_load(&cache), reason, reason_size);
}

static const char *opt(const struct config *cfg, const char *name)
{
	const char *v = config_get_string(cfg, name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* sluice-worker beside this binary when there is one, else the name for
 * PATH. */
static void default_worker(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	snprintf(buf, size, "sluice-worker");
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/sluice-worker", self);
	if (access(path, X_OK) == 0)
		snprintf(buf, size, "%s", path);
}

int main(int argc, char **argv)
{
	struct app app = {.program = "sluice-dashboard",
	                  .component = "dashboard",
	                  .usage = usage,
	                  .options = options,
	                  .readyz = readyz,
	                  .handler = &forward};
	struct kube_config kcfg;
	struct kube_client *kube = NULL;
	struct dash_cache *c = NULL;
	struct dash_store *store = NULL;
	struct dash_loads *loads = NULL;
	struct dash_api *a = NULL;
	char err[1024], worker[PATH_MAX + 32];
	int status, rc = 1;

	if (app_parse(&app, argc, argv, &status) < 0)
		return status;
	if (app_start(&app) < 0)
		goto out;

	const struct config *cfg = app.cfg;
	const char *ns = config_get_string(cfg, "namespace");
	/* The operator's rule and flags: a loaded TelemetryWindow that names no
	 * Kafka reaches the default cluster as its workers do. */
	struct spec_kafka_defaults kafka_security;
	if (spec_defaults_kafka_from(cfg, opt(cfg, "kafka-bootstrap"), &kafka_security, err,
	                             sizeof(err)) != 0) {
		log_error("bad Kafka defaults", "error", err, NULL);
		goto out;
	}
	if (kube_config_load(&kcfg, opt(cfg, "kubeconfig"), NULL, err, sizeof(err)) != 0) {
		log_error("cannot load the Kubernetes configuration", "error", err, NULL);
		goto out;
	}
	/* Three watches, Secret reads and headroom. */
	struct kube_client_options ko = {.max_handles = 8,
	                                 .user_agent = "sluice-dashboard/" SLUICE_VERSION};
	if (kube_client_new(&kube, &kcfg, &ko, err, sizeof(err)) != 0) {
		log_error("cannot create the Kubernetes client", "error", err, NULL);
		kube_config_free(&kcfg);
		goto out;
	}
	int64_t history_ms = config_get_duration_ms(cfg, "history-window");
	int64_t sample_ms = config_get_duration_ms(cfg, "sample-interval");
	struct dash_cache_options co = {.kube = kube,
	                                .namespace = ns,
	                                .history_ms = history_ms,
	                                .sample_ms = sample_ms,
	                                .metrics = app.metrics};
	if (dash_cache_start(&c, &co, err, sizeof(err)) != 0) {
		log_error("cannot start the cache", "error", err, NULL);
		goto out;
	}
	atomic_store(&cache, c);
	struct dash_store_options so = {
	    .kube = kube,
	    .defaults = {.kafka_bootstrap = opt(cfg, "kafka-bootstrap"),
	                 .kafka_security = kafka_security,
	                 .redis_addr = opt(cfg, "redis-addr"),
	                 .postgres_secret = opt(cfg, "postgres-secret")},
	    .timeout_ms = (int)config_get_duration_ms(cfg, "store-timeout"),
	};
	store = dash_store_new(&so);
	if (opt(cfg, "worker-binary") != NULL)
		snprintf(worker, sizeof(worker), "%s", opt(cfg, "worker-binary"));
	else
		default_worker(worker, sizeof(worker));
	struct dash_loads_options lo = {.worker = worker,
	                                .work_dir = opt(cfg, "work-dir"),
	                                .max_bytes = config_get_int(cfg, "load-max-bytes"),
	                                .kube = kube};
	loads = dash_loads_new(&lo);
	if (store == NULL || loads == NULL) {
		log_error("cannot start the dashboard", "error", "out of memory", NULL);
		goto out;
	}
	struct dash_api_options ao = {.cache = c,
	                              .store = store,
	                              .loads = loads,
	                              .metrics = app.metrics,
	                              .namespace = ns,
	                              .defaults = so.defaults,
	                              .history_ms = history_ms,
	                              .sample_ms = sample_ms};
	a = dash_api_new(&ao, err, sizeof(err));
	if (a == NULL) {
		log_error("cannot start the API", "error", err, NULL);
		goto out;
	}
	atomic_store(&api, a);
	log_info("dashboard running", "server", kube_client_config(kube)->server, "namespace",
	         ns[0] != '\0' ? ns : "(all)", "worker", worker, NULL);
	rc = app_wait(&app) > 0 ? 0 : 1;
out:
	/* The server first: no request may still use what goes next. */
	httpd_stop(app.httpd);
	app.httpd = NULL;
	atomic_store(&api, NULL);
	atomic_store(&cache, NULL);
	dash_api_free(a);
	dash_loads_free(loads);
	dash_store_free(store);
	dash_cache_stop(c);
	kube_client_free(kube);
	app_stop(&app);
	return rc;
}
