/*
 * p1.h - P1 telegrams (DSMR 2.2-5.0.2, Fluvius e-MUCS, Swedish and
 * Luxembourg P1): a stream framer and a parser into struct hm_reading.
 *
 *   /XXX5<identification> CR LF
 *   CR LF
 *   <OBIS>(<value>[*<unit>])... CR LF       e.g. 1-0:1.8.1(001234.567*kWh)
 *   ...
 *   !<CRC> CR LF
 *
 * The CRC (DSMR 5.0.2 6.12) is CRC-16/ARC over '/' through '!', written as
 * 4 upper-case hex digits; DSMR 2.2/3.0 telegrams have none ("!" CR LF),
 * and some meters drop leading zeros ("!B9F").
 *
 * The framer is a pure state machine like the HDLC one: chunks in, whole
 * CRC-checked telegrams out through a callback, rejections reported and
 * counted.  Once a stream has carried a telegram with a good CRC, a later
 * telegram without one is rejected as crc_mismatch: a CRC is not optional
 * for a meter that sends it.
 */
#ifndef HANMETER_P1_H
#define HANMETER_P1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"
#include "hanmeter/reading.h"

#define HM_P1_START      '/' /* a telegram starts here */
#define HM_P1_END        '!' /* the CRC follows this */
#define HM_P1_CRC_DIGITS 4   /* at most */

/* One event: a checked telegram, or a rejection (err != HM_ERR_OK). */
struct hm_p1_msg {
	enum hm_err err;  /* HM_ERR_OK or why the telegram was dropped */
	const char *data; /* '/' .. the CRC line (valid during the callback only); NULL on error */
	size_t len;       /* bytes at data */
	bool has_crc;     /* the telegram carried a CRC (DSMR 4+) */
};

typedef void (*hm_p1_cb)(void *ctx, const struct hm_p1_msg *m);

struct hm_p1_stats {
	uint64_t bytes;                /* bytes fed */
	uint64_t telegrams;            /* good telegrams delivered */
	uint64_t garbage_bytes;        /* bytes outside any telegram */
	uint64_t errors[HM_ERR_COUNT]; /* rejections, by reason */
};

struct hm_p1 {
	char buf[HM_P1_MAX];      /* the telegram being received */
	size_t len;               /* bytes held in buf */
	size_t end;               /* where the '!' is in buf (once seen) */
	int state;                /* internal */
	bool crc_seen;            /* a telegram with a good CRC has been seen */
	struct hm_p1_stats stats; /* counters since init */
};

void hm_p1_init(struct hm_p1 *p);
void hm_p1_feed(struct hm_p1 *p, const uint8_t *data, size_t len, hm_p1_cb cb, void *ctx);
/* End of input: a telegram still held is reported as HM_ERR_TRUNCATED. */
void hm_p1_flush(struct hm_p1 *p, hm_p1_cb cb, void *ctx);

/*
 * Checks one whole telegram t[0..len), '/' to the end of the CRC line.  The
 * data ends at the first '!' that starts a line; the CR LF after it may be
 * absent only after 4 CRC digits.  HM_ERR_OK; HM_ERR_NOT_MINE if t does
 * not start with '/'; HM_ERR_TRUNCATED without that '!' or its line end;
 * HM_ERR_BAD_FORMAT for more than 4 CRC digits, digits that are not
 * upper-case hex (DSMR 5.0.2 6.12), or bytes after the CRC line;
 * HM_ERR_CRC_MISMATCH.  *has_crc (may be NULL) says whether a CRC was there.
 */
enum hm_err hm_p1_check(const char *t, size_t len, bool *has_crc);

/*
 * Checks (hm_p1_check) and parses a telegram into r (cleared first):
 * p1_header, p1_version (1-3:0.2.8 or 0-0:96.1.4), meter_time and
 * meter_time_dst_flag (0-0:1.0.0 YYMMDDhhmmssX), meter_id (0-0:96.1.1,
 * hex-decoded when it is hex-encoded printable text), logical_device_name
 * (0-0:42.0.0, likewise), tariff (0-0:96.14.0), the electricity values by
 * OBIS C.D.E in the field's unit (kW -> W exactly; a value without a unit
 * is in DSMR's unit for it: kW, kvar, kWh, kvarh, V, A), M-Bus channels
 * 0-n:24.2.1 / 24.2.3 (n = 1..4) as mbus_<n>_value / mbus_<n>_unit, and
 * other numeric lines as extras.  A value whose unit does not fit its field
 * is kept as an extra, never relabelled.  Returns HM_ERR_OK or the check's
 * error (r is then left cleared).
 */
enum hm_err hm_p1_parse(const char *t, size_t len, struct hm_reading *r);

#endif
