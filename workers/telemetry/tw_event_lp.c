/* tw_event_lp.c -- a raw event as a line protocol point; see tw_event_lp.h. */
#include "tw_event_lp.h"

#include <stdint.h>

#include "err.h"

int tw_lp_append_event(struct buf *b, const char *measurement, const char *const *key_names,
                       size_t n_keys, const char *const *value_names, size_t n_values,
                       const struct tw_event *ev, char *errbuf, size_t errbuf_size)
{
	struct lp_tag tags[TW_KEY_MAX];
	struct lp_field fields[TW_VALUES_MAX];
	struct lp_point pt;
	size_t n_tags = 0, n_fields = 0, start = 0, key_len = ev->key_len;

	if (n_keys > TW_KEY_MAX || n_values > TW_VALUES_MAX)
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "too many keys or values");
	if (key_len > TW_KEY_MAX)
		return err_set(errbuf, errbuf_size, LP_E_INVALID, "event key longer than %d bytes",
		               TW_KEY_MAX);
	/* No key fields means one series for everything: the event key is
	 * then empty and no tag is written. */
	if (n_keys > 0) {
		for (size_t i = 0; i <= key_len; i++) {
			if (i < key_len && ev->key[i] != TW_KEY_SEP)
				continue;
			if (n_tags == n_keys)
				return err_set(errbuf, errbuf_size, LP_E_INVALID,
				               "event key has more than %zu parts", n_keys);
			tags[n_tags].key = key_names[n_tags];
			tags[n_tags].value = ev->key + start;
			tags[n_tags].value_len = i - start;
			n_tags++;
			start = i + 1;
		}
		if (n_tags != n_keys)
			return err_set(errbuf, errbuf_size, LP_E_INVALID,
			               "event key has %zu parts, expected %zu", n_tags, n_keys);
	} else if (key_len != 0) {
		return err_set(errbuf, errbuf_size, LP_E_INVALID,
		               "event has a key but no key names were given");
	}
	for (size_t i = 0; i < n_values; i++) {
		if (!(ev->present & (UINT32_C(1) << i)))
			continue;
		fields[n_fields].key = value_names[i];
		fields[n_fields].type = LP_FLOAT;
		fields[n_fields].v.f = ev->values[i];
		n_fields++;
	}
	pt.measurement = measurement;
	pt.tags = tags;
	pt.n_tags = n_tags;
	pt.fields = fields;
	pt.n_fields = n_fields;
	pt.ts_ns = ev->ts_ns;
	pt.has_ts = 1;
	return lp_append(b, &pt, errbuf, errbuf_size);
}
