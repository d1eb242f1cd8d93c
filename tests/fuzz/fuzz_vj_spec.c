/*
 * fuzz_vj_spec.c - libFuzzer target for the VideoJob spec reader
 * (lib/contract/vj_spec.c, with spec_common.c and spec_read.c under it): a
 * document (JSON or YAML) as the operator and the video workers read it,
 * as written and with the operator's defaults applied.
 *
 * Checks beyond the sanitizers: a refusal is one line naming the field; an
 * accepted spec holds its documented bounds (segmentSeconds 1..60,
 * maxAttempts 1..100, crf 0..51, replicas ordered, a table and a Redis
 * prefix always set, output not the source); the job id fits exactly where
 * it says it does. Run: make fuzz (FUZZ_TIME=seconds).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "spec_defaults.h"
#include "vj_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spec_defaults defaults = {
    .kafka_bootstrap = "kafka-0.kafka:9092,kafka-1.kafka:9092",
    .kafka = {.server_name = "kafka.example", .ca = "kafka-ca/ca.crt"},
    .redis_addr = "redis:6379",
    .postgres_secret = "pg",
};

static void check_job_id(const struct vj_spec *s)
{
	char want[512];
	int n = snprintf(want, sizeof(want), "%s/%s", s->namespace, s->name);
	size_t len = (size_t)n;
	char *exact = malloc(len + 1);

	FUZZ_CHECK(n > 0 && len < sizeof(want) && exact != NULL);
	/* Exactly big enough: fits; one byte less: refused, nothing past it written. */
	FUZZ_CHECK(vj_spec_job_id(s, exact, len + 1) == 0 && strcmp(exact, want) == 0);
	FUZZ_CHECK(vj_spec_job_id(s, exact, len) == -1);
	free(exact);
}

static void check_spec(const struct vj_spec *s)
{
	FUZZ_CHECK(s->name != NULL && s->namespace != NULL);
	FUZZ_CHECK(s->source_uri != NULL && s->output_uri != NULL);
	FUZZ_CHECK(strcmp(s->source_uri, s->output_uri) != 0);
	FUZZ_CHECK(s->segment_seconds >= 1 && s->segment_seconds <= 60);
	FUZZ_CHECK(s->max_attempts >= 1 && s->max_attempts <= 100);
	FUZZ_CHECK(s->encoder.codec != NULL && s->encoder.preset != NULL);
	FUZZ_CHECK(s->encoder.crf >= 0 && s->encoder.crf <= 51);
	FUZZ_CHECK((s->analysis & ~(unsigned)VJ_ANALYSIS_ALL) == 0);
	FUZZ_CHECK(s->filters == NULL || s->filters[0] != '\0');
	FUZZ_CHECK(s->kafka.bootstrap != NULL && s->kafka.topic != NULL);
	FUZZ_CHECK(s->workers.min_replicas >= 0 &&
	           s->workers.min_replicas <= s->workers.max_replicas &&
	           s->workers.max_replicas >= 1 && s->workers.max_replicas <= SPEC_REPLICAS_MAX);
	FUZZ_CHECK(s->sinks.postgres.table != NULL && s->sinks.redis.prefix != NULL);
	FUZZ_CHECK(!s->sinks.postgres_delete_with_job || s->sinks.postgres.dsn.name != NULL);
	check_job_id(s);
}

static void parse(const cJSON *doc)
{
	struct vj_spec spec;
	char errbuf[512];
	int rc;

	errbuf[0] = '\0';
	rc = vj_spec_parse_document(doc, &spec, errbuf, sizeof(errbuf));
	FUZZ_CHECK(rc == 0 || rc == VJ_SPEC_E_INVALID || rc == VJ_SPEC_E_NOMEM);
	fuzz_note(rc == 0 ? "accepted" : "refused", errbuf);
	if (rc != 0) {
		fuzz_check_one_line(errbuf);
		return;
	}
	check_spec(&spec);
	vj_spec_free(&spec);
	vj_spec_free(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc = fuzz_document(data, size);
	cJSON *spec, *once;

	if (doc == NULL)
		return 0;
	parse(doc);
	spec = cJSON_GetObjectItemCaseSensitive(doc, "spec");
	if (spec != NULL) {
		once = spec_defaults_apply(spec, &defaults);
		FUZZ_CHECK(once != NULL);
		FUZZ_CHECK(cJSON_ReplaceItemInObjectCaseSensitive(doc, "spec", once));
		parse(doc);
	}
	cJSON_Delete(doc);
	return 0;
}
