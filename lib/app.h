/*
 * app.h - what every Sluice binary does around its real work: read options,
 * answer --help and --version, set up logging, signal handling and the
 * /metrics, /healthz, /readyz, /status endpoint, wait for SIGTERM/SIGINT, and tear
 * everything down. A main() then reads:
 *
 *   struct app app = {.program = "sluice-operator", .component = "operator",
 *                     .usage = USAGE, .options = options};
 *   int status;
 *   if (app_parse(&app, argc, argv, &status) < 0)
 *           return status;
 *   if (app_start(&app) < 0) { app_stop(&app); return 1; }
 *   ... the program's own work ...
 *   app_wait(&app);
 *   app_stop(&app);
 *   return 0;
 *
 * Threads: none of its own; app_start starts the HTTP server's thread
 * (httpd.h). Call everything here from the main thread.
 */
#ifndef SLUICE_APP_H
#define SLUICE_APP_H

#include <stdio.h>

#include "config.h"
#include "httpd.h"
#include "metrics.h"

#define APP_ERR (-1)

/* Exit status for bad usage (unknown flag, bad value, bad mode), as getopt
 * programs and sysexits' EX_USAGE tradition have it. */
#define APP_EXIT_USAGE 2

/* The log levels, for the --log-level option below. */
extern const char *const app_log_levels[];

/*
 * The options every Sluice binary takes, for the head of its option table;
 * default_port is a string ("8080"). app_start reads them by these names.
 */
/* clang-format off */
#define APP_COMMON_OPTIONS(default_port)                                                \
	{.name = "log.level", .flag = "--log-level", .env = "SLUICE_LOG_LEVEL",          \
	 .type = CONFIG_ENUM, .def = "info", .choices = app_log_levels,                  \
	 .help = "Lowest level that is logged."},                                        \
	{.name = "metrics.addr", .flag = "--metrics-addr", .env = "SLUICE_METRICS_ADDR", \
	 .type = CONFIG_STRING, .def = "127.0.0.1",                                      \
	 .help = "IP address of the /metrics, /healthz and /readyz endpoint."},          \
	{.name = "metrics.port", .flag = "--metrics-port", .env = "SLUICE_METRICS_PORT", \
	 .type = CONFIG_INT, .def = default_port, .min = 0, .max = 65535,                \
	 .help = "Port of that endpoint; 0 picks a free one."},                          \
	{.name = "metrics.port_file", .flag = "--metrics-port-file",                      \
	 .env = "SLUICE_METRICS_PORT_FILE", .type = CONFIG_STRING,                        \
	 .help = "Write the endpoint's port to this file once it listens (probe.h)."}
/* clang-format on */

struct app {
	/* Set by the caller. */
	const char *program;                 /* "sluice-operator": messages and --version */
	const char *component;               /* "operator": the log lines' component */
	const char *usage;                   /* --help text before the options */
	const char *epilog;                  /* --help text after the options, or NULL */
	const struct config_option *options; /* starts with APP_COMMON_OPTIONS */
	int max_args;                        /* positional arguments allowed */
	FILE *out;                           /* --help, --version; NULL: stdout */
	FILE *err;                           /* usage errors; NULL: stderr */
	httpd_check_fn healthz;              /* /healthz check; NULL: always "ok" */
	httpd_check_fn readyz;               /* /readyz check; NULL: always "ok" */
	void *check_arg;                     /* passed to both checks and state */
	/* GET /status's "state" (httpd.h, docs/status.md); NULL: null. */
	httpd_state_fn state;
	/* Serves every other path of the endpoint (httpd.h); NULL: none. */
	const struct httpd_handler *handler;

	/* Owned, set by app_parse and app_start, freed by app_stop. */
	struct config *cfg;
	struct metrics_registry *metrics;
	struct httpd *httpd;
};

/*
 * Reads the options (config_load). Returns 0 when the program should run,
 * with app->cfg set. Otherwise returns APP_ERR and *status is what main()
 * should return: 0 after printing --help or --version to app->out, or
 * APP_EXIT_USAGE after printing the problem to app->err, e.g.
 *   sluice-operator: config: --log-level: "loud" is not one of debug, info, warn, error
 */
int app_parse(struct app *app, int argc, char *const argv[], int *status);

/*
 * Sets the log component and level, installs the signal handlers, creates
 * the metrics registry (with sluice_build_info and
 * process_start_time_seconds) and starts the HTTP endpoint, whose /healthz
 * and /readyz answer from then on (through app->healthz and app->readyz;
 * "ok" when those are NULL). Logs "starting" and "http endpoint
 * listening". Returns 0, or APP_ERR after logging why; call app_stop either
 * way.
 */
int app_start(struct app *app);

/*
 * Blocks until SIGTERM or SIGINT arrives, logs "stop requested" with the
 * signal's name, and returns the signal number; APP_ERR if waiting failed
 * (logged).
 */
int app_wait(struct app *app);

/* Stops the endpoint, restores the signal handlers and frees everything
 * app_parse and app_start made; logs "stopped" if app_start ran. Safe on a
 * partly started app and when called twice. */
void app_stop(struct app *app);

/*
 * Hands the allocator's free memory back to the system (glibc's
 * malloc_trim; nothing elsewhere). Freed memory otherwise stays in each
 * thread's arena and in RSS: a long-running process whose working set
 * rises and falls (a burst of watch events, a batch of windows) calls it
 * now and then, from any thread. Costs about a millisecond per call.
 */
void app_trim_memory(void);

/*
 * Caps the allocator's arenas at n (glibc's M_ARENA_MAX; nothing
 * elsewhere). glibc gives each thread that allocates while another holds
 * an arena one of its own, up to 8 per core, and freed memory stays in
 * each: a process of many mostly idle threads (reflectors, workers, the
 * elector, librdkafka's) keeps a megabyte or more of such islands. Call it
 * first thing in main, before any thread starts.
 */
void app_limit_arenas(int n);

/*
 * Serves every allocation of bytes or more from its own mapping, returned
 * to the system when freed (glibc's M_MMAP_THRESHOLD; nothing elsewhere).
 * glibc otherwise raises the threshold to the largest block freed so far,
 * after which a LIST page's or a watch's megabyte buffers come from the
 * heap, where the small objects kept around them pin the pages after the
 * burst. Call it first thing in main.
 */
void app_fix_mmap_threshold(size_t bytes);

#endif /* SLUICE_APP_H */
