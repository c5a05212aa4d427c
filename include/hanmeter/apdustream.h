/*
 * apdustream.h - bare general-glo-ciphering APDUs back to back, with no
 * link layer around them: what Luxembourg's Smarty meters (Sagemcom
 * T210-D) send on their P1 port at 115200 8N1, one every 10 s.
 *
 *   DB 08 <system title 8> <A-XDR length> <SC> <FC 4> <ciphertext> <tag 12>
 *
 * (layout: cipher.h; the plaintext is a DSMR P1 telegram.)  There is no
 * flag, no checksum and no length outside the APDU: the only proof that a
 * "DB 08" starts a message is the GCM tag, which the decoder checks.  So
 * the caller judges each whole candidate and returns its verdict; a refused
 * candidate gives up its first byte only and the bytes after it are scanned
 * again, so a "DB 08" in line noise never swallows the real APDU behind it.
 *
 * A pure state machine like mbus.h: the caller owns struct hm_apdustream,
 * feeds it whatever read() returned, and gets one callback per candidate
 * and per rejection.  Every byte fed is counted once: in frame_bytes
 * (accepted APDUs), garbage_bytes (skipped while looking for DB 08) or
 * rejected_bytes (the first byte of each refused candidate), or it is still
 * held (len).
 */
#ifndef HANMETER_APDUSTREAM_H
#define HANMETER_APDUSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"

/* One event: a whole candidate APDU to judge, or a rejection (err != OK). */
struct hm_apdustream_msg {
	enum hm_err err;     /* HM_ERR_OK, or why a candidate was dropped by the framer */
	const uint8_t *data; /* the APDU, DB to the tag (valid during the callback only); NULL on error */
	size_t len;          /* bytes at data */
};

/*
 * Called with each whole candidate (err == HM_ERR_OK): return HM_ERR_OK if
 * it is a message (it decoded), else why not, which is counted in
 * stats.errors and makes the framer rescan from the byte after its DB.
 * Called with err != HM_ERR_OK for a candidate the framer itself dropped
 * (HM_ERR_MALFORMED_APDU, HM_ERR_OVERSIZE, HM_ERR_TRUNCATED at flush);
 * the return value is then ignored.
 */
typedef enum hm_err (*hm_apdustream_cb)(void *ctx, const struct hm_apdustream_msg *m);

struct hm_apdustream_stats {
	uint64_t bytes;                /* bytes fed */
	uint64_t messages;             /* candidates the callback accepted */
	uint64_t frame_bytes;          /* bytes of accepted APDUs */
	uint64_t garbage_bytes;        /* bytes that started no candidate */
	uint64_t rejected_bytes;       /* first bytes of dropped or refused candidates */
	uint64_t errors[HM_ERR_COUNT]; /* dropped or refused candidates, by reason */
};

struct hm_apdustream {
	uint8_t buf[HM_MSG_MAX];          /* the current candidate, and what came after it */
	size_t len;                       /* bytes held in buf */
	size_t need;                      /* the candidate's whole length once its header is in, else 0 */
	struct hm_apdustream_stats stats; /* counters since init */
};

void hm_apdustream_init(struct hm_apdustream *s);
void hm_apdustream_feed(struct hm_apdustream *s, const uint8_t *data, size_t len, hm_apdustream_cb cb, void *ctx);
/* End of input: a candidate cut off is reported as HM_ERR_TRUNCATED, and
 * what followed its DB is scanned again (a whole APDU there is delivered). */
void hm_apdustream_flush(struct hm_apdustream *s, hm_apdustream_cb cb, void *ctx);

#endif
