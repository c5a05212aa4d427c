/*
 * dlms.c - DLMS/COSEM data-notification (IEC 62056-5-3 8.6, tag 0x0F) and
 * the COSEM date-time (IEC 62056-6-2 4.1.6.1, "date-time" 12 octets).
 *
 *   [E6 E7 00] 0F <invoke-id 4> <date-time> <notification-body>
 *
 * The date-time is OPTIONAL and meters write it three ways: 00 (absent;
 * Aidon, Swedish lists), 09 0C <12> (as a tagged octet-string; Kaifa and
 * 2017 Kamstrup firmware), bare 0C <12> (later Kamstrup, Iskraemeco).
 */
#include <string.h>

#include "hanmeter/dlms.h"

#define DEV_UNSPECIFIED 0x8000 /* deviation "not specified" */
#define DEV_MAX         720    /* |deviation| in minutes: the Blue Book allows -720..720 */

enum hm_err hm_dlms_items(struct hm_apdu *a)
{
	if (a->has_items)
		return a->items_err;
	size_t used = 0;
	enum hm_err err = a->body ? hm_axdr_parse(&a->ax, a->body, a->body_len, &used) : HM_ERR_TRUNCATED;
	if (err == HM_ERR_OK && used != a->body_len)
		err = HM_ERR_MALFORMED_APDU; /* bytes after the body */
	a->has_items = true;
	a->items_err = err;
	return err;
}

enum hm_err hm_dlms_parse(struct hm_apdu *a, const uint8_t *p, size_t len)
{
	enum hm_err err = hm_dlms_parse_header(a, p, len);
	return err == HM_ERR_OK ? hm_dlms_items(a) : err;
}

bool hm_dlms_datetime(const uint8_t dt[12], struct hm_time *t)
{
	unsigned year = (unsigned)dt[0] << 8 | dt[1];
	unsigned udev = (unsigned)dt[9] << 8 | dt[10];

	/* 0xFFFF / 0xFF mean "not specified"; a reading time must have them all. */
	if (year > 9999 || dt[2] < 1 || dt[2] > 12 || dt[3] < 1 || dt[3] > 31 || dt[5] > 23 || dt[6] > 59 || dt[7] > 59)
		return false;
	int dev = udev >= 0x8000 ? (int)udev - 0x10000 : (int)udev; /* signed minutes */
	bool has_off = udev != DEV_UNSPECIFIED;
	if (has_off && (dev < -DEV_MAX || dev > DEV_MAX))
		return false;
	/* The deviation is local time -> UTC; the offset is UTC -> local. */
	*t = (struct hm_time){.year = (uint16_t)year,
	                      .month = dt[2],
	                      .day = dt[3],
	                      .hour = dt[5],
	                      .min = dt[6],
	                      .sec = dt[7],
	                      .has_offset = has_off,
	                      .offset = (int16_t)(has_off ? -dev : 0)};
	return true;
}

int hm_dlms_datetime_format(const uint8_t dt[12], char *buf, size_t cap)
{
	struct hm_time t;
	return hm_dlms_datetime(dt, &t) ? hm_time_format(&t, buf, cap) : -1;
}
