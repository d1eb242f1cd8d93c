/*
 * fuzz_tw_spec.c - libFuzzer target for the TelemetryWindow spec reader
 * (lib/contract/tw_spec.c, with spec_common.c and spec_read.c under it) as
 * the operator and the worker read a resource: a document (JSON or YAML),
 * the operator's defaults applied (spec_defaults_apply), then
 * tw_spec_parse_document.
 *
 * Beyond ASan and UBSan it checks the reader's contract: a refusal is one
 * line naming the field; an accepted spec has every required member set and
 * its window rules held (slide divides size, at most TW_WINDOW_PANES_MAX
 * panes); applying the defaults twice changes nothing more than once; the
 * spec frees twice safely. Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "spec_defaults.h"
#include "tw_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spec_defaults defaults = {
    .kafka_bootstrap = "kafka-0.kafka:9092",
    .kafka = {.tls = 1,
              .ca = "kafka-ca/ca.crt",
              .sasl_mechanism = "SCRAM-SHA-512",
              .sasl_username = "kafka-user/username",
              .sasl_password = "kafka-user/password"},
    .redis_addr = "redis:6379",
    .redis_password_secret = "redis-auth",
    .redis_password_key = "password",
    .postgres_secret = "pg",
    .influx_url = "http://influxdb:8086",
    .influx_database = "sluice",
};

static void check_spec(const struct tw_spec *s)
{
	FUZZ_CHECK(s->name != NULL && s->namespace != NULL);
	FUZZ_CHECK(s->kafka.bootstrap != NULL && s->kafka.topic != NULL);
	FUZZ_CHECK(s->kafka.group != NULL && s->kafka.dead_letter_topic != NULL);
	FUZZ_CHECK(strcmp(s->kafka.topic, s->kafka.dead_letter_topic) != 0);
	FUZZ_CHECK(s->fields.timestamp != NULL);
	FUZZ_CHECK(s->fields.nkeys <= TW_KEYS_MAX && s->fields.nvalues <= TW_VALUES_MAX);
	FUZZ_CHECK(s->window.size_ns > 0 && s->window.size_ns <= TW_SPEC_DURATION_MAX_NS);
	FUZZ_CHECK(s->window.slide_ns > 0 && s->window.size_ns % s->window.slide_ns == 0);
	FUZZ_CHECK(s->window.size_ns / s->window.slide_ns <= TW_WINDOW_PANES_MAX);
	FUZZ_CHECK(s->dedupe.max_entries <= TW_DEDUPE_MAX_ENTRIES_LIMIT);
	FUZZ_CHECK(s->workers.min_replicas >= 0 &&
	           s->workers.min_replicas <= s->workers.max_replicas);
	FUZZ_CHECK(!s->sinks.influxdb.enabled || s->sinks.influxdb_raw ||
	           s->sinks.influxdb_windows);
	FUZZ_CHECK(!s->sinks.redis.enabled ||
	           (s->sinks.redis.addr != NULL && s->sinks.redis.prefix != NULL));
	FUZZ_CHECK(!s->sinks.postgres.enabled || s->sinks.postgres.table != NULL);
}

/* a and b print the same (cJSON_Compare would look a repeated member up
 * by its first occurrence). */
static void same_text(const cJSON *a, const cJSON *b)
{
	char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);

	FUZZ_CHECK(ta != NULL && tb != NULL && strcmp(ta, tb) == 0);
	free(ta);
	free(tb);
}

/* Parses doc; 0 when accepted. */
static int parse(const cJSON *doc)
{
	struct tw_spec spec;
	char errbuf[512];
	int rc;

	errbuf[0] = '\0';
	rc = tw_spec_parse_document(doc, &spec, errbuf, sizeof(errbuf));
	FUZZ_CHECK(rc == 0 || rc == TW_SPEC_E_INVALID || rc == TW_SPEC_E_NOMEM);
	fuzz_note(rc == 0 ? "accepted" : "refused", errbuf);
	if (rc != 0) {
		fuzz_check_one_line(errbuf);
		return rc;
	}
	check_spec(&spec);
	tw_spec_free(&spec);
	tw_spec_free(&spec);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = fuzz_document(data, size);
	cJSON *spec, *once, *twice;

	if (doc == NULL)
		return 0;
	(void)parse(doc);
	/* The operator's path: its defaults filled into .spec first. */
	spec = cJSON_GetObjectItemCaseSensitive(doc, "spec");
	if (spec != NULL) {
		once = spec_defaults_apply(spec, &defaults);
		FUZZ_CHECK(once != NULL);
		twice = spec_defaults_apply(once, &defaults);
		FUZZ_CHECK(twice != NULL);
		same_text(once, twice);
		cJSON_Delete(twice);
		FUZZ_CHECK(cJSON_ReplaceItemInObjectCaseSensitive(doc, "spec", once));
		(void)parse(doc);
	}
	cJSON_Delete(doc);
	return 0;
}
