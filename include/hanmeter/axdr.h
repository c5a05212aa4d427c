/*
 * axdr.h - a bounded, non-recursive A-XDR decoder (IEC 62056-6-2 / DLMS Green Book).
 *
 * Two ways to read the data of a data-notification, one decoder under both:
 *  - item by item (hm_axdr_next(), and the hm_axdr_take_*() checks for what
 *    HAN lists are made of): how a profile that knows its list's shape reads
 *    it, straight from the bytes into the reading;
 *  - as a flat list of items in document order (hm_axdr_parse()), arrays and
 *    structures being items too, followed by their elements (depth + 1): for
 *    lists of unknown shape, the -p tree, and error reports.
 * No recursion: the list keeps an explicit stack bounded by
 * HM_AXDR_DEPTH_MAX.  Every length is checked against the buffer.
 */
#ifndef HANMETER_AXDR_H
#define HANMETER_AXDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"

/* A-XDR data type tags (DLMS Green Book, Data ::= CHOICE). */
enum hm_axdr_tag {
	HM_AXDR_NULL = 0,
	HM_AXDR_ARRAY = 1,
	HM_AXDR_STRUCTURE = 2,
	HM_AXDR_BOOLEAN = 3,
	HM_AXDR_BIT_STRING = 4,
	HM_AXDR_INT32 = 5,  /* double-long */
	HM_AXDR_UINT32 = 6, /* double-long-unsigned */
	HM_AXDR_OCTET_STRING = 9,
	HM_AXDR_VISIBLE_STRING = 10,
	HM_AXDR_UTF8_STRING = 12,
	HM_AXDR_BCD = 13,
	HM_AXDR_INT8 = 15,   /* integer */
	HM_AXDR_INT16 = 16,  /* long */
	HM_AXDR_UINT8 = 17,  /* unsigned */
	HM_AXDR_UINT16 = 18, /* long-unsigned */
	HM_AXDR_INT64 = 20,  /* long64 */
	HM_AXDR_UINT64 = 21, /* long64-unsigned */
	HM_AXDR_ENUM = 22,
	HM_AXDR_FLOAT32 = 23,
	HM_AXDR_FLOAT64 = 24,
	HM_AXDR_DATE_TIME = 25, /* 12 bytes */
	HM_AXDR_DATE = 26,      /* 5 bytes */
	HM_AXDR_TIME = 27,      /* 4 bytes */
};

struct hm_axdr_item {
	uint8_t tag;         /* enum hm_axdr_tag */
	uint8_t depth;       /* 0 = top level */
	uint16_t len;        /* array/structure: element count; strings and dates: bytes at data */
	const uint8_t *data; /* content bytes (strings, dates, floats); NULL for containers */
	int64_t ival;        /* integers, boolean, enum: the value (uint64 above INT64_MAX saturates) */
};

struct hm_axdr {
	struct hm_axdr_item item[HM_AXDR_ITEMS_MAX]; /* items in document order */
	unsigned n;                                  /* items used */
};

/* A cursor over A-XDR bytes: hm_axdr_next() reads one item at pos. */
struct hm_axdr_rd {
	const uint8_t *p; /* the bytes */
	size_t len;       /* bytes at p */
	size_t pos;       /* next item's tag */
};

/* Big-endian unsigned of n bytes (n <= 8); of 2 and of 4 bytes.  Byte
 * loads only: no alignment or host byte order assumed. */
static inline uint64_t hm_axdr_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}
static inline uint16_t hm_axdr_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t hm_axdr_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Reads the one item at rd->pos into *it and moves past it: its tag and
 * content (integers, enum and boolean also as ival), or for an array or a
 * structure its element count, the elements following as items of their
 * own.  depth is left 0: the nesting is the caller's (hm_axdr_parse()
 * tracks it; a profile that knows its list's shape reads the elements it
 * expects).  HM_ERR_OK, or HM_ERR_TRUNCATED / HM_ERR_MALFORMED_APDU (a tag
 * not in the Green Book's list, compact-array, a bad length form) /
 * HM_ERR_OVERSIZE (more elements than HM_AXDR_ITEMS_MAX, a string over
 * 64 KiB), with *it unspecified and pos unmoved.
 *
 * This is the one A-XDR decoder: hm_axdr_parse() and the profiles that read
 * a list straight from its bytes both come here.  Inline, because it runs
 * for every value of every list.
 */
static inline enum hm_err hm_axdr_next(struct hm_axdr_rd *rd, struct hm_axdr_item *it)
{
	const uint8_t *p = rd->p;
	size_t len = rd->len, i = rd->pos;
	uint64_t u;
	unsigned n; /* content bytes of a fixed-size type */

	if (i >= len)
		return HM_ERR_TRUNCATED;
	uint8_t tag = p[i++];
	*it = (struct hm_axdr_item){.tag = tag};
	switch (tag) {
	case HM_AXDR_NULL: rd->pos = i; return HM_ERR_OK;
	case HM_AXDR_ARRAY:
	case HM_AXDR_STRUCTURE:
	case HM_AXDR_OCTET_STRING:
	case HM_AXDR_VISIBLE_STRING:
	case HM_AXDR_UTF8_STRING:
	case HM_AXDR_BIT_STRING: {
		/* A-XDR length: one byte < 0x80, or 0x80 | k and k (1..4) big-endian bytes. */
		if (i >= len)
			return HM_ERR_TRUNCATED;
		uint32_t k = p[i++];
		if (k >= 0x80) {
			unsigned nb = k & 0x7F;
			if (nb < 1 || nb > 4)
				return HM_ERR_MALFORMED_APDU;
			if (len - i < nb)
				return HM_ERR_TRUNCATED;
			k = (uint32_t)hm_axdr_be(p + i, nb);
			i += nb;
		}
		if (tag == HM_AXDR_ARRAY || tag == HM_AXDR_STRUCTURE) {
			if (k > len - i) /* every element takes at least its tag byte */
				return HM_ERR_TRUNCATED;
			if (k > HM_AXDR_ITEMS_MAX)
				return HM_ERR_OVERSIZE;
			it->len = (uint16_t)k;
			rd->pos = i;
			return HM_ERR_OK;
		}
		if (tag == HM_AXDR_BIT_STRING) /* length in bits */
			k = k / 8 + (k % 8 != 0);
		if (k > len - i)
			return HM_ERR_TRUNCATED;
		if (k > UINT16_MAX)
			return HM_ERR_OVERSIZE;
		it->len = (uint16_t)k;
		it->data = p + i;
		rd->pos = i + k;
		return HM_ERR_OK;
	}
	/* Fixed sizes: Green Book, table "Data types". */
	case HM_AXDR_BOOLEAN:
	case HM_AXDR_BCD:
	case HM_AXDR_INT8:
	case HM_AXDR_UINT8:
	case HM_AXDR_ENUM: n = 1; break;
	case HM_AXDR_INT16:
	case HM_AXDR_UINT16: n = 2; break;
	case HM_AXDR_INT32:
	case HM_AXDR_UINT32:
	case HM_AXDR_FLOAT32:
	case HM_AXDR_TIME: n = 4; break;
	case HM_AXDR_DATE: n = 5; break;
	case HM_AXDR_INT64:
	case HM_AXDR_UINT64:
	case HM_AXDR_FLOAT64: n = 8; break;
	case HM_AXDR_DATE_TIME: n = 12; break;
	default: return HM_ERR_MALFORMED_APDU;
	}
	if (len - i < n)
		return HM_ERR_TRUNCATED;
	p += i;
	it->len = (uint16_t)n;
	it->data = p;
	rd->pos = i + n;
	switch (tag) { /* the value of the integer types, sign-extended */
	case HM_AXDR_BOOLEAN: it->ival = p[0] != 0; break;
	case HM_AXDR_INT8: it->ival = (int8_t)p[0]; break;
	case HM_AXDR_INT16: it->ival = (int16_t)hm_axdr_be16(p); break;
	case HM_AXDR_INT32: it->ival = (int32_t)hm_axdr_be32(p); break;
	case HM_AXDR_INT64: it->ival = (int64_t)hm_axdr_be(p, 8); break;
	case HM_AXDR_UINT64: /* above INT64_MAX saturates */
		u = hm_axdr_be(p, 8);
		it->ival = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
		break;
	case HM_AXDR_BCD:
	case HM_AXDR_UINT8:
	case HM_AXDR_ENUM: it->ival = p[0]; break;
	case HM_AXDR_UINT16: it->ival = hm_axdr_be16(p); break;
	case HM_AXDR_UINT32: it->ival = hm_axdr_be32(p); break;
	default: break; /* floats and dates: bytes at data */
	}
	return HM_ERR_OK;
}

/*
 * What HAN lists are made of, for the profiles that know their list's
 * shape: each takes the next item only if it is the kind asked for and
 * whole (and, for containers and strings, in the one-byte length form the
 * lists use).  Otherwise it returns false and moves nothing, and the caller
 * reads the item with hm_axdr_next() to see what it is, or why it is
 * broken.  These are the decoder's inner loop: a check and a load, without
 * the general reader's switch over every type.
 */

/* An array or structure (tag) of *n elements (the elements follow). */
static inline bool hm_axdr_take_open(struct hm_axdr_rd *rd, uint8_t tag, unsigned *n)
{
	const uint8_t *p = rd->p + rd->pos;
	size_t room = rd->len - rd->pos;
	if (room < 2 || p[0] != tag || p[1] >= 0x80 || p[1] > room - 2)
		return false;
	*n = p[1];
	rd->pos += 2;
	return true;
}

/* An OBIS code: octet-string of 6 bytes; *obis points at them. */
static inline bool hm_axdr_take_obis(struct hm_axdr_rd *rd, const uint8_t **obis)
{
	const uint8_t *p = rd->p + rd->pos;
	if (rd->len - rd->pos < 8 || p[0] != HM_AXDR_OCTET_STRING || p[1] != 6)
		return false;
	*obis = p + 2;
	rd->pos += 8;
	return true;
}

/* An octet-, visible- or utf8-string (identities, list versions, clocks),
 * into *it as hm_axdr_next() would fill it. */
static inline bool hm_axdr_take_string(struct hm_axdr_rd *rd, struct hm_axdr_item *it)
{
	const uint8_t *p = rd->p + rd->pos;
	size_t room = rd->len - rd->pos;
	if (room < 2 ||
	    (p[0] != HM_AXDR_OCTET_STRING && p[0] != HM_AXDR_VISIBLE_STRING && p[0] != HM_AXDR_UTF8_STRING) ||
	    p[1] >= 0x80 || p[1] > room - 2)
		return false;
	*it = (struct hm_axdr_item){.tag = p[0], .len = p[1], .data = p + 2};
	rd->pos += 2u + p[1];
	return true;
}

/* An integer of the types meters send values in (double-long(-unsigned),
 * long(-unsigned), integer, unsigned, enum), into *it as hm_axdr_next()
 * would fill it. */
static inline bool hm_axdr_take_int(struct hm_axdr_rd *rd, struct hm_axdr_item *it)
{
	const uint8_t *p = rd->p + rd->pos;
	size_t room = rd->len - rd->pos;
	int64_t v;
	unsigned n;
	if (room < 2)
		return false;
	switch (p[0]) {
	case HM_AXDR_UINT32:
		if (room < 5)
			return false;
		v = hm_axdr_be32(p + 1), n = 4;
		break;
	case HM_AXDR_INT32:
		if (room < 5)
			return false;
		v = (int32_t)hm_axdr_be32(p + 1), n = 4;
		break;
	case HM_AXDR_UINT16:
		if (room < 3)
			return false;
		v = hm_axdr_be16(p + 1), n = 2;
		break;
	case HM_AXDR_INT16:
		if (room < 3)
			return false;
		v = (int16_t)hm_axdr_be16(p + 1), n = 2;
		break;
	case HM_AXDR_UINT8:
	case HM_AXDR_ENUM: v = p[1], n = 1; break;
	case HM_AXDR_INT8: v = (int8_t)p[1], n = 1; break;
	default: return false;
	}
	*it = (struct hm_axdr_item){.tag = p[0], .len = (uint16_t)n, .data = p + 1, .ival = v};
	rd->pos += 1 + n;
	return true;
}

/* Parses ONE A-XDR value (with everything nested in it) from p into a flat
 * item list, depth by depth.  Returns HM_ERR_OK and sets *used to the bytes
 * consumed, or what hm_axdr_next() says, or HM_ERR_TOO_DEEP /
 * HM_ERR_OVERSIZE (over HM_AXDR_DEPTH_MAX / HM_AXDR_ITEMS_MAX). */
enum hm_err hm_axdr_parse(struct hm_axdr *out, const uint8_t *p, size_t len, size_t *used);

/* The index just past item i and everything nested in it. */
unsigned hm_axdr_skip(const struct hm_axdr *ax, unsigned i);

/* Name of a tag ("double-long-unsigned"), for the -p structure dump. */
const char *hm_axdr_tag_name(uint8_t tag);

#endif
