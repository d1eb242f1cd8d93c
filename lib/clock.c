/* clock.c -- monotonic and wall-clock time, RFC 3339 text; see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

int64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

double clock_mono_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}

struct timespec clock_mono_deadline(int64_t ms)
{
	int64_t at = clock_mono_ns() + ms * 1000000;

	return (struct timespec){(time_t)(at / CLOCK_NS_PER_S), (long)(at % CLOCK_NS_PER_S)};
}

int64_t clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * algorithm). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int clock_format_rfc3339(int64_t ns, char *buf, size_t size)
{
	int64_t secs = ns / CLOCK_NS_PER_S, frac = ns % CLOCK_NS_PER_S, days, sod, y;
	int m, d, n;

	if (frac < 0) { /* floor, so times before 1970 read forwards */
		frac += CLOCK_NS_PER_S;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (frac == 0)
		n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
		             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	else if (frac % 1000000 == 0)
		n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
		             (int)(frac / 1000000));
	else if (frac % 1000 == 0)
		n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%06dZ", (long long)y, m, d,
		             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
		             (int)(frac / 1000));
	else
		n = snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%09dZ", (long long)y, m, d,
		             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)frac);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

int clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc = pthread_condattr_init(&attr);

	if (rc != 0)
		return rc;
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}
