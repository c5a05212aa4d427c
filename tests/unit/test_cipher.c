/*
 * test_cipher.c - general-glo-ciphering against every encrypted vector.
 *
 * Legend of the table below:
 *   file       the vector (../shared/vectors)
 *   wrap       how the APDU is carried: HDLC frame, M-Bus long frames, bare
 *   plain      what the plaintext must be: a data-notification (0F) whose
 *              header date-time equals the MANIFEST's apdu_time, the P1
 *              telegram of a named file, or (generic) the notification the
 *              MANIFEST describes field by field.
 * The HDLC and M-Bus wrappers are removed here by walking their headers by
 * hand (the framers are tested elsewhere), keys come from MANIFEST.tsv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hanmeter/cipher.h"
#include "hanmeter/decode.h"
#include "hanmeter/mbus.h"
#include "vectors.h"

enum wrap { HDLC, MBUS, BARE };

static const struct vec {
	const char *file;
	enum wrap wrap;
	const char *p1_file; /* plaintext equals this telegram, or NULL */
} vecs[] = {
    {"encrypted-denmark-kamstrup-omnipower-radius.hex", HDLC, NULL},
    {"encrypted-austria-evn-netznoe-example.hex", MBUS, NULL},
    {"encrypted-austria-tinetz-kaifa-ma309-example.hex", MBUS, NULL},
    {"encrypted-austria-wienernetze-iskra-am550-example.hex", HDLC, NULL},
    {"encrypted-generic-dlms-cosem-gglo-apdu.hex", BARE, NULL},
    {"encrypted-luxembourg-smarty-p1.hex", BARE, "encrypted-luxembourg-smarty-p1-decrypted.txt"},
};

#define BUF 8192

static int unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

/* The APDU of a vector file, wrapper removed.  Returns its length. */
static size_t load_apdu(const struct vec *v, uint8_t *apdu)
{
	static uint8_t raw[BUF];
	struct hm_hexline lines[8];
	size_t n, nl, len = 0;
	assert_int_equal(vec_hex(v->file, raw, sizeof raw, &n, lines, 8, &nl), 0);
	for (size_t l = 0; l < nl; l++) {
		const uint8_t *p = raw + lines[l].off;
		size_t ln = lines[l].len, start, end;
		if (v->wrap == HDLC) {
			/* 7E, format (2), dst and src addresses (end at low bit 1),
			 * control, HCS (2), LLC E6 E7 00 | info | FCS (2), 7E */
			start = 3;
			while (!(p[start] & 1))
				start++;
			start++;
			while (!(p[start] & 1))
				start++;
			start += 1 + 1 + 2;
			assert_memory_equal(p + start, "\xE6\xE7\x00", 3);
			start += 3;
			end = ln - 3;
		} else if (v->wrap == MBUS) {
			/* 68 L L 68 C A CI STSAP DTSAP | segment | CS 16 */
			start = 9;
			end = ln - 2;
		} else {
			start = 0;
			end = ln;
		}
		memcpy(apdu + len, p + start, end - start);
		len += end - start;
	}
	return len;
}

static void keys(const char *file, uint8_t ek[16], uint8_t ak[16], bool *has_ek, bool *has_ak)
{
	*has_ek = unhex(vec_manifest(file, "encryption_key"), ek, 16) == 16;
	*has_ak = unhex(vec_manifest(file, "auth_key"), ak, 16) == 16;
}

/* The header date-time of a data-notification, formatted as the README's
 * "Times" paragraph says, or "" when absent. */
static void header_time(const uint8_t *p, size_t len, char *buf, size_t cap)
{
	const uint8_t *dt;
	buf[0] = 0;
	assert_true(len > 6);
	if (p[5] == 0x0C)
		dt = p + 6;
	else if (p[5] == 0x09 && p[6] == 0x0C)
		dt = p + 7;
	else
		return;
	int dev = (int16_t)(dt[9] << 8 | dt[10]);
	int n =
	    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d", dt[0] << 8 | dt[1], dt[2], dt[3], dt[5], dt[6], dt[7]);
	if ((dt[9] << 8 | dt[10]) != 0x8000) {
		int off = -dev;
		snprintf(buf + n, cap - (size_t)n, "%c%02d:%02d", off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
		         (off < 0 ? -off : off) % 60);
	}
}

static void check_plain(const struct vec *v, const uint8_t *plain, size_t n)
{
	const char *exp = vec_manifest(v->file, "expected_values");
	char want[256], got[256];
	if (v->p1_file) {
		size_t tn;
		char *t = vec_read(v->p1_file, &tn);
		assert_non_null(t);
		assert_int_equal(n, tn);
		assert_memory_equal(plain, t, tn);
		free(t);
		return;
	}
	assert_int_equal(plain[0], 0x0F);
	if (vec_expect(exp, "apdu_time", want, sizeof want)) {
		header_time(plain, n, got, sizeof got);
		assert_string_equal(got, want);
	}
	if (vec_expect(exp, "invoke_id", want, sizeof want)) {
		/* generic: 0F <invoke-id 4> 00 (no date-time) 09 <len> <octet string> */
		uint8_t body[128], inv[4];
		assert_int_equal(unhex(want, inv, 4), 4);
		assert_true(vec_expect(exp, "notification_body_octet_string", want, sizeof want));
		int bn = unhex(want, body, sizeof body);
		assert_true(bn > 0 && bn < 0x80);
		assert_int_equal(n, 1 + 4 + 1 + 2 + (size_t)bn);
		assert_memory_equal(plain + 1, inv, 4);
		assert_int_equal(plain[5], 0x00);
		assert_int_equal(plain[6], 0x09);
		assert_int_equal(plain[7], bn);
		assert_memory_equal(plain + 8, body, (size_t)bn);
	}
}

/* Every vector deciphers to the plaintext the MANIFEST describes, with a
 * context opened once and with the temporary one. */
static void vectors_decrypt(void **state)
{
	(void)state;
	vec_require();
	struct hm_cipher c;
	assert_int_equal(hm_cipher_open(&c), 0);
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		static uint8_t apdu[BUF], plain[BUF];
		uint8_t ek[16], ak[16];
		bool has_ek, has_ak;
		struct hm_cipher_hdr h;
		size_t n = load_apdu(v, apdu), pn;
		keys(v->file, ek, ak, &has_ek, &has_ak);
		assert_true(has_ek);
		print_message("%s\n", v->file);
		assert_int_equal(hm_cipher_parse(&h, apdu, n), HM_ERR_OK);
		assert_int_equal(h.total_len, n);
		assert_int_equal(!!(h.sc & HM_CIPHER_SC_AUTH), has_ak);
		for (int pass = 0; pass < 2; pass++) {
			memset(plain, 0xAA, sizeof plain);
			assert_int_equal(
			    hm_cipher_decrypt(pass ? NULL : &c, &h, ek, has_ak ? ak : NULL, plain, sizeof plain, &pn),
			    HM_ERR_OK);
			check_plain(v, plain, pn);
		}
		/* The system title as hex: the generic vector states it. */
		char want[32], got[32];
		if (vec_expect(vec_manifest(v->file, "expected_values"), "system_title", want, sizeof want)) {
			assert_int_equal(hm_cipher_systitle_format(h.system_title, got, sizeof got), 16);
			assert_string_equal(got, want);
			assert_true(
			    vec_expect(vec_manifest(v->file, "expected_values"), "frame_counter", want, sizeof want));
			snprintf(got, sizeof got, "%08x", (unsigned)h.frame_counter);
			assert_string_equal(got, want);
		}
	}
	hm_cipher_close(&c);
}

/* The Siemens IM150 frame: header fields as the MANIFEST states; no key. */
static void header_without_key(void **state)
{
	(void)state;
	vec_require();
	const struct vec v = {"encrypted-austria-wienernetze-siemens-im150-nokey.hex", HDLC, NULL};
	const char *exp = vec_manifest(v.file, "expected_values");
	static uint8_t apdu[BUF], plain[BUF];
	struct hm_cipher_hdr h;
	char want[32], got[32];
	size_t n = load_apdu(&v, apdu), pn = 1;

	assert_int_equal(hm_cipher_parse(&h, apdu, n), HM_ERR_OK);
	assert_true(vec_expect(exp, "system_title", want, sizeof want));
	hm_cipher_systitle_format(h.system_title, got, sizeof got);
	assert_string_equal(got, want);
	assert_true(vec_expect(exp, "security_control", want, sizeof want));
	snprintf(got, sizeof got, "0x%02x", h.sc);
	assert_string_equal(got, want);
	assert_true(vec_expect(exp, "frame_counter", want, sizeof want));
	snprintf(got, sizeof got, "%08x", (unsigned)h.frame_counter);
	assert_string_equal(got, want);
	assert_int_equal(hm_cipher_decrypt(NULL, &h, NULL, NULL, plain, sizeof plain, &pn), HM_ERR_NO_KEY);
	assert_int_equal(pn, 0);
}

/* Wrong EK on an authenticated frame -> auth_failed; wrong AK -> auth_failed;
 * wrong EK on an encryption-only frame -> decrypt_failed; no key -> no_key.
 * Nothing of the plaintext is left in the output buffer. */
static void wrong_keys(void **state)
{
	(void)state;
	vec_require();
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		static uint8_t apdu[BUF], plain[BUF];
		uint8_t ek[16], ak[16];
		bool has_ek, has_ak;
		struct hm_cipher_hdr h;
		size_t n = load_apdu(v, apdu), pn;
		keys(v->file, ek, ak, &has_ek, &has_ak);
		assert_int_equal(hm_cipher_parse(&h, apdu, n), HM_ERR_OK);

		assert_int_equal(hm_cipher_decrypt(NULL, &h, NULL, has_ak ? ak : NULL, plain, sizeof plain, &pn),
		                 HM_ERR_NO_KEY);
		for (int bit = 0; bit < 128; bit += 37) {
			uint8_t bad[16];
			memcpy(bad, ek, 16);
			bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memset(plain, 0, sizeof plain);
			enum hm_err e = hm_cipher_decrypt(NULL, &h, bad, has_ak ? ak : NULL, plain, sizeof plain, &pn);
			assert_int_equal(e, has_ak ? HM_ERR_AUTH_FAILED : HM_ERR_DECRYPT_FAILED);
			assert_int_equal(pn, 0);
			for (size_t k = 0; k < h.payload_len; k++)
				assert_int_equal(plain[k], 0);
			if (has_ak) {
				memcpy(bad, ak, 16);
				bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(hm_cipher_decrypt(NULL, &h, ek, bad, plain, sizeof plain, &pn),
				                 HM_ERR_AUTH_FAILED);
			}
		}
		/* An AK configured for an encryption-only meter: refused, not read. */
		if (!has_ak)
			assert_int_equal(hm_cipher_decrypt(NULL, &h, ek, ek, plain, sizeof plain, &pn),
			                 HM_ERR_AUTH_FAILED);
	}
}

/* Every prefix of every APDU fails to parse; no prefix deciphers. */
static void truncations(void **state)
{
	(void)state;
	vec_require();
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		static uint8_t apdu[BUF];
		struct hm_cipher_hdr h;
		size_t n = load_apdu(&vecs[i], apdu);
		for (size_t k = 0; k < n; k++) {
			enum hm_err e = hm_cipher_parse(&h, apdu, k);
			assert_true(e == (k == 0 ? HM_ERR_NOT_MINE : HM_ERR_TRUNCATED));
		}
	}
}

/* Flipping any bit of an authenticated APDU never deciphers (with both keys
 * configured); header damage is a parse error, the rest is auth_failed. */
static void flips_authenticated(void **state)
{
	(void)state;
	vec_require();
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		static uint8_t apdu[BUF], plain[BUF];
		uint8_t ek[16], ak[16];
		bool has_ek, has_ak;
		struct hm_cipher c;
		size_t n = load_apdu(v, apdu), pn;
		keys(v->file, ek, ak, &has_ek, &has_ak);
		if (!has_ak)
			continue;
		assert_int_equal(hm_cipher_open(&c), 0);
		unsigned tried = 0;
		for (size_t k = 0; k < n; k++)
			for (int b = 0; b < 8; b++) {
				struct hm_cipher_hdr h;
				apdu[k] ^= (uint8_t)(1u << b);
				enum hm_err e = hm_cipher_parse(&h, apdu, n);
				if (e == HM_ERR_OK)
					e = hm_cipher_decrypt(&c, &h, ek, ak, plain, sizeof plain, &pn);
				assert_int_not_equal(e, HM_ERR_OK);
				apdu[k] ^= (uint8_t)(1u << b);
				tried++;
			}
		assert_int_equal(tried, 8 * n);
		hm_cipher_close(&c);
	}
}

/* Synthetic frames built here with libcrypto directly (labelled synthetic):
 * authentication-only (SC 0x10: AAD = SC || AK || APDU, plaintext in clear),
 * a non-glo APDU, bad system-title length, compressed and AES-256 suites. */
#include <openssl/evp.h>

static void synthetic_forms(void **state)
{
	(void)state;
	static const uint8_t ek[16] = "synthetic-ek-16", ak[16] = "synthetic-ak-16";
	static const uint8_t apdu[] = {0x0F, 0, 0, 0, 1, 0x00, 0x12, 0x01, 0x02}; /* 0F id, no time, uint16 */
	uint8_t f[64], tag[16], iv[12], aad[1 + 16 + sizeof apdu], plain[64];
	size_t n = 0, pn;
	int outl;
	struct hm_cipher_hdr h;

	f[n++] = 0xDB;
	f[n++] = 8;
	memcpy(f + n, "SYNtest1", 8), n += 8;
	f[n++] = (uint8_t)(5 + sizeof apdu + 12);
	f[n++] = 0x10;
	memcpy(f + n, "\x00\x00\x00\x2A", 4), n += 4;
	memcpy(f + n, apdu, sizeof apdu), n += sizeof apdu;
	memcpy(iv, "SYNtest1\x00\x00\x00\x2A", 12);
	aad[0] = 0x10;
	memcpy(aad + 1, ak, 16);
	memcpy(aad + 17, apdu, sizeof apdu);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, ek, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, aad, sizeof aad), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, tag, &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
	EVP_CIPHER_CTX_free(ctx);
	memcpy(f + n, tag, 12), n += 12;

	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_OK);
	assert_int_equal(h.frame_counter, 42);
	assert_int_equal(hm_cipher_decrypt(NULL, &h, ek, ak, plain, sizeof plain, &pn), HM_ERR_OK);
	assert_int_equal(pn, sizeof apdu);
	assert_memory_equal(plain, apdu, sizeof apdu);
	f[n - 20] ^= 1; /* a plaintext byte: authenticated data, so the tag fails */
	assert_int_equal(hm_cipher_decrypt(NULL, &h, ek, ak, plain, sizeof plain, &pn), HM_ERR_AUTH_FAILED);
	assert_int_equal(hm_cipher_decrypt(NULL, &h, NULL, ak, plain, sizeof plain, &pn), HM_ERR_NO_KEY);
	f[n - 20] ^= 1;
	/* Too small an output buffer. */
	assert_int_equal(hm_cipher_decrypt(NULL, &h, ek, ak, plain, 3, &pn), HM_ERR_OVERSIZE);

	/* Trailing bytes are left to the caller. */
	f[n] = 0x55;
	assert_int_equal(hm_cipher_parse(&h, f, n + 1), HM_ERR_OK);
	assert_int_equal(h.total_len, n);

	f[0] = 0x0F;
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_NOT_MINE);
	f[0] = 0xDB;
	f[1] = 7;
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[1] = 8;
	f[11] = 0x90; /* compressed */
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[11] = 0x32; /* suite 2 (AES-256) */
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[11] = 0x10;
	f[10] = 4; /* shorter than SC + FC */
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[10] = 5 + 11; /* authenticated but shorter than the tag */
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[10] = 0x83; /* a 3-byte length: larger than anything we take */
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);
	f[10] = 0x80;
	assert_int_equal(hm_cipher_parse(&h, f, n), HM_ERR_MALFORMED_APDU);

	assert_true(hm_cipher_plausible((const uint8_t *)"/ISK5", 5));
	assert_false(hm_cipher_plausible((const uint8_t *)"\x0E", 1));
	assert_false(hm_cipher_plausible(NULL, 0));
}

struct one_msg {
	uint8_t buf[BUF];
	size_t len;
	unsigned n;
};

static void take(void *ctx, const struct hm_mbus_msg *m)
{
	struct one_msg *o = ctx;
	assert_int_equal(m->err, HM_ERR_OK);
	memcpy(o->buf, m->data, m->len);
	o->len = m->len;
	o->n++;
}

/* The message hm_decode gets: HDLC info field (here cut by hand), the
 * M-Bus framer's reassembled APDU, or the bare APDU. */
static size_t message(const struct vec *v, uint8_t *msg)
{
	if (v->wrap != MBUS)
		return load_apdu(v, msg);
	static uint8_t raw[BUF];
	static struct hm_mbus m;
	static struct one_msg o;
	size_t n, nl;
	struct hm_hexline lines[4];
	assert_int_equal(vec_hex(v->file, raw, sizeof raw, &n, lines, 4, &nl), 0);
	o.n = 0;
	hm_mbus_init(&m);
	hm_mbus_feed(&m, raw, n, take, &o);
	assert_int_equal(o.n, 1);
	memcpy(msg, o.buf, o.len);
	return o.len;
}

/* End to end: every encrypted vector through hm_decode gives exactly the
 * MANIFEST's values; the Smarty telegram is refused for its P1 CRC; the
 * generic vector deciphers to a notification no profile knows. */
static void decode_vectors(void **state)
{
	(void)state;
	vec_require();
	static struct hm_decoder d;
	static struct hm_reading r;
	static uint8_t msg[BUF];
	struct hm_cipher c;
	assert_int_equal(hm_cipher_open(&c), 0);
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct vec *v = &vecs[i];
		size_t n = message(v, msg);
		hm_decoder_init(&d);
		d.cipher = i % 2 ? &c : NULL;
		keys(v->file, d.key, d.auth_key, &d.has_key, &d.has_auth_key);
		enum hm_err e = hm_decode(&d, msg, n, &r);
		print_message("%s: %s\n", v->file, hm_err_name(e));
		assert_true(d.has_system_title);
		assert_memory_equal(d.system_title, msg + 2, 8); /* DB 08 <system title> */
		if (v->p1_file) {
			assert_int_equal(e, HM_ERR_CRC_MISMATCH);
			assert_int_equal(d.errors[HM_ERR_CRC_MISMATCH], 1);
			assert_int_equal(r.text_set, 0);
			continue;
		}
		if (v->wrap == BARE) {
			assert_int_equal(e, HM_ERR_UNKNOWN_LIST);
			continue;
		}
		assert_int_equal(e, HM_ERR_OK);
		assert_int_equal(d.decoded, 1);
		unsigned k = vec_compare_reading(v->file, vec_manifest(v->file, "expected_values"), &r);
		assert_true(k >= 8);
		/* No meter id in the list: the system title stands in for it. */
		char want[17];
		for (int b = 0; b < 8; b++)
			snprintf(want + 2 * b, 3, "%02x", msg[2 + b]);
		if (!strstr(vec_manifest(v->file, "expected_values"), "meter_id="))
			assert_string_equal(r.text[HM_TEXT_METER_ID], want);

		/* A wrong encryption key: auth_failed with a tag, else decrypt_failed. */
		d.key[5] ^= 0x40;
		e = hm_decode(&d, msg, n, &r);
		assert_int_equal(e, d.has_auth_key ? HM_ERR_AUTH_FAILED : HM_ERR_DECRYPT_FAILED);
		assert_int_equal(r.text_set, 0);
		assert_int_equal(d.errors[e], 1);
		/* No key. */
		d.has_key = false;
		assert_int_equal(hm_decode(&d, msg, n, &r), HM_ERR_NO_KEY);
	}
	hm_cipher_close(&c);

	/* The Siemens frame without its key. */
	const struct vec nokey = {"encrypted-austria-wienernetze-siemens-im150-nokey.hex", HDLC, NULL};
	size_t n = message(&nokey, msg);
	hm_decoder_init(&d);
	assert_int_equal(hm_decode(&d, msg, n, &r), HM_ERR_NO_KEY);
	assert_int_equal(d.errors[HM_ERR_NO_KEY], 1);
	assert_memory_equal(d.system_title, "SMSfp\x9a\x27\xc1", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(vectors_decrypt), cmocka_unit_test(header_without_key),  cmocka_unit_test(wrong_keys),
	    cmocka_unit_test(truncations),     cmocka_unit_test(flips_authenticated), cmocka_unit_test(synthetic_forms),
	    cmocka_unit_test(decode_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
