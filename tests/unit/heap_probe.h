/*
 * heap_probe.h - bytes a test's process holds on glibc's heap, for tests
 * that count what a library keeps (librdkafka's topic objects): counted
 * allocations, not RSS.
 *
 * ASan's allocator keeps freed memory in quarantine and glibc's mallinfo2
 * does not see its heap: HEAP_PROBE_MEASURES is 0 there, and tests skip
 * their byte checks (the rest runs).
 */
#ifndef SLUICE_HEAP_PROBE_H
#define SLUICE_HEAP_PROBE_H

#include <malloc.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_PROBE_MEASURES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_PROBE_MEASURES 0
#endif
#endif
#ifndef HEAP_PROBE_MEASURES
#define HEAP_PROBE_MEASURES 1
#endif

/* Bytes in use on the heap, after handing free memory back. */
static inline size_t heap_probe_used(void)
{
	malloc_trim(0);
	return mallinfo2().uordblks;
}

#endif /* SLUICE_HEAP_PROBE_H */
