/* tw_hash.h -- the one 64-bit hash of the telemetry stream core.
 *
 * Dedupe and the window store both find state by an event's key; the core
 * hashes the key once per event (tw_hash_bytes) and hands the hash to both,
 * so they must agree on the function: this is it. Not cryptographic: keys
 * come from producers we trust to the extent that a hash-flooding producer
 * only slows its own partition down (probe lengths), never breaks results.
 */
#ifndef SLUICE_TW_HASH_H
#define SLUICE_TW_HASH_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash64A-style hash of len bytes at data (any alignment). */
uint64_t tw_hash_bytes(const void *data, size_t len);

/* Bijective finalizer (splitmix64's): spreads every input bit over the
 * result, so combinations like tw_hash_mix(h ^ ts) index tables well. */
static inline uint64_t tw_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
