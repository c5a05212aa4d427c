/*
 * cipher.h - DLMS general-glo-ciphering (IEC 62056-5-3 9.3, security suite
 * 0/1: AES-128-GCM, DLMS Green Book 9.2.7).
 *
 *   DB                    general-glo-ciphering tag
 *   08 <system title 8>   the meter's system title (3-letter maker id + serial)
 *   <A-XDR length>        bytes that follow: 1 byte < 0x80, or 0x81 n, 0x82 n n
 *   <SC>                  security control: bits 0-3 suite, 0x10 authenticated,
 *                         0x20 encrypted, 0x40 key set, 0x80 compressed
 *   <FC 4>                frame counter, big-endian (the invocation counter)
 *   <payload>             ciphertext (or plaintext when not encrypted)
 *   [<tag 12>]            GCM tag, present when SC & 0x10
 *
 * IV = system title || frame counter.  Authenticated frames use
 * AAD = SC || AK (|| plaintext when authenticated but not encrypted).
 * Encryption-only frames (SC 0x20/0x21, Austrian customer interfaces) carry
 * no tag: nothing proves the key right except what the plaintext looks like.
 *
 * The core stays pure: AES comes from OpenSSL's libcrypto (EVP), which is
 * computation only.  A caller that decrypts a stream opens one struct
 * hm_cipher at configuration time (one EVP context, one fetched cipher) and
 * reuses it for every frame; passing NULL instead makes each call create and
 * free a temporary context, which is fine for a one-off (the tool, tests).
 */
#ifndef HANMETER_CIPHER_H
#define HANMETER_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"

#define HM_CIPHER_TAG          0xDB /* general-glo-ciphering (IEC 62056-5-3 Table 1) */
#define HM_CIPHER_SYSTITLE_LEN 8    /* system title: always 8 bytes in glo-ciphering */
#define HM_CIPHER_KEY_LEN      16   /* AES-128 (security suites 0 and 1) */
#define HM_CIPHER_GCM_TAG_LEN  12   /* DLMS truncates the GCM tag to 96 bits */
#define HM_CIPHER_SC_AUTH      0x10 /* security control: authenticated */
#define HM_CIPHER_SC_ENC       0x20 /* security control: encrypted */
#define HM_CIPHER_SC_COMPRESS  0x80 /* security control: compressed (not supported) */

/* A parsed general-glo-ciphering header; points into the caller's buffer. */
struct hm_cipher_hdr {
	uint8_t system_title[HM_CIPHER_SYSTITLE_LEN]; /* identifies the meter */
	uint8_t sc;                                   /* security control byte */
	uint32_t frame_counter;                       /* invocation counter */
	const uint8_t *payload;                       /* ciphertext, excluding the tag */
	size_t payload_len;                           /* bytes at payload */
	const uint8_t *tag;                           /* GCM tag (12 bytes), or NULL */
	size_t total_len;                             /* bytes of the whole APDU, DB to the end */
};

/* A reusable EVP context, owned by the caller (see the header comment). */
struct hm_cipher {
	void *ctx; /* EVP_CIPHER_CTX */
	void *aes; /* EVP_CIPHER, fetched once */
};

/* Creates the context.  0, or -ENOMEM. */
int hm_cipher_open(struct hm_cipher *c);
void hm_cipher_close(struct hm_cipher *c);

/*
 * Parses the header of p[0..len).  Trailing bytes after the APDU are left
 * alone (h->total_len says where it ends).  HM_ERR_NOT_MINE if p is not a
 * general-glo-ciphering APDU; HM_ERR_TRUNCATED if len is short of the
 * A-XDR length (h->total_len then says how long the APDU will be once the
 * length is in, 0 before; apdustream.h waits on it); HM_ERR_MALFORMED_APDU for a bad system-title length, an
 * authenticated frame shorter than its tag, or a compressed or unknown
 * security suite.
 */
enum hm_err hm_cipher_parse(struct hm_cipher_hdr *h, const uint8_t *p, size_t len);

/*
 * Deciphers h into out (cap bytes; out may not overlap the input).
 * key: the 16-byte encryption key, NULL if none is configured.
 * ak:  the 16-byte authentication key, or NULL.  With it, an authenticated
 *      frame's tag is checked and a frame without a tag is refused
 *      (HM_ERR_AUTH_FAILED: nobody can switch the check off by clearing SC
 *      bit 0x10).  Without it, an authenticated frame is deciphered unchecked
 *      (some grid companies hand out only the EK) and its plaintext must look
 *      like a meter's message, as for encryption-only frames.
 * c:   an opened context, or NULL for a temporary one.
 * Returns HM_ERR_OK with *out_len set, or:
 *   HM_ERR_NO_KEY          the frame is encrypted (or its tag is to be
 *                          checked) and key is NULL;
 *   HM_ERR_AUTH_FAILED     the GCM tag does not match (wrong EK or AK);
 *   HM_ERR_DECRYPT_FAILED  no tag checked, and the plaintext does not start
 *                          like anything a meter sends (hm_cipher_plausible);
 *   HM_ERR_OVERSIZE        cap is too small;
 *   HM_ERR_BAD_FORMAT      libcrypto failed (out of memory).
 */
enum hm_err hm_cipher_decrypt(struct hm_cipher *c, const struct hm_cipher_hdr *h, const uint8_t *key, const uint8_t *ak,
                              uint8_t *out, size_t cap, size_t *out_len);

/* Whether plaintext starts like a meter's message: a data-notification
 * (0x0F), a general-block-transfer (0xE0) or a P1 telegram ('/', Smarty).
 * A wrong key passes this 3 times in 256; callers that parse the plaintext
 * treat a parse failure of an unauthenticated frame as HM_ERR_DECRYPT_FAILED. */
bool hm_cipher_plausible(const uint8_t *plain, size_t len);

/* The system title as 16 lower-case hex digits ("4b414d4501a4dc52"), the
 * form the vectors use; a meter id for lists that carry none.  cap >= 17.
 * Returns the length (16), or -1 if cap is too small. */
int hm_cipher_systitle_format(const uint8_t st[HM_CIPHER_SYSTITLE_LEN], char *buf, size_t cap);

#endif
