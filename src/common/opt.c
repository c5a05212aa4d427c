/*
 * opt.c - numbers from the command line (opt.h).
 *
 * strtoull() and strtod() stop quietly at the first byte they cannot use
 * and strtoull() negates a leading '-' into a huge value; an option
 * argument is either wholly the number or wrong, so these check where the
 * number ended and refuse a '-' up front.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

int hm_opt_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	if (*s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (end == s || *end)
		return -EINVAL;
	if (errno || x > max)
		return -ERANGE;
	*v = x;
	return 0;
}

int hm_opt_parse_real(const char *s, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (end == s || *end)
		return -EINVAL;
	if (errno)
		return -ERANGE;
	*v = x;
	return 0;
}

int hm_opt_parse_hostport(const char *s, char *host, size_t host_size, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;
	if (hm_opt_parse_uint(colon ? colon + 1 : s, 65535, &p))
		return -EINVAL;
	if (colon) {
		size_t n = (size_t)(colon - s);
		if (n == 0 || n >= host_size)
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	*port = (unsigned)p;
	return 0;
}
