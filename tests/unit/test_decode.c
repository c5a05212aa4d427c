/*
 * test_decode.c - hm_decode against every real capture in $VECTORS, plus
 * truncation, byte flips, "not mine", forced profiles and the profile table.
 *
 * Legend.  For every MANIFEST.tsv row whose format is "hdlc-dlms" or
 * "dlms-apdu (no HDLC)" and whose kind is "positive", each data line is a
 * message (HDLC lines: the information field, taken out by walking the
 * header here, not by the framer; segmented frames, format bit 0x0800, are
 * concatenated until the last segment).  The message must decode, and
 * every name=value in expected_values must be in the reading with exactly
 * that value (numbers compared as hm_num_format decimal strings).  What the
 * reading carries beyond the expectations is listed on stderr.
 *
 * The ciphered captures (general-glo-ciphering, in HDLC or in Austrian
 * M-Bus long frames) are deciphered here with AES-128 in counter mode (the
 * GCM keystream: IV = system title || frame counter, counter from 2) and
 * the keys of MANIFEST.tsv, to check the profiles on their plaintext lists.
 * The cipher module is tested on its own; this only needs the plaintext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "hanmeter/decode.h"
#include "hanmeter/json.h"
#include "jsoncheck.h"
#include "msgvec.h"

/* Checks every name=value of exp against r; returns the number compared. */
static int compare_expected(const char *file, const char *exp, const struct hm_reading *r)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", exp);
	int compared = 0, bad = 0;
	bool seen_num[HM_NUM_COUNT] = {0}, seen_text[HM_TEXT_COUNT] = {0};
	for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ')
			tok++;
		char *eq = strchr(tok, '=');
		if (!eq) {
			fprintf(stderr, "%s: malformed expectation '%s'\n", file, tok);
			bad++;
			continue;
		}
		*eq = 0;
		const char *name = tok, *want = eq + 1;
		char got[HM_TEXT_MAX + 32] = "(absent)", tbuf[HM_TEXT_MAX];
		int f;
		if ((f = hm_num_field_by_name(name)) >= 0) {
			seen_num[f] = true;
			if (hm_reading_has_num(r, f))
				hm_num_format(r->num[f], got, sizeof got);
		} else if ((f = hm_text_field_by_name(name)) >= 0) {
			seen_text[f] = true;
			if (hm_reading_has_text(r, f))
				snprintf(got, sizeof got, "%s", hm_reading_text(r, f, tbuf));
		} else {
			snprintf(got, sizeof got, "(no such field)");
		}
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "%s: %s expected '%s', got '%s'\n", file, name, want, got);
			bad++;
		}
		compared++;
	}
	/* In addition (not an error: the manifest lists what the sources state). */
	char more[1024] = "";
	for (int f = 0; f < HM_NUM_COUNT; f++)
		if (hm_reading_has_num(r, f) && !seen_num[f])
			snprintf(more + strlen(more), sizeof more - strlen(more), " %s", hm_num_info[f].name);
	for (int f = 0; f < HM_TEXT_COUNT; f++)
		if (hm_reading_has_text(r, f) && !seen_text[f])
			snprintf(more + strlen(more), sizeof more - strlen(more), " %s", hm_text_name[f]);
	for (unsigned i = 0; i < r->n_extra; i++)
		snprintf(more + strlen(more), sizeof more - strlen(more), " obis_%u_%u_%u_%u_%u_%u",
		         r->extra[i].obis[0], r->extra[i].obis[1], r->extra[i].obis[2], r->extra[i].obis[3],
		         r->extra[i].obis[4], r->extra[i].obis[5]);
	fprintf(stderr, "%-48s %-9s %2d/%2d fields ok; in addition:%s\n", file, r->profile ? r->profile : "-",
	        compared - bad, compared, *more ? more : " none");
	assert_int_equal(bad, 0);
	return compared;
}

static bool reading_empty(const struct hm_reading *r)
{
	for (size_t i = 0; i < sizeof r->num_set / sizeof r->num_set[0]; i++)
		if (r->num_set[i])
			return false;
	return r->text_set == 0 && r->n_extra == 0 && r->profile == NULL && r->items == 0;
}

static struct hm_decoder dec;
static struct hm_reading rd;

static void all_vectors_decode(void **state)
{
	(void)state;
	vec_require();
	assert_true(load_vectors() >= 31); /* the manifest lists 31 such captures */
	int msgs = 0, fields = 0;
	for (int i = 0; i < nvecs; i++) {
		struct vec *v = &vecs[i];
		assert_true(v->nmsg > 0);
		for (int k = 0; k < v->nmsg; k++) {
			char exp[4096];
			hm_decoder_init(&dec);
			enum hm_err err = hm_decode(&dec, v->msg[k].b, v->msg[k].len, &rd);
			if (err != HM_ERR_OK)
				fail_msg("%s line %u: %s", v->file, v->msg[k].line, hm_err_name(err));
			expected_for(v->expected, v->msg[k].line, exp, sizeof exp);
			fields += compare_expected(v->file, exp, &rd);
			msgs++;

			char json[HM_JSON_MAX + 2] = "{";
			int n = hm_json_members(&rd, json + 1, HM_JSON_MAX);
			assert_true(n > 0);
			json[n + 1] = '}';
			assert_true(json_valid(json, (size_t)n + 2));
		}
	}
	fprintf(stderr, "%d captures, %d messages, %d expected values compared\n", nvecs, msgs, fields);
}

/* The profile each make's captures must be decoded by. */
static void profiles_by_make(void **state)
{
	(void)state;
	vec_require();
	load_vectors();
	static const struct {
		const char *prefix, *profile;
	} want[] = {{"aidon", "aidon"}, {"kaifa", "kaifa"}, {"kamstrup", "kamstrup"}, {"iskra", "obis"}};
	int checked = 0;
	for (int i = 0; i < nvecs; i++)
		for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
			if (strncmp(vecs[i].file, want[w].prefix, strlen(want[w].prefix)) != 0)
				continue;
			hm_decoder_init(&dec);
			assert_int_equal(hm_decode(&dec, vecs[i].msg[0].b, vecs[i].msg[0].len, &rd), HM_ERR_OK);
			if (strcmp(rd.profile, want[w].profile) != 0)
				fail_msg("%s decoded by %s, want %s", vecs[i].file, rd.profile, want[w].profile);
			assert_ptr_equal(dec.last, hm_profile_find(want[w].profile));
			checked++;
		}
	assert_true(checked >= 30);
}

/* Every proper prefix of every message fails, leaves no reading, is counted. */
static void truncations_fail(void **state)
{
	(void)state;
	vec_require();
	load_vectors();
	unsigned long tried = 0;
	hm_decoder_init(&dec);
	for (int i = 0; i < nvecs; i++)
		for (int k = 0; k < vecs[i].nmsg; k++)
			for (size_t n = 0; n < vecs[i].msg[k].len; n++) {
				enum hm_err err = hm_decode(&dec, vecs[i].msg[k].b, n, &rd);
				if (err == HM_ERR_OK)
					fail_msg("%s: prefix of %zu bytes decoded", vecs[i].file, n);
				assert_true(reading_empty(&rd));
				tried++;
			}
	uint64_t counted = 0;
	for (int e = 0; e < HM_ERR_COUNT; e++)
		counted += dec.errors[e];
	assert_int_equal(counted, tried);
	assert_int_equal(dec.decoded, 0);
	assert_true(dec.errors[HM_ERR_TRUNCATED] > 0);
	fprintf(stderr, "%lu truncations rejected (truncated %llu)\n", tried,
	        (unsigned long long)dec.errors[HM_ERR_TRUNCATED]);
}

/* Every byte changed (three ways) never crashes or trips a sanitizer; what
 * still decodes renders as valid JSON; every outcome is counted. */
static void byte_flips_are_safe(void **state)
{
	(void)state;
	vec_require();
	load_vectors();
	static const uint8_t masks[] = {0x01, 0x80, 0xFF};
	static uint8_t buf[HM_MSG_MAX];
	unsigned long tried = 0, ok = 0;
	hm_decoder_init(&dec);
	for (int i = 0; i < nvecs; i++)
		for (int k = 0; k < vecs[i].nmsg; k++) {
			struct msg *m = &vecs[i].msg[k];
			for (size_t p = 0; p < m->len; p++)
				for (size_t x = 0; x < sizeof masks; x++) {
					memcpy(buf, m->b, m->len);
					buf[p] ^= masks[x];
					enum hm_err err = hm_decode(&dec, buf, m->len, &rd);
					tried++;
					if (err != HM_ERR_OK) {
						assert_true(reading_empty(&rd));
						continue;
					}
					ok++;
					char json[HM_JSON_MAX + 2] = "{";
					int n = hm_json_members(&rd, json + 1, HM_JSON_MAX);
					assert_true(n > 0);
					json[n + 1] = '}';
					assert_true(json_valid(json, (size_t)n + 2));
				}
		}
	uint64_t counted = dec.decoded;
	for (int e = 0; e < HM_ERR_COUNT; e++)
		counted += dec.errors[e];
	assert_int_equal(counted, tried);
	fprintf(stderr, "%lu flipped messages: %lu still decode (a changed value byte), %lu rejected\n", tried, ok,
	        tried - ok);
}

static int hexval(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sscanf(h + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return 0;
}

/* Deciphers a general-glo-ciphering APDU (DB 08 <title 8> <len> SC <FC 4>
 * <ciphertext> [tag 12]) into out (prefixed with the LLC); returns its length or -1. */
static int glo_decipher(const uint8_t *a, size_t n, const char *key_hex, uint8_t *out, size_t cap)
{
	uint8_t key[16], iv[16];
	if (n < 16 || a[0] != 0xDB || a[1] != 8 || hexval(key_hex, key, 16) < 0)
		return -1;
	size_t p = 10, len = a[p++];
	if (len & 0x80) {
		size_t k = len & 0x7F;
		len = 0;
		while (k--)
			len = len << 8 | a[p++];
	}
	if (p + len > n || len < 5)
		return -1;
	uint8_t sc = a[p];
	memcpy(iv, a + 2, 8);
	memcpy(iv + 8, a + p + 1, 4);
	memcpy(iv + 12, "\0\0\0\2", 4);
	size_t clen = len - 5 - ((sc & 0x10) ? 12 : 0);
	if (clen + 3 > cap)
		return -1;
	memcpy(out, "\xE6\xE7\x00", 3);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ol = 0;
	int ok = c && EVP_DecryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) &&
	         EVP_DecryptUpdate(c, out + 3, &ol, a + p + 5, (int)clen);
	EVP_CIPHER_CTX_free(c);
	return ok ? ol + 3 : -1;
}

static void deciphered_vectors(void **state)
{
	(void)state;
	vec_require();
	static uint8_t raw[1 << 16], apdu[HM_MSG_MAX], plain[HM_MSG_MAX];
	static struct hm_hexline lines[64];
	int done = 0;
	vec_manifest_load();
	for (int r = 0; r < vec_manifest_data.nrows; r++) {
		const char *file = vec_manifest_data.rows[r].col[0];
		const char *fmt = vec_manifest(file, "format"), *key = vec_manifest(file, "encryption_key");
		int hdlc = strncmp(fmt, "hdlc-dlms-encrypted", 19) == 0,
		    mbus = strncmp(fmt, "mbus-long-frame", 15) == 0;
		if ((!hdlc && !mbus) || strlen(key) != 32 || strcmp(vec_manifest(file, "kind"), "positive") != 0)
			continue;
		size_t len, nl, alen = 0;
		assert_int_equal(vec_hex(file, raw, sizeof raw, &len, lines, 64, &nl), 0);
		for (size_t i = 0; i < nl; i++) {
			const uint8_t *f = raw + lines[i].off, *info;
			size_t ilen;
			if (hdlc) {
				assert_int_equal(hdlc_info(f, lines[i].len, &info, &ilen), 0);
				if (ilen >= 3 && info[0] == 0xE6)
					info += 3, ilen -= 3;
			} else { /* 68 L L 68 | C A CI STSAP DTSAP data... | CS 16 */
				assert_true(lines[i].len > 9 && f[0] == 0x68 && (size_t)f[1] + 6 == lines[i].len);
				info = f + 4 + 5;
				ilen = (size_t)f[1] - 5;
			}
			assert_true(alen + ilen <= sizeof apdu);
			memcpy(apdu + alen, info, ilen);
			alen += ilen;
		}
		int plen = glo_decipher(apdu, alen, key, plain, sizeof plain);
		assert_true(plen > 0);
		hm_decoder_init(&dec);
		enum hm_err err = hm_decode(&dec, plain, (size_t)plen, &rd);
		if (err != HM_ERR_OK)
			fail_msg("%s: %s", file, hm_err_name(err));
		compare_expected(file, vec_manifest(file, "expected_values"), &rd);
		done++;
	}
	assert_int_equal(done, 4); /* Kamstrup DK, Netz NOe, TINETZ, Wiener Netze */
}

/* Synthetic (hand-made) APDUs. */
static const uint8_t llc_notif[] = {0xE6, 0xE7, 0x00, 0x0F, 0x40, 0x00, 0x00, 0x00, 0x00};

static size_t synth(uint8_t *out, const uint8_t *body, size_t n)
{
	memcpy(out, llc_notif, sizeof llc_notif);
	memcpy(out + sizeof llc_notif, body, n);
	return sizeof llc_notif + n;
}

static void not_mine_and_unknown(void **state)
{
	(void)state;
	uint8_t m[64];
	hm_decoder_init(&dec);
	/* A get-response (0xC4), not a data-notification. */
	static const uint8_t get[] = {0xE6, 0xE7, 0x00, 0xC4, 0x01, 0x81, 0x00, 0x12, 0x00, 0x01};
	assert_int_equal(hm_decode(&dec, get, sizeof get, &rd), HM_ERR_NOT_MINE);
	assert_int_equal(dec.errors[HM_ERR_NOT_MINE], 1);
	/* Parses, but no profile knows a bare long-unsigned. */
	static const uint8_t body[] = {0x12, 0x00, 0x01};
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_UNKNOWN_LIST);
	assert_int_equal(dec.errors[HM_ERR_UNKNOWN_LIST], 1);
	assert_true(reading_empty(&rd));
	/* Nothing but the LLC. */
	assert_int_equal(hm_decode(&dec, llc_notif, 3, &rd), HM_ERR_TRUNCATED);
	/* A Kaifa-looking list of a length Kaifa never sends: mine, but unknown. */
	static const uint8_t kfm5[] = {0x02, 0x05, 0x09, 0x07, 'K', 'F',  'M', '_', '0', '0', '1',  0x06, 0, 0, 0, 1,
	                               0x06, 0,    0,    0,    2,   0x06, 0,   0,   0,   3,   0x06, 0,    0, 0, 4};
	assert_int_equal(hm_decode(&dec, m, synth(m, kfm5, sizeof kfm5), &rd), HM_ERR_UNKNOWN_LIST);
	/* A Kaifa list 2 whose power is a string: mine, but broken. */
	static const uint8_t kfm_bad[] = {0x02, 0x09, 0x09, 0x04, 'K',  'F',  'M', '_',  0x09, 0x01, 'x',
	                                  0x09, 0x01, 'y',  0x09, 0x01, 'z', /* P+ as a string */
	                                  0x06, 0,    0,    0,    0,    0x06, 0,   0,    0,    0,    0x06,
	                                  0,    0,    0,    0,    0x12, 0,    0,   0x12, 0,    0};
	assert_int_equal(hm_decode(&dec, m, synth(m, kfm_bad, sizeof kfm_bad), &rd), HM_ERR_MALFORMED_APDU);
	assert_true(reading_empty(&rd));
	assert_int_equal(dec.decoded, 0);
}

/* The Aidon shape with another make's list version is left to the generic
 * profile; with AIDON_V0001 it is Aidon's.  Values worked out by hand. */
static void aidon_shape_other_make(void **state)
{
	(void)state;
	uint8_t body[] = {0x01, 0x02,                                                           /* array of 2 */
	                  0x02, 0x02, 0x09, 0x06, 1,    1,   0,   2,   129, 255,                /* {1.1.0.2.129.255, */
	                  0x0A, 0x0B, 'A',  'B',  'C',  'D', 'E', '_', 'V', '0', '0', '0', '1', /* "ABCDE_V0001"} */
	                  0x02, 0x03, 0x09, 0x06, 1,    0,   1,   7,   0,   255,                /* {1.0.1.7.0.255, */
	                  0x06, 0x00, 0x00, 0x01, 0x00,                                         /* 256, */
	                  0x02, 0x02, 0x0F, 0x01, 0x16, 0x1B};                                  /* {scaler 1, W}} */
	uint8_t m[128];
	char v[32];
	hm_decoder_init(&dec);
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_OK);
	assert_string_equal(rd.profile, "obis");
	assert_string_equal(rd.text[HM_TEXT_LIST_VERSION], "ABCDE_V0001");
	assert_int_equal(hm_num_format(rd.num[HM_NUM_ACTIVE_POWER_IMPORT_W], v, sizeof v), 4);
	assert_string_equal(v, "2560");
	memcpy(body + 14, "AIDON", 5);
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_OK);
	assert_string_equal(rd.profile, "aidon");
	assert_string_equal(rd.text[HM_TEXT_LIST_VERSION], "AIDON_V0001");
	/* A unit that is not the field's (A for 1.7.0) is kept as an extra, not relabelled. */
	body[sizeof body - 1] = 0x21;
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_OK);
	assert_false(hm_reading_has_num(&rd, HM_NUM_ACTIVE_POWER_IMPORT_W));
	assert_int_equal(rd.n_extra, 1);
	assert_int_equal(rd.extra[0].unit, 0x21);
	assert_int_equal(rd.extra[0].num.m, 256);
	assert_int_equal(rd.extra[0].num.e, 1);
	/* A scaler beyond HM_SCALER_MAX is corruption: mine, but broken. */
	body[sizeof body - 3] = HM_SCALER_MAX + 1;
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_MALFORMED_APDU);
	body[sizeof body - 3] = (uint8_t)-HM_SCALER_MAX;
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_OK);
}

/* The generic profile on a flat list without scalers: base units (W, Wh),
 * unknown codes kept as extras, never dropped.  Values worked out by hand. */
static void generic_obis_shapes(void **state)
{
	(void)state;
	static const uint8_t body[] = {
	    0x02, 0x08,                                                 /* structure of 8 */
	    0x09, 0x06, 1, 0, 1,  7, 0,  255, 0x06, 0, 0,   0x00, 0x64, /* 1.7.0 = 100 W */
	    0x09, 0x06, 1, 0, 1,  8, 0,  255, 0x06, 0, 0,   0x30, 0x39, /* 1.8.0 = 12345 Wh */
	    0x09, 0x06, 1, 0, 91, 7, 0,  255, 0x12, 0, 3,               /* 91.7.0 = 3: no name */
	    0x09, 0x06, 0, 0, 96, 1, 99, 255, 0x09, 3, 'a', 'b',  'c'}; /* 0.0.96.1.99 = "abc" */
	uint8_t m[128];
	char v[32];
	hm_decoder_init(&dec);
	assert_int_equal(hm_decode(&dec, m, synth(m, body, sizeof body), &rd), HM_ERR_OK);
	assert_string_equal(rd.profile, "obis");
	assert_int_equal(rd.items, 4);
	hm_num_format(rd.num[HM_NUM_ACTIVE_POWER_IMPORT_W], v, sizeof v);
	assert_string_equal(v, "100");
	hm_num_format(rd.num[HM_NUM_ACTIVE_ENERGY_IMPORT_KWH], v, sizeof v);
	assert_string_equal(v, "12.345");
	assert_int_equal(rd.n_extra, 2);
	assert_memory_equal(rd.extra[0].obis, ((uint8_t[]){1, 0, 91, 7, 0, 255}), 6);
	assert_false(rd.extra[0].is_text);
	assert_int_equal(rd.extra[0].num.m, 3);
	assert_true(rd.extra[1].is_text);
	assert_string_equal(rd.extra[1].text, "abc");
	char json[HM_JSON_MAX];
	assert_true(hm_json_members(&rd, json, sizeof json) > 0);
	assert_non_null(strstr(json, "\"obis_1_0_91_7_0_255\":3,\"obis_0_0_96_1_99_255\":\"abc\""));

	/* An OBIS code followed by a structure is no pair: nothing to map. */
	static const uint8_t nested[] = {0x02, 0x02, 0x09, 0x06, 1, 0, 1, 7, 0, 255, 0x02, 0x01, 0x12, 0x00, 0x05};
	assert_int_equal(hm_decode(&dec, m, synth(m, nested, sizeof nested), &rd), HM_ERR_UNKNOWN_LIST);
}

static void nesting_too_deep(void **state)
{
	(void)state;
	uint8_t body[64], m[128];
	size_t n = 0;
	hm_decoder_init(&dec);
	for (int d = 0; d < HM_AXDR_DEPTH_MAX + 1; d++) {
		body[n++] = 0x01; /* array of */
		body[n++] = 0x01; /* one */
	}
	body[n++] = 0x00; /* null-data */
	assert_int_equal(hm_decode(&dec, m, synth(m, body, n), &rd), HM_ERR_TOO_DEEP);
	assert_int_equal(dec.errors[HM_ERR_TOO_DEEP], 1);
	assert_true(reading_empty(&rd));
}

static void forced_profile(void **state)
{
	(void)state;
	vec_require();
	load_vectors();
	const struct vec *aidon = NULL;
	for (int i = 0; i < nvecs; i++)
		if (strcmp(vecs[i].file, "aidon-6534-list3-no.hex") == 0)
			aidon = &vecs[i];
	assert_non_null(aidon);
	hm_decoder_init(&dec);
	dec.force = hm_profile_find("kamstrup");
	assert_non_null(dec.force);
	/* The forced profile is the only one tried: no fallback to aidon. */
	assert_int_equal(hm_decode(&dec, aidon->msg[0].b, aidon->msg[0].len, &rd), HM_ERR_UNKNOWN_LIST);
	assert_true(reading_empty(&rd));
	dec.force = hm_profile_find("aidon");
	assert_int_equal(hm_decode(&dec, aidon->msg[0].b, aidon->msg[0].len, &rd), HM_ERR_OK);
	assert_string_equal(rd.profile, "aidon");
	char id[32];
	assert_true(vec_expect(aidon->expected, "meter_id", id, sizeof id));
	assert_string_equal(rd.text[HM_TEXT_METER_ID], id);
}

static void profile_table(void **state)
{
	(void)state;
	int n = 0;
	for (int i = 0; hm_profiles[i]; i++, n++) {
		const struct hm_profile *p = hm_profiles[i];
		assert_non_null(p->name);
		assert_non_null(p->manufacturer);
		assert_non_null(p->decode);
		assert_ptr_equal(hm_profile_find(p->name), p);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(hm_profiles[j]->name, p->name);
		/* Every profile says "not mine" (or unknown) to an empty structure, never OK. */
		struct hm_apdu a = {0};
		static const uint8_t empty[] = {0x0F, 0, 0, 0, 1, 0x00, 0x02, 0x00}; /* header, body {} */
		assert_int_equal(hm_dlms_parse_header(&a, empty, sizeof empty), HM_ERR_OK);
		assert_int_equal(a.body_len, 2);
		assert_int_not_equal(p->decode(&a, &rd), HM_ERR_OK);
	}
	assert_true(n >= 5);
	/* Fallbacks (generic lists) come after every specific profile. */
	for (int i = 1; i < n; i++)
		assert_false(hm_profiles[i - 1]->fallback && !hm_profiles[i]->fallback);
	assert_true(hm_profiles[n - 1]->fallback);
	assert_null(hm_profile_find("nonesuch"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(all_vectors_decode),     cmocka_unit_test(profiles_by_make),
	    cmocka_unit_test(truncations_fail),       cmocka_unit_test(byte_flips_are_safe),
	    cmocka_unit_test(not_mine_and_unknown),   cmocka_unit_test(nesting_too_deep),
	    cmocka_unit_test(aidon_shape_other_make), cmocka_unit_test(generic_obis_shapes),
	    cmocka_unit_test(deciphered_vectors),     cmocka_unit_test(forced_profile),
	    cmocka_unit_test(profile_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
