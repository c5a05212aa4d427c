/*
 * test_mbus.c - the M-Bus long-frame framer and DLMS segment reassembly.
 *
 * Real captures: the two Austrian customer-interface examples (two long
 * frames each, CI 00 then 11).  Expected: what MANIFEST.tsv's integrity
 * column says per frame (checksum ok, CI value), and one message whose
 * bytes are the frames' data with C, A, CI, STSAP, DTSAP, CS and 16 cut off
 * (README "Formats"), cut here by plain offsets.  Every frame is also fed
 * split at every byte offset, after garbage, with each byte flipped and
 * truncated.  Synthetic frames (built here, labelled) cover the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/mbus.h"
#include "vectors.h"

static const char *const files[] = {
    "encrypted-austria-evn-netznoe-example.hex",
    "encrypted-austria-tinetz-kaifa-ma309-example.hex",
};

#define BUF 4096

struct sink {
	unsigned msgs, errs;
	unsigned err_by[HM_ERR_COUNT];
	uint8_t last[BUF];
	size_t last_len;
	unsigned last_segments;
};

static void collect(void *ctx, const struct hm_mbus_msg *m)
{
	struct sink *s = ctx;
	if (m->err != HM_ERR_OK) {
		assert_null(m->data);
		s->errs++;
		s->err_by[m->err]++;
		return;
	}
	s->msgs++;
	assert_true(m->len <= sizeof s->last);
	memcpy(s->last, m->data, m->len);
	s->last_len = m->len;
	s->last_segments = m->segments;
}

struct capture {
	uint8_t raw[BUF];
	size_t n;
	struct hm_hexline lines[4];
	size_t nl;
	uint8_t apdu[BUF]; /* the expected reassembled APDU */
	size_t apdu_len;
};

static void load(const char *file, struct capture *c)
{
	assert_int_equal(vec_hex(file, c->raw, sizeof c->raw, &c->n, c->lines, 4, &c->nl), 0);
	assert_int_equal(c->nl, 2);
	c->apdu_len = 0;
	for (size_t l = 0; l < c->nl; l++) {
		/* 68 L L 68 C A CI STSAP DTSAP = 9 bytes before, CS 16 after */
		size_t k = c->lines[l].len - 9 - 2;
		memcpy(c->apdu + c->apdu_len, c->raw + c->lines[l].off + 9, k);
		c->apdu_len += k;
	}
}

static void feed_all(struct hm_mbus *m, const uint8_t *p, size_t n, struct sink *s)
{
	hm_mbus_feed(m, p, n, collect, s);
	hm_mbus_flush(m, collect, s);
}

/* Each frame checks out as the MANIFEST's integrity column says. */
static void frames_check(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		load(files[i], &c);
		const char *integ = vec_manifest(files[i], "integrity");
		assert_non_null(integ);
		for (size_t l = 0; l < c.nl; l++) {
			struct hm_mbus_frame f;
			char want[64];
			assert_int_equal(hm_mbus_frame_parse(&f, c.raw + c.lines[l].off, c.lines[l].len), HM_ERR_OK);
			assert_int_equal(f.frame_len, c.lines[l].len);
			snprintf(want, sizeof want, "mbus%zu:ok(CI=0x%02X)", l + 1, f.ci);
			assert_non_null(strstr(integ, want));
		}
	}
}

/* The whole capture, in one chunk and split in two at every offset: exactly
 * one message, two segments, the expected bytes, no error. */
static void reassembly_and_splits(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	static struct hm_mbus m;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		load(files[i], &c);
		for (size_t cut = 0; cut <= c.n; cut++) {
			struct sink s = {0};
			hm_mbus_init(&m);
			hm_mbus_feed(&m, c.raw, cut, collect, &s);
			hm_mbus_feed(&m, c.raw + cut, c.n - cut, collect, &s);
			hm_mbus_flush(&m, collect, &s);
			assert_int_equal(s.msgs, 1);
			assert_int_equal(s.errs, 0);
			assert_int_equal(s.last_segments, 2);
			assert_int_equal(s.last_len, c.apdu_len);
			assert_memory_equal(s.last, c.apdu, c.apdu_len);
			assert_int_equal(s.last[0], 0xDB); /* general-glo-ciphering */
			assert_int_equal(m.stats.frames, 2);
			assert_int_equal(m.stats.messages, 1);
			assert_int_equal(m.stats.garbage_bytes, 0);
		}
		/* Byte by byte. */
		struct sink s = {0};
		hm_mbus_init(&m);
		for (size_t k = 0; k < c.n; k++)
			hm_mbus_feed(&m, c.raw + k, 1, collect, &s);
		assert_int_equal(s.msgs, 1);
		assert_int_equal(s.errs, 0);
	}
}

/* Garbage in front, including start bytes and a fake header: the message
 * is still found, the garbage counted. */
static void garbage_in_front(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	static struct hm_mbus m;
	static uint8_t buf[2 * BUF];
	static const uint8_t junk[] = {0x00, 0x68, 0x16, 0x68, 0x05, 0x06, 0x68, 0xE5, 0x68, 0x68, 0x68, 0x10, 0x7B};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		load(files[i], &c);
		memcpy(buf, junk, sizeof junk);
		memcpy(buf + sizeof junk, c.raw, c.n);
		struct sink s = {0};
		hm_mbus_init(&m);
		feed_all(&m, buf, sizeof junk + c.n, &s);
		assert_int_equal(s.msgs, 1);
		assert_memory_equal(s.last, c.apdu, c.apdu_len);
		assert_int_equal(m.stats.garbage_bytes, sizeof junk);
	}
}

/* Each byte flipped (every bit): never a message, always an error counted. */
static void flips(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	static struct hm_mbus m;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		load(files[i], &c);
		for (size_t k = 0; k < c.n; k++)
			for (int b = 0; b < 8; b++) {
				struct sink s = {0};
				c.raw[k] ^= (uint8_t)(1u << b);
				hm_mbus_init(&m);
				feed_all(&m, c.raw, c.n, &s);
				c.raw[k] ^= (uint8_t)(1u << b);
				assert_int_equal(s.msgs, 0);
				assert_true(s.errs >= 1);
			}
	}
}

/* Every truncation: no message; an error unless nothing was fed. */
static void truncations(void **state)
{
	(void)state;
	vec_require();
	static struct capture c;
	static struct hm_mbus m;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		load(files[i], &c);
		for (size_t k = 0; k < c.n; k++) {
			struct sink s = {0};
			hm_mbus_init(&m);
			feed_all(&m, c.raw, k, &s);
			assert_int_equal(s.msgs, 0);
			assert_int_equal(s.errs, k ? 1 : 0);
			assert_int_equal(s.err_by[HM_ERR_TRUNCATED], k ? 1 : 0);
			struct hm_mbus_frame f;
			if (k < c.lines[0].len)
				assert_int_equal(hm_mbus_frame_parse(&f, c.raw, k),
				                 k ? HM_ERR_TRUNCATED : HM_ERR_NOT_MINE);
		}
	}
}

/* Synthetic: builds a long frame (C 53, A FF) with the given CI and data. */
static size_t mk(uint8_t *out, uint8_t ci, const uint8_t *data, size_t n)
{
	size_t l = 3 + 2 + n, k = 0;
	out[k++] = 0x68;
	out[k++] = (uint8_t)l;
	out[k++] = (uint8_t)l;
	out[k++] = 0x68;
	out[k++] = 0x53;
	out[k++] = 0xFF;
	out[k++] = ci;
	out[k++] = 0x01; /* STSAP */
	out[k++] = 0x67; /* DTSAP */
	memcpy(out + k, data, n);
	k += n;
	uint8_t sum = 0;
	for (size_t i = 4; i < k; i++)
		sum = (uint8_t)(sum + out[i]);
	out[k++] = sum;
	out[k++] = 0x16;
	return k;
}

static void synthetic(void **state)
{
	(void)state;
	static struct hm_mbus m;
	uint8_t f[1024];
	size_t n;
	struct sink s;

	/* One frame, CI 10 (segment 0, last). */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x10, (const uint8_t *)"\x0F\x01\x02", 3);
	feed_all(&m, f, n, &s);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.last_len, 3);
	assert_memory_equal(s.last, "\x0F\x01\x02", 3);

	/* Three segments 00, 01, 12. */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x00, (const uint8_t *)"ab", 2);
	n += mk(f + n, 0x01, (const uint8_t *)"cd", 2);
	n += mk(f + n, 0x12, (const uint8_t *)"ef", 2);
	feed_all(&m, f, n, &s);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.last_segments, 3);
	assert_int_equal(s.last_len, 6);
	assert_memory_equal(s.last, "abcdef", 6);

	/* A lost middle segment: 00, 12 -> segment_error, nothing delivered. */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x00, (const uint8_t *)"ab", 2);
	n += mk(f + n, 0x12, (const uint8_t *)"ef", 2);
	feed_all(&m, f, n, &s);
	assert_int_equal(s.msgs, 0);
	assert_int_equal(s.err_by[HM_ERR_SEGMENT_ERROR], 1);
	assert_int_equal(m.stats.errors[HM_ERR_SEGMENT_ERROR], 1);

	/* A lost last segment: 00, then a new message 00 11 -> one error, one message. */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x00, (const uint8_t *)"xx", 2);
	n += mk(f + n, 0x00, (const uint8_t *)"ab", 2);
	n += mk(f + n, 0x11, (const uint8_t *)"cd", 2);
	feed_all(&m, f, n, &s);
	assert_int_equal(s.msgs, 1);
	assert_memory_equal(s.last, "abcd", 4);
	assert_int_equal(s.err_by[HM_ERR_SEGMENT_ERROR], 1);

	/* Not DLMS (CI 72, an EN 13757-3 variable data response): not_mine. */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x72, (const uint8_t *)"ab", 2);
	feed_all(&m, f, n, &s);
	assert_int_equal(s.msgs, 0);
	assert_int_equal(s.err_by[HM_ERR_NOT_MINE], 1);

	/* Checksum and stop byte, and a good frame right after a bad one. */
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	n = mk(f, 0x10, (const uint8_t *)"ab", 2);
	f[n - 2] ^= 0xFF;
	size_t n2 = mk(f + n, 0x10, (const uint8_t *)"cd", 2);
	feed_all(&m, f, n + n2, &s);
	assert_int_equal(s.err_by[HM_ERR_CRC_MISMATCH], 1);
	assert_int_equal(s.msgs, 1);
	assert_memory_equal(s.last, "cd", 2);
	struct hm_mbus_frame fr;
	n = mk(f, 0x10, (const uint8_t *)"ab", 2);
	f[n - 1] = 0x17;
	assert_int_equal(hm_mbus_frame_parse(&fr, f, n), HM_ERR_BAD_FORMAT);

	/* A frame too short for the TSAPs: L = 4 (C, A, CI, one byte). */
	static const uint8_t tiny[] = {0x68, 4, 4, 0x68, 0x53, 0xFF, 0x10, 0x01, 0x63, 0x16};
	memset(&s, 0, sizeof s);
	hm_mbus_init(&m);
	feed_all(&m, tiny, sizeof tiny, &s);
	assert_int_equal(s.msgs, 0);
	assert_int_equal(s.err_by[HM_ERR_BAD_FORMAT], 1);

	/* Headers that are not: unequal L, L < 3. */
	static const uint8_t bad1[] = {0x68, 5, 6, 0x68}, bad2[] = {0x68, 2, 2, 0x68};
	assert_int_equal(hm_mbus_frame_parse(&fr, bad1, 4), HM_ERR_NOT_MINE);
	assert_int_equal(hm_mbus_frame_parse(&fr, bad2, 4), HM_ERR_NOT_MINE);
}

int main(void)
{
	(void)vec_expect; /* vectors.h helper this file does not need */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frames_check), cmocka_unit_test(reassembly_and_splits), cmocka_unit_test(garbage_in_front),
	    cmocka_unit_test(flips),        cmocka_unit_test(truncations),           cmocka_unit_test(synthetic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
