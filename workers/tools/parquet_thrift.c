/* parquet_thrift.c -- Thrift's compact protocol, read only; see parquet_thrift.h. */
#include "parquet_thrift.h"

void thrift_init(struct thrift *t, const void *data, size_t len)
{
	t->p = data;
	t->end = t->p + len;
	t->err = NULL;
}

size_t thrift_used(const struct thrift *t, const void *data)
{
	return (size_t)(t->p - (const uint8_t *)data);
}

int thrift_fail(struct thrift *t, const char *why)
{
	if (t->err == NULL)
		t->err = why;
	return -1;
}

static int byte(struct thrift *t, uint8_t *b)
{
	if (t->err != NULL)
		return -1;
	if (t->p >= t->end)
		return thrift_fail(t, "truncated");
	*b = *t->p++;
	return 0;
}

/* An unsigned LEB128 varint of at most max_bytes bytes. */
static int varint(struct thrift *t, uint64_t *v, int max_bytes)
{
	uint64_t r = 0;

	for (int i = 0; i < max_bytes; i++) {
		uint8_t b;
		if (byte(t, &b) < 0)
			return -1;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = r;
			return 0;
		}
	}
	return thrift_fail(t, "varint too long");
}

static int64_t unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int thrift_field(struct thrift *t, int16_t *last, int16_t *id)
{
	uint8_t b;

	if (byte(t, &b) < 0)
		return -1;
	int type = b & 0x0f;
	if (type == THRIFT_STOP)
		return THRIFT_STOP;
	if (type > THRIFT_STRUCT)
		return thrift_fail(t, "unknown field type");
	int delta = b >> 4;
	if (delta != 0) {
		int next = *last + delta;
		if (next > INT16_MAX)
			return thrift_fail(t, "field id out of range");
		*id = (int16_t)next;
	} else {
		uint64_t u;
		if (varint(t, &u, 3) < 0)
			return -1;
		int64_t v = unzigzag(u);
		if (v < INT16_MIN || v > INT16_MAX)
			return thrift_fail(t, "field id out of range");
		*id = (int16_t)v;
	}
	*last = *id;
	return type;
}

int thrift_i32(struct thrift *t, int32_t *v)
{
	uint64_t u;

	if (varint(t, &u, 5) < 0)
		return -1;
	int64_t s = unzigzag(u);
	if (s < INT32_MIN || s > INT32_MAX)
		return thrift_fail(t, "i32 out of range");
	*v = (int32_t)s;
	return 0;
}

int thrift_i64(struct thrift *t, int64_t *v)
{
	uint64_t u;

	if (varint(t, &u, 10) < 0)
		return -1;
	*v = unzigzag(u);
	return 0;
}

int thrift_i8(struct thrift *t, int8_t *v)
{
	uint8_t b;

	if (byte(t, &b) < 0)
		return -1;
	*v = (int8_t)b;
	return 0;
}

int thrift_binary(struct thrift *t, const uint8_t **p, size_t *len)
{
	uint64_t n;

	if (varint(t, &n, 5) < 0)
		return -1;
	if (n > (uint64_t)(t->end - t->p))
		return thrift_fail(t, "string longer than the bytes left");
	*p = t->p;
	*len = (size_t)n;
	t->p += n;
	return 0;
}

int thrift_list(struct thrift *t, int *elem_type, uint32_t *n)
{
	uint8_t b;
	uint64_t size;

	if (byte(t, &b) < 0)
		return -1;
	size = b >> 4;
	if (size == 15 && varint(t, &size, 5) < 0)
		return -1;
	*elem_type = b & 0x0f;
	if (*elem_type == THRIFT_STOP || *elem_type > THRIFT_STRUCT)
		return thrift_fail(t, "unknown list element type");
	/* Every element takes at least one byte. */
	if (size > (uint64_t)(t->end - t->p))
		return thrift_fail(t, "list longer than the bytes left");
	*n = (uint32_t)size;
	return 0;
}

static int skip(struct thrift *t, int type, int depth, int in_list)
{
	uint64_t u;
	const uint8_t *p;
	size_t len;
	uint8_t b;

	if (depth > THRIFT_DEPTH_MAX)
		return thrift_fail(t, "nested too deep");
	switch (type) {
	case THRIFT_TRUE:
	case THRIFT_FALSE:
		/* A bool field holds its value in its type; a list's is a byte. */
		return in_list ? byte(t, &b) : 0;
	case THRIFT_I8:
		return byte(t, &b);
	case THRIFT_I16:
	case THRIFT_I32:
	case THRIFT_I64:
		return varint(t, &u, 10);
	case THRIFT_DOUBLE:
		if (t->err != NULL)
			return -1;
		if (t->end - t->p < 8)
			return thrift_fail(t, "truncated");
		t->p += 8;
		return 0;
	case THRIFT_BINARY:
		return thrift_binary(t, &p, &len);
	case THRIFT_LIST:
	case THRIFT_SET: {
		int et;
		uint32_t n;
		if (thrift_list(t, &et, &n) < 0)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (skip(t, et, depth + 1, 1) < 0)
				return -1;
		return 0;
	}
	case THRIFT_MAP: {
		if (varint(t, &u, 5) < 0)
			return -1;
		if (u == 0)
			return 0;
		if (byte(t, &b) < 0)
			return -1;
		int kt = b >> 4, vt = b & 0x0f;
		if (kt == THRIFT_STOP || kt > THRIFT_STRUCT || vt == THRIFT_STOP ||
		    vt > THRIFT_STRUCT)
			return thrift_fail(t, "unknown map element type");
		if (u > (uint64_t)(t->end - t->p) / 2)
			return thrift_fail(t, "map longer than the bytes left");
		for (uint64_t i = 0; i < u; i++)
			if (skip(t, kt, depth + 1, 1) < 0 || skip(t, vt, depth + 1, 1) < 0)
				return -1;
		return 0;
	}
	case THRIFT_STRUCT: {
		int16_t last = 0, id;
		for (;;) {
			int ft = thrift_field(t, &last, &id);
			if (ft < 0)
				return -1;
			if (ft == THRIFT_STOP)
				return 0;
			if (skip(t, ft, depth + 1, 0) < 0)
				return -1;
		}
	}
	default:
		return thrift_fail(t, "unknown type");
	}
}

int thrift_skip(struct thrift *t, int type)
{
	return skip(t, type, 0, 0);
}
