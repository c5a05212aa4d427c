/*
 * hdlc.h - the HDLC framer: arbitrary byte chunks in, whole checked frames out.
 *
 * IEC 62056-46 frame format type 3 as HAN meters send it:
 *
 *   7E | A0LL format | dst addr 1-4 | src addr 1-4 | control | HCS | info... | FCS | 7E
 *
 * The format field is 0xA000 | segmentation bit 0x0800 | 11-bit length; the
 * length counts every byte between the flags.  Address fields are 1, 2 or 4
 * bytes, each ending with the byte whose low bit is 1.  HCS (over format..
 * control) and FCS (over format..info) are CRC-16/X.25, least significant
 * byte first.  HAN meters do not byte-stuff: 0x7E and 0x7D occur inside
 * frames, so the length field, not the next flag, decides where a frame ends.
 *
 * The framer is a pure state machine (no I/O, no allocation, no clock): the
 * caller owns struct hm_hdlc and feeds it whatever read() returned.  For every
 * complete message (segments reassembled) and every rejected candidate it
 * calls the callback once.  A frame is taken as soon as its FCS checks; the
 * closing flag is not waited for ("7E 7E" is a closing and an opening flag,
 * one shared 7E is both).  A candidate is a 7E followed by a plausible header:
 * format byte 0xA0..0xAF, address fields of 1, 2 or 4 bytes, and a length
 * with room for header, HCS and FCS; anything else is not a frame start.
 *
 * After a bad candidate it rescans from the byte after that candidate's
 * opening flag, so one broken frame never hides the next good one.  A
 * rejected candidate is reported when the framer knows why: when the next
 * good header (one whose HCS checks) is found, when the scan passes the
 * position where the length field puts its closing flag, or at
 * hm_hdlc_flush().  Then
 *   - if the bytes up to the next flag disagree with the length field (a good
 *     header starts before the declared end, or the declared end is no 7E):
 *     HM_ERR_LENGTH_MISMATCH (a truncated frame or a lying length);
 *   - else if the HCS is wrong: HM_ERR_HCS_MISMATCH;
 *   - else: HM_ERR_FCS_MISMATCH.
 * A candidate cut off by the end of input (flush) with no later flag is
 * HM_ERR_TRUNCATED (with a later flag: HM_ERR_LENGTH_MISMATCH).  Candidates
 * whose header fails its HCS inside a rejected candidate's extent are part of
 * that one broken stretch and are not reported again.
 *
 * Segmented messages (IEC 62056-46 segmentation bit set on all but the last
 * frame): the information fields are concatenated in order into msg and one
 * message is reported with segments = the number of frames.  Only the first
 * segment carries the LLC header (E6 E7 00, or E6 E6 00), which is how a
 * start is told from a continuation.  A broken sequence is reported as
 * HM_ERR_SEGMENT_ERROR (continuation without a start, a new start before the
 * last segment, a rejected candidate in the middle) or HM_ERR_OVERSIZE (over
 * HM_MSG_MAX), and the rest of that message is dropped: never a wrong
 * message.  A message must begin with the LLC header: a good frame without
 * one and with no message in progress is HM_ERR_BAD_FORMAT (the last
 * segment of a message whose start was missed, or junk whose 16-bit FCS
 * checked by chance), so every message starts E6 E7 00 (or E6 E6 00).
 *
 * Every byte fed is counted once, when the scan passes it, in exactly one of
 * stats.frame_bytes, flag_bytes, rejected_bytes or garbage_bytes; after
 * hm_hdlc_flush() they add up to stats.bytes.
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
	enum hm_err err;       /* HM_ERR_OK or why the candidate was rejected */
	const uint8_t *raw;    /* the last frame as received: opening flag to FCS (a rejected
				candidate: to its declared closing flag, or to where it was cut) */
	size_t raw_len;        /* bytes at raw (raw is NULL for a message cut off by flush) */
	const uint8_t *info;   /* reassembled information field (LLC E6 E7 00 + APDU); NULL on error */
	size_t info_len;       /* bytes at info */
	uint16_t format;       /* format field, e.g. 0xA07B */
	uint16_t declared_len; /* 11-bit length from the format field */
	uint32_t dst, src;     /* addresses, as the raw bytes big-endian */
	uint8_t control;       /* control byte */
	bool hcs_ok, fcs_ok;   /* the verdicts, also for rejected candidates */
	unsigned segments;     /* frames this message was reassembled from (1 = unsegmented) */
};

typedef void (*hm_hdlc_cb)(void *ctx, const struct hm_frame *f);

struct hm_hdlc_stats {
	uint64_t bytes;                /* bytes fed */
	uint64_t frames;               /* good frames (segments count one each) */
	uint64_t messages;             /* good reassembled messages delivered */
	uint64_t garbage_bytes;        /* bytes skipped outside any candidate (not 7E) */
	uint64_t errors[HM_ERR_COUNT]; /* rejected candidates and broken messages, by reason */
	uint64_t frame_bytes;          /* bytes of good frames, opening flag to FCS */
	uint64_t flag_bytes;           /* 7E outside frames: closing flags, idle fill, non-starts */
	uint64_t rejected_bytes;       /* bytes passed while a rejected candidate was open */
};

/* Framer state.  Opaque in spirit: use the functions, read only .stats. */
struct hm_hdlc {
	/* buf holds the bytes not yet consumed: an open candidate (<= 2049 bytes)
	 * or a rejected one still to be classified, and what follows it. */
	uint8_t buf[2 * HM_HDLC_FRAME_MAX];
	size_t len;                 /* bytes held in buf */
	size_t pos;                 /* scan position in buf: bytes before it are counted */
	uint8_t msg[HM_MSG_MAX];    /* segment reassembly */
	size_t msg_len;             /* bytes held in msg */
	unsigned msg_segments;      /* segments held in msg */
	int msg_state;              /* internal: idle, collecting, skipping */
	bool have_pending;          /* a rejected candidate not yet reported */
	size_t pending_start;       /* its opening flag in buf */
	size_t pending_end;         /* where its length puts the closing flag in buf */
	struct hm_frame pending;    /* its header fields and verdicts */
	bool eof;                   /* internal: hm_hdlc_flush() is draining */
	struct hm_hdlc_stats stats; /* counters since init */
};

void hm_hdlc_init(struct hm_hdlc *h);

/* Feed bytes; calls cb(ctx, frame) for each message or rejection found.
 * The pointers in *frame are valid only during the call; cb must not feed
 * the same framer. */
void hm_hdlc_feed(struct hm_hdlc *h, const uint8_t *data, size_t len, hm_hdlc_cb cb, void *ctx);

/* End of input (end of file, source closed): report what is held as
 * truncated/length_mismatch and reset the candidate state (stats are kept). */
void hm_hdlc_flush(struct hm_hdlc *h, hm_hdlc_cb cb, void *ctx);

/* True while the framer holds part of a frame or of a segmented message,
 * or a rejected candidate not yet reported (a lone 7E held is a closing
 * flag, not a frame): bytes just fed may lie inside a frame of its own. */
bool hm_hdlc_holding(const struct hm_hdlc *h);

#endif
