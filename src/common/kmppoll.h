/*
 * kmppoll.h - one KMP polling round, shared by hanmeterd's kmp source and
 * `hanmeter --kmp`: the register list split into GetRegister requests of at
 * most 8 (the KMP limit), the answer picked out of the byte stream, and the
 * answer checked against its request and stored in a reading.
 *
 * The stream from an optical eye can hold the echo of our own request
 * (80 ... 0D: some heads hear themselves) and line noise before the
 * answer; hm_kmp_rx keeps only what starts with 40 and ends with 0D.
 * No I/O, no allocation, no clocks: the caller writes, reads and times.
 */
#ifndef HM_COMMON_KMPPOLL_H
#define HM_COMMON_KMPPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/kmp.h"
#include "hanmeter/reading.h"

/* The answer being gathered from the stream. */
struct hm_kmp_rx {
	uint8_t buf[HM_KMP_FRAME_MAX]; /* 40 ... 0D */
	size_t len;                    /* bytes in buf */
	bool echo;                     /* inside an 80 ... 0D (our own request heard back) */
	uint64_t skipped;              /* bytes outside any answer (noise, echo) */
};

void hm_kmp_rx_reset(struct hm_kmp_rx *rx);

/* Takes bytes p[0..n) up to the end of the first whole answer.  Returns the
 * bytes consumed; *done is true when rx->buf holds an answer (40 ... 0D, or
 * 40 ... cut at HM_KMP_FRAME_MAX, which hm_kmp_decode then rejects). */
size_t hm_kmp_rx_feed(struct hm_kmp_rx *rx, const uint8_t *p, size_t n, bool *done);

/* Requests in a round for n registers: ceil(n / 8). */
unsigned hm_kmp_poll_requests(size_t n);

/* Request i (0-based) of the round for ids[0..n): its ids are ids[8i ..]. */
enum hm_err hm_kmp_poll_request(const uint16_t *ids, size_t n, unsigned i, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Checks the answer raw[0..len) to request i and stores its registers in
 * r: the fields the reading names (hm_kmp_to_reading), every other register
 * (or one in a unit its field cannot take) as an extra with the pseudo OBIS code 0.0.255.6.<id high>.<id
 * low> (no DLMS unit).  Errors: those of hm_kmp_decode and
 * hm_kmp_parse_registers; HM_ERR_NOT_MINE for a frame from us or with another
 * address or CID; HM_ERR_MALFORMED_APDU for a register not asked for, repeated or
 * out of order (a meter may leave out registers it does not have).  Nothing is stored unless the whole answer is right.
 * *stored gets the registers stored (fields and extras).
 */
enum hm_err hm_kmp_poll_answer(const uint16_t *ids, size_t n, unsigned i, const uint8_t *raw, size_t len,
                               struct hm_reading *r, unsigned *stored);

#endif
