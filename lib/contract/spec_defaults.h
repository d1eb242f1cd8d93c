/* spec_defaults.h -- a resource's effective spec: what the operator fills in
 * where a TelemetryWindow or VideoJob leaves the Kafka bootstrap or a whole
 * sink out (docs/contracts.md §1 and §3). The operator writes the result
 * into the workers' ConfigMap; the dashboard reads the same result to find
 * where the workers wrote. One function, so the two never disagree. Pure.
 */
#ifndef SLUICE_SPEC_DEFAULTS_H
#define SLUICE_SPEC_DEFAULTS_H

#include <cjson/cJSON.h>

/* NULL or "" members are unset. */
struct spec_defaults {
	const char *kafka_bootstrap; /* kafka.bootstrap when left out */
	const char *redis_addr;      /* sinks.redis {addr} */
	const char *postgres_secret; /* sinks.postgres {dsn: {name: this, key: "dsn"}} */
	const char *influx_url;      /* sinks.influxdb {url, database}, both needed */
	const char *influx_database;
};

/*
 * A deep copy of spec where d fills what the resource leaves out:
 * kafka.bootstrap, and whole sinks (a sink the resource names is left
 * exactly as it is). An empty "sinks" is left out. A spec that is not an
 * object is copied as it is (the parser names the problem). New object, or
 * NULL when out of memory.
 */
cJSON *spec_defaults_apply(const cJSON *spec, const struct spec_defaults *d);

#endif
