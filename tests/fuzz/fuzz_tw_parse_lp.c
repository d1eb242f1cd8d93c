/* fuzz_tw_parse_lp.c -- libFuzzer target for the line protocol parser, and
 * through it for the encoder.
 *
 * The first input byte picks a timestamp precision, the rest is the line.
 * Besides crashes and sanitizer reports: an accepted line's event, encoded
 * again with tw_lp_append_event(), must either be refused with a reason or
 * parse back to exactly the same event (keys, time, values bit for bit).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iworkers -Ilib tests/fuzz/fuzz_tw_parse_lp.c lib/contract/tw_parse.c \
 *     lib/contract/tw_time.c workers/store/lineproto.c -lm -o fuzz_tw_parse_lp
 *   ./fuzz_tw_parse_lp -max_total_time=30 tests/fuzz/corpus/lp
 */
#include "fuzz_common.h"
#include "dtoa.h"
#include "lineproto.h"
#include "tw_event_lp.h"

#define N_SPECS 3

static struct tw_parser *parsers[N_SPECS];
static struct tw_parser *again;

static const char *const keys[] = {"_measurement", "host", "s"};
static const char *const values[] = {"temp", "n", "ok", "host"};
static const char *const tag_names[] = {"k0", "k 1", "k,2"};
static const char *const field_names[] = {"temp", "n", "ok", "host"};

static void setup(void)
{
	static const enum tw_time_kind kinds[N_SPECS] = {TW_TIME_UNSET, TW_TIME_EPOCH_MS,
	                                                 TW_TIME_EPOCH_S};
	struct tw_parser_spec spec = {
	    .format = TW_FORMAT_LP,
	    .key_fields = keys,
	    .n_key_fields = 3,
	    .value_fields = values,
	    .n_value_fields = 4,
	};
	char err[256];

	for (int i = 0; i < N_SPECS; i++) {
		spec.ts_kind = kinds[i];
		parsers[i] = tw_parser_new(&spec, err, sizeof(err));
		FUZZ_CHECK(parsers[i] != NULL);
	}
	spec.ts_kind = TW_TIME_UNSET;
	spec.key_fields = tag_names;
	spec.value_fields = field_names;
	again = tw_parser_new(&spec, err, sizeof(err));
	FUZZ_CHECK(again != NULL);
}

static void round_trip(const struct tw_event *ev)
{
	struct buf b;
	struct tw_event back;
	char err[512];
	int r;

	buf_init(&b, 1 << 16);
	r = tw_lp_append_event(&b, "m", tag_names, 3, field_names, 4, ev, err, sizeof(err));
	if (r == 0) {
		FUZZ_CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
		r = tw_parser_parse(again, b.data, b.len, &back, err, sizeof(err));
		if (r != 0) {
			fprintf(stderr, "re-parse of [%.*s] failed: %s\n", (int)b.len, b.data, err);
			abort();
		}
		FUZZ_CHECK(back.ts_ns == ev->ts_ns);
		FUZZ_CHECK(back.key_len == ev->key_len);
		FUZZ_CHECK(memcmp(back.key, ev->key, ev->key_len) == 0);
		FUZZ_CHECK(back.present == ev->present);
		for (int i = 0; i < 4; i++)
			if (ev->present & (1u << i))
				FUZZ_CHECK(back.values[i] == ev->values[i]);
	} else {
		FUZZ_CHECK(r == LP_E_INVALID && err[0] != '\0');
		FUZZ_CHECK(b.len == 0);
	}
	buf_free(&b);
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
	fuzz_check_result(r, &ev, err, 3, 4);
	if (r == 0)
		round_trip(&ev);
	free(msg);
	return 0;
}
