/*
 * kmp.h - the Kamstrup Meter Protocol (KMP) as MULTICAL heat meters speak it
 * over the optical head: frame codec, requests, register responses.
 *
 * Physical frame:  <start> <stuffed body> 0D
 *   start   80 to the meter, 40 from the meter (06 is a bare acknowledge)
 *   body    destination address, CID, data, CRC (2, big-endian)
 *   stuffing: 06 0D 1B 40 80 inside the body are sent as 1B, byte ^ FF
 * CRC-16/XMODEM over address, CID and data; over the CRC too it gives 0.
 *
 * GetRegister (CID 10): request data = count (1..8) + register ids (2 each,
 * big-endian); response data = per register: id (2), unit code (1), mantissa
 * length n (1), sign/exponent byte (bit 7 mantissa negative, bit 6 exponent
 * negative, bits 0-5 exponent), mantissa (n bytes, big-endian).  Value =
 * +-mantissa * 10^(+-exponent), kept exact as struct hm_num.
 * GetType (CID 01) and GetSerialNo (CID 02) requests carry no data; the
 * serial number response carries 4 bytes, big-endian.
 *
 * Pure: no I/O, no allocation.  The caller owns every buffer.
 */
#ifndef HANMETER_KMP_H
#define HANMETER_KMP_H

#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/reading.h"

#define HM_KMP_START_TO_METER   0x80 /* request start byte */
#define HM_KMP_START_FROM_METER 0x40 /* response start byte */
#define HM_KMP_STOP             0x0D /* frame end */
#define HM_KMP_ACK              0x06 /* acknowledge (a frame of its own) */
#define HM_KMP_ESC              0x1B /* stuffing prefix */
#define HM_KMP_ADDR_HEAT_METER  0x3F /* destination address of the heat meter */
#define HM_KMP_CID_GET_TYPE     0x01
#define HM_KMP_CID_GET_SERIAL   0x02
#define HM_KMP_CID_GET_REGISTER 0x10
#define HM_KMP_REGS_MAX         8 /* registers per GetRegister request (KMP limit) */

/* The largest unstuffed body we take: address, CID, 8 registers of at most
 * 5 + 8 bytes, CRC: 2 + 8 * 13 + 2 = 108; round up. */
#define HM_KMP_BODY_MAX 128
/* A physical frame: start, every body byte stuffed (x2), stop. */
#define HM_KMP_FRAME_MAX (1 + 2 * HM_KMP_BODY_MAX + 1)

/* A decoded frame; data points into the caller's body buffer. */
struct hm_kmp_frame {
	uint8_t start;       /* 80 or 40 */
	uint8_t addr;        /* destination address */
	uint8_t cid;         /* command id */
	const uint8_t *data; /* command data (CRC excluded) */
	size_t data_len;     /* bytes at data */
};

/* One register of a GetRegister response. */
struct hm_kmp_register {
	uint16_t id;         /* register id, e.g. 0x003C heat energy E1 */
	uint8_t unit;        /* KMP unit code, e.g. 0x03 MWh */
	struct hm_num value; /* exact value */
};

/*
 * Decodes the physical frame p[0..len) (start through stop) into body
 * (cap bytes) and f.  HM_ERR_NOT_MINE if p does not start with 80 or 40;
 * HM_ERR_TRUNCATED without the stop byte; HM_ERR_BAD_FORMAT for a stray
 * or wrong escape, bytes after the stop, or a body shorter than address +
 * CID + CRC; HM_ERR_OVERSIZE if the body exceeds cap; HM_ERR_CRC_MISMATCH.
 */
enum hm_err hm_kmp_decode(const uint8_t *p, size_t len, uint8_t *body, size_t cap, struct hm_kmp_frame *f);

/* Encodes a frame (CRC appended, body stuffed) into out.  HM_ERR_OK with
 * *out_len set, or HM_ERR_OVERSIZE if cap (or HM_KMP_BODY_MAX) is short. */
enum hm_err hm_kmp_encode(uint8_t start, uint8_t addr, uint8_t cid, const uint8_t *data, size_t n, uint8_t *out,
                          size_t cap, size_t *out_len);

/* A GetRegister request for n (1..8) registers; HM_ERR_BAD_FORMAT for n out
 * of range, else as hm_kmp_encode. */
enum hm_err hm_kmp_request_registers(uint8_t addr, const uint16_t *ids, size_t n, uint8_t *out, size_t cap,
                                     size_t *out_len);

/* A request without data: GetType (CID 01), GetSerialNo (CID 02). */
enum hm_err hm_kmp_request(uint8_t addr, uint8_t cid, uint8_t *out, size_t cap, size_t *out_len);

/* Parses a GetRegister response (f->cid must be 10).  Fills up to max
 * registers and *n.  HM_ERR_NOT_MINE for another CID; HM_ERR_MALFORMED_APDU
 * for a register cut short, a mantissa over 8 bytes or beyond int64, or more
 * than max registers. */
enum hm_err hm_kmp_parse_registers(const struct hm_kmp_frame *f, struct hm_kmp_register *regs, size_t max, size_t *n);

/* Parses a GetSerialNo response (CID 02, 4 data bytes). */
enum hm_err hm_kmp_parse_serial(const struct hm_kmp_frame *f, uint32_t *serial);

/* The name of a KMP unit code ("MWh", "°C", "m³"), or NULL if unknown. */
const char *hm_kmp_unit_name(uint8_t unit);

/*
 * Stores the registers the reading has fields for (heat energy E1, power,
 * flow and return temperatures, their difference, flow, volume V1, the
 * month's min and max flow) in r, converted exactly to the field's unit
 * where the meter uses a decimal multiple of it (kWh -> MWh); a register
 * whose unit does not fit its field is not stored.  Returns how many were
 * stored.  Does not clear r (a reading can gather several responses).
 */
unsigned hm_kmp_to_reading(const struct hm_kmp_register *regs, size_t n, struct hm_reading *r);

#endif
