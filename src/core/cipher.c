/*
 * cipher.c - DLMS general-glo-ciphering with AES-128-GCM (IEC 62056-5-3
 * 9.3.4, DLMS Green Book 9.2.7.2 "security suite 0"; suite 1 uses the same
 * authenticated encryption).  Frame layout and rules: cipher.h.
 *
 * Why an optional caller-owned context: EVP_CIPHER_CTX_new() allocates, and
 * with OpenSSL 3 binding a cipher to a context allocates its GCM state.  A
 * stream opens struct hm_cipher once at configuration time (cipher fetched
 * and bound there) and decrypts every frame without touching the heap
 * (measured: 0 mallocs per frame); a NULL context falls back to a temporary
 * one (3 mallocs per call), which is what a one-shot tool wants.
 *
 * Encryption-only frames have no tag, so GCM decryption degenerates to
 * AES-CTR: we run the GCM decryption and never call Final (which would
 * only check a tag).  Nothing but the plaintext's shape can tell a wrong
 * key then, hence hm_cipher_plausible().
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "hanmeter/cipher.h"

#define SC_SUITE_MASK          0x0F /* security control bits 0-3: security suite id */
#define SC_SUITE_MAX           1    /* suites 0 and 1 are AES-GCM-128; 2 is AES-256 */
#define HDR_FIXED              10   /* DB, 08, system title */
#define SC_FC_LEN              5    /* security control + frame counter */
#define IV_LEN                 12   /* system title (8) || frame counter (4) */
#define APDU_DATA_NOTIFICATION 0x0F /* IEC 62056-5-3: data-notification */
#define APDU_GBT               0xE0 /* IEC 62056-5-3: general-block-transfer */

int hm_cipher_open(struct hm_cipher *c)
{
	c->ctx = EVP_CIPHER_CTX_new();
	c->aes = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	/* Bind the cipher and IV length once: a frame then only sets key and IV,
	 * which reuses OpenSSL's GCM state instead of allocating a new one. */
	if (!c->ctx || !c->aes || EVP_DecryptInit_ex(c->ctx, c->aes, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1) {
		hm_cipher_close(c);
		return -ENOMEM;
	}
	return 0;
}

void hm_cipher_close(struct hm_cipher *c)
{
	EVP_CIPHER_CTX_free(c->ctx);
	EVP_CIPHER_free(c->aes);
	c->ctx = NULL;
	c->aes = NULL;
}

enum hm_err hm_cipher_parse(struct hm_cipher_hdr *h, const uint8_t *p, size_t len)
{
	memset(h, 0, sizeof *h);
	if (len < 1 || p[0] != HM_CIPHER_TAG)
		return HM_ERR_NOT_MINE;
	if (len < HDR_FIXED + 1)
		return HM_ERR_TRUNCATED;
	if (p[1] != HM_CIPHER_SYSTITLE_LEN)
		return HM_ERR_MALFORMED_APDU;
	memcpy(h->system_title, p + 2, HM_CIPHER_SYSTITLE_LEN);

	/* A-XDR length: one byte below 0x80, else 0x80 + count of length bytes. */
	size_t pos = HDR_FIXED, n = p[pos++];
	if (n & 0x80) {
		size_t nb = n & 0x7F;
		if (nb == 0 || nb > 2) /* > 64 KiB cannot fit any buffer of ours */
			return HM_ERR_MALFORMED_APDU;
		if (len < pos + nb)
			return HM_ERR_TRUNCATED;
		for (n = 0; nb--;)
			n = n << 8 | p[pos++];
	}
	if (n < SC_FC_LEN)
		return HM_ERR_MALFORMED_APDU;
	h->total_len = pos + n; /* known before the bytes are: a stream framer waits for it */
	/* The security control byte is judged as soon as it is in, so that a
	 * stream framer drops a false start at once rather than waiting for
	 * the length it claims. */
	if (len - pos >= 1 && ((p[pos] & HM_CIPHER_SC_COMPRESS) || (p[pos] & SC_SUITE_MASK) > SC_SUITE_MAX))
		return HM_ERR_MALFORMED_APDU;
	if (len - pos < n)
		return HM_ERR_TRUNCATED;
	h->sc = p[pos];
	h->frame_counter =
	    (uint32_t)p[pos + 1] << 24 | (uint32_t)p[pos + 2] << 16 | (uint32_t)p[pos + 3] << 8 | p[pos + 4];
	h->payload = p + pos + SC_FC_LEN;
	h->payload_len = n - SC_FC_LEN;
	if (h->sc & HM_CIPHER_SC_AUTH) {
		if (h->payload_len < HM_CIPHER_GCM_TAG_LEN)
			return HM_ERR_MALFORMED_APDU;
		h->payload_len -= HM_CIPHER_GCM_TAG_LEN;
		h->tag = h->payload + h->payload_len;
	}
	return HM_ERR_OK;
}

bool hm_cipher_plausible(const uint8_t *plain, size_t len)
{
	return len > 0 && (plain[0] == APDU_DATA_NOTIFICATION || plain[0] == APDU_GBT || plain[0] == '/');
}

/* The GCM work proper, on an opened context.  Returns HM_ERR_OK, HM_ERR_AUTH_FAILED
 * (tag checked and wrong) or HM_ERR_BAD_FORMAT (libcrypto refused). */
static enum hm_err gcm(struct hm_cipher *c, const struct hm_cipher_hdr *h, const uint8_t *key, const uint8_t *ak,
                       uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = c->ctx;
	bool enc = h->sc & HM_CIPHER_SC_ENC, check = ak && h->tag;
	uint8_t iv[IV_LEN], aad[1 + HM_CIPHER_KEY_LEN];
	int n;

	memcpy(iv, h->system_title, HM_CIPHER_SYSTITLE_LEN);
	for (int i = 0; i < 4; i++)
		iv[HM_CIPHER_SYSTITLE_LEN + i] = (uint8_t)(h->frame_counter >> (24 - 8 * i));
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) != 1)
		return HM_ERR_BAD_FORMAT;
	if (check) {
		aad[0] = h->sc;
		memcpy(aad + 1, ak, HM_CIPHER_KEY_LEN);
		if (EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof aad) != 1)
			return HM_ERR_BAD_FORMAT;
		/* Authentication only: the APDU itself is authenticated data. */
		if (!enc && EVP_DecryptUpdate(ctx, NULL, &n, h->payload, (int)h->payload_len) != 1)
			return HM_ERR_BAD_FORMAT;
	}
	if (enc && EVP_DecryptUpdate(ctx, out, &n, h->payload, (int)h->payload_len) != 1)
		return HM_ERR_BAD_FORMAT;
	if (!enc)
		memcpy(out, h->payload, h->payload_len);
	if (check) {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HM_CIPHER_GCM_TAG_LEN, (void *)h->tag) != 1)
			return HM_ERR_BAD_FORMAT;
		if (EVP_DecryptFinal_ex(ctx, out + h->payload_len, &n) != 1)
			return HM_ERR_AUTH_FAILED;
	}
	return HM_ERR_OK;
}

enum hm_err hm_cipher_decrypt(struct hm_cipher *c, const struct hm_cipher_hdr *h, const uint8_t *key, const uint8_t *ak,
                              uint8_t *out, size_t cap, size_t *out_len)
{
	bool enc = h->sc & HM_CIPHER_SC_ENC;
	enum hm_err err;

	*out_len = 0;
	/* GCM needs the encryption key also to check a tag over plaintext. */
	if ((enc || (ak && h->tag)) && !key)
		return HM_ERR_NO_KEY;
	/* With an AK configured the user expects authenticated frames: one
	 * without a tag is refused rather than read (no downgrade by flipping
	 * SC bit 0x10).  Without an AK a tag cannot be checked; the frame is
	 * then treated like an encryption-only one. */
	if (ak && !h->tag)
		return HM_ERR_AUTH_FAILED;
	if (h->payload_len > cap || h->payload_len > (size_t)INT32_MAX)
		return HM_ERR_OVERSIZE;
	if (!enc && !(ak && h->tag)) {
		memcpy(out, h->payload, h->payload_len);
	} else {
		struct hm_cipher tmp = {0};
		if (!c) {
			if (hm_cipher_open(&tmp) < 0)
				return HM_ERR_BAD_FORMAT;
			c = &tmp;
		}
		err = gcm(c, h, key, ak, out);
		if (c == &tmp)
			hm_cipher_close(&tmp);
		if (err != HM_ERR_OK) {
			memset(out, 0, h->payload_len); /* never hand out unauthenticated bytes */
			return err;
		}
	}
	if (!(ak && h->tag) && !hm_cipher_plausible(out, h->payload_len)) {
		memset(out, 0, h->payload_len);
		return HM_ERR_DECRYPT_FAILED;
	}
	*out_len = h->payload_len;
	return HM_ERR_OK;
}

int hm_cipher_systitle_format(const uint8_t st[HM_CIPHER_SYSTITLE_LEN], char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	if (cap < 2 * HM_CIPHER_SYSTITLE_LEN + 1)
		return -1;
	for (int i = 0; i < HM_CIPHER_SYSTITLE_LEN; i++) {
		buf[2 * i] = hex[st[i] >> 4];
		buf[2 * i + 1] = hex[st[i] & 0x0F];
	}
	buf[2 * HM_CIPHER_SYSTITLE_LEN] = 0;
	return 2 * HM_CIPHER_SYSTITLE_LEN;
}
