/* parquet.c -- rows out of a Parquet file; see parquet.h.
 *
 * The way through a file: the footer (FileMetaData, Thrift compact) gives
 * the schema and, per row group, where each column's chunk is. A row group
 * at a time, every column's chunk is read whole; then each row takes the
 * next value of every column, decoding the chunk's pages one at a time:
 * a page header, the page decompressed, its definition levels (nulls) and
 * its values (PLAIN, or indexes into the chunk's dictionary page, whose
 * values are rendered to text once). A row group is read twice: whole,
 * values dropped, to find any damage before its first row is returned
 * (check_row_group), then row by row.
 *
 * Field numbers are parquet.thrift's:
 * https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
 */
#include "parquet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "err.h"
#include "parquet_text.h"
#include "parquet_thrift.h"

/* parquet.thrift's enums. */
enum { PT_BOOLEAN, PT_INT32, PT_INT64, PT_INT96, PT_FLOAT, PT_DOUBLE, PT_BYTE_ARRAY, PT_FLBA };
enum { REP_REQUIRED, REP_OPTIONAL, REP_REPEATED };
enum { CODEC_NONE, CODEC_SNAPPY, CODEC_GZIP, CODEC_LZO, CODEC_BROTLI, CODEC_LZ4, CODEC_ZSTD };
enum { PAGE_DATA, PAGE_INDEX, PAGE_DICTIONARY, PAGE_DATA_V2 };
enum {
	ENC_PLAIN = 0,
	ENC_PLAIN_DICTIONARY = 2,
	ENC_RLE = 3,
	ENC_RLE_DICTIONARY = 8,
	ENC_BYTE_STREAM_SPLIT = 9,
};
/* ConvertedType, the older annotations. */
enum {
	CT_UTF8 = 0,
	CT_ENUM = 4,
	CT_DECIMAL = 5,
	CT_DATE = 6,
	CT_TIME_MILLIS = 7,
	CT_TIME_MICROS = 8,
	CT_TIMESTAMP_MILLIS = 9,
	CT_TIMESTAMP_MICROS = 10,
	CT_UINT_8 = 11,
	CT_UINT_64 = 14,
	CT_INT_8 = 15,
	CT_INT_64 = 18,
	CT_JSON = 19,
};
/* LogicalType's union members. */
enum {
	LT_STRING = 1,
	LT_ENUM = 4,
	LT_DECIMAL = 5,
	LT_DATE = 6,
	LT_TIME = 7,
	LT_TIMESTAMP = 8,
	LT_INTEGER = 10,
	LT_UNKNOWN = 11,
	LT_JSON = 12,
	LT_UUID = 14,
	LT_FLOAT16 = 15,
};

/* How a column's values become text. */
enum kind {
	K_PHYSICAL, /* by the physical type alone: numbers, booleans; bytes in base64 */
	K_UINT,
	K_STRING,
	K_DECIMAL,
	K_DATE,
	K_TIME,
	K_TIMESTAMP,
	K_HALF,
	K_UUID,
};

static const char *const codec_names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                          "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
static const char *const type_names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                         "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
static const char *const encoding_names[] = {
    "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
    "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
    "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};

#define NAME_OF(names, v)                                                                          \
	((v) >= 0 && (size_t)(v) < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown")

struct chunk_meta {
	uint64_t start, len;
	int64_t values;
	int64_t data_off, dict_off; /* as the metadata says; start is checked */
	int codec;
};

struct row_group {
	int64_t rows;
	struct chunk_meta *chunks; /* one per column */
};

/* The RLE / bit-packed hybrid (levels, dictionary indexes, RLE booleans). */
struct rle {
	const uint8_t *p, *end;
	int width;
	uint64_t left; /* values left in the current run */
	int packed;
	uint32_t value;      /* an RLE run's */
	const uint8_t *bits; /* a bit-packed run's */
	uint64_t bit;
};

/* Text built up in a buffer that grows to at most max bytes. */
struct text {
	char *p;
	size_t len, cap, max;
};

struct column {
	char *name;
	int type;
	int32_t width; /* FIXED_LEN_BYTE_ARRAY's bytes */
	int optional;
	enum kind kind;
	int scale;
	enum pqtext_unit unit;
	int utc;

	/* The column chunk of the current row group. */
	const uint8_t *chunk;
	uint8_t *chunk_owned;
	size_t chunk_len, pos;
	uint64_t chunk_start;
	int codec;
	uint64_t page_start; /* the current page's offset in the file, for messages */
	int data_seen;

	/* Its dictionary, rendered: entry i is dict.p + dict_off[i], or has
	 * no text when dict_why[i] says why. */
	struct text dict;
	size_t *dict_off;
	const char **dict_why;
	uint32_t ndict;
	int has_dict;

	/* The current data page. */
	uint8_t *page;
	size_t page_cap;
	uint64_t left; /* levels (values and nulls) left in it */
	int has_defs;
	struct rle defs;
	int enc;
	const uint8_t *v, *vend; /* PLAIN and BYTE_STREAM_SPLIT values */
	uint64_t bit;      /* PLAIN booleans: the next bit; BYTE_STREAM_SPLIT: the next value */
	uint64_t nsplit;   /* BYTE_STREAM_SPLIT: values in the page */
	struct rle idx;    /* dictionary indexes, RLE booleans */
	uint8_t split[16]; /* BYTE_STREAM_SPLIT: one value put together */

	struct text cell;
	int null;
};

struct parquet_reader {
	char *name;
	int fd;
	const uint8_t *mem;
	uint64_t size;
	uint8_t *footer;
	struct column *cols;
	size_t ncols;
	char **names;
	char **cells;
	struct row_group *rgs;
	size_t nrgs;
	size_t rg;       /* the next row group to start */
	size_t cur_rg;   /* the current one, for messages */
	int64_t rg_left; /* rows left in the current one */
	uint64_t nrows, row;
	ZSTD_DCtx *zstd;
	char empty[1];
	int failed;
	int checking; /* in check_row_group: values are decoded, not made text */
	char failure[512];
};

/* A raw value: PLAIN bytes, or a boolean. */
struct raw {
	const uint8_t *p;
	size_t len;
	int b;
};

/* ---- messages ---- */

static int file_err(const struct parquet_reader *r, char *errbuf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int file_err(const struct parquet_reader *r, char *errbuf, size_t n, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errbuf != NULL && n > 0)
		snprintf(errbuf, n, "parquet: %s: %s", r->name, msg);
	return -1;
}

static int col_err(const struct parquet_reader *r, const struct column *c, char *errbuf, size_t n,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int col_err(const struct parquet_reader *r, const struct column *c, char *errbuf, size_t n,
                   const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errbuf != NULL && n > 0)
		snprintf(errbuf, n, "parquet: %s: row group %zu, column \"%s\": %s", r->name,
		         r->cur_rg, c->name, msg);
	return -1;
}

/* ---- little helpers ---- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int text_reserve(struct text *t, size_t more)
{
	if (more > t->max || t->len > t->max - more)
		return -1;
	if (t->len + more <= t->cap)
		return 0;
	size_t cap = t->cap == 0 ? 64 : t->cap;
	while (cap < t->len + more)
		cap *= 2;
	if (cap > t->max)
		cap = t->max;
	char *p = realloc(t->p, cap);
	if (p == NULL)
		return -1;
	t->p = p;
	t->cap = cap;
	return 0;
}

static int text_add(struct text *t, const void *s, size_t n)
{
	if (text_reserve(t, n + 1) < 0)
		return -1;
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
	return 0;
}

/* ---- the RLE / bit-packed hybrid ---- */

static void rle_init(struct rle *d, const uint8_t *p, size_t len, int width)
{
	memset(d, 0, sizeof(*d));
	d->p = p;
	d->end = p + len;
	d->width = width;
}

static int uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v, int max_bytes)
{
	uint64_t r = 0;

	for (int i = 0; i < max_bytes; i++) {
		if (*p >= end)
			return -1;
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* The next value; -1 when the data ends first or holds a value wider
 * than the bit width. */
static int rle_next(struct rle *d, uint32_t *v)
{
	uint64_t mask = d->width == 32 ? 0xffffffffu : ((uint64_t)1 << d->width) - 1;

	while (d->left == 0) {
		uint64_t h;
		if (uvarint(&d->p, d->end, &h, 5) < 0)
			return -1;
		size_t avail = (size_t)(d->end - d->p);
		if ((h & 1) != 0) {
			/* Bit-packed groups of 8 values; a writer may stop the last
			 * group's bytes short, so only whole values count. */
			uint64_t groups = h >> 1;
			uint64_t bytes = groups * (uint64_t)d->width;
			uint64_t count = groups * 8;
			if (bytes > avail) {
				bytes = avail;
				count = (uint64_t)avail * 8 / (uint64_t)d->width;
			}
			d->packed = 1;
			d->bits = d->p;
			d->bit = 0;
			d->left = count;
			d->p += bytes;
		} else {
			size_t nbytes = ((size_t)d->width + 7) / 8;
			uint64_t value = 0;
			if (nbytes > avail)
				return -1;
			for (size_t i = 0; i < nbytes; i++)
				value |= (uint64_t)d->p[i] << (8 * i);
			if (value > mask)
				return -1;
			d->p += nbytes;
			d->packed = 0;
			d->value = (uint32_t)value;
			d->left = h >> 1;
		}
	}
	d->left--;
	if (!d->packed) {
		*v = d->value;
		return 0;
	}
	uint64_t acc = 0, at = d->bit >> 3;
	int shift = (int)(d->bit & 7), nbytes = (shift + d->width + 7) / 8;
	for (int i = 0; i < nbytes; i++)
		acc |= (uint64_t)d->bits[at + (uint64_t)i] << (8 * i);
	*v = (uint32_t)((acc >> shift) & mask);
	d->bit += (uint64_t)d->width;
	return 0;
}

/* ---- values as text ---- */

static int add_number(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_number(struct text *t, const char *fmt, ...)
{
	char buf[PQTEXT_NUM_MAX];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof(buf) ? -1 : text_add(t, buf, (size_t)n);
}

/*
 * Appends v's text (NUL-terminated) to t. Returns 0, -1 when out of memory
 * or past t's cap, or -2 when the value has no text (*why says why).
 */
static int render(const struct column *c, const struct raw *v, struct text *t, const char **why)
{
	char buf[640];
	int n = -1;

	switch (c->type) {
	case PT_BOOLEAN:
		return text_add(t, v->b ? "true" : "false", v->b ? 4 : 5);
	case PT_INT32: {
		int32_t i = (int32_t)le32(v->p);
		switch (c->kind) {
		case K_UINT:
			return add_number(t, "%" PRIu32, (uint32_t)i);
		case K_DATE:
			n = pqtext_date(i, buf, sizeof(buf));
			break;
		case K_TIME:
			n = pqtext_time(i, c->unit, buf, sizeof(buf));
			*why = "a TIME value outside the day";
			break;
		case K_DECIMAL:
			n = pqtext_decimal_int(i, c->scale, buf, sizeof(buf));
			break;
		default:
			return add_number(t, "%" PRId32, i);
		}
		break;
	}
	case PT_INT64: {
		int64_t i = (int64_t)le64(v->p);
		switch (c->kind) {
		case K_UINT:
			return add_number(t, "%" PRIu64, (uint64_t)i);
		case K_TIME:
			n = pqtext_time(i, c->unit, buf, sizeof(buf));
			*why = "a TIME value outside the day";
			break;
		case K_TIMESTAMP:
			n = pqtext_timestamp(i, c->unit, c->utc, buf, sizeof(buf));
			break;
		case K_DECIMAL:
			n = pqtext_decimal_int(i, c->scale, buf, sizeof(buf));
			break;
		default:
			return add_number(t, "%" PRId64, i);
		}
		break;
	}
	case PT_INT96:
		n = pqtext_int96(v->p, buf, sizeof(buf));
		break;
	case PT_FLOAT: {
		uint32_t u = le32(v->p);
		float f;
		memcpy(&f, &u, sizeof(f));
		n = pqtext_float(f, buf, sizeof(buf));
		break;
	}
	case PT_DOUBLE: {
		uint64_t u = le64(v->p);
		double d;
		memcpy(&d, &u, sizeof(d));
		n = pqtext_double(d, buf, sizeof(buf));
		break;
	}
	case PT_BYTE_ARRAY:
	case PT_FLBA:
		switch (c->kind) {
		case K_STRING:
			if (memchr(v->p, '\0', v->len) != NULL) {
				*why = "a string value holds a NUL byte";
				return -2;
			}
			return text_add(t, v->p, v->len);
		case K_DECIMAL:
			n = pqtext_decimal_be(v->p, v->len, c->scale, buf, sizeof(buf));
			*why = "a decimal longer than 64 bytes";
			break;
		case K_HALF:
			n = pqtext_half((uint16_t)(v->p[0] | v->p[1] << 8), buf, sizeof(buf));
			break;
		case K_UUID:
			n = pqtext_uuid(v->p, buf, sizeof(buf));
			break;
		default: {
			size_t need = pqtext_base64_size(v->len);
			if (text_reserve(t, need) < 0)
				return -1;
			n = pqtext_base64(v->p, v->len, t->p + t->len, need);
			if (n < 0)
				return -1;
			t->len += (size_t)n;
			return 0;
		}
		}
		break;
	}
	if (n < 0) {
		if (*why == NULL)
			*why = "a value with no text";
		return -2;
	}
	return text_add(t, buf, (size_t)n);
}

/* The bytes a PLAIN value of the column's type takes (0: BYTE_ARRAY, prefixed). */
static size_t plain_width(const struct column *c)
{
	switch (c->type) {
	case PT_INT32:
	case PT_FLOAT:
		return 4;
	case PT_INT64:
	case PT_DOUBLE:
		return 8;
	case PT_INT96:
		return 12;
	case PT_FLBA:
		return (size_t)c->width;
	default:
		return 0;
	}
}

/* The next PLAIN value at *p (bit: the next boolean's bit from base).
 * Returns 0, or -1 when the page ends first. */
static int plain_next(const struct column *c, const uint8_t **p, const uint8_t *base,
                      const uint8_t *end, uint64_t *bit, struct raw *v)
{
	size_t avail = (size_t)(end - *p);

	if (c->type == PT_BOOLEAN) {
		uint64_t at = *bit >> 3;
		if (at >= (uint64_t)(end - base))
			return -1;
		v->b = base[at] >> (*bit & 7) & 1;
		(*bit)++;
		return 0;
	}
	if (c->type == PT_BYTE_ARRAY) {
		if (avail < 4 || le32(*p) > avail - 4)
			return -1;
		v->len = le32(*p);
		v->p = *p + 4;
		*p += 4 + v->len;
		return 0;
	}
	size_t w = plain_width(c);
	if (avail < w)
		return -1;
	v->p = *p;
	v->len = w;
	*p += w;
	return 0;
}

/* ---- pages ---- */

struct page_header {
	int32_t type, usize, csize, crc;
	int has_crc;
	int32_t values, encoding, def_encoding; /* data (v1 and v2) and dictionary pages */
	int32_t dl, rl;                         /* v2: the levels' byte lengths */
	int v2_compressed;
};

static int expect(struct thrift *t, int type, int want)
{
	return type == want ? 0 : thrift_fail(t, "a field of the wrong type");
}

/* DataPageHeader (5), DictionaryPageHeader (7) or DataPageHeaderV2 (8):
 * the fields this reader uses. */
static int read_data_header(struct thrift *t, struct page_header *h, int which)
{
	int16_t last = 0, id;
	int type, v2 = which == 8;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		int32_t *dst = NULL;
		if (id == 1)
			dst = &h->values;
		else if (!v2 && id == 2)
			dst = &h->encoding;
		else if (which == 5 && id == 3)
			dst = &h->def_encoding;
		else if (v2 && id == 4)
			dst = &h->encoding;
		else if (v2 && id == 5)
			dst = &h->dl;
		else if (v2 && id == 6)
			dst = &h->rl;
		if (dst != NULL) {
			if (expect(t, type, THRIFT_I32) < 0 || thrift_i32(t, dst) < 0)
				return -1;
		} else if (v2 && id == 7 && (type == THRIFT_TRUE || type == THRIFT_FALSE)) {
			h->v2_compressed = type == THRIFT_TRUE;
		} else if (thrift_skip(t, type) < 0) {
			return -1;
		}
	}
	return type < 0 ? -1 : 0;
}

static int read_page_header(struct thrift *t, struct page_header *h)
{
	int16_t last = 0, id;
	int type, seen = 0;

	memset(h, 0, sizeof(*h));
	h->type = -1;
	h->encoding = -1;
	h->def_encoding = ENC_RLE;
	h->v2_compressed = 1;
	while ((type = thrift_field(t, &last, &id)) > 0) {
		switch (id) {
		case 1:
		case 2:
		case 3:
		case 4: {
			int32_t v;
			if (expect(t, type, THRIFT_I32) < 0 || thrift_i32(t, &v) < 0)
				return -1;
			if (id == 1)
				h->type = v;
			else if (id == 2)
				h->usize = v;
			else if (id == 3)
				h->csize = v;
			else
				h->crc = v;
			h->has_crc |= id == 4;
			seen |= 1 << id;
			break;
		}
		case 5: /* DataPageHeader */
		case 7: /* DictionaryPageHeader: num_values and encoding as fields 1 and 2 too */
		case 8: /* DataPageHeaderV2 */
			if (expect(t, type, THRIFT_STRUCT) < 0 || read_data_header(t, h, id) < 0)
				return -1;
			seen |= 1 << id;
			break;
		default:
			if (thrift_skip(t, type) < 0)
				return -1;
		}
	}
	if (type < 0)
		return -1;
	if ((seen & 0xe) != 0xe)
		return thrift_fail(t, "a page header without its type or sizes");
	if ((h->type == PAGE_DATA && !(seen & 1 << 5)) ||
	    (h->type == PAGE_DICTIONARY && !(seen & 1 << 7)) ||
	    (h->type == PAGE_DATA_V2 && !(seen & 1 << 8)))
		return thrift_fail(t, "a page header without the header of its type");
	return 0;
}

static int decompress(struct parquet_reader *r, int codec, const uint8_t *src, size_t slen,
                      uint8_t *dst, size_t dlen, char *why, size_t why_size)
{
	switch (codec) {
	case CODEC_SNAPPY: {
		size_t n;
		if (snappy_uncompressed_length((const char *)src, slen, &n) != SNAPPY_OK)
			return err_set(why, why_size, -1, "snappy: corrupt data");
		if (n != dlen)
			return err_set(why, why_size, -1,
			               "snappy: %zu bytes, the page header says %zu", n, dlen);
		if (snappy_uncompress((const char *)src, slen, (char *)dst, &n) != SNAPPY_OK ||
		    n != dlen)
			return err_set(why, why_size, -1, "snappy: corrupt data");
		return 0;
	}
	case CODEC_GZIP: {
		z_stream z;
		memset(&z, 0, sizeof(z));
		/* 15 + 32: a gzip or a zlib header, told apart by zlib. */
		if (inflateInit2(&z, 15 + 32) != Z_OK)
			return err_set(why, why_size, -1, "gzip: out of memory");
		z.next_in = (Bytef *)(uintptr_t)src;
		z.avail_in = (uInt)slen;
		z.next_out = dst;
		z.avail_out = (uInt)dlen;
		int zr;
		for (;;) {
			zr = inflate(&z, Z_FINISH);
			/* Concatenated gzip members make one stream. */
			if (zr == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0) {
				if (inflateReset(&z) != Z_OK)
					break;
				continue;
			}
			break;
		}
		/* Not total_out: a reset starts it again. */
		size_t got = (size_t)(z.next_out - dst);
		char msg[128];
		snprintf(msg, sizeof(msg), "%s",
		         z.msg != NULL ? z.msg : "corrupt or truncated data");
		inflateEnd(&z);
		if (zr != Z_STREAM_END)
			return err_set(why, why_size, -1, "gzip: %s",
			               zr == Z_BUF_ERROR && got == dlen
			                   ? "more data than the page header says"
			                   : msg);
		if (got != dlen)
			return err_set(why, why_size, -1,
			               "gzip: %zu bytes, the page header says %zu", got, dlen);
		return 0;
	}
	case CODEC_ZSTD: {
		if (r->zstd == NULL) {
			r->zstd = ZSTD_createDCtx();
			if (r->zstd == NULL)
				return err_set(why, why_size, -1, "zstd: out of memory");
		}
		size_t n = ZSTD_decompressDCtx(r->zstd, dst, dlen, src, slen);
		if (ZSTD_isError(n))
			return err_set(why, why_size, -1, "zstd: %s", ZSTD_getErrorName(n));
		if (n != dlen)
			return err_set(why, why_size, -1,
			               "zstd: %zu bytes, the page header says %zu", n, dlen);
		return 0;
	}
	default:
		return err_set(why, why_size, -1, "%s compression is not read",
		               NAME_OF(codec_names, codec));
	}
}

/* Makes the column's page buffer hold n bytes. */
static int page_room(struct column *c, size_t n)
{
	if (n < c->page_cap)
		return 0;
	uint8_t *p = realloc(c->page, n + 1);
	if (p == NULL)
		return -1;
	c->page = p;
	c->page_cap = n + 1;
	return 0;
}

static void dict_clear(struct column *c)
{
	c->dict.len = 0;
	free(c->dict_off);
	free(c->dict_why);
	c->dict_off = NULL;
	c->dict_why = NULL;
	c->ndict = 0;
	c->has_dict = 0;
}

/* A page's bytes as they are stored (body, csize of them) made plain:
 * decompressed into the column's page buffer, or body itself. */
static int page_plain(struct parquet_reader *r, struct column *c, const uint8_t *body, size_t csize,
                      size_t usize, int compressed, const uint8_t **p, char *errbuf, size_t n)
{
	char why[256];

	if (c->codec == CODEC_NONE || !compressed) {
		if (csize != usize)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": %zu bytes stored uncompressed, "
			               "the page header says %zu",
			               c->page_start, csize, usize);
		*p = body;
		return 0;
	}
	if (page_room(c, usize) < 0)
		return col_err(r, c, errbuf, n, "out of memory for a page of %zu bytes", usize);
	if (decompress(r, c->codec, body, csize, c->page, usize, why, sizeof(why)) < 0)
		return col_err(r, c, errbuf, n, "page at offset %" PRIu64 ": %s", c->page_start,
		               why);
	*p = c->page;
	return 0;
}

/* Renders a dictionary page's values (p, len bytes, plain). */
static int load_dict(struct parquet_reader *r, struct column *c, const struct page_header *h,
                     const uint8_t *p, size_t len, char *errbuf, size_t n)
{
	if (c->has_dict || c->data_seen)
		return col_err(r, c, errbuf, n,
		               "page at offset %" PRIu64 ": a dictionary page after %s",
		               c->page_start, c->has_dict ? "another" : "data pages");
	if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICTIONARY)
		return col_err(r, c, errbuf, n,
		               "page at offset %" PRIu64
		               ": a dictionary in %s encoding (PLAIN is read)",
		               c->page_start, NAME_OF(encoding_names, h->encoding));
	/* Values take their width each (a BYTE_ARRAY its 4-byte length at
	 * least, a boolean a bit): the count must fit the page before
	 * anything is allocated for it. */
	size_t w = c->type == PT_BYTE_ARRAY ? 4 : plain_width(c);
	uint64_t most = c->type == PT_BOOLEAN ? (uint64_t)len * 8 : (uint64_t)len / w;
	if (h->values < 0 || (uint64_t)h->values > most)
		return col_err(r, c, errbuf, n,
		               "page at offset %" PRIu64 ": a dictionary of %" PRId32
		               " values in %zu bytes",
		               c->page_start, h->values, len);
	uint32_t nv = (uint32_t)h->values;
	const uint8_t *q = p;
	uint64_t bit = 0;
	if (r->checking) {
		/* check_row_group's pass: the values are there; the text is
		 * made by the reading pass, before the row group's first row. */
		for (uint32_t i = 0; i < nv; i++) {
			struct raw v = {0};
			if (plain_next(c, &q, p, p + len, &bit, &v) < 0)
				return col_err(r, c, errbuf, n,
				               "page at offset %" PRIu64
				               ": the dictionary ends after %" PRIu32
				               " of its %" PRIu32 " values",
				               c->page_start, i, nv);
		}
		c->ndict = nv;
		c->has_dict = 1;
		return 0;
	}
	c->dict_off = malloc((nv > 0 ? nv : 1) * sizeof(*c->dict_off));
	if (c->dict_off == NULL)
		return col_err(r, c, errbuf, n,
		               "out of memory for a dictionary of %" PRIu32 " values", nv);
	c->dict.len = 0;
	for (uint32_t i = 0; i < nv; i++) {
		struct raw v = {0};
		const char *why = NULL;
		if (plain_next(c, &q, p, p + len, &bit, &v) < 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": the dictionary ends after %" PRIu32 " of its %" PRIu32
			               " values",
			               c->page_start, i, nv);
		size_t at = c->dict.len;
		int rc = render(c, &v, &c->dict, &why);
		if (rc == -1)
			return col_err(
			    r, c, errbuf, n,
			    "the dictionary takes more than %u bytes as text (or memory ran "
			    "out)",
			    PARQUET_DICT_TEXT_MAX);
		if (rc == -2) {
			if (c->dict_why == NULL) {
				c->dict_why = calloc(nv, sizeof(*c->dict_why));
				if (c->dict_why == NULL)
					return col_err(r, c, errbuf, n, "out of memory");
			}
			c->dict_why[i] = why;
			c->dict_off[i] = SIZE_MAX;
			continue;
		}
		c->dict_off[i] = at;
		c->dict.len++; /* keep the NUL between entries */
	}
	c->ndict = nv;
	c->has_dict = 1;
	return 0;
}

/* Sets the column up to read a data page (v1 or v2) stored at body. */
static int load_data(struct parquet_reader *r, struct column *c, const struct page_header *h,
                     const uint8_t *body, char *errbuf, size_t n)
{
	const uint8_t *p, *levels = NULL;
	size_t len, levels_len = 0;

	if (h->values < 0)
		return col_err(r, c, errbuf, n, "page at offset %" PRIu64 ": %" PRId32 " values",
		               c->page_start, h->values);
	if (h->type == PAGE_DATA_V2) {
		/* Levels first, never compressed: repetition, then definition. */
		if (h->dl < 0 || h->rl < 0 || (int64_t)h->dl + h->rl > h->csize ||
		    (int64_t)h->dl + h->rl > h->usize)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": levels longer than the page",
			               c->page_start);
		size_t lv = (size_t)h->rl + (size_t)h->dl;
		levels = body + h->rl;
		levels_len = (size_t)h->dl;
		if (page_plain(r, c, body + lv, (size_t)h->csize - lv, (size_t)h->usize - lv,
		               h->v2_compressed, &p, errbuf, n) < 0)
			return -1;
		len = (size_t)h->usize - lv;
	} else {
		if (page_plain(r, c, body, (size_t)h->csize, (size_t)h->usize, 1, &p, errbuf, n) <
		    0)
			return -1;
		len = (size_t)h->usize;
		if (c->optional) {
			if (h->def_encoding != ENC_RLE)
				return col_err(r, c, errbuf, n,
				               "page at offset %" PRIu64
				               ": definition levels in %s encoding (RLE is read)",
				               c->page_start,
				               NAME_OF(encoding_names, h->def_encoding));
			if (len < 4 || le32(p) > len - 4)
				return col_err(r, c, errbuf, n,
				               "page at offset %" PRIu64
				               ": definition levels longer than the page",
				               c->page_start);
			levels = p + 4;
			levels_len = le32(p);
			p += 4 + levels_len;
			len -= 4 + levels_len;
		}
	}
	c->has_defs = c->optional;
	if (c->optional)
		rle_init(&c->defs, levels, levels_len, 1);
	c->left = (uint64_t)h->values;
	c->data_seen = 1;
	c->enc = h->encoding;
	switch (h->encoding) {
	case ENC_PLAIN:
		c->v = p;
		c->vend = p + len;
		c->bit = 0;
		return 0;
	case ENC_PLAIN_DICTIONARY:
	case ENC_RLE_DICTIONARY:
		if (!c->has_dict)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": dictionary indexes, and no dictionary page before them",
			               c->page_start);
		if (len < 1 || p[0] > 32)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": dictionary indexes %s",
			               c->page_start, len < 1 ? "missing" : "wider than 32 bits");
		rle_init(&c->idx, p + 1, len - 1, p[0]);
		c->enc = ENC_RLE_DICTIONARY;
		return 0;
	case ENC_RLE:
		if (c->type != PT_BOOLEAN)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": RLE values in a %s column",
			               c->page_start, NAME_OF(type_names, c->type));
		if (len < 4 || le32(p) > len - 4)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": RLE values longer than the page",
			               c->page_start);
		rle_init(&c->idx, p + 4, le32(p), 1);
		return 0;
	case ENC_BYTE_STREAM_SPLIT: {
		size_t w = plain_width(c);
		if (w == 0 || w > sizeof(c->split) || len % w != 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": BYTE_STREAM_SPLIT values of %zu bytes in a %s column",
			               c->page_start, len, NAME_OF(type_names, c->type));
		c->v = p;
		c->vend = p + len;
		c->bit = 0;
		c->nsplit = len / w;
		return 0;
	}
	default:
		return col_err(r, c, errbuf, n,
		               "page at offset %" PRIu64
		               ": values in %s encoding, which this reader does not read (PLAIN, "
		               "dictionaries, RLE booleans and BYTE_STREAM_SPLIT are read)",
		               c->page_start, NAME_OF(encoding_names, h->encoding));
	}
}

/* Reads page headers until a data page is set up, taking in the
 * dictionary page and skipping index pages on the way. */
static int next_page(struct parquet_reader *r, struct column *c, char *errbuf, size_t n)
{
	for (;;) {
		struct thrift t;
		struct page_header h;

		if (c->pos >= c->chunk_len)
			return col_err(r, c, errbuf, n,
			               "the column chunk ends before the row group's %" PRId64
			               " rows",
			               r->rgs[r->cur_rg].rows);
		c->page_start = c->chunk_start + c->pos;
		thrift_init(&t, c->chunk + c->pos, c->chunk_len - c->pos);
		if (read_page_header(&t, &h) < 0)
			return col_err(r, c, errbuf, n, "page header at offset %" PRIu64 ": %s",
			               c->page_start, t.err);
		c->pos += thrift_used(&t, c->chunk + c->pos);
		if (h.csize < 0 || (size_t)h.csize > c->chunk_len - c->pos)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": %" PRId32
			               " bytes, past the column chunk's end",
			               c->page_start, h.csize);
		if (h.usize < 0 || (uint32_t)h.usize > PARQUET_PAGE_MAX)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": %" PRId32
			               " bytes uncompressed (this reader takes pages of up to %u)",
			               c->page_start, h.usize, PARQUET_PAGE_MAX);
		const uint8_t *body = c->chunk + c->pos;
		c->pos += (size_t)h.csize;
		if (h.has_crc && crc32(0, body, (uInt)h.csize) != (uint32_t)h.crc)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": the checksum does not match",
			               c->page_start);
		if (h.type == PAGE_DICTIONARY) {
			const uint8_t *p;
			if (page_plain(r, c, body, (size_t)h.csize, (size_t)h.usize, 1, &p, errbuf,
			               n) < 0 ||
			    load_dict(r, c, &h, p, (size_t)h.usize, errbuf, n) < 0)
				return -1;
			continue;
		}
		if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2)
			return load_data(r, c, &h, body, errbuf, n);
		/* Index pages, and kinds newer than this reader: not values. */
	}
}

/*
 * The column's next value, as text in *out (a null: the empty string).
 * Returns 0, -1 when the file cannot be read on (errbuf), or -2 when the
 * value has no text (*why).
 */
static int column_next(struct parquet_reader *r, struct column *c, char **out, char *errbuf,
                       size_t n, const char **why)
{
	struct raw v = {0};

	while (c->left == 0)
		if (next_page(r, c, errbuf, n) < 0)
			return -1;
	c->left--;
	*out = r->empty;
	c->null = 0;
	if (c->has_defs) {
		uint32_t d;
		if (rle_next(&c->defs, &d) < 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": the definition levels end early",
			               c->page_start);
		if (d > 1)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": a definition level of %" PRIu32
			               " (at most 1)",
			               c->page_start, d);
		if (d == 0) {
			c->null = 1;
			return 0;
		}
	}
	switch (c->enc) {
	case ENC_RLE_DICTIONARY: {
		uint32_t i;
		if (rle_next(&c->idx, &i) < 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64
			               ": the dictionary indexes end early",
			               c->page_start);
		if (i >= c->ndict)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": dictionary index %" PRIu32
			               ", and the dictionary has %" PRIu32 " values",
			               c->page_start, i, c->ndict);
		if (r->checking)
			return 0;
		if (c->dict_off[i] == SIZE_MAX) {
			*why = c->dict_why[i];
			return -2;
		}
		*out = c->dict.p + c->dict_off[i];
		return 0;
	}
	case ENC_RLE: {
		uint32_t b;
		if (rle_next(&c->idx, &b) < 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": the values end early",
			               c->page_start);
		v.b = (int)b;
		break;
	}
	case ENC_BYTE_STREAM_SPLIT: {
		size_t w = plain_width(c);
		if (c->bit >= c->nsplit)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": the values end early",
			               c->page_start);
		for (size_t j = 0; j < w; j++)
			c->split[j] = c->v[j * c->nsplit + c->bit];
		c->bit++;
		v.p = c->split;
		v.len = w;
		break;
	}
	default:
		if (plain_next(c, &c->v, c->v, c->vend, &c->bit, &v) < 0)
			return col_err(r, c, errbuf, n,
			               "page at offset %" PRIu64 ": the values end early",
			               c->page_start);
	}
	/* check_row_group's pass: decoded is enough (making text fails only
	 * for the row, PARQUET_BAD_ROW, or when memory runs out). */
	if (r->checking)
		return 0;
	c->cell.len = 0;
	int rc = render(c, &v, &c->cell, why);
	if (rc == -1)
		return col_err(r, c, errbuf, n, "out of memory");
	if (rc == -2)
		return -2;
	*out = c->cell.p;
	return 0;
}

/* ---- the file ---- */

static int src_read(const struct parquet_reader *r, uint64_t off, size_t len, uint8_t *dst,
                    const char **why)
{
	size_t done = 0;

	if (r->mem != NULL) {
		memcpy(dst, r->mem + off, len);
		return 0;
	}
	while (done < len) {
		ssize_t got = pread(r->fd, dst + done, len - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*why = strerror(errno);
			return -1;
		}
		if (got == 0) {
			*why = "the file ended early (did it change while being read?)";
			return -1;
		}
		done += (size_t)got;
	}
	return 0;
}

/* Sets the column back to its chunk's first page, to be read again. */
static void column_rewind(struct column *c)
{
	dict_clear(c);
	c->left = 0;
	c->data_seen = 0;
	c->pos = 0;
	c->null = 0;
}

/*
 * Reads the current row group whole before its first row is returned,
 * column by column and with the code that returns its rows: every page
 * header, checksum, decompression, level, index and value, each value
 * dropped. So a damaged page anywhere in it fails the row group before
 * any of its rows is out. Values (a dictionary's too) are decoded, not
 * made text: a value with no text is left for parquet_next to skip with
 * its row, and a dictionary too big as text fails at the reading pass's
 * first row, which reads every column's dictionary page (a chunk's
 * first) before the row is returned. Then every column is rewound. Memory: what reading holds
 * anyway (a page, a dictionary and a cell per column).
 */
static int check_row_group(struct parquet_reader *r, char *errbuf, size_t n)
{
	int64_t rows = r->rgs[r->cur_rg].rows;
	int rc = 0;

	r->checking = 1;
	for (size_t i = 0; i < r->ncols && rc == 0; i++) {
		struct column *c = &r->cols[i];
		for (int64_t row = 0; row < rows && rc == 0; row++) {
			char *cell;
			const char *why = NULL;
			if (column_next(r, c, &cell, errbuf, n, &why) == -1)
				rc = -1;
		}
		if (rc == 0 && c->left > 0)
			rc = col_err(r, c, errbuf, n,
			             "more values than the row group's %" PRId64 " rows", rows);
		column_rewind(c);
	}
	r->checking = 0;
	return rc;
}

static int start_row_group(struct parquet_reader *r, char *errbuf, size_t n)
{
	const struct row_group *g = &r->rgs[r->rg];

	r->cur_rg = r->rg++;
	for (size_t i = 0; i < r->ncols; i++) {
		struct column *c = &r->cols[i];
		const struct chunk_meta *m = &g->chunks[i];
		free(c->chunk_owned);
		c->chunk_owned = NULL;
		c->chunk = NULL;
		column_rewind(c);
		c->codec = m->codec;
		c->chunk_start = m->start;
		c->chunk_len = (size_t)m->len;
		if (r->mem != NULL) {
			c->chunk = r->mem + m->start;
			continue;
		}
		const char *why = "out of memory";
		c->chunk_owned = malloc(c->chunk_len > 0 ? c->chunk_len : 1);
		if (c->chunk_owned == NULL ||
		    src_read(r, m->start, c->chunk_len, c->chunk_owned, &why) < 0)
			return col_err(r, c, errbuf, n,
			               "cannot read the column chunk at offset %" PRIu64 ": %s",
			               m->start, why);
		c->chunk = c->chunk_owned;
	}
	if (check_row_group(r, errbuf, n) < 0)
		return -1;
	r->rg_left = g->rows;
	return 0;
}

static int fail(struct parquet_reader *r, const char *msg, char *errbuf, size_t n)
{
	r->failed = 1;
	if (msg != r->failure)
		snprintf(r->failure, sizeof(r->failure), "%s", msg);
	if (errbuf != NULL && n > 0)
		snprintf(errbuf, n, "%s", msg);
	return PARQUET_ERROR;
}

int parquet_next(struct parquet_reader *r, char *const **cells, char *errbuf, size_t errbuf_size)
{
	char msg[512];
	const char *why = NULL;
	size_t bad = SIZE_MAX;

	if (r->failed)
		return fail(r, r->failure, errbuf, errbuf_size);
	while (r->rg_left == 0) {
		if (r->rg > 0)
			for (size_t i = 0; i < r->ncols; i++)
				if (r->cols[i].left > 0) {
					col_err(r, &r->cols[i], msg, sizeof(msg),
					        "more values than the row group's %" PRId64 " rows",
					        r->rgs[r->cur_rg].rows);
					return fail(r, msg, errbuf, errbuf_size);
				}
		if (r->rg == r->nrgs)
			return PARQUET_END;
		if (r->rgs[r->rg].rows == 0) {
			r->rg++;
			continue;
		}
		if (start_row_group(r, msg, sizeof(msg)) < 0)
			return fail(r, msg, errbuf, errbuf_size);
	}
	for (size_t i = 0; i < r->ncols; i++) {
		const char *w = NULL;
		int rc = column_next(r, &r->cols[i], &r->cells[i], msg, sizeof(msg), &w);
		if (rc == -1)
			return fail(r, msg, errbuf, errbuf_size);
		if (rc == -2 && bad == SIZE_MAX) {
			bad = i;
			why = w;
		}
	}
	r->rg_left--;
	r->row++;
	if (bad != SIZE_MAX) {
		if (errbuf != NULL && errbuf_size > 0)
			snprintf(errbuf, errbuf_size,
			         "parquet: %s: row %" PRIu64 ", column \"%s\": %s", r->name, r->row,
			         r->cols[bad].name, why != NULL ? why : "a value with no text");
		return PARQUET_BAD_ROW;
	}
	*cells = r->cells;
	return PARQUET_ROW;
}

int parquet_is_null(const struct parquet_reader *r, size_t column)
{
	return column < r->ncols && r->cols[column].null;
}

size_t parquet_ncolumns(const struct parquet_reader *r)
{
	return r->ncols;
}

char *const *parquet_names(const struct parquet_reader *r)
{
	return r->names;
}

uint64_t parquet_nrows(const struct parquet_reader *r)
{
	return r->nrows;
}

uint64_t parquet_row(const struct parquet_reader *r)
{
	return r->row;
}

int parquet_magic(const void *head, size_t len)
{
	return len >= 4 && memcmp(head, "PAR1", 4) == 0;
}

/* ---- the footer ---- */

struct schema_el {
	const uint8_t *name;
	size_t name_len;
	int32_t type, type_length, repetition, num_children, converted, scale, precision;
	int has_type, has_converted, has_name;
	int logical; /* LT_*, 0: none */
	int lt_utc, lt_unit, lt_bits, lt_signed;
	int32_t lt_scale, lt_precision;
};

/* TimeUnit: a union of empty structs, MILLIS (1), MICROS (2), NANOS (3). */
static int read_time_unit(struct thrift *t, int *unit)
{
	int16_t last = 0, id;
	int type;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		if (type == THRIFT_STRUCT && id >= 1 && id <= 3)
			*unit = id;
		if (thrift_skip(t, type) < 0)
			return -1;
	}
	return type < 0 ? -1 : 0;
}

static int is_bool(int type)
{
	return type == THRIFT_TRUE || type == THRIFT_FALSE;
}

/* LogicalType: a union; the parameters of the members that have some. */
static int read_logical(struct thrift *t, struct schema_el *e)
{
	int16_t last = 0, id;
	int type;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		if (type != THRIFT_STRUCT) {
			if (thrift_skip(t, type) < 0)
				return -1;
			continue;
		}
		e->logical = id;
		int16_t l2 = 0, id2;
		int t2;
		while ((t2 = thrift_field(t, &l2, &id2)) > 0) {
			int timed = id == LT_TIME || id == LT_TIMESTAMP;
			int8_t bits;
			if (id == LT_DECIMAL && id2 == 1 && t2 == THRIFT_I32)
				(void)thrift_i32(t, &e->lt_scale);
			else if (id == LT_DECIMAL && id2 == 2 && t2 == THRIFT_I32)
				(void)thrift_i32(t, &e->lt_precision);
			else if (timed && id2 == 1 && is_bool(t2))
				e->lt_utc = t2 == THRIFT_TRUE;
			else if (timed && id2 == 2 && t2 == THRIFT_STRUCT)
				(void)read_time_unit(t, &e->lt_unit);
			else if (id == LT_INTEGER && id2 == 1 && t2 == THRIFT_I8) {
				if (thrift_i8(t, &bits) == 0)
					e->lt_bits = bits;
			} else if (id == LT_INTEGER && id2 == 2 && is_bool(t2))
				e->lt_signed = t2 == THRIFT_TRUE;
			else
				(void)thrift_skip(t, t2);
			if (t->err != NULL)
				return -1;
		}
		if (t2 < 0)
			return -1;
	}
	return type < 0 ? -1 : 0;
}

static int read_schema_el(struct thrift *t, struct schema_el *e)
{
	int16_t last = 0, id;
	int type;

	memset(e, 0, sizeof(*e));
	e->name = (const uint8_t *)"";
	while ((type = thrift_field(t, &last, &id)) > 0) {
		int32_t *dst = NULL;
		switch (id) {
		case 1:
			dst = &e->type;
			e->has_type = 1;
			break;
		case 2:
			dst = &e->type_length;
			break;
		case 3:
			dst = &e->repetition;
			break;
		case 5:
			dst = &e->num_children;
			break;
		case 6:
			dst = &e->converted;
			e->has_converted = 1;
			break;
		case 7:
			dst = &e->scale;
			break;
		case 8:
			dst = &e->precision;
			break;
		}
		if (dst != NULL) {
			if (expect(t, type, THRIFT_I32) < 0 || thrift_i32(t, dst) < 0)
				return -1;
		} else if (id == 4) {
			if (expect(t, type, THRIFT_BINARY) < 0 ||
			    thrift_binary(t, &e->name, &e->name_len) < 0)
				return -1;
			e->has_name = 1;
		} else if (id == 10 && type == THRIFT_STRUCT) {
			if (read_logical(t, e) < 0)
				return -1;
		} else if (thrift_skip(t, type) < 0) {
			return -1;
		}
	}
	return type < 0 ? -1 : 0;
}

/* How the column's values become text, from its annotations; -1 (errbuf)
 * for an annotation its physical type cannot carry. */
static int resolve_kind(struct parquet_reader *r, struct column *c, const struct schema_el *e,
                        char *errbuf, size_t n)
{
	int lt = e->logical, ct = e->has_converted && lt == 0 ? e->converted : -1;
	int t = c->type, ok = 1;
	const char *what = NULL;

	c->kind = K_PHYSICAL;
	if (lt == LT_STRING || lt == LT_ENUM || lt == LT_JSON || ct == CT_UTF8 || ct == CT_ENUM ||
	    ct == CT_JSON) {
		what = "STRING";
		ok = t == PT_BYTE_ARRAY || t == PT_FLBA;
		c->kind = K_STRING;
	} else if (lt == LT_DECIMAL || ct == CT_DECIMAL) {
		what = "DECIMAL";
		c->scale = lt == LT_DECIMAL ? e->lt_scale : e->scale;
		int32_t precision = lt == LT_DECIMAL ? e->lt_precision : e->precision;
		ok = (t == PT_INT32 || t == PT_INT64 || t == PT_BYTE_ARRAY ||
		      (t == PT_FLBA && c->width <= PQTEXT_DECIMAL_BYTES_MAX)) &&
		     c->scale >= 0 && c->scale <= precision && precision <= 160;
		c->kind = K_DECIMAL;
	} else if (lt == LT_DATE || ct == CT_DATE) {
		what = "DATE";
		ok = t == PT_INT32;
		c->kind = K_DATE;
	} else if (lt == LT_TIME || ct == CT_TIME_MILLIS || ct == CT_TIME_MICROS) {
		what = "TIME";
		c->unit = lt == LT_TIME          ? (enum pqtext_unit)e->lt_unit
		          : ct == CT_TIME_MILLIS ? PQTEXT_MILLIS
		                                 : PQTEXT_MICROS;
		ok = (t == PT_INT32 && c->unit == PQTEXT_MILLIS) ||
		     (t == PT_INT64 && (c->unit == PQTEXT_MICROS || c->unit == PQTEXT_NANOS));
		c->kind = K_TIME;
	} else if (lt == LT_TIMESTAMP || ct == CT_TIMESTAMP_MILLIS || ct == CT_TIMESTAMP_MICROS) {
		what = "TIMESTAMP";
		c->unit = lt == LT_TIMESTAMP          ? (enum pqtext_unit)e->lt_unit
		          : ct == CT_TIMESTAMP_MILLIS ? PQTEXT_MILLIS
		                                      : PQTEXT_MICROS;
		/* The converted types are instants (UTC) by the format's rules. */
		c->utc = lt == LT_TIMESTAMP ? e->lt_utc : 1;
		ok = t == PT_INT64 && c->unit >= PQTEXT_MILLIS && c->unit <= PQTEXT_NANOS;
		c->kind = K_TIMESTAMP;
	} else if (lt == LT_INTEGER || (ct >= CT_UINT_8 && ct <= CT_INT_64)) {
		what = "INTEGER";
		ok = t == PT_INT32 || t == PT_INT64;
		if (lt == LT_INTEGER ? !e->lt_signed : ct <= CT_UINT_64)
			c->kind = K_UINT;
	} else if (lt == LT_UUID) {
		what = "UUID";
		ok = t == PT_FLBA && c->width == 16;
		c->kind = K_UUID;
	} else if (lt == LT_FLOAT16) {
		what = "FLOAT16";
		ok = t == PT_FLBA && c->width == 2;
		c->kind = K_HALF;
	}
	if (!ok)
		return file_err(
		    r, errbuf, n,
		    "column \"%s\": a %s annotation on %s, which Parquet does not allow", c->name,
		    what, NAME_OF(type_names, t));
	return 0;
}

static int thrift_err(const struct parquet_reader *r, const struct thrift *t, const uint8_t *base,
                      char *errbuf, size_t n)
{
	return file_err(r, errbuf, n, "corrupt metadata: %s at byte %zu of the footer",
	                t->err != NULL ? t->err : "unreadable", thrift_used(t, base));
}

static int read_schema(struct parquet_reader *r, struct thrift *t, const uint8_t *base,
                       char *errbuf, size_t n)
{
	struct schema_el root, e;
	int et;
	uint32_t count;

	if (thrift_list(t, &et, &count) < 0 || read_schema_el(t, &root) < 0)
		return thrift_err(r, t, base, errbuf, n);
	if (et != THRIFT_STRUCT || count == 0)
		return file_err(r, errbuf, n, "corrupt metadata: no schema");
	size_t cap = count - 1 < PARQUET_COLUMNS_MAX ? count - 1 : PARQUET_COLUMNS_MAX;
	r->cols = calloc(cap > 0 ? cap : 1, sizeof(*r->cols));
	if (r->cols == NULL)
		return file_err(r, errbuf, n, "out of memory");
	for (uint32_t i = 1; i < count; i++) {
		if (read_schema_el(t, &e) < 0)
			return thrift_err(r, t, base, errbuf, n);
		int len = e.name_len > 200 ? 200 : (int)e.name_len;
		if (e.num_children > 0)
			return file_err(r, errbuf, n,
			                "column \"%.*s\" is nested (a group of %" PRId32
			                " fields): only flat schemas are read",
			                len, (const char *)e.name, e.num_children);
		if (e.repetition == REP_REPEATED)
			return file_err(
			    r, errbuf, n,
			    "column \"%.*s\" is repeated (a list): only flat schemas are "
			    "read",
			    len, (const char *)e.name);
		if (!e.has_name)
			return file_err(r, errbuf, n, "corrupt metadata: column %zu has no name",
			                r->ncols);
		if (r->ncols == PARQUET_COLUMNS_MAX)
			return file_err(r, errbuf, n, "more than %d columns", PARQUET_COLUMNS_MAX);
		if (!e.has_type || e.type < PT_BOOLEAN || e.type > PT_FLBA)
			return file_err(
			    r, errbuf, n, "column \"%.*s\": %s", len, (const char *)e.name,
			    e.has_type ? "an unknown physical type" : "no physical type");
		struct column *c = &r->cols[r->ncols++];
		c->name = malloc(e.name_len + 1);
		if (c->name == NULL)
			return file_err(r, errbuf, n, "out of memory");
		memcpy(c->name, e.name, e.name_len);
		c->name[e.name_len] = '\0';
		c->type = e.type;
		c->width = e.type_length;
		c->optional = e.repetition == REP_OPTIONAL;
		c->dict.max = PARQUET_DICT_TEXT_MAX;
		c->cell.max = PARQUET_DICT_TEXT_MAX;
		if (c->type == PT_FLBA && (c->width <= 0 || (uint32_t)c->width > PARQUET_PAGE_MAX))
			return file_err(r, errbuf, n,
			                "column \"%s\": FIXED_LEN_BYTE_ARRAY of %" PRId32 " bytes",
			                c->name, c->width);
		if (resolve_kind(r, c, &e, errbuf, n) < 0)
			return -1;
	}
	if (r->ncols == 0)
		return file_err(r, errbuf, n, "no columns");
	if ((size_t)root.num_children != r->ncols)
		return file_err(r, errbuf, n,
		                "corrupt metadata: the schema's root has %" PRId32
		                " fields, and %zu follow it",
		                root.num_children, r->ncols);
	return 0;
}

static int read_column_meta(struct parquet_reader *r, struct thrift *t, const struct column *c,
                            struct chunk_meta *m, size_t rg, char *errbuf, size_t n)
{
	int16_t last = 0, id;
	int type, seen = 0;
	int64_t compressed = -1;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		int32_t v32;
		int64_t v64;
		switch (id) {
		case 1:
		case 4:
			if (expect(t, type, THRIFT_I32) < 0 || thrift_i32(t, &v32) < 0)
				return -1;
			if (id == 1 && v32 != c->type)
				return file_err(
				    r, errbuf, n,
				    "row group %zu, column \"%s\": a column chunk of %s, "
				    "and the schema says %s",
				    rg, c->name, NAME_OF(type_names, v32),
				    NAME_OF(type_names, c->type));
			if (id == 4)
				m->codec = v32;
			seen |= 1 << id;
			break;
		case 3: {
			int et;
			uint32_t count;
			const uint8_t *p;
			size_t len;
			if (expect(t, type, THRIFT_LIST) < 0 || thrift_list(t, &et, &count) < 0)
				return -1;
			if (et != THRIFT_BINARY || count != 1)
				return file_err(
				    r, errbuf, n,
				    "row group %zu, column \"%s\": a column chunk with a "
				    "path of %" PRIu32 " names (only flat schemas are read)",
				    rg, c->name, count);
			if (thrift_binary(t, &p, &len) < 0)
				return -1;
			if (len != strlen(c->name) || memcmp(p, c->name, len) != 0)
				return file_err(r, errbuf, n,
				                "row group %zu, column \"%s\": the column chunk is "
				                "column \"%.*s\"'s",
				                rg, c->name, len > 200 ? 200 : (int)len,
				                (const char *)p);
			break;
		}
		case 5:
		case 7:
		case 9:
		case 11:
			if (expect(t, type, THRIFT_I64) < 0 || thrift_i64(t, &v64) < 0)
				return -1;
			if (id == 5)
				m->values = v64;
			else if (id == 7)
				compressed = v64;
			else if (id == 9)
				m->data_off = v64;
			else
				m->dict_off = v64;
			seen |= 1 << id;
			break;
		default:
			if (thrift_skip(t, type) < 0)
				return -1;
		}
	}
	if (type < 0)
		return -1;
	if ((seen & (1 << 1 | 1 << 4 | 1 << 7 | 1 << 9)) != (1 << 1 | 1 << 4 | 1 << 7 | 1 << 9))
		return thrift_fail(t, "a column chunk without its type, codec, size or offset");
	m->len = compressed < 0 ? UINT64_MAX : (uint64_t)compressed;
	return 0;
}

/* A ColumnChunk. */
static int read_column_chunk(struct parquet_reader *r, struct thrift *t, const uint8_t *base,
                             const struct column *c, struct chunk_meta *m, size_t rg, char *errbuf,
                             size_t n)
{
	int16_t last = 0, id;
	int type, have_meta = 0;

	m->data_off = -1;
	m->dict_off = -1;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		if (id == 1 && type == THRIFT_BINARY) {
			const uint8_t *p;
			size_t len;
			if (thrift_binary(t, &p, &len) < 0)
				return thrift_err(r, t, base, errbuf, n);
			if (len > 0)
				return file_err(
				    r, errbuf, n,
				    "row group %zu, column \"%s\": the column's data is in "
				    "another file (%.*s): one file is read",
				    rg, c->name, len > 200 ? 200 : (int)len, (const char *)p);
		} else if (id == 3 && type == THRIFT_STRUCT) {
			if (read_column_meta(r, t, c, m, rg, errbuf, n) < 0)
				return t->err != NULL ? thrift_err(r, t, base, errbuf, n) : -1;
			have_meta = 1;
		} else if (id == 8) {
			return file_err(r, errbuf, n, "row group %zu, column \"%s\" is encrypted",
			                rg, c->name);
		} else if (thrift_skip(t, type) < 0) {
			return thrift_err(r, t, base, errbuf, n);
		}
	}
	if (type < 0)
		return thrift_err(r, t, base, errbuf, n);
	if (!have_meta)
		return file_err(r, errbuf, n, "row group %zu, column \"%s\": no column metadata",
		                rg, c->name);
	return 0;
}

/* Where a column chunk of a row group with rows is, checked against the
 * file; and whether its codec is one this reader has. (A row group
 * without rows is never read: writers leave its offsets unset.) */
static int check_chunk(struct parquet_reader *r, const struct column *c, struct chunk_meta *m,
                       size_t rg, uint64_t data_end, char *errbuf, size_t n)
{
	if (m->codec != CODEC_NONE && m->codec != CODEC_SNAPPY && m->codec != CODEC_GZIP &&
	    m->codec != CODEC_ZSTD)
		return file_err(r, errbuf, n,
		                "row group %zu, column \"%s\": %s compression is not read "
		                "(UNCOMPRESSED, SNAPPY, GZIP, ZSTD are)",
		                rg, c->name, NAME_OF(codec_names, m->codec));
	/* The chunk starts at its dictionary page when it has one (an offset
	 * of 0 is how some writers say it has none). */
	int64_t start = m->dict_off >= 4 && m->dict_off < m->data_off ? m->dict_off : m->data_off;
	if (start < 4 || (uint64_t)start > data_end || m->len > data_end - (uint64_t)start)
		return file_err(r, errbuf, n,
		                "row group %zu, column \"%s\": the column chunk (offset %" PRId64
		                ", %" PRIu64 " bytes) is not inside the file's %" PRIu64
		                " bytes of data",
		                rg, c->name, start, m->len, data_end);
	if (m->len > PARQUET_CHUNK_MAX)
		return file_err(r, errbuf, n,
		                "row group %zu, column \"%s\": a column chunk of %" PRIu64
		                " bytes (this reader takes up to %u)",
		                rg, c->name, m->len, PARQUET_CHUNK_MAX);
	m->start = (uint64_t)start;
	return 0;
}

static int read_row_group(struct parquet_reader *r, struct thrift *t, const uint8_t *base,
                          struct row_group *g, size_t rg, uint64_t data_end, char *errbuf, size_t n)
{
	int16_t last = 0, id;
	int type, have_cols = 0, have_rows = 0;

	while ((type = thrift_field(t, &last, &id)) > 0) {
		if (id == 1 && type == THRIFT_LIST) {
			int et;
			uint32_t count;
			if (have_cols || thrift_list(t, &et, &count) < 0)
				return thrift_err(r, t, base, errbuf, n);
			if (et != THRIFT_STRUCT || count != r->ncols)
				return file_err(r, errbuf, n,
				                "row group %zu: %" PRIu32
				                " column chunks, and the schema has %zu columns",
				                rg, count, r->ncols);
			g->chunks = calloc(r->ncols, sizeof(*g->chunks));
			if (g->chunks == NULL)
				return file_err(r, errbuf, n, "out of memory");
			for (size_t i = 0; i < r->ncols; i++)
				if (read_column_chunk(r, t, base, &r->cols[i], &g->chunks[i], rg,
				                      errbuf, n) < 0)
					return -1;
			have_cols = 1;
		} else if (id == 3 && type == THRIFT_I64) {
			if (thrift_i64(t, &g->rows) < 0)
				return thrift_err(r, t, base, errbuf, n);
			have_rows = 1;
		} else if (thrift_skip(t, type) < 0) {
			return thrift_err(r, t, base, errbuf, n);
		}
	}
	if (type < 0)
		return thrift_err(r, t, base, errbuf, n);
	if (!have_cols || !have_rows || g->rows < 0)
		return file_err(r, errbuf, n, "corrupt metadata: row group %zu without %s", rg,
		                !have_cols ? "columns" : "a row count");
	if (g->rows == 0)
		return 0;
	uint64_t total = 0;
	for (size_t i = 0; i < r->ncols; i++) {
		if (check_chunk(r, &r->cols[i], &g->chunks[i], rg, data_end, errbuf, n) < 0)
			return -1;
		total += g->chunks[i].len;
	}
	if (total > PARQUET_ROW_GROUP_MAX)
		return file_err(r, errbuf, n,
		                "row group %zu: %" PRIu64
		                " bytes compressed (this reader takes up to %u)",
		                rg, total, PARQUET_ROW_GROUP_MAX);
	return 0;
}

static int read_row_groups(struct parquet_reader *r, struct thrift *t, const uint8_t *base,
                           uint64_t data_end, char *errbuf, size_t n)
{
	int et;
	uint32_t count;
	size_t cap = 0;

	if (thrift_list(t, &et, &count) < 0)
		return thrift_err(r, t, base, errbuf, n);
	if (et != THRIFT_STRUCT)
		return file_err(r, errbuf, n, "corrupt metadata: row groups that are not structs");
	for (uint32_t i = 0; i < count; i++) {
		/* Grown as they are read: the count alone is only bounded by the
		 * footer's size. */
		if (r->nrgs == cap) {
			size_t ncap = cap == 0 ? 8 : cap * 2;
			struct row_group *g = realloc(r->rgs, ncap * sizeof(*g));
			if (g == NULL)
				return file_err(r, errbuf, n, "out of memory");
			r->rgs = g;
			cap = ncap;
		}
		struct row_group *g = &r->rgs[r->nrgs++];
		memset(g, 0, sizeof(*g));
		if (read_row_group(r, t, base, g, i, data_end, errbuf, n) < 0)
			return -1;
		if ((uint64_t)g->rows > (uint64_t)INT64_MAX - r->nrows)
			return file_err(r, errbuf, n, "corrupt metadata: too many rows");
		r->nrows += (uint64_t)g->rows;
	}
	return 0;
}

static int read_footer(struct parquet_reader *r, const uint8_t *p, size_t len, uint64_t data_end,
                       char *errbuf, size_t n)
{
	struct thrift t;
	int16_t last = 0, id;
	int type, have_schema = 0;

	thrift_init(&t, p, len);
	while ((type = thrift_field(&t, &last, &id)) > 0) {
		if (id == 2 && type == THRIFT_LIST && !have_schema) {
			if (read_schema(r, &t, p, errbuf, n) < 0)
				return -1;
			have_schema = 1;
		} else if (id == 4 && type == THRIFT_LIST) {
			if (!have_schema)
				return file_err(r, errbuf, n,
				                "corrupt metadata: row groups before the schema");
			if (r->rgs != NULL)
				return file_err(r, errbuf, n,
				                "corrupt metadata: two lists of row groups");
			if (read_row_groups(r, &t, p, data_end, errbuf, n) < 0)
				return -1;
		} else if (id == 8) {
			return file_err(r, errbuf, n, "the file is encrypted");
		} else if (thrift_skip(&t, type) < 0) {
			return thrift_err(r, &t, p, errbuf, n);
		}
	}
	if (type < 0)
		return thrift_err(r, &t, p, errbuf, n);
	if (!have_schema)
		return file_err(r, errbuf, n, "corrupt metadata: no schema");
	return 0;
}

static struct parquet_reader *open_common(struct parquet_reader *r, char *errbuf, size_t n)
{
	uint8_t head[4], tail[8];
	const char *why = "";

	r->names = calloc(1, sizeof(*r->names));
	if (r->names == NULL) {
		file_err(r, errbuf, n, "out of memory");
		goto fail;
	}
	if (r->size < 12) {
		file_err(r, errbuf, n,
		         "not a Parquet file (%" PRIu64 " bytes; an empty one has at least 12)",
		         r->size);
		goto fail;
	}
	if (src_read(r, 0, 4, head, &why) < 0 || src_read(r, r->size - 8, 8, tail, &why) < 0) {
		file_err(r, errbuf, n, "cannot read: %s", why);
		goto fail;
	}
	if (!parquet_magic(head, 4)) {
		file_err(r, errbuf, n, "not a Parquet file (no PAR1 at its start)");
		goto fail;
	}
	if (memcmp(tail + 4, "PARE", 4) == 0) {
		file_err(r, errbuf, n, "the file is encrypted");
		goto fail;
	}
	if (memcmp(tail + 4, "PAR1", 4) != 0) {
		file_err(r, errbuf, n, "not a whole Parquet file (no PAR1 at its end: cut short?)");
		goto fail;
	}
	uint32_t meta_len = le32(tail);
	if (meta_len > r->size - 12) {
		file_err(r, errbuf, n,
		         "corrupt footer: %" PRIu32 " bytes of metadata in a file of %" PRIu64,
		         meta_len, r->size);
		goto fail;
	}
	if (meta_len > PARQUET_FOOTER_MAX) {
		file_err(r, errbuf, n, "%" PRIu32 " bytes of metadata (this reader takes up to %u)",
		         meta_len, PARQUET_FOOTER_MAX);
		goto fail;
	}
	r->footer = malloc(meta_len > 0 ? meta_len : 1);
	if (r->footer == NULL) {
		file_err(r, errbuf, n, "out of memory");
		goto fail;
	}
	uint64_t data_end = r->size - 8 - meta_len;
	if (src_read(r, data_end, meta_len, r->footer, &why) < 0) {
		file_err(r, errbuf, n, "cannot read the metadata: %s", why);
		goto fail;
	}
	if (read_footer(r, r->footer, meta_len, data_end, errbuf, n) < 0)
		goto fail;
	/* The metadata is all in r->rgs and r->cols now. */
	free(r->footer);
	r->footer = NULL;
	free(r->names);
	r->names = calloc(r->ncols, sizeof(*r->names));
	r->cells = calloc(r->ncols, sizeof(*r->cells));
	if (r->names == NULL || r->cells == NULL) {
		file_err(r, errbuf, n, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < r->ncols; i++) {
		r->names[i] = r->cols[i].name;
		r->cells[i] = r->empty;
	}
	return r;
fail:
	parquet_close(r);
	return NULL;
}

static struct parquet_reader *reader_new(const char *name, char *errbuf, size_t n)
{
	struct parquet_reader *r = calloc(1, sizeof(*r));

	if (r != NULL)
		r->name = strdup(name != NULL ? name : "-");
	if (r == NULL || r->name == NULL) {
		if (errbuf != NULL && n > 0)
			snprintf(errbuf, n, "parquet: %s: out of memory", name);
		free(r);
		return NULL;
	}
	r->fd = -1;
	return r;
}

struct parquet_reader *parquet_open_fd(int fd, const char *name, char *errbuf, size_t errbuf_size)
{
	struct stat st;
	struct parquet_reader *r = reader_new(name, errbuf, errbuf_size);

	if (r == NULL)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		file_err(r, errbuf, errbuf_size,
		         "not a regular file (a Parquet file is read from its end: give a file, "
		         "not a pipe)");
		parquet_close(r);
		return NULL;
	}
	r->fd = fd;
	r->size = (uint64_t)st.st_size;
	return open_common(r, errbuf, errbuf_size);
}

struct parquet_reader *parquet_open_mem(const void *data, size_t size, const char *name,
                                        char *errbuf, size_t errbuf_size)
{
	struct parquet_reader *r = reader_new(name, errbuf, errbuf_size);
	static const uint8_t none[1];

	if (r == NULL)
		return NULL;
	r->mem = data != NULL ? data : none;
	r->size = data != NULL ? size : 0;
	return open_common(r, errbuf, errbuf_size);
}

void parquet_close(struct parquet_reader *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncols; i++) {
		struct column *c = &r->cols[i];
		free(c->name);
		free(c->chunk_owned);
		dict_clear(c);
		free(c->dict.p);
		free(c->page);
		free(c->cell.p);
	}
	for (size_t i = 0; i < r->nrgs; i++)
		free(r->rgs[i].chunks);
	free(r->rgs);
	free(r->cols);
	free(r->names);
	free(r->cells);
	free(r->footer);
	free(r->name);
	ZSTD_freeDCtx(r->zstd);
	free(r);
}
