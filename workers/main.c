/*
 * main.c - sluice-worker MODE: one binary for every stage of a Sluice
 * pipeline, the stage picked by the first argument (design.md). No mode is
 * built yet; this answers --help and --version and says so for the rest.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

static const struct config_option options[] = {
    APP_COMMON_OPTIONS("9090"),
    {0},
};

static const char usage[] = "Usage: sluice-worker MODE [options]\n"
                            "\n"
                            "Runs one stage of a Sluice pipeline. Options also come from the\n"
                            "environment and a YAML file; flags win over both.\n";

static const char modes[] =
    "Modes:\n"
    "  telemetry  consume a TelemetryWindow's events: dedupe, event-time windows, sinks\n"
    "  load       publish CSV (later Parquet) files to a Kafka topic, for back-fills\n"
    "  export     flush the last windows' results, as JSON and Prometheus text\n"
    "  split      probe a VideoJob's source, publish one task per keyframe-aligned segment\n"
    "  process    decode, filter and re-encode segments; write per-frame analysis\n"
    "  assemble   concatenate a VideoJob's finished segments into its output\n";

static const char *const planned[] = {"telemetry", "load",    "export",
                                      "split",     "process", "assemble"};

int main(int argc, char **argv)
{
	struct app app = {.program = "sluice-worker",
	                  .component = "worker",
	                  .usage = usage,
	                  .epilog = modes,
	                  .options = options,
	                  .max_args = 1};
	int status;

	if (app_parse(&app, argc, argv, &status) < 0)
		return status;
	const char *mode = config_arg(app.cfg, 0);
	int known = 0;
	for (size_t i = 0; mode != NULL && i < sizeof(planned) / sizeof(planned[0]); i++)
		known |= strcmp(mode, planned[i]) == 0;
	if (mode == NULL)
		fprintf(stderr, "sluice-worker: missing mode (one of telemetry, load, export, "
		                "split, process, assemble)\nTry 'sluice-worker --help'.\n");
	else if (known)
		fprintf(stderr, "sluice-worker: mode '%s' is not available in this build yet\n",
		        mode);
	else
		fprintf(stderr,
		        "sluice-worker: unknown mode '%s' (modes: telemetry, load, export, "
		        "split, process, assemble)\n",
		        mode);
	app_stop(&app);
	return APP_EXIT_USAGE;
}
