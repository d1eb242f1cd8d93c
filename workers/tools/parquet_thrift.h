/* parquet_thrift.h -- Thrift's compact protocol, read only, for Parquet's
 * footer (FileMetaData) and page headers (parquet.c).
 *
 * A cursor over a byte range: every read checks the range, so a corrupt or
 * hostile input ends in an error, never a read past it. The first error
 * sticks (c->err, a static string) and every later read fails at once, so a
 * caller may read several fields and check once. Skipping nests at most
 * THRIFT_DEPTH_MAX structs, lists and maps deep. Pure; no allocation.
 *
 * The encoding: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */
#ifndef SLUICE_PARQUET_THRIFT_H
#define SLUICE_PARQUET_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#define THRIFT_DEPTH_MAX 32

/* The compact protocol's type codes (a field header's low nibble). */
enum thrift_type {
	THRIFT_STOP = 0,
	THRIFT_TRUE = 1, /* a bool field's value is its type; in a list, a byte 1 */
	THRIFT_FALSE = 2,
	THRIFT_I8 = 3,
	THRIFT_I16 = 4,
	THRIFT_I32 = 5,
	THRIFT_I64 = 6,
	THRIFT_DOUBLE = 7,
	THRIFT_BINARY = 8,
	THRIFT_LIST = 9,
	THRIFT_SET = 10,
	THRIFT_MAP = 11,
	THRIFT_STRUCT = 12,
};

struct thrift {
	const uint8_t *p, *end;
	const char *err; /* NULL while every read succeeded */
};

void thrift_init(struct thrift *t, const void *data, size_t len);

/* Bytes read so far from data. */
size_t thrift_used(const struct thrift *t, const void *data);

/*
 * The next field header of the struct being read: returns its type (> 0)
 * with its id in *id (from *last, the previous field's id, which it
 * updates), THRIFT_STOP at the struct's end, or -1 on error.
 */
int thrift_field(struct thrift *t, int16_t *last, int16_t *id);

/* Values. Each returns 0, or -1 on error (t->err says why). */
int thrift_i32(struct thrift *t, int32_t *v); /* also reads an i16 */
int thrift_i64(struct thrift *t, int64_t *v);
int thrift_i8(struct thrift *t, int8_t *v);
/* A binary or string: *p points into the input (len bytes, not NUL-terminated). */
int thrift_binary(struct thrift *t, const uint8_t **p, size_t *len);
/* A list or set header: the elements' type and count (at most the bytes left). */
int thrift_list(struct thrift *t, int *elem_type, uint32_t *n);

/* Skips a value of the given type (a field's or a list element's). */
int thrift_skip(struct thrift *t, int type);

/* Records an error the caller found (a wrong field type, say); the first
 * error sticks. Returns -1. */
int thrift_fail(struct thrift *t, const char *why);

#endif
