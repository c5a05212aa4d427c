/*
 * mbus.h - wired M-Bus long frames carrying DLMS (EN 13757-2 link layer,
 * DLMS transport as used by the Austrian customer interfaces).
 *
 *   68 L L 68 | C | A | CI | STSAP DTSAP | APDU segment ... | CS | 16
 *
 * L counts C, A, CI and the data (3..255); CS is the 8-bit sum of C up to
 * the byte before CS.  CI 0x00-0x1F is reserved for DLMS (EN 13757-3
 * Table 2): bit 4 marks the last segment, bits 0-3 number the segments
 * 0, 1, 2...  An Austrian push is CI 00 (first of more) then CI 11 (second,
 * last); a message in one frame is CI 10.  Each segment starts with the
 * transport SAPs (2 bytes), which are dropped; the rest is concatenated.
 *
 * The framer is a pure state machine like the HDLC one: the caller owns
 * struct hm_mbus and feeds it whatever read() returned; it calls back once
 * per reassembled message and once per rejected frame.  After a bad frame
 * it rescans from the byte after that frame's first 0x68.
 */
#ifndef HANMETER_MBUS_H
#define HANMETER_MBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"

#define HM_MBUS_START       0x68 /* long frame start (EN 13757-2 5.4) */
#define HM_MBUS_STOP        0x16 /* frame stop */
#define HM_MBUS_HDR_LEN     4    /* 68 L L 68 */
#define HM_MBUS_L_MIN       3    /* C, A, CI */
#define HM_MBUS_TSAP_LEN    2    /* STSAP, DTSAP at the start of each DLMS segment */
#define HM_MBUS_CI_DLMS_MAX 0x1F /* CI 0x00-0x1F: DLMS (EN 13757-3 Table 2) */
#define HM_MBUS_CI_FIN      0x10 /* last segment */
#define HM_MBUS_CI_SEQ      0x0F /* segment number */
/* The longest frame: header, L = 255 bytes, CS and stop. */
#define HM_MBUS_FRAME_MAX (HM_MBUS_HDR_LEN + 255 + 2)

/* One checked long frame; data points into the caller's bytes. */
struct hm_mbus_frame {
	uint8_t c, a, ci;    /* control, address, control information */
	const uint8_t *data; /* bytes after CI (TSAPs included) */
	size_t data_len;     /* bytes at data */
	size_t frame_len;    /* the whole frame, 68 to 16 */
};

/*
 * Checks one long frame at p.  HM_ERR_OK; HM_ERR_NOT_MINE if p does not
 * start with a long-frame header (68 L L 68, L >= 3, both L equal);
 * HM_ERR_TRUNCATED if len < L + 6; HM_ERR_CRC_MISMATCH (checksum);
 * HM_ERR_BAD_FORMAT (no stop byte where L says).  Bytes after the frame are
 * not looked at.
 */
enum hm_err hm_mbus_frame_parse(struct hm_mbus_frame *f, const uint8_t *p, size_t len);

/* One event: a reassembled APDU, or a rejection (err != HM_ERR_OK). */
struct hm_mbus_msg {
	enum hm_err err;     /* HM_ERR_OK, or why the frame/message was dropped */
	const uint8_t *data; /* the APDU (valid during the callback only); NULL on error */
	size_t len;          /* bytes at data */
	unsigned segments;   /* frames it was reassembled from */
	uint8_t a;           /* the M-Bus address of the last frame */
};

typedef void (*hm_mbus_cb)(void *ctx, const struct hm_mbus_msg *m);

struct hm_mbus_stats {
	uint64_t bytes;                /* bytes fed */
	uint64_t frames;               /* good frames */
	uint64_t messages;             /* messages delivered */
	uint64_t garbage_bytes;        /* bytes outside any frame */
	uint64_t errors[HM_ERR_COUNT]; /* rejections, by reason */
};

struct hm_mbus {
	uint8_t buf[HM_MBUS_FRAME_MAX]; /* the current candidate frame */
	size_t len;                     /* bytes held in buf */
	uint8_t msg[HM_MSG_MAX];        /* segment reassembly */
	size_t msg_len;                 /* bytes held in msg */
	unsigned segments;              /* segments held in msg (0: none) */
	struct hm_mbus_stats stats;     /* counters since init */
};

void hm_mbus_init(struct hm_mbus *m);
void hm_mbus_feed(struct hm_mbus *m, const uint8_t *data, size_t len, hm_mbus_cb cb, void *ctx);
/* End of input: a partial frame or message is reported as HM_ERR_TRUNCATED. */
void hm_mbus_flush(struct hm_mbus *m, hm_mbus_cb cb, void *ctx);

/* True while the framer holds part of a frame or segments of a message. */
bool hm_mbus_holding(const struct hm_mbus *m);

#endif
