/*
 * gbt.c - general-block-transfer reassembly (IEC 62056-5-3 9.4.6.13; the
 * block layout is in gbt.h).  Blocks must come numbered 1, 2, 3 ...; a
 * block 1 while blocks are held means the last one was lost (counted as a
 * segment error, then the new message starts).  Block data lengths use the
 * A-XDR form and must fill the block exactly.
 */
#include <string.h>

#include "hanmeter/gbt.h"

static const uint8_t llc[3] = {0xE6, 0xE7, 0x00}; /* IEC 62056-46 LLC header */

void hm_gbt_init(struct hm_gbt *g)
{
	memset(g, 0, sizeof *g);
}

static void reject(struct hm_gbt *g, enum hm_err err, hm_gbt_cb cb, void *ctx)
{
	g->errors[err]++;
	g->len = 0;
	g->next = 0;
	cb(ctx, err, NULL, 0);
}

void hm_gbt_feed(struct hm_gbt *g, const uint8_t *msg, size_t len, hm_gbt_cb cb, void *ctx)
{
	const uint8_t *p = msg;
	size_t n = len;
	if (n >= sizeof llc && memcmp(p, llc, sizeof llc) == 0) {
		p += sizeof llc;
		n -= sizeof llc;
	}
	if (n == 0 || p[0] != HM_GBT_TAG) {
		cb(ctx, HM_ERR_OK, msg, len); /* not a block: on to the decoder */
		return;
	}
	if (n < HM_GBT_HDR_LEN + 1) {
		reject(g, HM_ERR_TRUNCATED, cb, ctx);
		return;
	}
	uint8_t control = p[1];
	uint16_t number = (uint16_t)(p[2] << 8 | p[3]);
	size_t pos = HM_GBT_HDR_LEN, dl = p[pos++];
	if (dl & 0x80) { /* A-XDR length: 0x81 n, 0x82 n n */
		size_t nb = dl & 0x7F;
		if (nb == 0 || nb > 2 || n < pos + nb) {
			reject(g, nb == 0 || nb > 2 ? HM_ERR_MALFORMED_APDU : HM_ERR_TRUNCATED, cb, ctx);
			return;
		}
		for (dl = 0; nb--;)
			dl = dl << 8 | p[pos++];
	}
	if (n - pos != dl) {
		reject(g, n - pos < dl ? HM_ERR_TRUNCATED : HM_ERR_MALFORMED_APDU, cb, ctx);
		return;
	}
	if (number == 1 && g->next) {
		reject(g, HM_ERR_SEGMENT_ERROR, cb, ctx); /* the last block never came */
	} else if (number != (g->next ? g->next : 1)) {
		reject(g, HM_ERR_SEGMENT_ERROR, cb, ctx); /* a block was lost */
		return;
	}
	if (dl > sizeof g->buf - g->len) {
		reject(g, HM_ERR_OVERSIZE, cb, ctx);
		return;
	}
	memcpy(g->buf + g->len, p + pos, dl);
	g->len += dl;
	g->next = (uint16_t)(number + 1);
	if (control & HM_GBT_LAST_BLOCK) {
		size_t whole = g->len;
		g->len = 0;
		g->next = 0;
		cb(ctx, HM_ERR_OK, g->buf, whole); /* buf stays intact until the next feed */
	}
}
