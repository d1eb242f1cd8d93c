/* err.c -- error messages into a caller's buffer; see err.h. */
#include "err.h"

#include <stdio.h>

int err_setv(char *errbuf, size_t errbuf_size, int rc, const char *fmt, va_list ap)
{
	if (errbuf != NULL && errbuf_size > 0)
		vsnprintf(errbuf, errbuf_size, fmt, ap);
	return rc;
}

int err_set(char *errbuf, size_t errbuf_size, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_setv(errbuf, errbuf_size, rc, fmt, ap);
	va_end(ap);
	return rc;
}
