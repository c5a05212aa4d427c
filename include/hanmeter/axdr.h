/*
 * axdr.h - a bounded, non-recursive A-XDR decoder (IEC 62056-6-2 / DLMS Green Book).
 *
 * The data of a data-notification is flattened into a list of items in
 * document order; arrays and structures are items too, followed by their
 * elements (depth + 1).  No recursion: an explicit stack bounded by
 * HM_AXDR_DEPTH_MAX.  Every length is checked against the buffer.
 */
#ifndef HANMETER_AXDR_H
#define HANMETER_AXDR_H

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

/* Parses ONE A-XDR value (with everything nested in it) from p.
 * Returns HM_ERR_OK and sets *used to the bytes consumed, or
 * HM_ERR_TRUNCATED / HM_ERR_MALFORMED_APDU / HM_ERR_TOO_DEEP / HM_ERR_OVERSIZE. */
enum hm_err hm_axdr_parse(struct hm_axdr *out, const uint8_t *p, size_t len, size_t *used);

/* The index just past item i and everything nested in it. */
unsigned hm_axdr_skip(const struct hm_axdr *ax, unsigned i);

/* Name of a tag ("double-long-unsigned"), for the -p structure dump. */
const char *hm_axdr_tag_name(uint8_t tag);

#endif
