/*
 * test_axdr.c - the A-XDR decoder, type by type, on synthetic bytes.
 *
 * Legend: each case is hand-encoded from the Green Book's A-XDR rules
 * (tag, then fixed-size content or an A-XDR length and content); expected
 * values are worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/axdr.h"

static struct hm_axdr ax;

static enum hm_err parse(const uint8_t *p, size_t n, size_t *used)
{
	size_t u = 0;
	enum hm_err e = hm_axdr_parse(&ax, p, n, &u);
	if (used)
		*used = u;
	return e;
}

#define PARSE_OK(...)                                                   \
	do {                                                            \
		static const uint8_t b_[] = {__VA_ARGS__};              \
		size_t u_;                                              \
		assert_int_equal(parse(b_, sizeof b_, &u_), HM_ERR_OK); \
		assert_int_equal(u_, sizeof b_);                        \
	} while (0)

static void integers(void **state)
{
	(void)state;
	static const struct {
		uint8_t b[9];
		size_t n;
		int64_t v;
	} cases[] = {
	    {{0x0F, 0x80}, 2, -128}, /* integer */
	    {{0x0F, 0x7F}, 2, 127},
	    {{0x11, 0xFF}, 2, 255},                                          /* unsigned */
	    {{0x10, 0xFF, 0xF6}, 3, -10},                                    /* long: Aidon SE current */
	    {{0x12, 0x09, 0x2C}, 3, 2348},                                   /* long-unsigned */
	    {{0x05, 0x80, 0x00, 0x00, 0x00}, 5, INT32_MIN},                  /* double-long */
	    {{0x06, 0xFF, 0xFF, 0xFF, 0xFF}, 5, 4294967295},                 /* double-long-unsigned */
	    {{0x14, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}, 9, -2}, /* long64 */
	    {{0x15, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 9, INT64_MAX},
	    {{0x15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 9, INT64_MAX}, /* saturates */
	    {{0x16, 0x1B}, 2, 27},                                                  /* enum: unit W */
	    {{0x03, 0x01}, 2, 1},                                                   /* boolean */
	    {{0x03, 0x00}, 2, 0},
	    {{0x0D, 0x42}, 2, 0x42}, /* bcd: the byte */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t used;
		assert_int_equal(parse(cases[i].b, cases[i].n, &used), HM_ERR_OK);
		assert_int_equal(used, cases[i].n);
		assert_int_equal(ax.n, 1);
		assert_int_equal(ax.item[0].tag, cases[i].b[0]);
		assert_int_equal(ax.item[0].depth, 0);
		assert_true(ax.item[0].ival == cases[i].v);
		/* One byte short: truncated. */
		assert_int_equal(parse(cases[i].b, cases[i].n - 1, NULL), HM_ERR_TRUNCATED);
	}
}

static void strings_and_lengths(void **state)
{
	(void)state;
	/* visible-string "KFM_001" */
	PARSE_OK(0x0A, 0x07, 'K', 'F', 'M', '_', '0', '0', '1');
	assert_int_equal(ax.item[0].len, 7);
	assert_memory_equal(ax.item[0].data, "KFM_001", 7);
	/* empty octet-string */
	PARSE_OK(0x09, 0x00);
	assert_int_equal(ax.item[0].len, 0);
	/* utf8-string, length in long form 0x81 0x02 */
	PARSE_OK(0x0C, 0x81, 0x02, 0xC3, 0xB8);
	assert_int_equal(ax.item[0].len, 2);
	/* 0x82 and 0x84 long forms */
	static uint8_t big[4 + 300];
	memset(big, 'a', sizeof big);
	big[0] = 0x09, big[1] = 0x82, big[2] = 0x01, big[3] = 0x2C; /* 300 */
	size_t used;
	assert_int_equal(parse(big, sizeof big, &used), HM_ERR_OK);
	assert_int_equal(used, sizeof big);
	assert_int_equal(ax.item[0].len, 300);
	static const uint8_t l84[] = {0x09, 0x84, 0x00, 0x00, 0x00, 0x01, 'x'};
	assert_int_equal(parse(l84, sizeof l84, &used), HM_ERR_OK);
	assert_int_equal(ax.item[0].len, 1);
	/* 0x80 (indefinite) and 0x85 are not A-XDR lengths */
	static const uint8_t l80[] = {0x09, 0x80, 'x'};
	static const uint8_t l85[] = {0x09, 0x85, 0, 0, 0, 0, 1, 'x'};
	assert_int_equal(parse(l80, sizeof l80, NULL), HM_ERR_MALFORMED_APDU);
	assert_int_equal(parse(l85, sizeof l85, NULL), HM_ERR_MALFORMED_APDU);
	/* a length beyond the buffer: truncated, also the huge ones (no overflow) */
	static const uint8_t over[] = {0x09, 0x05, 'a', 'b'};
	static const uint8_t huge[] = {0x09, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 'a'};
	static const uint8_t cut[] = {0x09, 0x82, 0x01};
	assert_int_equal(parse(over, sizeof over, NULL), HM_ERR_TRUNCATED);
	assert_int_equal(parse(huge, sizeof huge, NULL), HM_ERR_TRUNCATED);
	assert_int_equal(parse(cut, sizeof cut, NULL), HM_ERR_TRUNCATED);
	/* bit-string: length in bits, 12 bits = 2 bytes */
	PARSE_OK(0x04, 0x0C, 0xAB, 0xC0);
	assert_int_equal(ax.item[0].len, 2);
}

static void fixed_bytes(void **state)
{
	(void)state;
	PARSE_OK(0x19, 0x07, 0xE4, 0x07, 0x15, 0x02, 0x15, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00); /* date-time */
	assert_int_equal(ax.item[0].len, 12);
	assert_int_equal(ax.item[0].data[1], 0xE4);
	PARSE_OK(0x1A, 0x07, 0xE4, 0x07, 0x15, 0x02); /* date */
	assert_int_equal(ax.item[0].len, 5);
	PARSE_OK(0x1B, 0x15, 0x00, 0x00, 0xFF); /* time */
	assert_int_equal(ax.item[0].len, 4);
	PARSE_OK(0x17, 0x3F, 0x80, 0x00, 0x00); /* float32 1.0 */
	assert_int_equal(ax.item[0].len, 4);
	assert_int_equal(ax.item[0].data[0], 0x3F);
	PARSE_OK(0x18, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0); /* float64 1.0 */
	assert_int_equal(ax.item[0].len, 8);
	PARSE_OK(0x00); /* null-data */
	assert_int_equal(ax.item[0].tag, HM_AXDR_NULL);
	assert_null(ax.item[0].data);
}

static void containers(void **state)
{
	(void)state;
	/* Aidon-style: array[2] of {OBIS, double-long-unsigned, {integer, enum}} and {OBIS, octet-string}. */
	PARSE_OK(0x01, 0x02,                         /* 0 array of 2 */
	         0x02, 0x03,                         /* 1 structure of 3 */
	         0x09, 0x06, 1, 0, 1, 7, 0, 255,     /* 2 */
	         0x06, 0, 0, 0x02, 0xDD,             /* 3 */
	         0x02, 0x02, 0x0F, 0x00, 0x16, 0x1B, /* 4 5 6 */
	         0x02, 0x02,                         /* 7 */
	         0x09, 0x06, 0, 0, 96, 1, 0, 255,    /* 8 */
	         0x09, 0x02, '4', '2');              /* 9 */
	assert_int_equal(ax.n, 10);
	static const uint8_t depth[] = {0, 1, 2, 2, 2, 3, 3, 1, 2, 2};
	for (unsigned i = 0; i < ax.n; i++)
		assert_int_equal(ax.item[i].depth, depth[i]);
	assert_int_equal(ax.item[0].len, 2);
	assert_int_equal(ax.item[3].ival, 733);
	assert_int_equal(hm_axdr_skip(&ax, 0), 10);
	assert_int_equal(hm_axdr_skip(&ax, 1), 7);
	assert_int_equal(hm_axdr_skip(&ax, 4), 7);
	assert_int_equal(hm_axdr_skip(&ax, 2), 3);
	assert_int_equal(hm_axdr_skip(&ax, 99), 10);
	/* empty containers complete at once */
	PARSE_OK(0x02, 0x02, 0x01, 0x00, 0x02, 0x00);
	assert_int_equal(ax.n, 3);
	/* trailing bytes are not consumed: used tells the caller */
	static const uint8_t trail[] = {0x11, 0x05, 0xAA};
	size_t used;
	assert_int_equal(parse(trail, sizeof trail, &used), HM_ERR_OK);
	assert_int_equal(used, 2);
	/* a structure announcing more elements than bytes */
	static const uint8_t few[] = {0x02, 0x05, 0x11, 0x01};
	assert_int_equal(parse(few, sizeof few, NULL), HM_ERR_TRUNCATED);
	/* unknown tags (compact-array 0x13, 0xFF) are malformed */
	static const uint8_t t13[] = {0x13, 0x00};
	static const uint8_t tff[] = {0x02, 0x01, 0xFF};
	assert_int_equal(parse(t13, sizeof t13, NULL), HM_ERR_MALFORMED_APDU);
	assert_int_equal(parse(tff, sizeof tff, NULL), HM_ERR_MALFORMED_APDU);
	assert_int_equal(parse(trail, 0, NULL), HM_ERR_TRUNCATED);
}

static void depth_limit(void **state)
{
	(void)state;
	uint8_t b[2 * (HM_AXDR_DEPTH_MAX + 1) + 1];
	size_t n;
	/* HM_AXDR_DEPTH_MAX nested containers are fine ... */
	for (n = 0; n < 2 * HM_AXDR_DEPTH_MAX; n += 2)
		b[n] = 0x01, b[n + 1] = 0x01;
	b[n++] = 0x00;
	size_t used;
	assert_int_equal(parse(b, n, &used), HM_ERR_OK);
	assert_int_equal(used, n);
	assert_int_equal(ax.item[ax.n - 1].depth, HM_AXDR_DEPTH_MAX);
	/* ... one more is too deep */
	for (n = 0; n < 2 * (HM_AXDR_DEPTH_MAX + 1); n += 2)
		b[n] = 0x02, b[n + 1] = 0x01;
	b[n++] = 0x00;
	assert_int_equal(parse(b, n, NULL), HM_ERR_TOO_DEEP);
}

static void item_limit(void **state)
{
	(void)state;
	/* An array of HM_AXDR_ITEMS_MAX null-data: 1 + MAX items, one too many. */
	static uint8_t b[4 + HM_AXDR_ITEMS_MAX];
	b[0] = 0x01, b[1] = 0x82, b[2] = HM_AXDR_ITEMS_MAX >> 8, b[3] = HM_AXDR_ITEMS_MAX & 0xFF;
	memset(b + 4, 0, HM_AXDR_ITEMS_MAX);
	assert_int_equal(parse(b, sizeof b, NULL), HM_ERR_OVERSIZE);
	/* One element fewer fits exactly. */
	b[2] = (HM_AXDR_ITEMS_MAX - 1) >> 8, b[3] = (HM_AXDR_ITEMS_MAX - 1) & 0xFF;
	size_t used;
	assert_int_equal(parse(b, sizeof b - 1, &used), HM_ERR_OK);
	assert_int_equal(ax.n, HM_AXDR_ITEMS_MAX);
	/* A count above the limit is refused before anything is read. */
	static const uint8_t lots[] = {0x01, 0x84, 0x00, 0x01, 0x00, 0x00};
	assert_int_not_equal(parse(lots, sizeof lots, NULL), HM_ERR_OK);
}

static void tag_names(void **state)
{
	(void)state;
	assert_string_equal(hm_axdr_tag_name(HM_AXDR_UINT32), "double-long-unsigned");
	assert_string_equal(hm_axdr_tag_name(HM_AXDR_INT16), "long");
	assert_string_equal(hm_axdr_tag_name(HM_AXDR_OCTET_STRING), "octet-string");
	assert_string_equal(hm_axdr_tag_name(0x13), "unknown");
	for (int t = 0; t < 256; t++)
		assert_non_null(hm_axdr_tag_name((uint8_t)t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(integers),   cmocka_unit_test(strings_and_lengths), cmocka_unit_test(fixed_bytes),
	    cmocka_unit_test(containers), cmocka_unit_test(depth_limit),         cmocka_unit_test(item_limit),
	    cmocka_unit_test(tag_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
