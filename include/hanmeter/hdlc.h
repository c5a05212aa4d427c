/*
 * hdlc.h - the HDLC framer: arbitrary byte chunks in, whole checked frames out.
 *
 * IEC 62056-46 frame format type 3 as HAN meters send it:
 *
 *   7E | A0LL format | dst addr 1-4 | src addr 1-4 | control | HCS | info... | FCS | 7E
 *
 * The format field is 0xA000 | segmentation bit 0x0800 | 11-bit length; the
 * length counts every byte between the flags.  Address bytes end with the
 * byte whose low bit is 1.  HCS and FCS are CRC-16/X.25, least significant
 * byte first.  HAN meters do not byte-stuff: 0x7E and 0x7D occur inside
 * frames, so the length field, not the next flag, decides where a frame ends.
 *
 * The framer is a pure state machine (no I/O, no allocation, no clock): the
 * caller owns struct hm_hdlc and feeds it whatever read() returned.  For every
 * complete message (segments reassembled) and every rejected candidate it
 * calls the callback once.  After a bad candidate it rescans from the byte
 * after that candidate's opening flag, so one broken frame never hides the
 * next good one.  A rejected candidate is reported when the framer knows
 * why: when the next good header is found, or at hm_hdlc_flush().  Then
 *   - if the bytes up to the next flag disagree with the length field:
 *     HM_ERR_LENGTH_MISMATCH (a truncated frame or a lying length);
 *   - else if the HCS is wrong: HM_ERR_HCS_MISMATCH;
 *   - else: HM_ERR_FCS_MISMATCH.
 * A candidate cut off by the end of input (flush) with no later flag is
 * HM_ERR_TRUNCATED.  Bytes outside any candidate are counted as garbage.
 */
#ifndef HANMETER_HDLC_H
#define HANMETER_HDLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"

#define HM_HDLC_FLAG 0x7E

/* One event: a good message, or a rejected candidate (err != HM_ERR_OK). */
struct hm_frame {
	enum hm_err err;     /* HM_ERR_OK or why the candidate was rejected */
	const uint8_t *raw;  /* the last frame as received, flags included */
	size_t raw_len;      /* bytes at raw */
	const uint8_t *info; /* reassembled information field (LLC E6 E7 00 + APDU); NULL on error */
	size_t info_len;     /* bytes at info */
	uint16_t format;     /* format field, e.g. 0xA07B */
	uint16_t declared_len; /* 11-bit length from the format field */
	uint32_t dst, src;   /* addresses, as the raw bytes big-endian */
	uint8_t control;     /* control byte */
	bool hcs_ok, fcs_ok; /* the verdicts, also for rejected candidates */
	unsigned segments;   /* frames this message was reassembled from (1 = unsegmented) */
};

typedef void (*hm_hdlc_cb)(void *ctx, const struct hm_frame *f);

struct hm_hdlc_stats {
	uint64_t bytes;         /* bytes fed */
	uint64_t frames;        /* good frames (segments count one each) */
	uint64_t messages;      /* good reassembled messages delivered */
	uint64_t garbage_bytes; /* bytes skipped outside any candidate */
	uint64_t errors[HM_ERR_COUNT]; /* rejected candidates, by reason */
};

/* Framer state.  Opaque in spirit: use the functions, read only .stats. */
struct hm_hdlc {
	uint8_t buf[2 * HM_HDLC_FRAME_MAX]; /* bytes of the current candidate and what follows it */
	size_t len;                          /* bytes held in buf */
	uint8_t msg[HM_MSG_MAX];             /* segment reassembly */
	size_t msg_len;                      /* bytes held in msg */
	unsigned msg_segments;               /* segments held in msg */
	int state;                           /* internal */
	struct hm_frame pending;             /* a rejected candidate not yet reported */
	bool have_pending;                   /* pending is valid */
	size_t pending_start;                /* internal */
	struct hm_hdlc_stats stats;          /* counters since init */
};

void hm_hdlc_init(struct hm_hdlc *h);

/* Feed bytes; calls cb(ctx, frame) for each message or rejection found. */
void hm_hdlc_feed(struct hm_hdlc *h, const uint8_t *data, size_t len, hm_hdlc_cb cb, void *ctx);

/* End of input (end of file, source closed): report what is held as
 * truncated/length_mismatch and reset the candidate state (stats are kept). */
void hm_hdlc_flush(struct hm_hdlc *h, hm_hdlc_cb cb, void *ctx);

#endif
