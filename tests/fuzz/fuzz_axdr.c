/*
 * fuzz_axdr.c - libFuzzer entry: one A-XDR value (IEC 62056-6-2, the
 * notification-body of a data-notification) through hm_axdr_parse().
 *
 * Invariants checked, beyond "no crash":
 *  - *used never exceeds the input; items and depth stay within
 *    HM_AXDR_ITEMS_MAX / HM_AXDR_DEPTH_MAX; every data pointer lies within
 *    the bytes consumed;
 *  - the tree is consistent: a container of len elements is followed by
 *    exactly len children at depth + 1, and hm_axdr_skip() lands where the
 *    last of them (with everything nested in it) ends;
 *  - fixed-size types carry their Green Book sizes (date-time 12, date 5,
 *    time 4, float32 4, float64 8);
 *  - parsing is a function of the bytes consumed: the prefix [0, used)
 *    parses again to the same items, and appending bytes changes nothing.
 *
 * needs: src/core/axdr.c
 */
#include "hanmeter/axdr.h"

#include "fuzz.h"

static struct hm_axdr ax, again;

static void check_tree(const struct hm_axdr *a, const uint8_t *p, size_t used)
{
	FUZZ_CHECK(a->n >= 1 && a->n <= HM_AXDR_ITEMS_MAX);
	FUZZ_CHECK(a->item[0].depth == 0);
	FUZZ_CHECK(hm_axdr_skip(a, 0) == a->n); /* ONE value: the root spans all items */
	for (unsigned i = 0; i < a->n; i++) {
		const struct hm_axdr_item *it = &a->item[i];
		FUZZ_CHECK(it->depth <= HM_AXDR_DEPTH_MAX); /* elements of the deepest container */
		FUZZ_CHECK(hm_axdr_tag_name(it->tag) != NULL);
		if (it->data)
			FUZZ_CHECK(it->data >= p && it->data + it->len <= p + used);
		switch (it->tag) {
		case HM_AXDR_DATE_TIME: FUZZ_CHECK(it->len == 12 && it->data); break;
		case HM_AXDR_DATE: FUZZ_CHECK(it->len == 5 && it->data); break;
		case HM_AXDR_TIME: FUZZ_CHECK(it->len == 4 && it->data); break;
		case HM_AXDR_FLOAT32: FUZZ_CHECK(it->len == 4 && it->data); break;
		case HM_AXDR_FLOAT64: FUZZ_CHECK(it->len == 8 && it->data); break;
		default: break;
		}
		unsigned end = hm_axdr_skip(a, i);
		FUZZ_CHECK(end > i && end <= a->n);
		/* Every item in (i, end) is nested deeper; the one at end is not. */
		for (unsigned k = i + 1; k < end; k++)
			FUZZ_CHECK(a->item[k].depth > it->depth);
		if (end < a->n)
			FUZZ_CHECK(a->item[end].depth <= it->depth);
		if (it->tag == HM_AXDR_ARRAY || it->tag == HM_AXDR_STRUCTURE) {
			FUZZ_CHECK(it->data == NULL);
			unsigned k = i + 1, children = 0;
			while (k < end) {
				FUZZ_CHECK(a->item[k].depth == it->depth + 1);
				k = hm_axdr_skip(a, k);
				children++;
			}
			FUZZ_CHECK(k == end && children == it->len);
		} else {
			FUZZ_CHECK(end == i + 1);
		}
	}
}

static void check_same(const struct hm_axdr *a, const struct hm_axdr *b)
{
	FUZZ_CHECK(a->n == b->n);
	for (unsigned i = 0; i < a->n; i++) {
		const struct hm_axdr_item *x = &a->item[i], *y = &b->item[i];
		FUZZ_CHECK(x->tag == y->tag && x->depth == y->depth && x->len == y->len && x->ival == y->ival);
		FUZZ_CHECK((x->data == NULL) == (y->data == NULL));
		if (x->data)
			FUZZ_CHECK(memcmp(x->data, y->data, x->len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = (size_t)-1;
	enum hm_err rc = hm_axdr_parse(&ax, data, size, &used);
	FUZZ_CHECK(rc == HM_ERR_OK || rc == HM_ERR_TRUNCATED || rc == HM_ERR_MALFORMED_APDU || rc == HM_ERR_TOO_DEEP ||
	           rc == HM_ERR_OVERSIZE);
	if (rc != HM_ERR_OK)
		return 0;
	FUZZ_CHECK(used >= 1 && used <= size);
	check_tree(&ax, data, used);

	/* The bytes consumed, alone and in a buffer of exactly that size. */
	uint8_t *copy = malloc(used);
	FUZZ_CHECK(copy);
	memcpy(copy, data, used);
	size_t used2 = 0;
	FUZZ_CHECK(hm_axdr_parse(&again, copy, used, &used2) == HM_ERR_OK);
	FUZZ_CHECK(used2 == used);
	check_same(&ax, &again);
	free(copy);

	/* Any proper prefix is truncated (or, for a container cut between its
	 * elements, still truncated: the count promised more). */
	if (used > 1) {
		size_t cut = used - 1 - data[0] % used;
		copy = malloc(cut ? cut : 1);
		FUZZ_CHECK(copy);
		memcpy(copy, data, cut);
		rc = hm_axdr_parse(&again, copy, cut, &used2);
		FUZZ_CHECK(rc != HM_ERR_OK);
		free(copy);
	}
	return 0;
}
