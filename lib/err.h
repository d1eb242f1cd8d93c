/* err.h -- the one way a failing function explains itself: a printf-style
 * message into the caller's errbuf, and the code it returns.
 *
 *   if (n > max)
 *           return err_set(errbuf, errbuf_size, -1, "%zu fields, at most %d", n, max);
 */
#ifndef SLUICE_ERR_H
#define SLUICE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Writes the message into errbuf (cut to errbuf_size; nothing when errbuf
 * is NULL or errbuf_size is 0) and returns rc. */
int err_set(char *errbuf, size_t errbuf_size, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* err_set with a va_list, for helpers that add their own context. */
int err_setv(char *errbuf, size_t errbuf_size, int rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
