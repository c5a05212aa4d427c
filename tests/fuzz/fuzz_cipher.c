/*
 * fuzz_cipher.c - libFuzzer entry: a general-glo-ciphering APDU
 * (IEC 62056-5-3 9.3, AES-128-GCM) through hm_cipher_parse() and
 * hm_cipher_decrypt().
 *
 * Input: byte 0 names the DLMS key (fuzz_decode.h; 0 = no key), the rest is
 * the APDU (DB 08 <system title> <length> <SC> <FC> <payload> [<tag>]).
 *
 * Invariants checked, beyond "no crash":
 *  - the parsed header matches the bytes: system title, SC and frame
 *    counter where the layout puts them, payload and tag inside total_len,
 *    total_len inside the input, a tag exactly when SC has 0x10;
 *  - no key: an encrypted APDU (or an authenticated one, with an AK to
 *    check it) is HM_ERR_NO_KEY, never a plaintext; with an AK, an APDU
 *    without a tag is refused;
 *  - with an AK, an authenticated APDU never deciphers once any bit of its
 *    tag or payload is flipped (the tag is what makes a reading trustworthy);
 *  - the result is the same with a reused context as with a temporary one,
 *    and a buffer one byte too small is HM_ERR_OVERSIZE, never an overflow;
 *  - encryption only: the plaintext has the payload's length and passes
 *    hm_cipher_plausible() (that is the only check such frames get).
 *
 * needs: src/core/cipher.c
 */
#include "hanmeter/cipher.h"
#include "hanmeter/limits.h"

#include "fuzz.h"

static struct hm_cipher ctx;
static bool ctx_open;
static uint8_t out[HM_MSG_MAX], out2[HM_MSG_MAX];

/* The A-XDR length at p: its value and size, or -1. */
static int axdr_len(const uint8_t *p, size_t n, size_t *val)
{
	if (n < 1)
		return -1;
	if (p[0] < 0x80) {
		*val = p[0];
		return 1;
	}
	size_t k = p[0] & 0x7F;
	if (k < 1 || k > 4 || n < 1 + k)
		return -1;
	*val = 0;
	for (size_t i = 0; i < k; i++)
		*val = *val << 8 | p[1 + i];
	return (int)(1 + k);
}

static void check_header(const struct hm_cipher_hdr *h, const uint8_t *p, size_t len)
{
	FUZZ_CHECK(len >= 2 && p[0] == HM_CIPHER_TAG && p[1] == HM_CIPHER_SYSTITLE_LEN);
	FUZZ_CHECK(len >= 2 + HM_CIPHER_SYSTITLE_LEN);
	FUZZ_CHECK(memcmp(h->system_title, p + 2, HM_CIPHER_SYSTITLE_LEN) == 0);
	size_t body;
	int ll = axdr_len(p + 10, len - 10, &body);
	FUZZ_CHECK(ll > 0);
	size_t sc_at = 10 + (size_t)ll;
	FUZZ_CHECK(body >= 5 && h->total_len == sc_at + body && h->total_len <= len);
	FUZZ_CHECK(h->sc == p[sc_at]);
	FUZZ_CHECK(h->frame_counter == ((uint32_t)p[sc_at + 1] << 24 | (uint32_t)p[sc_at + 2] << 16 |
	                                (uint32_t)p[sc_at + 3] << 8 | p[sc_at + 4]));
	FUZZ_CHECK(h->payload == p + sc_at + 5);
	if (h->sc & HM_CIPHER_SC_AUTH) {
		FUZZ_CHECK(h->tag == h->payload + h->payload_len);
		FUZZ_CHECK(h->tag + HM_CIPHER_GCM_TAG_LEN == p + h->total_len);
	} else {
		FUZZ_CHECK(h->tag == NULL);
		FUZZ_CHECK(h->payload + h->payload_len == p + h->total_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > HM_MSG_MAX)
		return 0;
	if (!ctx_open) {
		FUZZ_CHECK(hm_cipher_open(&ctx) == 0);
		ctx_open = true;
	}
	fuzz_keys_load();
	const uint8_t *key = NULL, *ak = NULL;
	if (data[0] && fuzz_nkeys) {
		const struct fuzz_key *k = &fuzz_keys[(data[0] - 1u) % fuzz_nkeys];
		key = k->ek;
		ak = k->has_ak ? k->ak : NULL;
	}
	const uint8_t *p = data + 1;
	size_t len = size - 1;

	struct hm_cipher_hdr h;
	enum hm_err rc = hm_cipher_parse(&h, p, len);
	FUZZ_CHECK(rc == HM_ERR_OK || rc == HM_ERR_NOT_MINE || rc == HM_ERR_TRUNCATED || rc == HM_ERR_MALFORMED_APDU);
	if (rc != HM_ERR_OK)
		return 0;
	check_header(&h, p, len);

	/* No key: nothing comes out of an encrypted APDU, nor of an
	 * authenticated one when an AK asks for its tag to be checked (GCM
	 * needs the EK for that).  An authenticated, unencrypted APDU with no
	 * AK configured is read unchecked, as cipher.c says. */
	size_t n = 0, n2 = 0;
	if ((h.sc & HM_CIPHER_SC_ENC) || ((h.sc & HM_CIPHER_SC_AUTH) && ak))
		FUZZ_CHECK(hm_cipher_decrypt(&ctx, &h, NULL, ak, out, sizeof out, &n) == HM_ERR_NO_KEY);
	/* An AK configured: a frame without a tag is refused (no downgrade). */
	if (ak && !(h.sc & HM_CIPHER_SC_AUTH))
		FUZZ_CHECK(hm_cipher_decrypt(&ctx, &h, key, ak, out, sizeof out, &n) != HM_ERR_OK);

	rc = hm_cipher_decrypt(&ctx, &h, key, ak, out, sizeof out, &n);
	FUZZ_CHECK((unsigned)rc < HM_ERR_COUNT);
	/* A temporary context must agree with the reused one. */
	enum hm_err rc2 = hm_cipher_decrypt(NULL, &h, key, ak, out2, sizeof out2, &n2);
	FUZZ_CHECK(rc2 == rc);
	if (rc != HM_ERR_OK)
		return 0;
	FUZZ_CHECK(n2 == n && n <= sizeof out && memcmp(out, out2, n) == 0);
	if ((h.sc & (HM_CIPHER_SC_ENC | HM_CIPHER_SC_AUTH)) == HM_CIPHER_SC_ENC) {
		FUZZ_CHECK(n == h.payload_len);
		FUZZ_CHECK(hm_cipher_plausible(out, n));
	}
	if (n > 0) {
		uint8_t *tight = malloc(n - 1 ? n - 1 : 1);
		FUZZ_CHECK(tight);
		FUZZ_CHECK(hm_cipher_decrypt(&ctx, &h, key, ak, tight, n - 1, &n2) == HM_ERR_OVERSIZE);
		free(tight);
	}

	/* Authenticated and an AK to check it with: a flipped bit anywhere in
	 * payload or tag must fail. */
	if ((h.sc & HM_CIPHER_SC_AUTH) && ak) {
		uint8_t *copy = malloc(len);
		FUZZ_CHECK(copy);
		memcpy(copy, p, len);
		size_t span = h.payload_len + HM_CIPHER_GCM_TAG_LEN;
		size_t at = (size_t)(h.payload - p) + (h.frame_counter % span);
		copy[at] ^= (uint8_t)(1u << (h.frame_counter % 8));
		struct hm_cipher_hdr t;
		FUZZ_CHECK(hm_cipher_parse(&t, copy, len) == HM_ERR_OK);
		FUZZ_CHECK(hm_cipher_decrypt(&ctx, &t, key, ak, out2, sizeof out2, &n2) != HM_ERR_OK);
		free(copy);
	}
	return 0;
}
