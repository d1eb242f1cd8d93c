/*
 * fuzz_config.c - libFuzzer target for the YAML config loader
 * (config_load_yaml), the one parser in lib/ that reads files users write.
 *
 * Beyond what ASan and UBSan catch, it checks the loader's contract: a
 * failure leaves one line starting "config: " in errbuf, a success leaves
 * every option readable. Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const levels[] = {"debug", "info", "warn", "error", NULL};

/* Every type, nested names, and a name deep enough to reach the depth
 * limit's neighbourhood. */
static const struct config_option table[] = {
    {.name = "log.level", .type = CONFIG_ENUM, .def = "info", .choices = levels},
    {.name = "metrics.addr", .type = CONFIG_STRING, .def = "127.0.0.1"},
    {.name = "metrics.port", .type = CONFIG_INT, .def = "8080", .min = 0, .max = 65535},
    {.name = "kubeconfig", .type = CONFIG_STRING},
    {.name = "dry-run", .type = CONFIG_BOOL, .def = "false"},
    {.name = "resync", .type = CONFIG_DURATION, .def = "5m", .min = 1000, .max = 3600000},
    {.name = "offset", .type = CONFIG_INT, .def = "0"},
    {.name = "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q", .type = CONFIG_STRING},
    {0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg;
	char errbuf[512];

	if (config_new(table, &cfg, errbuf, sizeof(errbuf)) != 0)
		abort();
	errbuf[0] = '\0';
	if (config_load_yaml(cfg, "fuzz.yaml", (const char *)data, size, errbuf, sizeof(errbuf)) !=
	    0) {
		if (strncmp(errbuf, "config: ", 8) != 0 || strchr(errbuf, '\n') != NULL)
			abort();
	} else {
		volatile long long sink = 0;
		sink += config_get_int(cfg, "metrics.port");
		sink += config_get_bool(cfg, "dry-run");
		sink += config_get_duration_ms(cfg, "resync");
		sink += (long long)strlen(config_get_string(cfg, "log.level"));
		sink += (long long)strlen(config_get_string(cfg, "metrics.addr"));
		(void)sink;
		if (config_get_int(cfg, "metrics.port") < 0 ||
		    config_get_int(cfg, "metrics.port") > 65535)
			abort();
	}
	config_free(cfg);
	return 0;
}
