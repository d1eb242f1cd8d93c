/* fuzz_input.h -- what every fuzz target shares: a check that aborts (so
 * libFuzzer keeps the input), an exact-size copy of the input, the input cut
 * into fields, and a resource document read the way spec_load_document reads
 * a file (JSON when the first non-blank byte is '{', YAML otherwise).
 *
 * Header-only: each target stays one file. */
#ifndef SLUICE_FUZZ_INPUT_H
#define SLUICE_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "yaml_json.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A copy of data in a block of exactly size bytes, so ASan sees any read
 * past the end (libFuzzer's own buffer is exact too; this keeps the
 * targets honest when run on a corpus by other drivers). */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);

	FUZZ_CHECK(copy != NULL);
	if (size > 0)
		memcpy(copy, data, size);
	return copy;
}

/*
 * Cuts data into at most n NUL-terminated fields at each sep byte; the last
 * field takes the rest, separators included. Missing fields are NULL.
 * Returns the block the fields point into (the caller frees it) and the
 * number of fields found in *found.
 */
static inline char *fuzz_fields(const uint8_t *data, size_t size, char sep, char **fields, size_t n,
                                size_t *found)
{
	char *buf = malloc(size + 1);
	size_t k = 0;

	FUZZ_CHECK(buf != NULL);
	if (size > 0)
		memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < n; i++)
		fields[i] = NULL;
	if (n > 0) {
		char *p = buf;

		fields[k++] = p;
		while (k < n && (p = memchr(p, sep, (size_t)(buf + size - p))) != NULL) {
			*p++ = '\0';
			fields[k++] = p;
		}
	}
	*found = k;
	return buf;
}

/* With FUZZ_VERBOSE=1 in the environment, says what became of an input:
 * for checking that a seed reaches the path it was written for. */
static inline void fuzz_note(const char *what, const char *msg)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "fuzz: %s: %s\n", what, msg != NULL ? msg : "");
}

/* A message for a person: some text, and one line of it. */
static inline void fuzz_check_one_line(const char *msg)
{
	FUZZ_CHECK(msg[0] != '\0');
	FUZZ_CHECK(strchr(msg, '\n') == NULL);
}

/* The document in data as spec_load_document reads a file; NULL when it
 * is not valid JSON or YAML. */
static inline cJSON *fuzz_document(const uint8_t *data, size_t size)
{
	char errbuf[256];
	size_t i = 0;
	cJSON *doc = NULL;

	while (i < size &&
	       (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < size && data[i] == '{') {
		char *text = fuzz_copy(data, size);

		doc = cJSON_ParseWithLength(text, size);
		free(text);
		return doc;
	}
	errbuf[0] = '\0';
	if (yaml_json_parse((const char *)data, size, &doc, errbuf, sizeof(errbuf)) != 0) {
		FUZZ_CHECK(doc == NULL);
		fuzz_check_one_line(errbuf);
		return NULL;
	}
	return doc;
}

#endif
