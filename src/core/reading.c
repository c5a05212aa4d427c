/*
 * reading.c - the canonical reading: the tables behind reading.h's X-macros,
 * setters, lookups by OBIS and by name, and exact decimal formatting.
 *
 * Numbers are m * 10^e and are printed from the integer digits, never
 * through binary floating point, so 94064.59 stays 94064.59.
 */
#include <string.h>

#include "hanmeter/reading.h"
#include "profiles/profiles.h" /* hm_num_obis_fast[] */

const struct hm_num_info hm_num_info[HM_NUM_COUNT] = {
#define HM_NF_INFO(id, nm, un, c, d, e, dc, sc) \
	[HM_NUM_##id] = {                       \
	    .name = nm, .unit = un, .obis_c = c, .obis_d = d, .obis_e = e, .device_class = dc, .state_class = sc},
    HM_NUM_FIELDS(HM_NF_INFO)
#undef HM_NF_INFO
};

const char *const hm_text_name[HM_TEXT_COUNT] = {
#define HM_TF_NAME(id, nm) [HM_TEXT_##id] = nm,
    HM_TEXT_FIELDS(HM_TF_NAME)
#undef HM_TF_NAME
};

bool hm_reading_has_num(const struct hm_reading *r, enum hm_num_field f)
{
	return (unsigned)f < HM_NUM_COUNT && (r->num_set[f / 64] >> (f % 64) & 1);
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGH UINT64_C(0x8080808080808080)

/* True if each of the 8 bytes of w is printable ASCII (0x20..0x7E).  A byte
 * below 0x20 borrows out of its top bit when 0x20 is subtracted; a byte
 * above 0x7E has its top bit set after adding 1 (or had it already).  A
 * borrow or carry crossing into the next byte only happens from a byte that
 * was caught itself, so the test is exact.  Byte order does not matter. */
static bool all_printable(uint64_t w)
{
	uint64_t low = (w - 0x20 * ONES) & ~w & HIGH;
	uint64_t high = ((w + ONES) | w) & HIGH;
	return (low | high) == 0;
}

/* Copies len bytes to dst (cap bytes) as printable ASCII: bytes outside
 * 0x20..0x7E become \xNN; the result is cut at a whole character. */
static void printable(char *dst, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	/* The common case (an identifier that fits and is plain ASCII) is a
	 * check, eight bytes at a time, and a copy. */
	if (len < cap) {
		/* Each word is copied as it passes (a fixed 8-byte memcpy is a
		 * load and a store, no call); a string of 8 bytes or more ends with
		 * the word that ends at its last byte, overlapping the one before. */
		size_t i = 0;
		uint64_t w;
		for (; i + 8 <= len && (memcpy(&w, s + i, 8), all_printable(w)); i += 8)
			memcpy(dst + i, &w, 8);
		if (len >= 8 && i < len && len - i < 8) { /* the words stopped for want of bytes */
			memcpy(&w, s + len - 8, 8);
			if (all_printable(w)) {
				memcpy(dst + len - 8, &w, 8);
				i = len;
			}
		} else if (len >= 4 && len < 8) { /* 4-7 bytes: two half words, overlapping */
			uint32_t a, b;
			memcpy(&a, s, 4);
			memcpy(&b, s + len - 4, 4);
			if (all_printable((uint64_t)a << 32 | b)) {
				memcpy(dst, &a, 4);
				memcpy(dst + len - 4, &b, 4);
				i = len;
			}
		}
		for (; i < len && (unsigned char)s[i] - 0x20u < 0x5Fu; i++)
			dst[i] = s[i];
		if (i == len) {
			dst[len] = 0;
			return;
		}
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = 0;
}

void hm_reading_set_text(struct hm_reading *r, enum hm_text_field f, const char *s, size_t len)
{
	if ((unsigned)f >= HM_TEXT_COUNT || hm_text_time(f) >= 0)
		return; /* the clocks are set with hm_reading_set_time() */
	printable(r->text[f], sizeof r->text[f], s, len);
	r->text_set |= UINT32_C(1) << f;
}

const char *hm_reading_text(const struct hm_reading *r, enum hm_text_field f, char buf[HM_TEXT_MAX])
{
	if (!hm_reading_has_text(r, f))
		return NULL;
	int k = hm_text_time(f);
	if (k < 0)
		return r->text[f];
	return hm_time_format(&r->time[k], buf, HM_TEXT_MAX) >= 0 ? buf : NULL;
}

/* Writes v (< 100) as two digits, from a table of "00" .. "99". */
static char *two(char *o, unsigned v)
{
	static const char digits[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	                             "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	                             "8081828384858687888990919293949596979899";
	memcpy(o, digits + 2 * (v % 100), 2);
	return o + 2;
}

/* By hand rather than with snprintf: the same output as
 * "%04u-%02u-%02uT%02u:%02u:%02u" and "%c%02u:%02u", for a fraction of the
 * cost (every reading that is published has a clock or two). */
int hm_time_format(const struct hm_time *t, char *buf, size_t cap)
{
	size_t n = 19 + (t->has_offset ? 6 : 0); /* "YYYY-MM-DDThh:mm:ss", "+hh:mm" */
	if (n >= cap)
		return -1;
	char *o = buf;
	o = two(o, t->year / 100u);
	o = two(o, t->year);
	*o++ = '-';
	o = two(o, t->month);
	*o++ = '-';
	o = two(o, t->day);
	*o++ = 'T';
	o = two(o, t->hour);
	*o++ = ':';
	o = two(o, t->min);
	*o++ = ':';
	o = two(o, t->sec);
	if (t->has_offset) {
		unsigned a = (unsigned)(t->offset < 0 ? -t->offset : t->offset);
		*o++ = t->offset < 0 ? '-' : '+';
		o = two(o, a / 60);
		*o++ = ':';
		o = two(o, a % 60);
	}
	*o = 0;
	return (int)n;
}

bool hm_reading_has_text(const struct hm_reading *r, enum hm_text_field f)
{
	return (unsigned)f < HM_TEXT_COUNT && (r->text_set >> f & 1);
}

bool hm_reading_add_extra(struct hm_reading *r, const struct hm_extra *x)
{
	/* A list that names one OBIS code twice: the later value replaces the
	 * earlier, as for named fields, so every JSON member stays unique. */
	struct hm_extra *d = NULL;
	for (unsigned i = 0; i < r->n_extra && !d; i++)
		if (memcmp(r->extra[i].obis, x->obis, sizeof x->obis) == 0)
			d = &r->extra[i];
	if (!d && r->n_extra >= HM_EXTRA_MAX) {
		r->extra_dropped++;
		return false;
	}
	if (!d)
		d = &r->extra[r->n_extra++];
	*d = *x;
	if (d->is_text) { /* keep the invariant: NUL-terminated and printable */
		const char *end = memchr(x->text, 0, sizeof x->text);
		printable(d->text, sizeof d->text, x->text, end ? (size_t)(end - x->text) : sizeof x->text);
	}
	return true;
}

/* Every value of every list is looked up here, so the common codes take a
 * table: nearly every field is C.7.0 (instantaneous) or C.8.0 (total), and
 * fast[] holds field + 1 (0: none) at C for C.7.0 and at 256 + C for C.8.0.
 * A field with another D.E gets a slot of its own past those two rows, so
 * that every designated index below is distinct (a duplicate OBIS code in
 * HM_NUM_FIELDS fails to compile: -Woverride-init, and the switch's
 * duplicate case); those fields, and the codes no field has, are found by
 * the switch generated from the same table.  (profiles.h looks the two
 * rows up inline, for the profiles' per-value path.) */
#define FAST_ROW HM_NUM_OBIS_FAST_ROW
#define FAST_SLOT(id, c, d, e) \
	((e) == 0 && (d) == 7 ? (c) : (e) == 0 && (d) == 8 ? FAST_ROW + (c) : 2 * FAST_ROW + HM_NUM_##id)
_Static_assert(HM_NUM_COUNT < INT8_MAX, "fast[] holds field + 1 in an int8_t");
const int8_t hm_num_obis_fast[2 * FAST_ROW + HM_NUM_COUNT] = {
#define HM_NF_FAST(id, nm, un, oc, od, oe, dc, sc) [FAST_SLOT(id, oc, od, oe)] = HM_NUM_##id + 1,
    HM_NUM_FIELDS(HM_NF_FAST)
#undef HM_NF_FAST
};

#define OBIS_KEY(c, d, e) ((uint32_t)(c) << 16 | (uint32_t)(d) << 8 | (uint32_t)(e))
int hm_num_field_by_obis(uint8_t c, uint8_t d, uint8_t e)
{
	if (e == 0 && (d == 7 || d == 8))
		return hm_num_obis_fast[(d - 7) * FAST_ROW + c] - 1;
	switch (OBIS_KEY(c, d, e)) {
#define HM_NF_CASE(id, nm, un, oc, od, oe, dc, sc) \
	case OBIS_KEY(oc, od, oe): return HM_NUM_##id;
		HM_NUM_FIELDS(HM_NF_CASE)
#undef HM_NF_CASE
	default: return -1;
	}
}

int hm_num_field_by_name(const char *name)
{
	for (int i = 0; i < HM_NUM_COUNT; i++)
		if (strcmp(hm_num_info[i].name, name) == 0)
			return i;
	return -1;
}

int hm_text_field_by_name(const char *name)
{
	for (int i = 0; i < HM_TEXT_COUNT; i++)
		if (strcmp(hm_text_name[i], name) == 0)
			return i;
	return -1;
}

int hm_num_format(struct hm_num v, char *buf, size_t cap)
{
	char dig[24]; /* the magnitude's decimal digits, least significant first */
	int nd = 0;
	uint64_t mag = v.m < 0 ? (uint64_t)0 - (uint64_t)v.m : (uint64_t)v.m; /* also INT64_MIN */
	do {
		dig[nd++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	int e = v.m == 0 ? 0 : v.e;
	/* Drop trailing zeros that sit behind the decimal point. */
	int lead = 0; /* least significant digits to skip */
	while (e < 0 && lead < nd - 1 && dig[lead] == '0') {
		lead++;
		e++;
	}
	if (e < 0 && dig[lead] == '0') /* can only be the value 0 */
		e = 0;

	size_t o = 0;
	int frac = e < 0 ? -e : 0;   /* digits after the point */
	int intd = nd - lead - frac; /* digits before it (may be <= 0) */
	size_t need = (size_t)(v.m < 0) + (size_t)(intd > 0 ? intd : 1) + (frac ? 1 + (size_t)frac : 0) +
	              (size_t)(e > 0 ? e : 0) + 1;
	if (need > cap)
		return -1;
	if (v.m < 0)
		buf[o++] = '-';
	if (intd <= 0)
		buf[o++] = '0';
	for (int i = nd - 1; i >= nd - intd && i >= lead; i--)
		buf[o++] = dig[i];
	for (int i = 0; i < e; i++)
		buf[o++] = '0';
	if (frac) {
		buf[o++] = '.';
		for (int i = 0; i < -intd; i++)
			buf[o++] = '0';
		for (int i = (intd > 0 ? nd - intd : nd) - 1; i >= lead; i--)
			buf[o++] = dig[i];
	}
	buf[o] = 0;
	return (int)o;
}

double hm_num_to_double(struct hm_num v)
{
	/* One multiplication or division by an exact power of ten (exact up to
	 * 1e22) gives the correctly rounded value for |m| < 2^53. */
	double p = 1;
	for (int e = v.e < 0 ? -v.e : v.e; e > 0; e--)
		p *= 10;
	return v.e < 0 ? (double)v.m / p : (double)v.m * p;
}
