/*
 * axdr.c - bounded, non-recursive A-XDR decoder (IEC 62056-6-2, DLMS Green
 * Book "Data ::= CHOICE", A-XDR encoding rules of IEC 61334-6).
 *
 * Every value is <tag> <content>; hm_axdr_next() (axdr.h) reads one.
 * Arrays and structures are followed by their elements; instead of
 * recursing we keep, per open container, the number of elements still to
 * come (stack depth <= HM_AXDR_DEPTH_MAX).
 */
#include "hanmeter/axdr.h"

enum hm_err hm_axdr_parse(struct hm_axdr *out, const uint8_t *p, size_t len, size_t *used)
{
	struct hm_axdr_rd rd = {.p = p, .len = len};
	uint32_t left[HM_AXDR_DEPTH_MAX]; /* elements still to come per open container */
	unsigned sp = 0;                  /* open containers */
	enum hm_err err;

	out->n = 0;
	do {
		if (rd.pos >= len)
			return HM_ERR_TRUNCATED;
		if (out->n >= HM_AXDR_ITEMS_MAX)
			return HM_ERR_OVERSIZE;
		struct hm_axdr_item *it = &out->item[out->n++];
		if ((err = hm_axdr_next(&rd, it)) != HM_ERR_OK)
			return err;
		it->depth = (uint8_t)sp;
		if ((it->tag == HM_AXDR_ARRAY || it->tag == HM_AXDR_STRUCTURE) && it->len > 0) {
			if (sp >= HM_AXDR_DEPTH_MAX)
				return HM_ERR_TOO_DEEP;
			left[sp++] = it->len;
			continue; /* the elements follow; nothing completed yet */
		}
		/* An item completed: close every container it completes. */
		while (sp > 0 && --left[sp - 1] == 0)
			sp--;
	} while (sp > 0);

	*used = rd.pos;
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
