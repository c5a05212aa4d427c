/*
 * decode.c - one message (HDLC information field or bare APDU) to a reading.
 *
 *   [E6 E7 00] <APDU>      the LLC header (IEC 62056-46 / ISO 8802-2) is optional
 *
 * The APDU's first byte says what it is; hm_decode switches on it.  A new
 * kind (general-glo-ciphering 0xDB, M-Bus, ...) is one more case that ends
 * in decode_apdu() or fills r itself.  Every rejection is counted in
 * d->errors[] by reason.
 *
 * Ciphered APDUs (0xDB) are deciphered into d->plain and that goes through
 * the same switch once (no nesting).  Without a GCM tag nothing proves the
 * key right, so a plaintext that does not parse is a wrong key
 * (HM_ERR_DECRYPT_FAILED), not a broken meter.  M-Bus long frames are
 * unwrapped by their framer (mbus.h) before they get here.
 */
#include <string.h>

#include "hanmeter/decode.h"
#include "hanmeter/p1.h"

static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* dst LSAP, src LSAP, quality */

void hm_decoder_init(struct hm_decoder *d)
{
	memset(d, 0, sizeof *d);
}

/* A profile's "mine but broken" verdict, unless the body is no well-formed
 * A-XDR at all: then that is the better reason (profiles that read the
 * bytes straight stop at the first thing they do not expect). */
static enum hm_err broken(struct hm_apdu *a, enum hm_err err)
{
	enum hm_err body = hm_dlms_items(a);
	return body != HM_ERR_OK ? body : err;
}

/* Runs the profiles over a notification whose header is parsed: the forced
 * one only, or the one that matched last and then the table. */
static enum hm_err run_profiles(struct hm_decoder *d, struct hm_reading *r)
{
	struct hm_apdu *a = &d->apdu;
	const struct hm_profile *p;
	enum hm_err err;

	if (d->force) {
		err = d->force->decode(a, r);
		if (err == HM_ERR_OK)
			r->profile = d->force->name;
		return err == HM_ERR_OK ? err : broken(a, err == HM_ERR_NOT_MINE ? HM_ERR_UNKNOWN_LIST : err);
	}
	/* The last match first (a meter keeps its make), but a fallback never
	 * goes before the specific profiles it would shadow. */
	const struct hm_profile *first = d->last && !d->last->fallback ? d->last : NULL;
	if (first) {
		err = first->decode(a, r);
		if (err == HM_ERR_OK) {
			r->profile = first->name;
			return err;
		}
		if (err != HM_ERR_NOT_MINE)
			return broken(a, err);
		hm_reading_clear(r); /* a profile that is not the list's owner leaves nothing behind */
	}
	for (int i = 0; (p = hm_profiles[i]) != NULL; i++) {
		if (p == first)
			continue;
		err = p->decode(a, r);
		if (err == HM_ERR_NOT_MINE) {
			hm_reading_clear(r);
			continue;
		}
		if (err == HM_ERR_OK) {
			d->last = p;
			r->profile = p->name;
			return err;
		}
		return broken(a, err);
	}
	return broken(a, HM_ERR_UNKNOWN_LIST); /* no profile knows it */
}

/* A data-notification: header, profiles; the header time as apdu_time. */
static enum hm_err decode_apdu(struct hm_decoder *d, const uint8_t *p, size_t len, struct hm_reading *r)
{
	enum hm_err err = hm_dlms_parse_header(&d->apdu, p, len);
	if (err != HM_ERR_OK)
		return err;
	err = run_profiles(d, r);
	if (err != HM_ERR_OK)
		return err;
	/* A header date-time with parts unspecified is no reading time: left out. */
	struct hm_time t;
	if (d->apdu.has_time && hm_dlms_datetime(d->apdu.time, &t))
		hm_reading_set_time(r, HM_TEXT_APDU_TIME, &t);
	return HM_ERR_OK;
}

static enum hm_err decode_plain(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r)
{
	switch (msg[0]) {
	case HM_DLMS_DATA_NOTIFICATION: return decode_apdu(d, msg, len, r);
	case HM_P1_START: return hm_p1_parse((const char *)msg, len, r);
	default: return HM_ERR_NOT_MINE;
	}
}

/* General-glo-ciphering: decipher, then decode the plaintext. */
static enum hm_err decode_ciphered(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r)
{
	struct hm_cipher_hdr h;
	size_t n;
	enum hm_err err = hm_cipher_parse(&h, msg, len);
	if (err != HM_ERR_OK)
		return err;
	if (h.total_len != len)
		return HM_ERR_MALFORMED_APDU; /* bytes after the ciphered APDU */
	memcpy(d->system_title, h.system_title, sizeof d->system_title);
	d->has_system_title = true;
	err = hm_cipher_decrypt(d->cipher, &h, d->has_key ? d->key : NULL, d->has_auth_key ? d->auth_key : NULL,
	                        d->plain, sizeof d->plain, &n);
	if (err != HM_ERR_OK)
		return err;
	bool authenticated = h.tag && d->has_auth_key;
	err = d->plain[0] == HM_CIPHER_TAG ? HM_ERR_MALFORMED_APDU : decode_plain(d, d->plain, n, r);
	if (!authenticated && (err == HM_ERR_NOT_MINE || err == HM_ERR_TRUNCATED || err == HM_ERR_MALFORMED_APDU ||
	                       err == HM_ERR_TOO_DEEP || err == HM_ERR_BAD_FORMAT))
		return HM_ERR_DECRYPT_FAILED;
	if (err == HM_ERR_OK && !hm_reading_has_text(r, HM_TEXT_METER_ID)) {
		char id[2 * HM_CIPHER_SYSTITLE_LEN + 1];
		int k = hm_cipher_systitle_format(h.system_title, id, sizeof id);
		hm_reading_set_text(r, HM_TEXT_METER_ID, id, (size_t)k);
	}
	return err;
}

enum hm_err hm_decode(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r)
{
	enum hm_err err;

	hm_reading_clear(r);
	/* Byte compares, not memcmp(): this runs once per frame, and a call
	 * costs more than the three bytes. */
	if (len >= sizeof llc && msg[0] == llc[0] && msg[1] == llc[1] && msg[2] == llc[2]) {
		msg += sizeof llc;
		len -= sizeof llc;
	}
	if (len == 0)
		err = HM_ERR_TRUNCATED;
	else if (msg[0] == HM_DLMS_DATA_NOTIFICATION) /* the common case, straight to the parse */
		err = decode_apdu(d, msg, len, r);
	else if (msg[0] == HM_CIPHER_TAG)
		err = decode_ciphered(d, msg, len, r);
	else
		err = decode_plain(d, msg, len, r);
	if (err != HM_ERR_OK) {
		hm_reading_clear(r); /* no reading from a bad message, not even part of one */
		d->errors[err < HM_ERR_COUNT ? err : HM_ERR_MALFORMED_APDU]++;
		return err;
	}
	d->decoded++;
	return HM_ERR_OK;
}
