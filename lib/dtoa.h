/* dtoa.h -- doubles as the shortest decimal text that reads back exactly:
 * what line protocol writes and what the parsers use to render numeric
 * keys canonically.
 */
#ifndef SLUICE_DTOA_H
#define SLUICE_DTOA_H

#include <stddef.h>

/*
 * Writes the shortest decimal text that reads back as exactly v ("21.5",
 * "0.1", "1e+300"; integers below 2^53 without exponent: "40"), NUL
 * terminated. Returns the length, or -1 if v is not finite or size is
 * under 32.
 */
int dtoa_shortest(double v, char *buf, size_t size);

#endif
