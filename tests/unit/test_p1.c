/*
 * test_p1.c - the P1/DSMR framer and parser against every dsmr-p1 vector.
 *
 * Legend of the table: file, and whether the telegram carries a CRC.
 * Expected values are the MANIFEST's expected_values, every name compared
 * as a decimal string (numbers through hm_num_format) or verbatim text.
 * The Smarty telegram (decrypted from the Luxembourg frame) has a wrong
 * CRC: the framer and parser must refuse it as crc_mismatch; its values
 * are checked on a copy whose CRC this test recomputes (labelled synthetic).
 * Every telegram is also fed split at every offset, byte by byte, after
 * garbage, truncated at every length and, where it has a CRC, flipped at
 * every bit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/crc.h"
#include "hanmeter/decode.h"
#include "hanmeter/p1.h"
#include "vectors.h"

static const struct {
	const char *file;
	bool crc;
} vecs[] = {
    {"dsmr-5.0-example.txt", true},
    {"dsmr-5.0-two-mbus-iskra-am550.txt", true},
    {"dsmr-4.2-kaifa-example.txt", true},
    {"dsmr-3.0-iskra-no-crc.txt", false},
    {"dsmr-2.2-iskra-no-crc.txt", false},
    {"dsmr-fluvius-be-1.7.1.txt", true},
    {"dsmr-5.0-unpadded-crc-warmtelink.txt", true},
    {"p1-se-landisgyr-e360.txt", true},
    {"p1-se-kamstrup-kam5.txt", true},
    {"p1-se-ell5.txt", true},
};
#define NVEC   (sizeof vecs / sizeof vecs[0])
#define SMARTY "encrypted-luxembourg-smarty-p1-decrypted.txt"

struct sink {
	unsigned good, errs;
	unsigned err_by[HM_ERR_COUNT];
	char last[HM_P1_MAX];
	size_t last_len;
	bool last_crc;
};

static void collect(void *ctx, const struct hm_p1_msg *m)
{
	struct sink *s = ctx;
	if (m->err != HM_ERR_OK) {
		assert_null(m->data);
		s->errs++;
		s->err_by[m->err]++;
		return;
	}
	s->good++;
	memcpy(s->last, m->data, m->len);
	s->last_len = m->len;
	s->last_crc = m->has_crc;
}

static void feed_all(struct hm_p1 *p, const char *t, size_t n, struct sink *s)
{
	hm_p1_feed(p, (const uint8_t *)t, n, collect, s);
	hm_p1_flush(p, collect, s);
}

/* The telegram as the framer delivers it: from '/' (Kamstrup SE starts
 * with CR LF) through the CRC line; a 4-digit CRC ends it, so its CR LF is
 * not part of it (Landis+Gyr E360 sends none). */
static const char *from_slash(const char *t, size_t n, size_t *len)
{
	const char *s = memchr(t, '/', n);
	assert_non_null(s);
	size_t tn = n - (size_t)(s - t);
	const char *bang = strstr(s, "\n!");
	assert_non_null(bang);
	size_t digits = strspn(bang + 2, "0123456789ABCDEF");
	*len = digits == 4 ? (size_t)(bang + 2 + 4 - s) : tn;
	return s;
}

static void vectors_parse(void **state)
{
	(void)state;
	vec_require();
	static struct hm_p1 p;
	static struct hm_reading r;
	unsigned total = 0;
	for (size_t i = 0; i < NVEC; i++) {
		size_t n, tn;
		char *t = vec_read(vecs[i].file, &n);
		assert_non_null(t);
		struct sink s = {0};
		hm_p1_init(&p);
		feed_all(&p, t, n, &s);
		assert_int_equal(s.good, 1);
		assert_int_equal(s.errs, 0);
		assert_int_equal(s.last_crc, vecs[i].crc);
		const char *tel = from_slash(t, n, &tn);
		assert_int_equal(s.last_len, tn);
		assert_memory_equal(s.last, tel, tn);
		assert_true(p.stats.garbage_bytes <= n - tn);

		assert_int_equal(hm_p1_parse(s.last, s.last_len, &r), HM_ERR_OK);
		assert_string_equal(r.profile, "p1");
		unsigned k = vec_compare_reading(vecs[i].file, vec_manifest(vecs[i].file, "expected_values"), &r);
		print_message("%s: %u values, %u extras\n", vecs[i].file, k, r.n_extra);
		assert_true(k >= 6);
		/* The same through hm_decode, the one call sources make. */
		static struct hm_decoder d;
		hm_decoder_init(&d);
		assert_int_equal(hm_decode(&d, (const uint8_t *)s.last, s.last_len, &r), HM_ERR_OK);
		assert_int_equal(vec_compare_reading(vecs[i].file, vec_manifest(vecs[i].file, "expected_values"), &r),
		                 k);
		total += k;
		free(t);
	}
	assert_true(total > 200);
}

/* The Smarty telegram: CRC mismatch, refused by framer and parser; with its
 * CRC recomputed (synthetic) it gives the MANIFEST's values. */
static void smarty_crc_mismatch(void **state)
{
	(void)state;
	vec_require();
	static struct hm_p1 p;
	static struct hm_reading r;
	size_t n;
	char *t = vec_read(SMARTY, &n);
	assert_non_null(t);
	assert_non_null(strstr(vec_manifest(SMARTY, "integrity"), "MISMATCH"));
	struct sink s = {0};
	hm_p1_init(&p);
	feed_all(&p, t, n, &s);
	assert_int_equal(s.good, 0);
	assert_int_equal(s.err_by[HM_ERR_CRC_MISMATCH], 1);
	assert_int_equal(p.stats.errors[HM_ERR_CRC_MISMATCH], 1);
	assert_int_equal(hm_p1_parse(t, n, &r), HM_ERR_CRC_MISMATCH);
	assert_int_equal(r.text_set, 0);
	assert_int_equal(r.num_set[0], 0);

	char *bang = memchr(t, '!', n);
	assert_non_null(bang);
	char crc[5];
	snprintf(crc, sizeof crc, "%04X", hm_crc16_arc((const uint8_t *)t, (size_t)(bang - t) + 1));
	memcpy(bang + 1, crc, 4);
	assert_int_equal(hm_p1_parse(t, n, &r), HM_ERR_OK);
	assert_true(vec_compare_reading(SMARTY, vec_manifest(SMARTY, "expected_values"), &r) >= 15);
	free(t);
}

/* Split at every offset, byte by byte, after garbage, two in a row. */
static void splits_and_garbage(void **state)
{
	(void)state;
	vec_require();
	static struct hm_p1 p;
	static char buf[3 * HM_P1_MAX];
	for (size_t i = 0; i < NVEC; i++) {
		size_t n, tn;
		char *t = vec_read(vecs[i].file, &n);
		const char *tel = from_slash(t, n, &tn);
		for (size_t cut = 0; cut <= n; cut++) {
			struct sink s = {0};
			hm_p1_init(&p);
			hm_p1_feed(&p, (const uint8_t *)t, cut, collect, &s);
			hm_p1_feed(&p, (const uint8_t *)t + cut, n - cut, collect, &s);
			assert_int_equal(s.good, 1);
			assert_int_equal(s.errs, 0);
			assert_memory_equal(s.last, tel, tn);
		}
		struct sink s = {0};
		hm_p1_init(&p);
		for (size_t k = 0; k < n; k++)
			hm_p1_feed(&p, (const uint8_t *)t + k, 1, collect, &s);
		assert_int_equal(s.good, 1);

		/* Garbage (with a '!' and a half telegram) before, the telegram twice. */
		static const char junk[] = "xx!12\r\n/ISK5 cut off\r\n";
		size_t o = 0;
		memcpy(buf, junk, sizeof junk - 1), o += sizeof junk - 1;
		memcpy(buf + o, t, n), o += n;
		memcpy(buf + o, t, n), o += n;
		memset(&s, 0, sizeof s);
		hm_p1_init(&p);
		feed_all(&p, buf, o, &s);
		assert_int_equal(s.good, 2);
		assert_int_equal(s.errs, 1);
		assert_int_equal(s.err_by[HM_ERR_TRUNCATED], 1); /* the half telegram */
		free(t);
	}
}

/* Every prefix: no telegram; one truncation once a '/' was fed. */
static void truncations(void **state)
{
	(void)state;
	vec_require();
	static struct hm_p1 p;
	static struct hm_reading r;
	for (size_t i = 0; i < NVEC; i++) {
		size_t n, tn;
		char *t = vec_read(vecs[i].file, &n);
		const char *tel = from_slash(t, n, &tn);
		size_t skip = (size_t)(tel - t);
		/* The last CR LF is optional for the parser, so stop before the CR. */
		for (size_t k = 0; k + 2 < n; k++) {
			struct sink s = {0};
			hm_p1_init(&p);
			feed_all(&p, t, k, &s);
			assert_int_equal(s.good, 0);
			assert_int_equal(s.errs, k > skip ? 1 : 0);
			if (k > skip && !vecs[i].crc) {
				/* no CRC: a cut telegram is not a telegram without '!' */
				if (!memchr(tel, '!', k - skip))
					assert_int_not_equal(hm_p1_parse(tel, k - skip, &r), HM_ERR_OK);
			} else if (k > skip) {
				assert_int_not_equal(hm_p1_parse(tel, k - skip, &r), HM_ERR_OK);
				assert_int_equal(r.text_set, 0);
			}
		}
		free(t);
	}
}

/* With a CRC, no single bit flip anywhere yields a telegram or a reading. */
static void flips(void **state)
{
	(void)state;
	vec_require();
	static struct hm_p1 p;
	static struct hm_reading r;
	unsigned tried = 0;
	for (size_t i = 0; i < NVEC; i++) {
		if (!vecs[i].crc)
			continue;
		size_t n, tn;
		char *t = vec_read(vecs[i].file, &n);
		char *tel = (char *)from_slash(t, n, &tn);
		for (size_t k = 0; k < tn; k++)
			for (int b = 0; b < 8; b++) {
				struct sink s = {0};
				tel[k] ^= (char)(1u << b);
				hm_p1_init(&p);
				feed_all(&p, tel, tn, &s);
				assert_int_equal(s.good, 0);
				assert_int_not_equal(hm_p1_parse(tel, tn, &r), HM_ERR_OK);
				tel[k] ^= (char)(1u << b);
				tried++;
			}
		free(t);
	}
	assert_true(tried > 10000);
}

/* Synthetic telegrams (built here): CRC policy, bad tails, oversize, units. */
static size_t mk(char *out, size_t cap, const char *body, bool with_crc)
{
	int n = snprintf(out, cap, "%s!", body);
	if (with_crc)
		n += snprintf(out + n, cap - (size_t)n, "%04X", hm_crc16_arc((const uint8_t *)out, (size_t)n));
	n += snprintf(out + n, cap - (size_t)n, "\r\n");
	return (size_t)n;
}

static void synthetic(void **state)
{
	(void)state;
	static struct hm_p1 p;
	static struct hm_reading r;
	static char big[2 * HM_P1_MAX];
	char a[512], b[512];
	struct sink s;
	char got[32];

	/* A meter that sends CRCs: a later telegram without one is refused. */
	size_t na = mk(a, sizeof a, "/SYN5 synthetic\r\n\r\n1-0:1.7.0(01.500*kW)\r\n", true);
	size_t nb = mk(b, sizeof b, "/SYN5 synthetic\r\n\r\n1-0:1.7.0(01.500*kW)\r\n", false);
	memset(&s, 0, sizeof s);
	hm_p1_init(&p);
	feed_all(&p, a, na, &s);
	feed_all(&p, b, nb, &s);
	assert_int_equal(s.good, 1);
	assert_int_equal(s.err_by[HM_ERR_CRC_MISMATCH], 1);
	/* ... while one that never did is read. */
	memset(&s, 0, sizeof s);
	hm_p1_init(&p);
	feed_all(&p, b, nb, &s);
	assert_int_equal(s.good, 1);
	assert_int_equal(hm_p1_parse(a, na, &r), HM_ERR_OK);
	hm_num_format(r.num[HM_NUM_ACTIVE_POWER_IMPORT_W], got, sizeof got);
	assert_string_equal(got, "1500");

	/* Five CRC digits, a lower-case CRC, junk after the CRC. */
	static const char *const bad_tails[] = {"/X\r\n!12345\r\n", "/X\r\n!12Z4\r\n", "/X\r\n!\rX\n"};
	for (size_t i = 0; i < 3; i++) {
		memset(&s, 0, sizeof s);
		hm_p1_init(&p);
		feed_all(&p, bad_tails[i], strlen(bad_tails[i]), &s);
		assert_int_equal(s.good, 0);
		assert_int_equal(s.errs, 1);
		/* The framer ends a CRC at 4 digits: "1234" is then the wrong CRC. */
		assert_int_equal(s.err_by[i == 0 ? HM_ERR_CRC_MISMATCH : HM_ERR_BAD_FORMAT], 1);
		assert_int_equal(hm_p1_parse(bad_tails[i], strlen(bad_tails[i]), &r), HM_ERR_BAD_FORMAT);
	}
	na = mk(a, sizeof a, "/X\r\n", true);
	for (char *c = a; *c; c++)
		if (*c >= 'A' && *c <= 'F' && c > a + 4)
			*c = (char)(*c - 'A' + 'a');
	assert_int_equal(hm_p1_parse(a, na, &r), HM_ERR_BAD_FORMAT); /* DSMR: upper case only */

	/* Oversize: a body longer than HM_P1_MAX, then a good telegram. */
	memset(big, 'A', sizeof big);
	big[0] = '/';
	memset(&s, 0, sizeof s);
	hm_p1_init(&p);
	hm_p1_feed(&p, (const uint8_t *)big, sizeof big, collect, &s);
	na = mk(a, sizeof a, "/SYN5\r\n\r\n1-0:2.7.0(00.007)\r\n", true);
	feed_all(&p, a, na, &s);
	assert_int_equal(s.err_by[HM_ERR_OVERSIZE], 1);
	assert_int_equal(s.good, 1);

	/* Units: none (DSMR kvar), kvar in any case, W given as W, a wrong unit
	 * kept as an extra (not relabelled), Wh -> kWh. */
	na = mk(a, sizeof a,
	        "/SYN5\r\n\r\n1-0:4.7.0(00.007)\r\n1-0:3.7.0(0001.250*KVAR)\r\n1-0:21.7.0(120*W)\r\n"
	        "1-0:22.7.0(1.000*kWh)\r\n1-0:1.8.0(1234*Wh)\r\n1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2*s)\r\n",
	        true);
	assert_int_equal(hm_p1_parse(a, na, &r), HM_ERR_OK);
	hm_num_format(r.num[HM_NUM_REACTIVE_POWER_EXPORT_VAR], got, sizeof got);
	assert_string_equal(got, "7");
	hm_num_format(r.num[HM_NUM_REACTIVE_POWER_IMPORT_VAR], got, sizeof got);
	assert_string_equal(got, "1250");
	hm_num_format(r.num[HM_NUM_ACTIVE_POWER_IMPORT_L1_W], got, sizeof got);
	assert_string_equal(got, "120");
	assert_false(hm_reading_has_num(&r, HM_NUM_ACTIVE_POWER_EXPORT_L1_W));
	hm_num_format(r.num[HM_NUM_ACTIVE_ENERGY_IMPORT_KWH], got, sizeof got);
	assert_string_equal(got, "1.234");
	assert_int_equal(r.n_extra, 1); /* 22.7.0 in kWh (as 1000 Wh); the log line is no value */
	assert_int_equal(r.extra[0].obis[2], 22);
	assert_int_equal(r.extra[0].unit, 30);
	hm_num_format(r.extra[0].num, got, sizeof got);
	assert_string_equal(got, "1000");

	/* Hex ids: decoded only when they decode to printable text. */
	na = mk(a, sizeof a, "/SYN5\r\n\r\n0-0:96.1.1(4B3845)\r\n0-0:96.14.0(0000)\r\n0-0:1.0.0(991231235959X)\r\n",
	        true);
	assert_int_equal(hm_p1_parse(a, na, &r), HM_ERR_OK);
	assert_string_equal(r.text[HM_TEXT_METER_ID], "K8E");
	assert_string_equal(r.text[HM_TEXT_TARIFF], "0");
	assert_false(hm_reading_has_text(&r, HM_TEXT_METER_TIME)); /* X is neither S nor W */
	na = mk(a, sizeof a, "/SYN5\r\n\r\n0-0:96.1.1(4B0145)\r\n", true);
	assert_int_equal(hm_p1_parse(a, na, &r), HM_ERR_OK);
	assert_string_equal(r.text[HM_TEXT_METER_ID], "4B0145");

	/* Not a telegram. */
	assert_int_equal(hm_p1_parse("ISK5", 4, &r), HM_ERR_NOT_MINE);
	assert_int_equal(hm_p1_parse("/ISK5\r\n", 7, &r), HM_ERR_TRUNCATED);
}

/* Random telegrams made of P1's own characters, with a valid CRC so that
 * the parser proper runs (synthetic, fixed seed): never a crash, never a
 * sanitizer report, and every value kept is a plain number. */
static void random_telegrams(void **state)
{
	(void)state;
	static const char alphabet[] = "0123456789-:.()*!/\r\nkWhAVvarS";
	static char body[600], t[700];
	static struct hm_reading r;
	uint32_t x = 12345;
	for (int round = 0; round < 20000; round++) {
		size_t n = 0;
		body[n++] = '/';
		size_t len = 1 + (x >> 7) % (sizeof body - 8);
		while (n < len) {
			x = x * 1103515245u + 12345u;
			body[n++] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
		}
		body[n++] = '\n';
		body[n] = 0;
		/* no '!' at a line start inside: the CRC line is ours */
		for (size_t k = 1; k < n; k++)
			if (body[k] == '!' && body[k - 1] == '\n')
				body[k] = '(';
		size_t tn = mk(t, sizeof t, body, true);
		assert_int_equal(hm_p1_parse(t, tn, &r), HM_ERR_OK);
		for (int f = 0; f < HM_NUM_COUNT; f++)
			if (hm_reading_has_num(&r, f)) {
				char buf[64];
				assert_true(hm_num_format(r.num[f], buf, sizeof buf) > 0);
			}
	}
}

int main(void)
{
	(void)vec_hex; /* vectors.h helper this file does not need */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(vectors_parse),
	    cmocka_unit_test(smarty_crc_mismatch),
	    cmocka_unit_test(splits_and_garbage),
	    cmocka_unit_test(truncations),
	    cmocka_unit_test(flips),
	    cmocka_unit_test(synthetic),
	    cmocka_unit_test(random_telegrams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
