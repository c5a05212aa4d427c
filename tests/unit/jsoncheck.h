/*
 * jsoncheck.h - a small, strict RFC 8259 validator for the tests: is this
 * text one JSON value and nothing else?  Checks string escapes, control
 * bytes and UTF-8 well-formedness, number grammar, nesting.  Written for
 * the tests only, independently of src/core/json.c.
 *
 * Header-only (static functions) so each test binary stays one file.
 */
#ifndef HM_TEST_JSONCHECK_H
#define HM_TEST_JSONCHECK_H

#include <stddef.h>
#include <string.h>

struct jc {
	const unsigned char *p, *end;
	int depth;
};

static void jc_ws(struct jc *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jc_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Well-formed UTF-8 (RFC 3629 section 4) continuing at j->p, lead byte c already consumed. */
static int jc_utf8(struct jc *j, unsigned char c)
{
	int n;
	unsigned min;
	unsigned cp;
	if (c >= 0xC0 && c < 0xE0)
		n = 1, min = 0x80, cp = c & 0x1F;
	else if (c >= 0xE0 && c < 0xF0)
		n = 2, min = 0x800, cp = c & 0x0F;
	else if (c >= 0xF0 && c < 0xF8)
		n = 3, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (int i = 0; i < n; i++) {
		if (j->p >= j->end || (*j->p & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (*j->p++ & 0x3F);
	}
	return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

static int jc_string(struct jc *j)
{
	if (j->p >= j->end || *j->p != '"')
		return 0;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p++;
		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (j->p >= j->end)
				return 0;
			c = *j->p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++)
					if (j->p >= j->end || !jc_hex(*j->p++))
						return 0;
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return 0;
			}
		} else if (c >= 0x80 && !jc_utf8(j, c)) {
			return 0;
		}
	}
	return 0;
}

static int jc_number(struct jc *j)
{
	const unsigned char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return 0;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return 0;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return 0;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > s;
}

static int jc_value(struct jc *j);

static int jc_container(struct jc *j, unsigned char close, int object)
{
	if (++j->depth > 64)
		return 0;
	j->p++;
	jc_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 1;
	}
	for (;;) {
		jc_ws(j);
		if (object) {
			if (!jc_string(j))
				return 0;
			jc_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return 0;
		}
		if (!jc_value(j))
			return 0;
		jc_ws(j);
		if (j->p >= j->end)
			return 0;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return 0;
		j->depth--;
		return 1;
	}
}

static int jc_lit(struct jc *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static int jc_value(struct jc *j)
{
	jc_ws(j);
	if (j->p >= j->end)
		return 0;
	switch (*j->p) {
	case '{': return jc_container(j, '}', 1);
	case '[': return jc_container(j, ']', 0);
	case '"': return jc_string(j);
	case 't': return jc_lit(j, "true");
	case 'f': return jc_lit(j, "false");
	case 'n': return jc_lit(j, "null");
	default: return jc_number(j);
	}
}

/* 1 if s[0..n) is exactly one JSON value (surrounding whitespace allowed). */
static int json_valid(const char *s, size_t n)
{
	struct jc j = {(const unsigned char *)s, (const unsigned char *)s + n, 0};
	if (!jc_value(&j))
		return 0;
	jc_ws(&j);
	return j.p == j.end;
}

#endif
