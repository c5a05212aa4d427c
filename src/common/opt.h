/*
 * opt.h - numbers from the command line, shared by hanmeter and
 * hanmeter-sim: the whole argument must be the number.
 */
#ifndef HM_COMMON_OPT_H
#define HM_COMMON_OPT_H

#include <stddef.h>
#include <stdint.h>

/* A decimal whole number 0..max into *v: 0, -EINVAL (not a number, a sign
 * '-', anything after the digits) or -ERANGE (above max).  *v is set only
 * on success. */
int hm_opt_parse_uint(const char *s, uint64_t max, uint64_t *v);

/* A decimal number (strtod syntax) into *v: 0, -EINVAL (not a number, or
 * anything after it) or -ERANGE (too large or too small for a double).
 * Ranges are the caller's; NaN and infinity come through for it to refuse.
 * *v is set only on success. */
int hm_opt_parse_real(const char *s, double *v);

/* [HOST:]PORT, PORT 0..65535 into *port; HOST, when given, into host
 * (host_size bytes with its NUL; the last ':' ends it, so a bare IPv6
 * address is taken apart at its last colon), else host is left as it is.
 * 0, or -EINVAL (an empty HOST or one that does not fit, a bad PORT);
 * nothing is stored unless the whole argument is good. */
int hm_opt_parse_hostport(const char *s, char *host, size_t host_size, unsigned *port);

#endif
