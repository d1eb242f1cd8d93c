/* fuzz_tw_parse_json.c -- libFuzzer target for the JSON scanner.
 *
 * The first input byte picks a mapping (timestamp kind, nested paths), the
 * rest is the message. Besides crashes and sanitizer reports it checks:
 * whatever tw_parse accepts, cJSON (an independent parser) accepts too, and
 * the top-level numbers and key strings read the same in both.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iworkers -Ilib $(pkg-config --cflags libcjson) tests/fuzz/fuzz_tw_parse_json.c \
 *     lib/contract/tw_parse.c lib/contract/tw_time.c workers/store/lineproto.c \
 *     $(pkg-config --libs libcjson) -lm -o fuzz_tw_parse_json
 *   ./fuzz_tw_parse_json -max_total_time=30 tests/fuzz/corpus/json
 */
#include <cjson/cJSON.h>

#include "fuzz_common.h"

#define N_SPECS 4

static struct tw_parser *parsers[N_SPECS];

static const char *const keys0[] = {"device", "site"};
static const char *const values0[] = {"temp", "hum"};
static const char *const keys3[] = {"device.id", "a.b\\.c"};
static const char *const values3[] = {"m.temp", "m.x.y", "temp"};

static void setup(void)
{
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_JSON,
	    .ts_field = "ts",
	    .key_fields = keys0,
	    .n_key_fields = 2,
	    .value_fields = values0,
	    .n_value_fields = 2,
	};
	char err[256];

	spec.ts_kind = TW_TIME_RFC3339;
	parsers[0] = tw_parser_new(&spec, err, sizeof(err));
	spec.ts_kind = TW_TIME_EPOCH_MS;
	parsers[1] = tw_parser_new(&spec, err, sizeof(err));
	spec.ts_kind = TW_TIME_STRPTIME;
	spec.ts_format = "%Y-%m-%d %H:%M:%S.%f%z";
	parsers[2] = tw_parser_new(&spec, err, sizeof(err));
	spec.ts_kind = TW_TIME_EPOCH_S;
	spec.ts_field = "meta.ts";
	spec.key_fields = keys3;
	spec.value_fields = values3;
	spec.n_value_fields = 3;
	parsers[3] = tw_parser_new(&spec, err, sizeof(err));
	for (int i = 0; i < N_SPECS; i++)
		FUZZ_CHECK(parsers[i] != NULL);
}

/* The top-level member name, or NULL if absent or repeated (cJSON keeps
 * the first of repeated names). */
static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *found = NULL, *it;

	cJSON_ArrayForEach(it, obj)
	{
		if (it->string != NULL && strcmp(it->string, name) == 0) {
			if (found != NULL)
				return NULL;
			found = it;
		}
	}
	return found;
}

static void differential(const char *msg, size_t len, int spec, int r, const struct tw_event *ev)
{
	const char *end = NULL;
	cJSON *doc;

	/* cJSON does not skip a byte order mark */
	if (len >= 3 && memcmp(msg, "\xef\xbb\xbf", 3) == 0)
		return;
	doc = cJSON_ParseWithLengthOpts(msg, len, &end, 0);
	if (r == TW_EVENT_E_SYNTAX) {
		cJSON_Delete(doc);
		return;
	}
	/* not a syntax error: the message is a JSON object */
	FUZZ_CHECK(doc != NULL);
	FUZZ_CHECK(cJSON_IsObject(doc));
	{
		/* nothing but white space after it */
		size_t rest = (size_t)(end - msg);

		while (rest < len && (msg[rest] == ' ' || msg[rest] == '\t' || msg[rest] == '\n' ||
		                      msg[rest] == '\r'))
			rest++;
		FUZZ_CHECK(rest == len);
	}
	if (r == TW_EVENT_OK && spec < 3) {
		for (int i = 0; i < 2; i++) {
			const cJSON *v = member(doc, values0[i]);

			if (ev->present & (1u << i)) {
				FUZZ_CHECK(v != NULL && cJSON_IsNumber(v));
				FUZZ_CHECK(v->valuedouble == ev->values[i]);
			} else if (v != NULL) {
				FUZZ_CHECK(cJSON_IsNull(v));
			}
		}
		{
			/* the first key part, when it was a string */
			const cJSON *d = member(doc, "device");
			size_t part = 0;

			while (part < ev->key_len && ev->key[part] != TW_KEY_SEP)
				part++;
			FUZZ_CHECK(d != NULL);
			if (cJSON_IsString(d)) {
				FUZZ_CHECK(strlen(d->valuestring) == part);
				FUZZ_CHECK(memcmp(d->valuestring, ev->key, part) == 0);
			} else {
				FUZZ_CHECK(cJSON_IsNumber(d));
			}
		}
	}
	cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_event ev;
	char err[512];
	char *msg;
	int spec, r;

	if (parsers[0] == NULL)
		setup();
	if (size == 0)
		return 0;
	spec = data[0] % N_SPECS;
	msg = fuzz_copy(data + 1, size - 1);
	err[0] = '\0';
	r = tw_parser_parse(parsers[spec], msg, size - 1, &ev, err, sizeof(err));
	fuzz_check_result(r, &ev, err, 2, spec == 3 ? 3 : 2);
	differential(msg, size - 1, spec, r, &ev);
	free(msg);
	return 0;
}
