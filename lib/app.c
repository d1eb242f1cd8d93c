/*
 * app.c - start-up and shutdown shared by sluice-operator and sluice-worker.
 * See app.h.
 */
#include "app.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "probe.h"
#include "signals.h"
#include "version.h"

const char *const app_log_levels[] = {"debug", "info", "warn", "error", NULL};

int app_parse(struct app *app, int argc, char *const argv[], int *status)
{
	FILE *out = app->out != NULL ? app->out : stdout;
	FILE *err = app->err != NULL ? app->err : stderr;
	char errbuf[1024];

	*status = APP_EXIT_USAGE;
	if (config_load(app->options, argc, argv, &app->cfg, errbuf, sizeof(errbuf)) < 0) {
		fprintf(err, "%s: %s\nTry '%s --help'.\n", app->program, errbuf, app->program);
		return APP_ERR;
	}
	if (config_version_requested(app->cfg)) {
		fprintf(out, "%s %s (git %s)\n", app->program, SLUICE_VERSION, SLUICE_GIT_REV);
		*status = 0;
		goto done;
	}
	if (config_help_requested(app->cfg)) {
		fputs(app->usage != NULL ? app->usage : "", out);
		fputc('\n', out);
		config_print_help(app->options, out);
		if (app->epilog != NULL) {
			fputc('\n', out);
			fputs(app->epilog, out);
		}
		*status = 0;
		goto done;
	}
	if (config_argc(app->cfg) > app->max_args) {
		fprintf(err, "%s: unexpected argument '%s'\nTry '%s --help'.\n", app->program,
		        config_arg(app->cfg, app->max_args), app->program);
		goto done;
	}
	return 0;
done:
	config_free(app->cfg);
	app->cfg = NULL;
	return APP_ERR;
}

/* The series that say which build runs and since when; a dashboard joins on
 * them and an alert fires on a restart. */
static int register_process_metrics(struct app *app, char *errbuf, size_t errbuf_size)
{
	static const char *const build_labels[] = {"component", "version", "git_rev", NULL};
	struct metrics_family *build, *start;
	struct timespec now;
	const char *const values[] = {app->component, SLUICE_VERSION, SLUICE_GIT_REV, NULL};

	if (metrics_gauge(app->metrics, "sluice_build_info",
	                  "Which Sluice build runs: always 1, labelled by component, version and "
	                  "git revision.",
	                  build_labels, &build, errbuf, errbuf_size) < 0 ||
	    metrics_gauge(app->metrics, "process_start_time_seconds",
	                  "Start time of the process since the Unix epoch in seconds.", NULL,
	                  &start, errbuf, errbuf_size) < 0)
		return APP_ERR;
	if (clock_gettime(CLOCK_REALTIME, &now) != 0)
		now.tv_sec = 0, now.tv_nsec = 0;
	if (metrics_set(build, values, 1) < 0 ||
	    metrics_set(start, NULL, (double)now.tv_sec + now.tv_nsec / 1e9) < 0) {
		snprintf(errbuf, errbuf_size, "metrics: cannot set the process metrics");
		return APP_ERR;
	}
	return 0;
}

int app_start(struct app *app)
{
	const struct config *cfg = app->cfg;
	enum log_level level = LOG_LEVEL_INFO;
	char errbuf[512], port[16];
	int rc;

	log_set_component(app->component);
	/* The option is an enum of exactly the level names, so this parses. */
	(void)log_level_parse(config_get_string(cfg, "log.level"), &level);
	log_set_level(level);
	log_info("starting", "version", SLUICE_VERSION, "git_rev", SLUICE_GIT_REV, "config",
	         config_file(cfg) != NULL ? config_file(cfg) : "", NULL);

	rc = signals_install();
	if (rc < 0) {
		log_error("cannot install signal handlers", "error", strerror(-rc), NULL);
		return APP_ERR;
	}
	app->metrics = metrics_registry_new();
	if (app->metrics == NULL) {
		log_error("cannot create the metrics registry", "error", "out of memory", NULL);
		return APP_ERR;
	}
	if (register_process_metrics(app, errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot register process metrics", "error", errbuf, NULL);
		return APP_ERR;
	}

	struct httpd_options opts = {
	    .addr = config_get_string(cfg, "metrics.addr"),
	    .port = (int)config_get_int(cfg, "metrics.port"),
	    .metrics = app->metrics,
	    .healthz = app->healthz,
	    .healthz_arg = app->check_arg,
	    .readyz = app->readyz,
	    .readyz_arg = app->check_arg,
	    .component = app->component,
	    .state = app->state,
	    .state_arg = app->check_arg,
	    .handler = app->handler,
	};
	if (httpd_start(&opts, &app->httpd, errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot start the http endpoint", "error", errbuf, NULL);
		return APP_ERR;
	}
	snprintf(port, sizeof(port), "%d", httpd_port(app->httpd));
	log_info("http endpoint listening", "addr", opts.addr, "port", port, "paths",
	         "/metrics /healthz /readyz /status", NULL);
	const char *port_file = config_get_string(cfg, "metrics.port_file");
	if (port_file != NULL && port_file[0] != '\0' &&
	    probe_write_port(port_file, httpd_port(app->httpd), errbuf, sizeof(errbuf)) < 0) {
		log_error("cannot write the port file", "error", errbuf, NULL);
		return APP_ERR;
	}
	return 0;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	default:
		return "unknown";
	}
}

int app_wait(struct app *app)
{
	(void)app;
	int rc = signals_wait(-1);

	if (rc < 0) {
		log_error("cannot wait for signals", "error", strerror(-rc), NULL);
		return APP_ERR;
	}
	log_info("stop requested", "signal", signal_name(signals_last()), NULL);
	return signals_last();
}

void app_stop(struct app *app)
{
	int started = app->metrics != NULL || app->httpd != NULL;

	httpd_stop(app->httpd);
	app->httpd = NULL;
	metrics_registry_free(app->metrics);
	app->metrics = NULL;
	signals_uninstall();
	config_free(app->cfg);
	app->cfg = NULL;
	if (started)
		log_info("stopped", NULL);
}

void app_limit_arenas(int n)
{
#ifdef __GLIBC__
	(void)mallopt(M_ARENA_MAX, n);
#else
	(void)n;
#endif
}

void app_fix_mmap_threshold(size_t bytes)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, bytes > INT_MAX ? INT_MAX : (int)bytes);
#else
	(void)bytes;
#endif
}

void app_trim_memory(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}
