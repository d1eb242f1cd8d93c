/* tw_hash.c -- see tw_hash.h. */
#include "tw_hash.h"

#include <string.h>

uint64_t tw_hash_bytes(const void *data, size_t len)
{
	const uint64_t m = 0xc6a4a7935bd1e995ULL;
	const unsigned char *p = data;
	uint64_t h = 0x5106e1f1a3c2b4d7ULL ^ ((uint64_t)len * m);

	while (len >= 8) {
		uint64_t k;

		memcpy(&k, p, 8); /* unaligned-safe; compiles to one load */
		k *= m;
		k ^= k >> 47;
		k *= m;
		h ^= k;
		h *= m;
		p += 8;
		len -= 8;
	}
	if (len > 0) {
		uint64_t k = 0;

		for (size_t i = 0; i < len; i++)
			k |= (uint64_t)p[i] << (8 * i);
		h ^= k;
		h *= m;
	}
	h ^= h >> 47;
	h *= m;
	h ^= h >> 47;
	return h;
}
