/* fuzz_tw_parse_csv.c -- libFuzzer target for the CSV record parser.
 *
 * The first input byte picks a delimiter and a timestamp kind, the rest is
 * the record. Besides crashes and sanitizer reports it checks the result's
 * invariants and that an accepted record, written back out with every cell
 * quoted, parses to the same event (the quoting and unquoting agree).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iworkers -Ilib tests/fuzz/fuzz_tw_parse_csv.c lib/contract/tw_parse.c \
 *     lib/contract/tw_time.c workers/store/lineproto.c -lm -o fuzz_tw_parse_csv
 *   ./fuzz_tw_parse_csv -max_total_time=30 tests/fuzz/corpus/csv
 */
#include "fuzz_common.h"

#define N_SPECS 4

static struct tw_parser *parsers[N_SPECS];
/* the keys only, all quoted: ts,"key1","key2" */
static struct tw_parser *keys_only;

static const char *const cols[] = {"ts", "device", "site", "temp", "hum"};
static const char *const keys[] = {"device", "site"};
static const char *const values[] = {"temp", "hum"};

static void setup(void)
{
	static const char delims[N_SPECS] = {',', ';', '\t', '|'};
	static const enum tw_time_kind kinds[N_SPECS] = {TW_TIME_EPOCH_MS, TW_TIME_RFC3339,
	                                                 TW_TIME_EPOCH_S, TW_TIME_STRPTIME};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_CSV,
	    .ts_field = "ts",
	    .ts_format = "%d/%m/%Y %T",
	    .key_fields = keys,
	    .n_key_fields = 2,
	    .value_fields = values,
	    .n_value_fields = 2,
	    .csv_columns = cols,
	    .n_csv_columns = 5,
	};
	char err[256];

	for (int i = 0; i < N_SPECS; i++) {
		spec.csv_delimiter = delims[i];
		spec.ts_kind = kinds[i];
		parsers[i] = tw_parser_new(&spec, err, sizeof(err));
		FUZZ_CHECK(parsers[i] != NULL);
	}
	spec.csv_delimiter = ',';
	spec.ts_kind = TW_TIME_EPOCH_NS;
	spec.n_csv_columns = 3;
	spec.n_value_fields = 0;
	keys_only = tw_parser_new(&spec, err, sizeof(err));
	FUZZ_CHECK(keys_only != NULL);
}

/* Quotes n bytes of s into out RFC 4180 style; returns the new length. */
static size_t put_quoted(char *out, size_t o, const char *s, size_t n)
{
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			out[o++] = '"';
		out[o++] = s[i];
	}
	out[o++] = '"';
	return o;
}

static void requote(const struct tw_event *ev)
{
	char line[4 * TW_KEY_MAX + 64];
	struct tw_event back;
	char err[512];
	size_t o, sep = 0;

	while (ev->key[sep] != TW_KEY_SEP)
		sep++;
	o = (size_t)snprintf(line, sizeof(line), "%lld,", (long long)ev->ts_ns);
	o = put_quoted(line, o, ev->key, sep);
	line[o++] = ',';
	o = put_quoted(line, o, ev->key + sep + 1, ev->key_len - sep - 1);
	line[o++] = '\r';
	line[o++] = '\n';
	FUZZ_CHECK(tw_parser_parse(keys_only, line, o, &back, err, sizeof(err)) == 0);
	FUZZ_CHECK(back.ts_ns == ev->ts_ns);
	FUZZ_CHECK(back.key_len == ev->key_len);
	FUZZ_CHECK(memcmp(back.key, ev->key, ev->key_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_event ev;
	char err[512];
	char *msg;
	int r;

	if (parsers[0] == NULL)
		setup();
	if (size == 0)
		return 0;
	msg = fuzz_copy(data + 1, size - 1);
	err[0] = '\0';
	r = tw_parser_parse(parsers[data[0] % N_SPECS], msg, size - 1, &ev, err, sizeof(err));
	fuzz_check_result(r, &ev, err, 2, 2);
	if (r == 0)
		requote(&ev);
	free(msg);
	return 0;
}
