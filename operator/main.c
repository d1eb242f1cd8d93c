/*
 * main.c - sluice-operator: turns VideoJob and TelemetryWindow resources
 * into Kafka-consuming worker Deployments (design.md). For now it reads its
 * options, serves /metrics, /healthz and /readyz, and waits for SIGTERM.
 */
#include "app.h"
#include "log.h"

static const struct config_option options[] = {
    APP_COMMON_OPTIONS("8080"),
    {.name = "kubeconfig",
     .flag = "--kubeconfig",
     .env = "KUBECONFIG",
     .type = CONFIG_STRING,
     .help = "kubeconfig file for running outside the cluster; unset: in-cluster config."},
    {.name = "namespace",
     .flag = "--namespace",
     .env = "SLUICE_NAMESPACE",
     .type = CONFIG_STRING,
     .def = "",
     .help = "Namespace whose resources are reconciled; empty: all namespaces."},
    {0},
};

static const char usage[] = "Usage: sluice-operator [options]\n"
                            "\n"
                            "Runs the Sluice Kubernetes operator. Options also come from the\n"
                            "environment and a YAML file; flags win over both.\n";

int main(int argc, char **argv)
{
	struct app app = {.program = "sluice-operator",
	                  .component = "operator",
	                  .usage = usage,
	                  .options = options};
	int status;

	if (app_parse(&app, argc, argv, &status) < 0)
		return status;
	if (app_start(&app) < 0) {
		app_stop(&app);
		return 1;
	}
	const char *kubeconfig = config_get_string(app.cfg, "kubeconfig");
	const char *ns = config_get_string(app.cfg, "namespace");
	log_info("operator running", "kubeconfig", kubeconfig != NULL ? kubeconfig : "(in-cluster)",
	         "namespace", ns[0] != '\0' ? ns : "(all)", NULL);
	app_wait(&app);
	app_stop(&app);
	return 0;
}
