/*
 * test_apdustream.c - the framer for bare general-glo-ciphering APDUs back
 * to back (Luxembourg Smarty P1 port).
 *
 * The real capture is encrypted-luxembourg-smarty-p1.hex.  Its plaintext
 * (encrypted-luxembourg-smarty-p1-decrypted.txt) carries a P1 CRC that does
 * not match (MANIFEST: "given CFDE, computed 99BD": the source anonymised
 * the telegram), so the decoder rightly refuses it after checking the tag.
 * To have a frame the decoder accepts, the test seals that plaintext again
 * with the CRC MANIFEST computed written in (SYNTHETIC, built below with
 * OpenSSL's GCM, not with our cipher.c), under the same keys, system title
 * and frame counter (+1, +2 for the frames after it).  The sealing is
 * checked first: sealing the plaintext as given must give back the capture
 * byte for byte.
 *
 * The callback accepts exactly when hm_decode() with MANIFEST's keys
 * returns HM_ERR_OK; readings are compared with MANIFEST expected_values.
 * Every test also checks that every byte fed is counted exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hanmeter/apdustream.h"
#include "hanmeter/decode.h"
#include "vectors.h"

static const char VEC[] = "encrypted-luxembourg-smarty-p1.hex";
static const char PLAIN[] = "encrypted-luxembourg-smarty-p1-decrypted.txt";

#define BUF      (4 * HM_MSG_MAX)
#define MAX_SEEN 16
#define HDR_LEN  18 /* DB 08 <system title 8> 82 LL LL 30 <FC 4> (the capture's form) */
#define FC_AT    14 /* frame counter offset in that header */
#define TAG_LEN  12

/* What the callback saw. */
struct sink {
	struct hm_decoder dec;
	struct hm_reading last;        /* the last accepted reading */
	unsigned accepted, refused;    /* candidates judged */
	unsigned events[HM_ERR_COUNT]; /* framer rejections reported, by reason */
	enum hm_err verdict[MAX_SEEN]; /* each candidate's verdict, in order */
	size_t cand_len[MAX_SEEN];     /* each candidate's length */
	uint32_t fc[MAX_SEEN];         /* frame counters of accepted ones */
	unsigned n_fc;
};

/* Fixtures, built once from the vectors. */
static uint8_t real[HM_MSG_MAX]; /* the capture */
static size_t real_len;
static uint8_t good[3][HM_MSG_MAX]; /* SYNTHETIC: resealed, CRC fixed, FC, FC+1, FC+2 */
static size_t good_len;
static uint8_t ek[16], ak[16];
static uint32_t fc0;
static const char *expected;

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* AES-128-GCM as DLMS uses it (IV = system title || FC, AAD = SC || AK,
 * tag 12 bytes), with OpenSSL directly: hdr is the 18-byte header. */
static size_t seal(const uint8_t *hdr, uint32_t fc, const uint8_t *plain, size_t n, uint8_t *out)
{
	uint8_t iv[12], aad[17];
	int len;
	memcpy(out, hdr, HDR_LEN);
	for (int i = 0; i < 4; i++)
		out[FC_AT + i] = (uint8_t)(fc >> (24 - 8 * i));
	memcpy(iv, hdr + 2, 8);
	memcpy(iv + 8, out + FC_AT, 4);
	aad[0] = hdr[13];
	memcpy(aad + 1, ak, 16);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
	assert_int_equal(EVP_EncryptInit_ex(c, NULL, NULL, ek, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &len, aad, sizeof aad), 1);
	assert_int_equal(EVP_EncryptUpdate(c, out + HDR_LEN, &len, plain, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, out + HDR_LEN + n, &len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + HDR_LEN + n), 1);
	EVP_CIPHER_CTX_free(c);
	return HDR_LEN + n + TAG_LEN;
}

static int setup(void **state)
{
	(void)state;
	if (!vec_dir())
		return 0; /* each test skips loudly */
	struct hm_hexline lines[4];
	size_t nl, plen;
	assert_int_equal(vec_hex(VEC, real, sizeof real, &real_len, lines, 4, &nl), 0);
	assert_int_equal(nl, 1);
	const char *k = vec_manifest(VEC, "encryption_key"), *a = vec_manifest(VEC, "auth_key");
	assert_non_null(k);
	assert_int_equal(unhex(k, ek, 16), 0);
	assert_int_equal(unhex(a, ak, 16), 0);
	/* "plaintext == <the .txt>; name=value; ...": the note is checked
	 * below (the sealing), the values are compared with readings. */
	expected = vec_manifest(VEC, "expected_values");
	assert_non_null(expected);
	assert_true(strncmp(expected, "plaintext == ", 13) == 0);
	assert_true(strncmp(expected + 13, PLAIN, strlen(PLAIN)) == 0);
	expected = strstr(expected, "; ");
	assert_non_null(expected);
	expected += 2;
	fc0 = (uint32_t)real[FC_AT] << 24 | (uint32_t)real[FC_AT + 1] << 16 | (uint32_t)real[FC_AT + 2] << 8 |
	      real[FC_AT + 3];

	char *plain = vec_read(PLAIN, &plen);
	assert_non_null(plain);
	/* The capture's own form, 82 LL LL: LL LL counts SC, FC, text and tag. */
	assert_int_equal(real[10], 0x82);
	assert_int_equal((size_t)(real[11] << 8 | real[12]), 5 + plen + TAG_LEN);
	size_t n = seal(real, fc0, (const uint8_t *)plain, plen, good[0]);
	assert_int_equal(n, real_len);
	assert_memory_equal(good[0], real, real_len); /* the sealing is right */

	/* The CRC MANIFEST computed, in place of the one given. */
	const char *integ = vec_manifest(PLAIN, "integrity"), *given = strstr(integ, "given "),
	           *computed = strstr(integ, "computed ");
	assert_non_null(given);
	assert_non_null(computed);
	char *bang = strstr(plain, "!");
	assert_non_null(bang);
	assert_memory_equal(bang + 1, given + 6, 4);
	memcpy(bang + 1, computed + 9, 4);
	for (uint32_t i = 0; i < 3; i++)
		good_len = seal(real, fc0 + i, (const uint8_t *)plain, plen, good[i]);
	free(plain);
	return 0;
}

static enum hm_err judge(void *ctx, const struct hm_apdustream_msg *m)
{
	struct sink *s = ctx;
	if (m->err != HM_ERR_OK) {
		assert_null(m->data);
		s->events[m->err]++;
		return HM_ERR_OK; /* ignored */
	}
	static struct hm_reading r;
	enum hm_err e = hm_decode(&s->dec, m->data, m->len, &r);
	unsigned i = s->accepted + s->refused;
	if (i < MAX_SEEN) {
		s->verdict[i] = e;
		s->cand_len[i] = m->len;
	}
	if (e == HM_ERR_OK) {
		s->accepted++;
		s->last = r;
		if (s->n_fc < MAX_SEEN)
			s->fc[s->n_fc++] = (uint32_t)m->data[FC_AT] << 24 | (uint32_t)m->data[FC_AT + 1] << 16 |
			                   (uint32_t)m->data[FC_AT + 2] << 8 | m->data[FC_AT + 3];
	} else {
		s->refused++;
	}
	return e;
}

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof *s);
	hm_decoder_init(&s->dec);
	s->dec.has_key = s->dec.has_auth_key = true;
	memcpy(s->dec.key, ek, 16);
	memcpy(s->dec.auth_key, ak, 16);
}

/* Every byte fed is counted once: in a good APDU, as garbage, as a
 * rejected candidate's first byte, or still held. */
static void check_bytes(const struct hm_apdustream *st)
{
	const struct hm_apdustream_stats *s = &st->stats;
	assert_int_equal(s->bytes, s->frame_bytes + s->garbage_bytes + s->rejected_bytes + st->len);
	uint64_t errs = 0;
	for (int i = 0; i < HM_ERR_COUNT; i++)
		errs += s->errors[i];
	assert_int_equal(s->rejected_bytes, errs); /* one byte per rejection */
}

/* Every name=value of MANIFEST's expected_values equals the reading's, and
 * the three the brief names are among them (so a short list fails). */
static void compare(const struct hm_reading *r)
{
	char want[64];
	assert_true(vec_compare_reading(VEC, expected, r) >= 10);
	assert_true(vec_expect(expected, "meter_time", want, sizeof want));
	assert_true(vec_expect(expected, "active_energy_import_kwh", want, sizeof want));
	assert_true(vec_expect(expected, "p1_header", want, sizeof want));
}

static void feed(struct hm_apdustream *st, struct sink *s, const uint8_t *p, size_t n)
{
	hm_apdustream_feed(st, p, n, judge, s);
	check_bytes(st);
}

static void flush(struct hm_apdustream *st, struct sink *s)
{
	hm_apdustream_flush(st, judge, s);
	check_bytes(st);
	assert_int_equal(st->len, 0);
}

/* The capture as it is: one candidate, exactly the capture's bytes; the tag
 * checks and the P1 CRC inside does not, so it is refused (crc_mismatch),
 * never read. */
static void real_capture(void **state)
{
	(void)state;
	vec_require();
	static struct hm_apdustream st;
	static struct sink s;
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, real, real_len);
	flush(&st, &s);
	assert_true(s.refused >= 1);
	assert_int_equal(s.cand_len[0], real_len);
	assert_int_equal(s.verdict[0], HM_ERR_CRC_MISMATCH);
	assert_int_equal(s.accepted, 0);
	assert_int_equal(st.stats.messages, 0);
	assert_int_equal(st.stats.errors[HM_ERR_CRC_MISMATCH], 1);
}

/* The resealed frame whole: one message, MANIFEST's values. */
static void whole(void **state)
{
	(void)state;
	vec_require();
	static struct hm_apdustream st;
	static struct sink s;
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, good[0], good_len);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(s.refused, 0);
	assert_int_equal(st.stats.messages, 1);
	assert_int_equal(st.stats.frame_bytes, good_len);
	assert_int_equal(st.len, 0);
	compare(&s.last);
	flush(&st, &s);
	for (int i = 0; i < HM_ERR_COUNT; i++)
		assert_int_equal(s.events[i], 0);
}

/* Split at every byte offset, and byte by byte: the same one message. */
static void splits(void **state)
{
	(void)state;
	vec_require();
	static struct hm_apdustream st;
	static struct sink s;
	for (size_t k = 1; k < good_len; k++) {
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, good[0], k);
		assert_int_equal(s.accepted, 0);
		feed(&st, &s, good[0] + k, good_len - k);
		if (s.accepted != 1 || s.refused != 0)
			fail_msg("split at %zu: %u accepted, %u refused", k, s.accepted, s.refused);
		assert_int_equal(s.fc[0], fc0);
		flush(&st, &s);
	}
	compare(&s.last);
	hm_apdustream_init(&st);
	sink_init(&s);
	for (size_t i = 0; i < good_len; i++)
		feed(&st, &s, good[0] + i, 1);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(st.stats.frame_bytes, good_len);
	compare(&s.last);
}

/* SYNTHETIC line noise, with lone DBs and DB not followed by 08: skipped
 * as garbage, nothing refused, the frame behind it read. */
static void behind_garbage(void **state)
{
	(void)state;
	vec_require();
	static const uint8_t noise[] = {0x00, 0xFF, 0xDB, 0x07, 0x7E, 0xA0, 0xDB, 0xDB, 0x09, 0x2F,
	                                0x21, 0x68, 0x0D, 0x0A, 0xDB, 0x00, 0x08, 0x55, 0xAA, 0xDB};
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	memcpy(buf, noise, sizeof noise);
	memcpy(buf + sizeof noise, good[0], good_len);
	size_t n = sizeof noise + good_len;
	for (size_t k = 0; k <= n; k += k < 64 ? 1 : 97) { /* whole, and split around the noise */
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, buf, k);
		feed(&st, &s, buf + k, n - k);
		assert_int_equal(s.accepted, 1);
		assert_int_equal(s.refused, 0);
		assert_int_equal(st.stats.garbage_bytes, sizeof noise);
		assert_int_equal(st.stats.frame_bytes, good_len);
		compare(&s.last);
	}
}

/* A SYNTHETIC false start "DB 08 <8> 82 01 00 30 ..." (256 bytes said)
 * whose extent covers the real frame's beginning: judged, refused by the
 * tag, and the real frame after it read all the same. */
static void behind_false_start(void **state)
{
	(void)state;
	vec_require();
	static const uint8_t fake[] = {0xDB, 0x08, 'S',  'A',  'G',  0x67, 0x70, 0x01, 0xBD, 0x54, 0x82, 0x01,
	                               0x00, 0x30, 0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	memcpy(buf, fake, sizeof fake);
	memcpy(buf + sizeof fake, good[0], good_len);
	size_t n = sizeof fake + good_len;
	for (size_t k = 0; k <= n; k += k < 300 ? 1 : 101) {
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, buf, k);
		feed(&st, &s, buf + k, n - k);
		if (s.accepted != 1)
			fail_msg("split at %zu: %u accepted", k, s.accepted);
		assert_int_equal(s.refused, 1);
		assert_int_equal(s.cand_len[0], 13 + 0x100);
		assert_int_equal(s.verdict[0], HM_ERR_AUTH_FAILED);
		assert_int_equal(st.stats.errors[HM_ERR_AUTH_FAILED], 1);
		assert_int_equal(st.stats.frame_bytes, good_len);
		assert_int_equal(st.stats.rejected_bytes + st.stats.garbage_bytes, sizeof fake);
		compare(&s.last);
	}

	/* A false start claiming more than all that follows (4096 bytes): it
	 * holds the frames until the end of input; the flush reports it cut off
	 * and the frames behind it are read then. */
	static const uint8_t longfake[] = {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, 0x10, 0x00, 0x30, 0, 0, 0, 0};
	memcpy(buf, longfake, sizeof longfake);
	memcpy(buf + sizeof longfake, good[0], good_len);
	memcpy(buf + sizeof longfake + good_len, good[1], good_len);
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, buf, sizeof longfake + 2 * good_len);
	assert_int_equal(s.accepted, 0);
	flush(&st, &s);
	assert_int_equal(s.events[HM_ERR_TRUNCATED], 1);
	assert_int_equal(s.accepted, 2);
	assert_int_equal(s.fc[0], fc0);
	assert_int_equal(s.fc[1], fc0 + 1);
}

/* Two and three frames back to back, in one chunk, split everywhere in the
 * middle, and byte by byte: every one read once, in order. */
static void back_to_back(void **state)
{
	(void)state;
	vec_require();
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	for (size_t nf = 2; nf <= 3; nf++) {
		for (size_t i = 0; i < nf; i++)
			memcpy(buf + i * good_len, good[i], good_len);
		size_t n = nf * good_len;
		for (size_t k = 0; k <= n; k += (k + 1 >= good_len - 20 && k <= good_len + 20) ? 1 : 37) {
			hm_apdustream_init(&st);
			sink_init(&s);
			feed(&st, &s, buf, k);
			feed(&st, &s, buf + k, n - k);
			if (s.accepted != nf || s.refused != 0)
				fail_msg("%zu frames split at %zu: %u accepted", nf, k, s.accepted);
			for (size_t i = 0; i < nf; i++)
				assert_int_equal(s.fc[i], fc0 + i);
			assert_int_equal(st.stats.frame_bytes, n);
			assert_int_equal(st.stats.garbage_bytes, 0);
		}
		hm_apdustream_init(&st);
		sink_init(&s);
		for (size_t i = 0; i < n; i++)
			feed(&st, &s, buf + i, 1);
		assert_int_equal(s.accepted, nf);
		compare(&s.last);
	}
}

/* Cut off anywhere: no reading; the flush reports truncated.  Cut off and
 * followed by a whole frame: the cut one is refused, the whole one read. */
static void truncated(void **state)
{
	(void)state;
	vec_require();
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	for (size_t k = 1; k < good_len; k++) {
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, good[0], k);
		flush(&st, &s);
		assert_int_equal(s.accepted, 0);
		if (s.events[HM_ERR_TRUNCATED] < 1)
			fail_msg("cut at %zu: no truncated event", k);
		assert_int_equal(st.stats.frame_bytes, 0);

		memcpy(buf, good[0], k);
		memcpy(buf + k, good[1], good_len);
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, buf, k + good_len);
		flush(&st, &s);
		if (s.accepted != 1 || s.fc[0] != fc0 + 1)
			fail_msg("cut at %zu, then a whole frame: %u accepted", k, s.accepted);
	}
}

/* SYNTHETIC headers: a length past HM_MSG_MAX is refused at once (the
 * frame behind it read without waiting); one exactly at it is waited for;
 * a length form of 3 bytes (83) is malformed. */
static void oversize_and_malformed(void **state)
{
	(void)state;
	vec_require();
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	/* 13 header bytes + LL LL: HM_MSG_MAX - 13 is the most that fits. */
	size_t over = HM_MSG_MAX - 13 + 1;
	const uint8_t big[] = {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, (uint8_t)(over >> 8), (uint8_t)over};
	memcpy(buf, big, sizeof big);
	memcpy(buf + sizeof big, good[0], good_len);
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, buf, sizeof big + good_len);
	assert_int_equal(s.events[HM_ERR_OVERSIZE], 1);
	assert_int_equal(st.stats.errors[HM_ERR_OVERSIZE], 1);
	assert_int_equal(s.accepted, 1); /* before any flush */
	compare(&s.last);

	size_t fits = HM_MSG_MAX - 13;
	const uint8_t edge[] = {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, (uint8_t)(fits >> 8), (uint8_t)fits, 0x30};
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, edge, sizeof edge);
	assert_int_equal(st.stats.errors[HM_ERR_OVERSIZE], 0);
	assert_int_equal(st.need, HM_MSG_MAX);
	static uint8_t fill[HM_MSG_MAX];
	memset(fill, 0x11, sizeof fill);
	feed(&st, &s, fill, HM_MSG_MAX - sizeof edge);
	assert_int_equal(s.refused, 1); /* judged whole, and refused by the decoder */
	assert_int_equal(s.cand_len[0], HM_MSG_MAX);

	const uint8_t bad[] = {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x83, 0, 0, 0x20};
	memcpy(buf, bad, sizeof bad);
	memcpy(buf + sizeof bad, good[0], good_len);
	hm_apdustream_init(&st);
	sink_init(&s);
	feed(&st, &s, buf, sizeof bad + good_len);
	assert_int_equal(s.events[HM_ERR_MALFORMED_APDU], 1);
	assert_int_equal(s.accepted, 1);
}

/* Each byte of the frame flipped (all bits): never a reading from it, and
 * the whole frame after it always read. */
static void flips(void **state)
{
	(void)state;
	vec_require();
	static uint8_t buf[BUF];
	static struct hm_apdustream st;
	static struct sink s;
	for (size_t i = 0; i < good_len; i++) {
		memcpy(buf, good[0], good_len);
		buf[i] ^= 0xFF;
		memcpy(buf + good_len, good[1], good_len);
		hm_apdustream_init(&st);
		sink_init(&s);
		feed(&st, &s, buf, 2 * good_len);
		flush(&st, &s);
		if (s.n_fc != 1 || s.fc[0] != fc0 + 1)
			fail_msg("byte %zu flipped: %u accepted", i, s.accepted);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_capture),
	    cmocka_unit_test(whole),
	    cmocka_unit_test(splits),
	    cmocka_unit_test(behind_garbage),
	    cmocka_unit_test(behind_false_start),
	    cmocka_unit_test(back_to_back),
	    cmocka_unit_test(truncated),
	    cmocka_unit_test(oversize_and_malformed),
	    cmocka_unit_test(flips),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
