/*
 * main.c - sluice-worker MODE: one command for every stage of a Sluice
 * pipeline, the stage picked by the first argument (docs/architecture.md): telemetry
 * (telemetry.h), load (load.h), export (export.h), split, process,
 * assemble and watch (video_*.h).
 *
 * Built twice. sluice-worker links no FFmpeg, whose libraries would cost
 * every telemetry worker ~25 MB of RSS, and hands the video modes to
 * sluice-worker-video, found next to it, by exec (same PID, same
 * arguments). sluice-worker-video (-DSLUICE_WORKER_VIDEO) runs every mode.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "kube_config.h"
#include "export.h"
#include "load.h"
#include "log.h"
#include "probe.h"
#include "signals.h"
#include "telemetry.h"
#ifdef SLUICE_WORKER_VIDEO
#include "video_assemble.h"
#include "video_process.h"
#include "video_purge.h"
#include "video_split.h"
#include "video_watch.h"
#endif

static const char *const progress_choices[] = {"auto", "bar", "log", "none", NULL};

/* clang-format off */
static const struct config_option options[] = {
    APP_COMMON_OPTIONS("9090"),
    {.name = "kafka.client_id", .flag = "--client-id", .env = "SLUICE_KAFKA_CLIENT_ID",
     .type = CONFIG_STRING, .def = NULL,
     .help = "Kafka client.id (default: sluice-worker-<hostname>, sluice-load-<hostname>)."},
    {.name = "telemetry.unhealthy_after", .flag = "--unhealthy-after",
     .env = "SLUICE_UNHEALTHY_AFTER", .type = CONFIG_DURATION, .def = "60s", .min = 1000,
     .max = 86400000,
     .help = "telemetry: /healthz fails once a sink has failed continuously for this long."},
    {.name = "telemetry.flush_interval", .flag = "--flush-interval",
     .env = "SLUICE_FLUSH_INTERVAL", .type = CONFIG_DURATION, .def = "500ms", .min = 10,
     .max = 60000, .help = "telemetry: a batch goes to the sinks at the latest after this."},
    {.name = "telemetry.flush_rows", .flag = "--flush-rows", .env = "SLUICE_FLUSH_ROWS",
     .type = CONFIG_INT, .def = "2000", .min = 1, .max = 1000000,
     .help = "telemetry: ... or as soon as this many window rows and raw events wait."},
    {.name = "telemetry.buffer_rows", .flag = "--buffer-rows", .env = "SLUICE_BUFFER_ROWS",
     .type = CONFIG_INT, .def = "20000", .min = 1, .max = 4000000,
     .help = "telemetry: rows held behind a batch the sinks retry before consumption pauses."},
    {.name = "telemetry.session_timeout", .flag = "--session-timeout",
     .env = "SLUICE_SESSION_TIMEOUT", .type = CONFIG_DURATION, .def = "45s", .min = 1000,
     .max = 3600000,
     .help = "telemetry: how long the group waits for a silent member (a crash) before "
             "giving its partitions to others."},
    {.name = "telemetry.shutdown_timeout", .flag = "--shutdown-timeout",
     .env = "SLUICE_SHUTDOWN_TIMEOUT", .type = CONFIG_DURATION, .def = "20s", .min = 0,
     .max = 3600000, .help = "telemetry: how long SIGTERM's final flush may take."},
    {.name = "telemetry.retry_max", .flag = "--retry-max", .env = "SLUICE_RETRY_MAX",
     .type = CONFIG_DURATION, .def = "30s", .min = 100, .max = 3600000,
     .help = "telemetry: longest backoff between retries of a batch (Retry-After aside)."},
    {.name = "telemetry.trim_interval", .flag = "--trim-interval",
     .env = "SLUICE_TRIM_INTERVAL", .type = CONFIG_DURATION, .def = "1m", .min = 0,
     .max = 86400000, .help = "telemetry: how often retention trims old rows; 0 turns it off."},
    {.name = "telemetry.create_dlq_topic", .flag = "--create-dlq-topic",
     .env = "SLUICE_CREATE_DLQ_TOPIC", .type = CONFIG_BOOL, .def = "true",
     .help = "telemetry: create the dead-letter topic at start when it is missing "
             "(same partitions and replication as the source)."},
    {.name = "process.decoder_threads", .flag = "--decoder-threads",
     .env = "SLUICE_DECODER_THREADS", .type = CONFIG_INT, .def = "0", .min = 0, .max = 256,
     .help = "process: decoder threads; 0 lets FFmpeg pick (one per core)."},
    {.name = "process.encoder_threads", .flag = "--encoder-threads",
     .env = "SLUICE_ENCODER_THREADS", .type = CONFIG_INT, .def = "0", .min = 0, .max = 256,
     .help = "process: encoder threads; 0 lets FFmpeg pick (one per core)."},
    {.name = "process.filter_threads", .flag = "--filter-threads",
     .env = "SLUICE_FILTER_THREADS", .type = CONFIG_INT, .def = "0", .min = 0, .max = 256,
     .help = "process: filter graph threads; 0 lets FFmpeg pick."},
    {.name = "load.file", .flag = "--file", .type = CONFIG_STRING,
     .help = "load: the CSV file to publish (its first record is the header); - for stdin."},
    {.name = "load.topic", .flag = "--topic", .type = CONFIG_STRING,
     .help = "load: the topic to publish to (it must exist)."},
    {.name = "load.bootstrap", .flag = "--bootstrap", .env = "SLUICE_KAFKA_BOOTSTRAP",
     .type = CONFIG_STRING, .help = "load: Kafka bootstrap servers, host:port[,host:port]."},
    {.name = "load.key_fields", .flag = "--key-fields", .type = CONFIG_STRING,
     .help = "load: columns whose cells, joined by ',', are each message's key."},
    {.name = "load.rate", .flag = "--rate", .type = CONFIG_INT, .def = "0", .min = 0,
     .max = 100000000, .help = "load: messages per second; 0 for as fast as possible."},
    {.name = "load.as_json", .flag = "--as-json", .type = CONFIG_BOOL, .def = "false",
     .help = "load: publish each record as a JSON object keyed by the header's names."},
    {.name = "load.delimiter", .flag = "--delimiter", .type = CONFIG_STRING, .def = ",",
     .help = "load: the CSV delimiter, one character."},
    {.name = "load.progress", .flag = "--progress", .type = CONFIG_ENUM, .def = "auto",
     .choices = progress_choices,
     .help = "load: progress on stderr: a bar on a terminal (auto), bar, log lines, none."},
    {.name = "load.tls", .flag = "--tls", .type = CONFIG_BOOL, .def = "false",
     .help = "load: TLS to the brokers (implied by any --tls-* option); the system's CAs."},
    {.name = "load.tls_ca_file", .flag = "--tls-ca-file", .type = CONFIG_STRING,
     .help = "load: PEM file of the CAs the brokers' certificates must chain to."},
    {.name = "load.tls_cert_file", .flag = "--tls-cert-file", .type = CONFIG_STRING,
     .help = "load: PEM file of a client certificate (with --tls-key-file)."},
    {.name = "load.tls_key_file", .flag = "--tls-key-file", .type = CONFIG_STRING,
     .help = "load: PEM file of the client certificate's private key."},
    {.name = "load.tls_server_name", .flag = "--tls-server-name", .type = CONFIG_STRING,
     .help = "load: the name the brokers' certificates must carry (default: each broker's host)."},
    {.name = "load.sasl_mechanism", .flag = "--sasl-mechanism", .type = CONFIG_STRING,
     .help = "load: SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."},
    {.name = "load.sasl_username", .flag = "--sasl-username", .type = CONFIG_STRING,
     .help = "load: SASL username."},
    {.name = "load.sasl_password", .flag = NULL, .env = "SLUICE_KAFKA_SASL_PASSWORD",
     .type = CONFIG_STRING, .help = "load: SASL password (never a flag)."},
    {.name = "load.sasl_password_file", .flag = "--sasl-password-file", .type = CONFIG_STRING,
     .help = "load: a file holding the SASL password (else $SLUICE_KAFKA_SASL_PASSWORD)."},
    {.name = "export.last", .flag = "--last", .type = CONFIG_INT, .def = "10", .min = 1,
     .max = EXPORT_LAST_MAX, .help = "export: how many of the latest windows to write."},
    {.name = "export.key", .flag = "--key", .type = CONFIG_STRING,
     .help = "export: only this key (the key fields' values joined by ',')."},
    {.name = "export.output", .flag = "--output", .type = CONFIG_STRING, .def = "-",
     .help = "export: the CSV file to write (replaced whole), or - for stdout."},
    KUBE_CONFIG_OPTION("watch.kubeconfig"),
    {.name = "watch.upload_addr", .flag = "--upload-addr", .env = "SLUICE_UPLOAD_ADDR",
     .type = CONFIG_STRING,
     .help = "watch: IP address of the upload endpoint (spec.upload.port); unset: $POD_IP, "
             "else 127.0.0.1."},
    {0},
};
/* clang-format on */

static const char usage[] =
    "Usage: sluice-worker MODE [options]\n"
    "\n"
    "Runs one stage of a Sluice pipeline. Options also come from the\n"
    "environment and a YAML file; flags win over both.\n"
    "\n"
    "  sluice-worker telemetry --config TW.yaml [options]\n"
    "      In this mode --config names the TelemetryWindow (JSON or YAML), not an\n"
    "      options file; the worker's options come from flags, the environment, or\n"
    "      a YAML file named by $SLUICE_CONFIG. MODE must come first.\n"
    "  sluice-worker split --config VJ.json     plan a VideoJob, publish its tasks\n"
    "  sluice-worker process --config VJ.json [--decoder-threads N]\n"
    "                        [--encoder-threads N] [--filter-threads N]\n"
    "                                           process its segment tasks\n"
    "  sluice-worker assemble --config VJ.json  join its finished segments\n"
    "  sluice-worker purge --config VJ.json     delete its rows from PostgreSQL\n"
    "  sluice-worker watch --config VW.json [--kubeconfig F] [--upload-addr IP]\n"
    "                                           turn a folder's new files into VideoJobs\n"
    "  sluice-worker load --file F.csv --topic T --bootstrap HOST:PORT\n"
    "                     [--key-fields a,b] [--rate N] [--as-json]\n"
    "  sluice-worker export --config TW.yaml [--last N] [--key K] [--output F.csv|-]\n";

static const char modes[] =
    "Modes:\n"
    "  telemetry  consume a TelemetryWindow's events: dedupe, event-time windows, sinks\n"
    "  load       publish CSV or Parquet files to a Kafka topic, for back-fills\n"
    "  export     write the last N windows of a TelemetryWindow as CSV (from PostgreSQL)\n"
    "  split      probe a VideoJob's source, publish one task per keyframe-aligned segment\n"
    "  process    decode, filter and re-encode segments; write per-frame analysis\n"
    "  assemble   concatenate a VideoJob's finished segments into its output\n"
    "  purge      delete a VideoJob's plan, segment and frame rows from PostgreSQL\n"
    "             (the operator's purge Job, spec.sinks.postgres.deleteWithJob)\n"
    "  watch      make a VideoJob of each new file in a VideoWatch's folder, and of\n"
    "             each upload to its endpoint (docs/video-watch.md)\n"
    "  probe      ask the worker in this container for /healthz or /readyz\n"
    "             (the pods' exec probe: sluice-worker probe /readyz; it reads\n"
    "             SLUICE_METRICS_PORT_FILE, SLUICE_METRICS_PORT, SLUICE_METRICS_ADDR)\n";

static const char *const planned[] = {"telemetry", "load",     "export", "split",
                                      "process",   "assemble", "watch",  "purge"};

/* Modes whose --config FILE is the resource (docs/contracts.md §1). */
static int takes_spec(const char *mode)
{
	static const char *const m[] = {"telemetry", "export", "split", "process",
	                                "assemble",  "watch",  "purge", NULL};

	for (size_t i = 0; m[i] != NULL; i++)
		if (strcmp(mode, m[i]) == 0)
			return 1;
	return 0;
}

/*
 * In telemetry, export and video modes --config FILE is the resource, which the
 * option loader would otherwise read as an options file. Takes it out of args
 * (argc entries, in place) and returns the path, or NULL; *argc shrinks.
 * Only when MODE is the first argument, as the usage says.
 */
static const char *take_spec_path(int *argc, char **args)
{
	const char *path = NULL;
	int o = 1;

	if (*argc < 2 || !takes_spec(args[1]))
		return NULL;
	for (int i = 1; i < *argc; i++) {
		if (strcmp(args[i], "--") == 0) {
			while (i < *argc)
				args[o++] = args[i++];
			break;
		}
		if (strcmp(args[i], "--config") == 0 && i + 1 < *argc) {
			path = args[++i];
			continue;
		}
		if (strncmp(args[i], "--config=", 9) == 0) {
			path = args[i] + 9;
			continue;
		}
		args[o++] = args[i];
	}
	args[o] = NULL;
	*argc = o;
	return path;
}

static int run_telemetry(struct app *app, const char *spec_path)
{
	const struct config *cfg = app->cfg;
	struct telemetry_options o;
	struct telemetry *t = NULL;
	char errbuf[1024];
	int status;

	telemetry_options_default(&o);
	o.spec_path = spec_path;
	o.client_id = config_get_string(cfg, "kafka.client_id");
	o.unhealthy_after_ms = config_get_duration_ms(cfg, "telemetry.unhealthy_after");
	o.flush_interval_ms = config_get_duration_ms(cfg, "telemetry.flush_interval");
	o.flush_rows = (size_t)config_get_int(cfg, "telemetry.flush_rows");
	o.buffer_max = (size_t)config_get_int(cfg, "telemetry.buffer_rows");
	o.session_timeout_ms = config_get_duration_ms(cfg, "telemetry.session_timeout");
	o.shutdown_timeout_ms = config_get_duration_ms(cfg, "telemetry.shutdown_timeout");
	o.retry_max_ms = config_get_duration_ms(cfg, "telemetry.retry_max");
	o.trim_interval_ms = config_get_duration_ms(cfg, "telemetry.trim_interval");
	o.create_dlq_topic = config_get_bool(cfg, "telemetry.create_dlq_topic");
	if (telemetry_new(&o, &t, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: %s\n", errbuf);
		app_stop(app);
		return APP_EXIT_USAGE;
	}
	app->healthz = telemetry_healthz;
	app->readyz = telemetry_readyz;
	app->state = telemetry_state;
	app->check_arg = t;
	if (app_start(app) < 0) {
		status = 1;
	} else if (telemetry_start(t, app->metrics, errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot start the telemetry worker", "error", errbuf, NULL);
		status = 1;
	} else {
		status = telemetry_run(t) < 0 ? 1 : 0;
		if (signals_stop_requested())
			log_info("stop requested", NULL);
	}
	/* The health checks read t on the HTTP thread: stop it first. The
	 * registry lives on until app_stop, after t's last metric update. */
	httpd_stop(app->httpd);
	app->httpd = NULL;
	telemetry_free(t);
	app_stop(app);
	return status;
}

#ifdef SLUICE_WORKER_VIDEO
/* `process`: the scaled VideoJob worker (video_process.h). It shares
 * --session-timeout, --retry-max and --create-dlq-topic with telemetry. */
static int run_process(struct app *app, const char *spec_path)
{
	const struct config *cfg = app->cfg;
	struct video_process_options o;
	struct video_process *p = NULL;
	char errbuf[1024];
	int status;

	video_process_options_default(&o);
	o.spec_path = spec_path;
	o.client_id = config_get_string(cfg, "kafka.client_id");
	o.decoder_threads = (int)config_get_int(cfg, "process.decoder_threads");
	o.encoder_threads = (int)config_get_int(cfg, "process.encoder_threads");
	o.filter_threads = (int)config_get_int(cfg, "process.filter_threads");
	o.session_timeout_ms = config_get_duration_ms(cfg, "telemetry.session_timeout");
	o.retry_max_ms = config_get_duration_ms(cfg, "telemetry.retry_max");
	o.create_dlq_topic = config_get_bool(cfg, "telemetry.create_dlq_topic");
	if (video_process_new(&o, &p, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: %s\n", errbuf);
		app_stop(app);
		return APP_EXIT_USAGE;
	}
	app->readyz = video_process_readyz;
	app->state = video_process_state;
	app->check_arg = p;
	if (app_start(app) < 0) {
		status = 1;
	} else if (video_process_start(p, app->metrics, errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot start the process worker", "error", errbuf, NULL);
		status = 1;
	} else {
		status = video_process_run(p) < 0 ? 1 : 0;
	}
	/* /readyz reads p on the HTTP thread: stop it first. */
	httpd_stop(app->httpd);
	app->httpd = NULL;
	video_process_free(p);
	app_stop(app);
	return status;
}

/* `watch`: a VideoWatch's watcher (video_watch.h). */
static int run_watch(struct app *app, const char *spec_path)
{
	struct video_watch_options o;
	struct video_watch *w = NULL;
	char errbuf[1024];
	int status;

	video_watch_options_default(&o);
	o.spec_path = spec_path;
	o.kubeconfig = config_get_string(app->cfg, "watch.kubeconfig");
	o.upload_addr = config_get_string(app->cfg, "watch.upload_addr");
	if (video_watch_new(&o, &w, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "sluice-worker: %s\n", errbuf);
		app_stop(app);
		return APP_EXIT_USAGE;
	}
	app->readyz = video_watch_readyz;
	app->check_arg = w;
	if (app_start(app) < 0) {
		status = 1;
	} else if (video_watch_start(w, app->metrics, errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot start the watcher", "error", errbuf, NULL);
		status = 1;
	} else {
		status = video_watch_run(w) < 0 ? 1 : 0;
	}
	/* /readyz reads w on the HTTP thread: stop it first. */
	httpd_stop(app->httpd);
	app->httpd = NULL;
	video_watch_free(w);
	app_stop(app);
	return status;
}
#else
static int is_video_mode(const char *mode)
{
	return mode != NULL && (strcmp(mode, "split") == 0 || strcmp(mode, "process") == 0 ||
	                        strcmp(mode, "assemble") == 0 || strcmp(mode, "watch") == 0 ||
	                        strcmp(mode, "purge") == 0);
}

/* Runs argv in sluice-worker-video, the sibling of this executable;
 * returns only when that fails, with the status to exit with. */
static int exec_video(char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0) {
		fprintf(stderr, "sluice-worker: cannot find its own path: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	snprintf(path, sizeof(path), "%.*s/sluice-worker-video",
	         slash != NULL ? (int)(slash - self) : 0, self);
	execv(path, argv);
	fprintf(stderr, "sluice-worker: mode '%s' runs in %s, which cannot be started: %s\n",
	        argv[1], path, strerror(errno));
	return 1;
}
#endif

static int run_load(struct app *app)
{
	const struct config *cfg = app->cfg;
	enum log_level level = LOG_LEVEL_INFO;
	const char *delim = config_get_string(cfg, "load.delimiter");
	const char *progress = config_get_string(cfg, "load.progress");
	struct load_options o = {
	    .file = config_get_string(cfg, "load.file"),
	    .topic = config_get_string(cfg, "load.topic"),
	    .bootstrap = config_get_string(cfg, "load.bootstrap"),
	    .key_fields = config_get_string(cfg, "load.key_fields"),
	    .client_id = config_get_string(cfg, "kafka.client_id"),
	    .rate = config_get_int(cfg, "load.rate"),
	    .as_json = config_get_bool(cfg, "load.as_json"),
	    .tls = config_get_bool(cfg, "load.tls"),
	    .tls_ca_file = config_get_string(cfg, "load.tls_ca_file"),
	    .tls_cert_file = config_get_string(cfg, "load.tls_cert_file"),
	    .tls_key_file = config_get_string(cfg, "load.tls_key_file"),
	    .tls_server_name = config_get_string(cfg, "load.tls_server_name"),
	    .sasl_mechanism = config_get_string(cfg, "load.sasl_mechanism"),
	    .sasl_username = config_get_string(cfg, "load.sasl_username"),
	    .sasl_password = config_get_string(cfg, "load.sasl_password"),
	    .sasl_password_file = config_get_string(cfg, "load.sasl_password_file"),
	};
	int status, rc;

	if (delim == NULL || strlen(delim) != 1) {
		fprintf(stderr, "sluice-worker: load: --delimiter must be one character\n");
		app_stop(app);
		return APP_EXIT_USAGE;
	}
	o.delimiter = delim[0];
	o.progress = strcmp(progress, "bar") == 0    ? LOAD_PROGRESS_BAR
	             : strcmp(progress, "log") == 0  ? LOAD_PROGRESS_LOG
	             : strcmp(progress, "none") == 0 ? LOAD_PROGRESS_NONE
	                                             : LOAD_PROGRESS_AUTO;
	/* A command-line tool: logs and signals, no HTTP endpoint. */
	log_set_component("worker");
	(void)log_level_parse(config_get_string(cfg, "log.level"), &level);
	log_set_level(level);
	rc = signals_install();
	if (rc < 0) {
		log_error("cannot install signal handlers", "error", strerror(-rc), NULL);
		app_stop(app);
		return 1;
	}
	status = load_run(&o);
	app_stop(app);
	return status;
}

static int run_export(struct app *app, const char *spec_path)
{
	const struct config *cfg = app->cfg;
	const char *key = config_get_string(cfg, "export.key");
	struct export_options o = {
	    .spec_path = spec_path,
	    .last = config_get_int(cfg, "export.last"),
	    .key = key != NULL && key[0] != '\0' ? key : NULL,
	    .output = config_get_string(cfg, "export.output"),
	};
	int status;

	/* A command-line tool: its CSV on stdout, errors on stderr. */
	status = export_run(&o);
	app_stop(app);
	return status;
}

int main(int argc, char **argv)
{
	struct app app = {.program = "sluice-worker",
	                  .component = "worker",
	                  .usage = usage,
	                  .epilog = modes,
	                  .options = options,
	                  .max_args = 1};
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	const char *spec_path;
	int status;

	if (args == NULL) {
		fprintf(stderr, "sluice-worker: out of memory\n");
		return 1;
	}
	/* The kubelet's exec probe: no options, no endpoint of its own. */
	if (argc > 1 && strcmp(argv[1], "probe") == 0) {
		free(args);
		return probe_main("sluice-worker", argc, argv, 9090);
	}
#ifndef SLUICE_WORKER_VIDEO
	if (argc > 1 && is_video_mode(argv[1])) {
		free(args);
		return exec_video(argv);
	}
#endif
	memcpy(args, argv, (size_t)argc * sizeof(*args));
	spec_path = take_spec_path(&argc, args);
	if (app_parse(&app, argc, args, &status) < 0) {
		free(args);
		return status;
	}
	const char *mode = config_arg(app.cfg, 0);
	if (mode != NULL && strcmp(mode, "telemetry") == 0) {
		status = run_telemetry(&app, spec_path);
		free(args);
		return status;
	}
#ifdef SLUICE_WORKER_VIDEO
	if (mode != NULL && strcmp(mode, "process") == 0) {
		status = run_process(&app, spec_path);
		free(args);
		return status;
	}
	if (mode != NULL && strcmp(mode, "watch") == 0) {
		status = run_watch(&app, spec_path);
		free(args);
		return status;
	}
#endif
	if (mode != NULL && strcmp(mode, "export") == 0) {
		status = run_export(&app, spec_path);
		free(args);
		return status;
	}
	if (mode != NULL && strcmp(mode, "load") == 0) {
		status = run_load(&app);
		free(args);
		return status;
	}
#ifdef SLUICE_WORKER_VIDEO
	if (mode != NULL && (strcmp(mode, "split") == 0 || strcmp(mode, "assemble") == 0)) {
		enum log_level level = LOG_LEVEL_INFO;

		/* One-shot jobs: logs, no HTTP endpoint. */
		log_set_component("worker");
		(void)log_level_parse(config_get_string(app.cfg, "log.level"), &level);
		log_set_level(level);
		status = strcmp(mode, "split") == 0 ? video_split_main(spec_path)
		                                    : video_assemble_main(spec_path);
		app_stop(&app);
		free(args);
		return status;
	}
	if (mode != NULL && strcmp(mode, "purge") == 0) {
		enum log_level level = LOG_LEVEL_INFO;

		/* A one-shot job like split's: logs, no HTTP endpoint. */
		log_set_component("worker");
		(void)log_level_parse(config_get_string(app.cfg, "log.level"), &level);
		log_set_level(level);
		status = video_purge_main(spec_path);
		app_stop(&app);
		free(args);
		return status;
	}
#endif
	int known = 0;
	for (size_t i = 0; mode != NULL && i < sizeof(planned) / sizeof(planned[0]); i++)
		known |= strcmp(mode, planned[i]) == 0;
	if (mode == NULL)
		fprintf(stderr,
		        "sluice-worker: missing mode (one of telemetry, load, export, "
		        "split, process, assemble, watch, purge)\nTry 'sluice-worker --help'.\n");
	else if (known)
		fprintf(stderr, "sluice-worker: mode '%s' is not available in this build yet\n",
		        mode);
	else
		fprintf(stderr,
		        "sluice-worker: unknown mode '%s' (modes: telemetry, load, export, "
		        "split, process, assemble, watch, purge)\n",
		        mode);
	app_stop(&app);
	free(args);
	return APP_EXIT_USAGE;
}
