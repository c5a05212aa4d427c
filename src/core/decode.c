/*
 * decode.c - one message (HDLC information field or bare APDU) to a reading.
 *
 *   [E6 E7 00] <APDU>      the LLC header (IEC 62056-46 / ISO 8802-2) is optional
 *
 * The APDU's first byte says what it is; hm_decode switches on it.  A new
 * kind (general-glo-ciphering 0xDB, M-Bus, ...) is one more case that ends
 * in decode_apdu() or fills r itself.  Every rejection is counted in
 * d->errors[] by reason.
 */
#include <string.h>

#include "hanmeter/decode.h"

static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* dst LSAP, src LSAP, quality */

void hm_decoder_init(struct hm_decoder *d)
{
	memset(d, 0, sizeof *d);
}

static bool touched(const struct hm_reading *r)
{
	for (size_t i = 0; i < sizeof r->num_set / sizeof r->num_set[0]; i++)
		if (r->num_set[i])
			return true;
	return r->text_set || r->n_extra || r->extra_dropped || r->items || r->profile;
}

/* Runs the profiles over a parsed notification: the forced one only, or the
 * one that matched last and then the table. */
static enum hm_err run_profiles(struct hm_decoder *d, struct hm_reading *r)
{
	const struct hm_profile *p;
	enum hm_err err;

	if (d->force) {
		err = d->force->decode(&d->apdu, r);
		if (err == HM_ERR_OK)
			r->profile = d->force->name;
		return err == HM_ERR_NOT_MINE ? HM_ERR_UNKNOWN_LIST : err;
	}
	/* The last match first (a meter keeps its make), but a fallback never
	 * goes before the specific profiles it would shadow. */
	const struct hm_profile *first = d->last && !d->last->fallback ? d->last : NULL;
	for (int i = -1; i < 0 || hm_profiles[i]; i++) {
		p = i < 0 ? first : hm_profiles[i];
		if (!p || (i >= 0 && p == first))
			continue;
		err = p->decode(&d->apdu, r);
		if (err == HM_ERR_NOT_MINE) {
			/* A profile that is not the list's owner leaves nothing behind
			 * (clearing 4.5 KiB only when it did write). */
			if (touched(r))
				hm_reading_clear(r);
			continue;
		}
		if (err == HM_ERR_OK) {
			d->last = p;
			r->profile = p->name;
		}
		return err;
	}
	return HM_ERR_UNKNOWN_LIST; /* parses, but no profile knows it */
}

/* A data-notification: header, body, profiles; the header time as apdu_time. */
static enum hm_err decode_apdu(struct hm_decoder *d, const uint8_t *p, size_t len, struct hm_reading *r)
{
	enum hm_err err = hm_dlms_parse(&d->apdu, p, len);
	if (err != HM_ERR_OK)
		return err;
	err = run_profiles(d, r);
	if (err != HM_ERR_OK)
		return err;
	char t[HM_TEXT_MAX];
	int n;
	if (d->apdu.has_time && (n = hm_dlms_datetime_format(d->apdu.time, t, sizeof t)) > 0)
		hm_reading_set_text(r, HM_TEXT_APDU_TIME, t, (size_t)n);
	return HM_ERR_OK;
}

enum hm_err hm_decode(struct hm_decoder *d, const uint8_t *msg, size_t len, struct hm_reading *r)
{
	enum hm_err err;

	hm_reading_clear(r);
	if (len >= sizeof llc && memcmp(msg, llc, sizeof llc) == 0) {
		msg += sizeof llc;
		len -= sizeof llc;
	}
	if (len == 0) {
		err = HM_ERR_TRUNCATED;
	} else {
		switch (msg[0]) {
		case HM_DLMS_DATA_NOTIFICATION: err = decode_apdu(d, msg, len, r); break;
		default: err = HM_ERR_NOT_MINE; break;
		}
	}
	if (err != HM_ERR_OK) {
		hm_reading_clear(r); /* no reading from a bad message, not even part of one */
		d->errors[err < HM_ERR_COUNT ? err : HM_ERR_MALFORMED_APDU]++;
		return err;
	}
	d->decoded++;
	return HM_ERR_OK;
}
