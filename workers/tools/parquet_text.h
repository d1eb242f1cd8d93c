/* parquet_text.h -- Parquet values as the text cells `sluice-worker load`
 * publishes (parquet.c renders every value with these).
 *
 * The text is chosen so that a row published from Parquet reads the same
 * as the row would from a CSV file (docs/telemetry-input.md, "Parquet
 * files"): numbers as JSON numbers (floats as the shortest text that reads
 * back as the same float), dates and timestamps in RFC 3339 / ISO 8601,
 * decimals exactly, bytes in base64.
 *
 * Each function writes NUL-terminated text into buf (size bytes) and
 * returns its length, or -1 when it does not fit or the value has no text
 * (said for each). PQTEXT_NUM_MAX bytes always fit every function but
 * pqtext_decimal_be and pqtext_base64. Pure; thread-safe.
 */
#ifndef SLUICE_PARQUET_TEXT_H
#define SLUICE_PARQUET_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define PQTEXT_NUM_MAX 64
/* The longest unscaled decimal pqtext_decimal_be reads (512 bits). */
#define PQTEXT_DECIMAL_BYTES_MAX 64

enum pqtext_unit {
	PQTEXT_MILLIS = 1,
	PQTEXT_MICROS = 2,
	PQTEXT_NANOS = 3,
};

/* "2026-11-23": days since 1970-01-01. Years outside 0000..9999 get a
 * sign: "-0001-12-31", "+10000-01-01" (ISO 8601's expanded years). */
int pqtext_date(int64_t days, char *buf, size_t size);

/* "2026-11-23T05:00:00.123Z": v units since 1970-01-01T00:00:00, with as
 * many fraction digits as the unit has (3, 6, 9); "Z" only when utc (the
 * file's isAdjustedToUTC), a local date-time otherwise. */
int pqtext_timestamp(int64_t v, enum pqtext_unit unit, int utc, char *buf, size_t size);

/* "05:00:00.123": v units since midnight; -1 outside [0, 24h). */
int pqtext_time(int64_t v, enum pqtext_unit unit, char *buf, size_t size);

/* The legacy INT96 timestamp (nanoseconds of the day, then the Julian day,
 * little-endian) as a local date-time with 9 fraction digits, as Arrow
 * reads it: "2026-11-23T05:00:00.123456789". */
int pqtext_int96(const uint8_t b[12], char *buf, size_t size);

/* A decimal: the unscaled integer times 10^-scale, every digit kept:
 * (12345, 2) is "123.45", (-5, 3) "-0.005", (7, 0) "7". -1 for a scale
 * outside [0, 1000]. */
int pqtext_decimal_int(int64_t unscaled, int scale, char *buf, size_t size);
/* The same with the unscaled integer as len big-endian two's complement
 * bytes (FIXED_LEN_BYTE_ARRAY and BYTE_ARRAY decimals); 0 bytes is 0. -1
 * past PQTEXT_DECIMAL_BYTES_MAX bytes. */
int pqtext_decimal_be(const uint8_t *be, size_t len, int scale, char *buf, size_t size);

/* The shortest text that reads back as exactly v (strtod/strtof): "21.5",
 * "0.1", "1e+20"; "NaN", "Infinity", "-Infinity" for what JSON has no
 * number for. The half-precision one takes IEEE 754 binary16 bits. */
int pqtext_double(double v, char *buf, size_t size);
int pqtext_float(float v, char *buf, size_t size);
int pqtext_half(uint16_t bits, char *buf, size_t size);
/* The value of binary16 bits, exactly. */
double pqtext_half_value(uint16_t bits);

/* "123e4567-e89b-12d3-a456-426614174000" */
int pqtext_uuid(const uint8_t b[16], char *buf, size_t size);

/* RFC 4648 base64 with padding; needs pqtext_base64_size(len) bytes. */
size_t pqtext_base64_size(size_t len);
int pqtext_base64(const uint8_t *p, size_t len, char *buf, size_t size);

#endif
