/* hostport.c -- "host:port" and "[v6]:port"; see hostport.h. */
#include "hostport.h"

#include <string.h>

int hostport_split(const char *addr, char *host, size_t size, int *port)
{
	const char *colon, *h = addr;
	size_t n, len;
	long p = 0;

	if (addr == NULL || (colon = strrchr(addr, ':')) == NULL)
		return -1;
	len = strlen(addr);
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		h = addr + 1;
		n -= 2;
	}
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == '[' || h[i] == ']' || h[i] == '/')
			return -1;
	if (colon + 1 == addr + len || addr + len - (colon + 1) > 5)
		return -1;
	for (const char *d = colon + 1; d < addr + len; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		p = p * 10 + (*d - '0');
	}
	if (p < 1 || p > 65535)
		return -1;
	if (host != NULL) {
		if (n >= size)
			return -1;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	if (port != NULL)
		*port = (int)p;
	return 0;
}
