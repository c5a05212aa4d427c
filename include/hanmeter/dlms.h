/*
 * dlms.h - DLMS/COSEM data-notification APDUs (IEC 62056-5-3, tag 0x0F).
 *
 *   [E6 E7 00]  LLC (optional here: HDLC info fields carry it, bare APDUs do not)
 *   0F          data-notification
 *   xx xx xx xx long-invoke-id-and-priority
 *   date-time   one of: 00 (absent) | 09 0C <12 bytes> (Kaifa) | 0C <12 bytes> (Kamstrup)
 *   <A-XDR>     notification-body: one value, usually an array or structure
 */
#ifndef HANMETER_DLMS_H
#define HANMETER_DLMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hanmeter/axdr.h"
#include "hanmeter/error.h"
#include "hanmeter/reading.h"

#define HM_DLMS_DATA_NOTIFICATION     0x0F
#define HM_DLMS_GENERAL_GLO_CIPHERING 0xDB
#define HM_DLMS_DATETIME_LEN          12 /* COSEM date-time octets */

struct hm_apdu {
	uint32_t invoke_id;    /* long-invoke-id-and-priority */
	bool has_time;         /* the header carried a date-time */
	uint8_t time[12];      /* that date-time (COSEM date-time, 12 bytes) */
	const uint8_t *body;   /* notification-body bytes */
	size_t body_len;       /* bytes at body */
	bool has_items;        /* ax and items_err are the body's (hm_dlms_items()) */
	enum hm_err items_err; /* hm_dlms_items()'s verdict on the body */
	struct hm_axdr ax;     /* the body, flattened, once hm_dlms_items() has run */
};

/* Parses a data-notification's header (LLC optional): invoke-id, date-time,
 * and where the body lies (the rest of the message, at least one byte).
 * The body is not looked at: profiles that know their list read it
 * straight from the bytes, others call hm_dlms_items().  HM_ERR_NOT_MINE if
 * it is not one (first byte not 0x0F after the LLC); HM_ERR_TRUNCATED /
 * _MALFORMED_APDU if it is one but broken.  Inline: it is the first step of every
 * notification decoded. */
static inline enum hm_err hm_dlms_parse_header(struct hm_apdu *a, const uint8_t *p, size_t len)
{
	size_t pos = 0;

	a->invoke_id = 0;
	a->has_time = false;
	a->body = NULL;
	a->body_len = 0;
	a->has_items = false;
	a->ax.n = 0;

	if (len >= 3 && p[0] == 0xE6 && p[1] == 0xE7 && p[2] == 0x00) /* LLC: IEC 62056-46 */
		pos = 3;
	if (pos >= len)
		return pos ? HM_ERR_TRUNCATED : HM_ERR_NOT_MINE;
	if (p[pos] != HM_DLMS_DATA_NOTIFICATION)
		return HM_ERR_NOT_MINE;
	pos++;
	if (len - pos < 4)
		return HM_ERR_TRUNCATED;
	a->invoke_id = (uint32_t)p[pos] << 24 | (uint32_t)p[pos + 1] << 16 | (uint32_t)p[pos + 2] << 8 | p[pos + 3];
	pos += 4;

	if (pos >= len)
		return HM_ERR_TRUNCATED;
	switch (p[pos]) {
	case 0x00: /* absent */ pos++; break;
	case HM_AXDR_OCTET_STRING: /* 09 0C <12> */
		pos++;
		if (pos >= len)
			return HM_ERR_TRUNCATED;
		if (p[pos] != HM_DLMS_DATETIME_LEN)
			return HM_ERR_MALFORMED_APDU;
		/* fall through */
	case HM_DLMS_DATETIME_LEN: /* 0C <12> */
		pos++;
		if (len - pos < HM_DLMS_DATETIME_LEN)
			return HM_ERR_TRUNCATED;
		memcpy(a->time, p + pos, HM_DLMS_DATETIME_LEN);
		a->has_time = true;
		pos += HM_DLMS_DATETIME_LEN;
		break;
	default: return HM_ERR_MALFORMED_APDU;
	}

	if (pos >= len)
		return HM_ERR_TRUNCATED;
	a->body = p + pos;
	a->body_len = len - pos;
	return HM_ERR_OK;
}

/* The body as a flat item list in a->ax: parsed on the first call after
 * hm_dlms_parse_header(), remembered after.  HM_ERR_OK, or why the body is
 * no single well-formed A-XDR value (trailing bytes are malformed). */
enum hm_err hm_dlms_items(struct hm_apdu *a);

/* hm_dlms_parse_header() and hm_dlms_items(): the whole notification. */
enum hm_err hm_dlms_parse(struct hm_apdu *a, const uint8_t *p, size_t len);

/* A COSEM date-time (12 bytes: year(2) month day weekday hour min sec
 * hundredths deviation(2, signed minutes, 0x8000 unspecified) status) as a
 * clock: true if it is a plausible date and time with every part specified
 * (the deviation may be unspecified: then no offset), offset = -deviation. */
bool hm_dlms_datetime(const uint8_t dt[12], struct hm_time *t);

/* Formats a COSEM date-time (12 bytes: year(2) month day weekday hour min
 * sec hundredths deviation(2, signed minutes, 0x8000 unspecified) status) as
 * YYYY-MM-DDThh:mm:ss, plus +hh:mm / -hh:mm where the deviation is specified
 * (offset = -deviation).  Returns the length, or -1 (cap too small, or bytes
 * not a plausible date). */
int hm_dlms_datetime_format(const uint8_t dt[12], char *buf, size_t cap);

#endif
