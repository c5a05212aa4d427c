/*
 * axdr.c - bounded, non-recursive A-XDR decoder (IEC 62056-6-2, DLMS Green
 * Book "Data ::= CHOICE", A-XDR encoding rules of IEC 61334-6).
 *
 * Every value is <tag> <content>.  Fixed-size types have no length; strings
 * and containers carry an A-XDR length: one byte < 0x80, or 0x80 | n
 * followed by n (1..4) big-endian bytes.  Arrays and structures are followed
 * by their elements; instead of recursing we keep, per open container, the
 * number of elements still to come (stack depth <= HM_AXDR_DEPTH_MAX).
 */
#include "hanmeter/axdr.h"

/* Content size of the fixed-size types (Green Book, Table "Data types"). */
static int fixed_size(uint8_t tag)
{
	switch (tag) {
	case HM_AXDR_NULL: return 0;
	case HM_AXDR_BOOLEAN:
	case HM_AXDR_BCD:
	case HM_AXDR_INT8:
	case HM_AXDR_UINT8:
	case HM_AXDR_ENUM: return 1;
	case HM_AXDR_INT16:
	case HM_AXDR_UINT16: return 2;
	case HM_AXDR_INT32:
	case HM_AXDR_UINT32:
	case HM_AXDR_FLOAT32:
	case HM_AXDR_TIME: return 4;
	case HM_AXDR_DATE: return 5;
	case HM_AXDR_INT64:
	case HM_AXDR_UINT64:
	case HM_AXDR_FLOAT64: return 8;
	case HM_AXDR_DATE_TIME: return 12;
	default: return -1;
	}
}

/* Big-endian unsigned of n bytes (n <= 8). */
static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The integer value of a fixed-size integer item, sign-extended. */
static int64_t int_value(uint8_t tag, const uint8_t *p)
{
	switch (tag) {
	case HM_AXDR_BOOLEAN: return p[0] != 0;
	case HM_AXDR_INT8: return (int8_t)p[0];
	case HM_AXDR_INT16: return (int16_t)be(p, 2);
	case HM_AXDR_INT32: return (int32_t)be(p, 4);
	case HM_AXDR_INT64: return (int64_t)be(p, 8);
	case HM_AXDR_UINT64: {
		uint64_t v = be(p, 8);
		return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
	}
	case HM_AXDR_BCD:
	case HM_AXDR_UINT8:
	case HM_AXDR_ENUM: return p[0];
	case HM_AXDR_UINT16: return (int64_t)be(p, 2);
	case HM_AXDR_UINT32: return (int64_t)be(p, 4);
	default: return 0; /* floats and dates: bytes at data */
	}
}

/* An A-XDR length at p[*pos]: 0x00-0x7F, or 0x81-0x84 + 1-4 bytes. */
static enum hm_err get_length(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
	if (*pos >= len)
		return HM_ERR_TRUNCATED;
	uint8_t b = p[(*pos)++];
	if (b < 0x80) {
		*out = b;
		return HM_ERR_OK;
	}
	int n = b & 0x7F;
	if (n < 1 || n > 4)
		return HM_ERR_MALFORMED_APDU;
	if (len - *pos < (size_t)n)
		return HM_ERR_TRUNCATED;
	*out = (uint32_t)be(p + *pos, n);
	*pos += (size_t)n;
	return HM_ERR_OK;
}

enum hm_err hm_axdr_parse(struct hm_axdr *out, const uint8_t *p, size_t len, size_t *used)
{
	uint32_t left[HM_AXDR_DEPTH_MAX]; /* elements still to come per open container */
	unsigned sp = 0;                  /* open containers */
	size_t pos = 0;
	enum hm_err err;

	out->n = 0;
	do {
		if (pos >= len)
			return HM_ERR_TRUNCATED;
		if (out->n >= HM_AXDR_ITEMS_MAX)
			return HM_ERR_OVERSIZE;
		struct hm_axdr_item *it = &out->item[out->n++];
		*it = (struct hm_axdr_item){.tag = p[pos++], .depth = (uint8_t)sp};
		uint32_t n = 0;
		int fs = fixed_size(it->tag);

		switch (it->tag) {
		case HM_AXDR_ARRAY:
		case HM_AXDR_STRUCTURE:
			if ((err = get_length(p, len, &pos, &n)) != HM_ERR_OK)
				return err;
			if (n > len - pos) /* every element takes at least its tag byte */
				return HM_ERR_TRUNCATED;
			if (n > HM_AXDR_ITEMS_MAX)
				return HM_ERR_OVERSIZE;
			it->len = (uint16_t)n;
			if (n > 0) {
				if (sp >= HM_AXDR_DEPTH_MAX)
					return HM_ERR_TOO_DEEP;
				left[sp++] = n;
				continue; /* the elements follow; nothing completed yet */
			}
			break;
		case HM_AXDR_OCTET_STRING:
		case HM_AXDR_VISIBLE_STRING:
		case HM_AXDR_UTF8_STRING:
		case HM_AXDR_BIT_STRING:
			if ((err = get_length(p, len, &pos, &n)) != HM_ERR_OK)
				return err;
			if (it->tag == HM_AXDR_BIT_STRING) /* length in bits */
				n = n / 8 + (n % 8 != 0);
			if (n > len - pos)
				return HM_ERR_TRUNCATED;
			if (n > UINT16_MAX)
				return HM_ERR_OVERSIZE;
			it->len = (uint16_t)n;
			it->data = p + pos;
			pos += n;
			break;
		default:
			if (fs < 0)
				return HM_ERR_MALFORMED_APDU; /* not in the Green Book list, or compact-array */
			if ((size_t)fs > len - pos)
				return HM_ERR_TRUNCATED;
			it->len = (uint16_t)fs;
			it->data = fs ? p + pos : NULL;
			it->ival = fs ? int_value(it->tag, p + pos) : 0;
			pos += (size_t)fs;
			break;
		}
		/* An item completed: close every container it completes. */
		while (sp > 0 && --left[sp - 1] == 0)
			sp--;
	} while (sp > 0);

	*used = pos;
	return HM_ERR_OK;
}

unsigned hm_axdr_skip(const struct hm_axdr *ax, unsigned i)
{
	if (i >= ax->n)
		return ax->n;
	unsigned j = i + 1;
	while (j < ax->n && ax->item[j].depth > ax->item[i].depth)
		j++;
	return j;
}

const char *hm_axdr_tag_name(uint8_t tag)
{
	switch (tag) {
	case HM_AXDR_NULL: return "null-data";
	case HM_AXDR_ARRAY: return "array";
	case HM_AXDR_STRUCTURE: return "structure";
	case HM_AXDR_BOOLEAN: return "boolean";
	case HM_AXDR_BIT_STRING: return "bit-string";
	case HM_AXDR_INT32: return "double-long";
	case HM_AXDR_UINT32: return "double-long-unsigned";
	case HM_AXDR_OCTET_STRING: return "octet-string";
	case HM_AXDR_VISIBLE_STRING: return "visible-string";
	case HM_AXDR_UTF8_STRING: return "utf8-string";
	case HM_AXDR_BCD: return "bcd";
	case HM_AXDR_INT8: return "integer";
	case HM_AXDR_INT16: return "long";
	case HM_AXDR_UINT8: return "unsigned";
	case HM_AXDR_UINT16: return "long-unsigned";
	case HM_AXDR_INT64: return "long64";
	case HM_AXDR_UINT64: return "long64-unsigned";
	case HM_AXDR_ENUM: return "enum";
	case HM_AXDR_FLOAT32: return "float32";
	case HM_AXDR_FLOAT64: return "float64";
	case HM_AXDR_DATE_TIME: return "date-time";
	case HM_AXDR_DATE: return "date";
	case HM_AXDR_TIME: return "time";
	default: return "unknown";
	}
}
