/*
 * decode.h - from a frame's information field to a reading: the one call
 * sources and the tool make after the framer.
 *
 * Auto-detection tries the profile that matched last time first (unless it
 * is a fallback, like the generic OBIS profile, which would shadow the
 * others), then the table in order; a forced profile is the only one tried.
 * All scratch space lives in struct hm_decoder (no allocation); the caller
 * owns it, one per stream.
 */
#ifndef HANMETER_DECODE_H
#define HANMETER_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/cipher.h"
#include "hanmeter/dlms.h"
#include "hanmeter/error.h"
#include "hanmeter/profile.h"
#include "hanmeter/reading.h"

struct hm_decoder {
	const struct hm_profile *force; /* a profile the user forced, or NULL for auto */
	const struct hm_profile *last;  /* the profile that matched last (tried first) */
	bool has_key, has_auth_key;     /* DLMS keys configured (ciphered APDUs) */
	uint8_t key[16];                /* AES-128 encryption key (EK) */
	uint8_t auth_key[16];           /* authentication key (AK) */
	uint8_t plain[HM_MSG_MAX];      /* deciphered APDU */
	struct hm_cipher *cipher;       /* an opened AES context to reuse, or NULL: one per message */
	bool has_system_title;          /* a ciphered message was seen */
	uint8_t system_title[8];        /* its system title (identifies the meter) */
	struct hm_apdu apdu;            /* the last parsed notification (for -p dumps) */
	uint64_t decoded;               /* readings produced */
	uint64_t errors[HM_ERR_COUNT];  /* messages rejected, by reason */
};

void hm_decoder_init(struct hm_decoder *d);

/* Decodes one message: an HDLC information field (LLC + APDU), a bare APDU
 * (data-notification 0x0F, or general-glo-ciphering 0xDB around one, or
 * around a P1 telegram as Luxembourg's Smarty sends), or a P1 telegram
 * ('/' .. CRC).  A ciphered message whose list carries no meter id gets
 * the system title (16 hex digits) as meter_id.  Clears r first.  Returns
 * HM_ERR_OK with r filled, or why not (counted). */
enum hm_err hm_decode(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r);

#endif
