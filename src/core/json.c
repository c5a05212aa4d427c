/*
 * json.c - JSON members of a reading (RFC 8259), written into the caller's buffer.
 *
 * Strings: '"' and '\' escaped, control bytes as \u00XX, well-formed UTF-8
 * passed through, and every byte of an ill-formed sequence written as
 * \u00XX (its Latin-1 reading), so the output is valid JSON whatever the
 * meter sent.  Numbers: hm_num_format's plain decimals.
 *
 * Unnamed OBIS values are members "obis_A_B_C_D_E_F" (decimal fields), e.g.
 * "obis_1_0_91_7_0_255": 0.3.
 */
#include <stdio.h>
#include <string.h>

#include "hanmeter/json.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* no overlong forms */
		if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F; /* <= U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

int hm_json_string(const char *s, size_t len, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;

#define PUT(ch)                    \
	do {                       \
		if (o + 1 >= cap)  \
			return -1; \
		buf[o++] = (ch);   \
	} while (0)

	PUT('"');
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		size_t l;
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
			i++;
		} else if (c >= 0x20 && c < 0x7F) {
			PUT((char)c);
			i++;
		} else if (c >= 0x80 && (l = utf8_len(u + i, len - i)) > 0) {
			for (size_t k = 0; k < l; k++)
				PUT((char)u[i + k]);
			i += l;
		} else { /* control byte, DEL, or a byte of ill-formed UTF-8 */
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hex[c >> 4]);
			PUT(hex[c & 15]);
			i++;
		}
	}
	PUT('"');
#undef PUT
	buf[o] = 0;
	return (int)o;
}

/* Appends "name": to buf at *o. */
static int key(char *buf, size_t cap, size_t *o, const char *name)
{
	int n = hm_json_string(name, strlen(name), buf + *o, cap - *o);
	if (n < 0 || cap - *o - (size_t)n < 2)
		return -1;
	*o += (size_t)n;
	buf[(*o)++] = ':';
	buf[*o] = 0;
	return 0;
}

static int sep(char *buf, size_t cap, size_t *o)
{
	if (*o == 0)
		return 0;
	if (cap - *o < 2)
		return -1;
	buf[(*o)++] = ',';
	buf[*o] = 0;
	return 0;
}

static int put_num(char *buf, size_t cap, size_t *o, struct hm_num v)
{
	int n = hm_num_format(v, buf + *o, cap - *o);
	if (n < 0)
		return -1;
	*o += (size_t)n;
	return 0;
}

static int put_str(char *buf, size_t cap, size_t *o, const char *s)
{
	const char *end = memchr(s, 0, HM_TEXT_MAX); /* texts are bounded; strnlen is not C11 */
	int n = hm_json_string(s, end ? (size_t)(end - s) : HM_TEXT_MAX, buf + *o, cap - *o);
	if (n < 0)
		return -1;
	*o += (size_t)n;
	return 0;
}

int hm_json_members(const struct hm_reading *r, char *buf, size_t cap)
{
	size_t o = 0;
	if (cap == 0)
		return -1;
	buf[0] = 0;
	if (r->profile && (key(buf, cap, &o, "profile") < 0 || put_str(buf, cap, &o, r->profile) < 0))
		return -1;
	for (int f = 0; f < HM_TEXT_COUNT; f++) {
		char t[HM_TEXT_MAX];
		const char *s = hm_reading_text(r, f, t);
		if (!s)
			continue;
		if (sep(buf, cap, &o) < 0 || key(buf, cap, &o, hm_text_name[f]) < 0 || put_str(buf, cap, &o, s) < 0)
			return -1;
	}
	for (int f = 0; f < HM_NUM_COUNT; f++) {
		if (!hm_reading_has_num(r, f))
			continue;
		if (sep(buf, cap, &o) < 0 || key(buf, cap, &o, hm_num_info[f].name) < 0 ||
		    put_num(buf, cap, &o, r->num[f]) < 0)
			return -1;
	}
	for (unsigned i = 0; i < r->n_extra && i < HM_EXTRA_MAX; i++) {
		const struct hm_extra *x = &r->extra[i];
		char name[32];
		snprintf(name, sizeof name, "obis_%u_%u_%u_%u_%u_%u", x->obis[0], x->obis[1], x->obis[2], x->obis[3],
		         x->obis[4], x->obis[5]);
		if (sep(buf, cap, &o) < 0 || key(buf, cap, &o, name) < 0)
			return -1;
		if (x->is_text ? put_str(buf, cap, &o, x->text) : put_num(buf, cap, &o, x->num))
			return -1;
	}
	if (r->extra_dropped) {
		char n[24];
		snprintf(n, sizeof n, "%u", r->extra_dropped);
		if (sep(buf, cap, &o) < 0 || key(buf, cap, &o, "extra_dropped") < 0 || cap - o <= strlen(n))
			return -1;
		memcpy(buf + o, n, strlen(n) + 1);
		o += strlen(n);
	}
	return (int)o;
}
