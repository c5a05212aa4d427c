/*
 * hexfile.c - hex text to bytes (see hexfile.h for the accepted forms).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hexfile.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One line [p, end): appends its bytes; 0 or -1 with err. */
static int parse_line(const char *p, const char *end, unsigned lineno, uint8_t *out, size_t cap, size_t *len, char *err,
                      size_t errlen)
{
	int hi = -1;
	while (p < end) {
		/* A token ending in ':' is an offset column: skip it. */
		const char *t = p;
		while (t < end && hexval((unsigned char)*t) >= 0)
			t++;
		if (t < end && *t == ':' && t > p && hi < 0 && (t - p) > 2) {
			p = t + 1;
			continue;
		}
		if (*p == '|') /* hexdump -C ascii column */
			break;
		if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hi < 0) {
			p += 2;
			continue;
		}
		int v = hexval((unsigned char)*p);
		if (v >= 0) {
			if (hi < 0) {
				hi = v;
			} else {
				if (*len >= cap) {
					snprintf(err, errlen, "line %u: more than %zu bytes of data", lineno, cap);
					return -1;
				}
				out[(*len)++] = (uint8_t)(hi << 4 | v);
				hi = -1;
			}
		} else if (*p == ' ' || *p == '\t' || *p == ',' || *p == ':' || *p == '-' || *p == '\r') {
			if (hi >= 0) {
				snprintf(err, errlen, "line %u: odd number of hex digits", lineno);
				return -1;
			}
		} else {
			snprintf(err, errlen, "line %u: '%c' is not a hex digit", lineno, *p);
			return -1;
		}
		p++;
	}
	if (hi >= 0) {
		snprintf(err, errlen, "line %u: odd number of hex digits", lineno);
		return -1;
	}
	return 0;
}

int hm_hex_parse(const char *text, size_t n, uint8_t *out, size_t cap, size_t *out_len, struct hm_hexline *lines,
                 size_t max_lines, size_t *n_lines, char *err, size_t errlen)
{
	const char *p = text, *end = text + n;
	unsigned lineno = 0;
	*out_len = 0;
	*n_lines = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		lineno++;
		const char *s = p;
		while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s < eol && *s != '#') {
			size_t before = *out_len;
			if (parse_line(s, eol, lineno, out, cap, out_len, err, errlen) < 0)
				return -1;
			if (*out_len > before) {
				if (*n_lines < max_lines)
					lines[*n_lines] = (struct hm_hexline){before, *out_len - before, lineno};
				(*n_lines)++;
			}
		}
		p = eol < end ? eol + 1 : end;
	}
	return 0;
}
