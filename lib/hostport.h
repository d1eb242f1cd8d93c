/* hostport.h -- the one "host:port" parser: every address a spec, an option
 * or an environment variable gives (Redis, the status Redis, Kafka brokers'
 * entries). An IPv6 address is written in brackets, "[::1]:6379", as in a
 * URL; the brackets are not part of the host returned. The port is what
 * follows the last colon, so "::1:6379" reads as host "::1", port 6379.
 */
#ifndef SLUICE_HOSTPORT_H
#define SLUICE_HOSTPORT_H

#include <stddef.h>

/*
 * Splits addr into host (NUL-terminated, of size bytes) and *port (1..65535). Returns 0, or -1
 * when addr is not host:port (no colon, an empty host, a port that is not a
 * number in range, white space, a host that does not fit):
 * host and *port are then unspecified. host may be NULL to only check.
 */
int hostport_split(const char *addr, char *host, size_t size, int *port);

#endif
