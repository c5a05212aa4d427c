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

#include "hanmeter/axdr.h"
#include "hanmeter/error.h"

#define HM_DLMS_DATA_NOTIFICATION     0x0F
#define HM_DLMS_GENERAL_GLO_CIPHERING 0xDB

struct hm_apdu {
	uint32_t invoke_id;  /* long-invoke-id-and-priority */
	bool has_time;       /* the header carried a date-time */
	uint8_t time[12];    /* that date-time (COSEM date-time, 12 bytes) */
	const uint8_t *body; /* notification-body bytes */
	size_t body_len;     /* bytes at body */
	struct hm_axdr ax;   /* the body, flattened */
};

/* Parses a data-notification (LLC optional).  HM_ERR_NOT_MINE if it is not
 * one (first byte not 0x0F after the LLC); HM_ERR_TRUNCATED / _MALFORMED_APDU
 * if it is one but broken; trailing bytes after the body are malformed. */
enum hm_err hm_dlms_parse(struct hm_apdu *a, const uint8_t *p, size_t len);

/* Formats a COSEM date-time (12 bytes: year(2) month day weekday hour min
 * sec hundredths deviation(2, signed minutes, 0x8000 unspecified) status) as
 * YYYY-MM-DDThh:mm:ss, plus +hh:mm / -hh:mm where the deviation is specified
 * (offset = -deviation).  Returns the length, or -1 (cap too small, or bytes
 * not a plausible date). */
int hm_dlms_datetime_format(const uint8_t dt[12], char *buf, size_t cap);

#endif
