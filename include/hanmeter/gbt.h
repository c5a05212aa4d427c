/*
 * gbt.h - DLMS general-block-transfer reassembly (IEC 62056-5-3 9.4.6.13,
 * tag 0xE0), for meters that push a long notification in blocks.
 *
 *   E0                general-block-transfer
 *   <block-control>   bit 7 last block, bit 6 streaming, bits 0-5 window
 *   <block-number 2>  1, 2, 3 ... (big-endian)
 *   <block-ack 2>     acknowledged block (ignored on a push)
 *   <A-XDR length>    then that many bytes of the APDU being carried
 *
 * A layer between the framer and hm_decode(), like the M-Bus segment
 * reassembly: messages go in; a message that is no block passes through
 * unchanged, blocks are gathered and the whole APDU comes out with the last
 * one.  Pure: the caller owns struct hm_gbt, no allocation.
 */
#ifndef HANMETER_GBT_H
#define HANMETER_GBT_H

#include <stddef.h>
#include <stdint.h>

#include "hanmeter/error.h"
#include "hanmeter/limits.h"

#define HM_GBT_TAG        0xE0 /* general-block-transfer (IEC 62056-5-3 Table 1) */
#define HM_GBT_LAST_BLOCK 0x80 /* block-control: this is the last block */
#define HM_GBT_HDR_LEN    6    /* tag, block-control, block-number, block-number-ack */

/* Called with a whole message (err == HM_ERR_OK) or a rejection. */
typedef void (*hm_gbt_cb)(void *ctx, enum hm_err err, const uint8_t *msg, size_t len);

struct hm_gbt {
	uint8_t buf[HM_MSG_MAX];       /* blocks gathered so far */
	size_t len;                    /* bytes held in buf */
	uint16_t next;                 /* the block number expected next (0: none held) */
	uint64_t errors[HM_ERR_COUNT]; /* rejections, by reason */
};

void hm_gbt_init(struct hm_gbt *g);

/* One message (an HDLC info field with or without LLC, or a bare APDU). */
void hm_gbt_feed(struct hm_gbt *g, const uint8_t *msg, size_t len, hm_gbt_cb cb, void *ctx);

#endif
