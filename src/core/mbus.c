/*
 * mbus.c - wired M-Bus long-frame framer and DLMS segment reassembly
 * (EN 13757-2 5.4 frame format; CI 0x00-0x1F DLMS segments, see mbus.h).
 *
 * Bytes go into buf one at a time; a candidate is judged as soon as its
 * header (4 bytes) or its whole length (L + 6) is in.  A bad header or a
 * bad frame drops the candidate's first byte and rescans what is held from
 * the next 0x68, so a broken frame never hides the good one after it.
 */
#include <string.h>

#include "hanmeter/mbus.h"

#define TRAILER_LEN 2 /* CS, 16 */

static bool header_ok(const uint8_t *p)
{
	return p[0] == HM_MBUS_START && p[3] == HM_MBUS_START && p[1] == p[2] && p[1] >= HM_MBUS_L_MIN;
}

enum hm_err hm_mbus_frame_parse(struct hm_mbus_frame *f, const uint8_t *p, size_t len)
{
	memset(f, 0, sizeof *f);
	if (len < HM_MBUS_HDR_LEN)
		return len > 0 && p[0] == HM_MBUS_START ? HM_ERR_TRUNCATED : HM_ERR_NOT_MINE;
	if (!header_ok(p))
		return HM_ERR_NOT_MINE;
	size_t l = p[1], n = HM_MBUS_HDR_LEN + l + TRAILER_LEN;
	if (len < n)
		return HM_ERR_TRUNCATED;
	uint8_t sum = 0;
	for (size_t i = HM_MBUS_HDR_LEN; i < HM_MBUS_HDR_LEN + l; i++)
		sum = (uint8_t)(sum + p[i]);
	if (p[n - 1] != HM_MBUS_STOP)
		return HM_ERR_BAD_FORMAT;
	if (sum != p[n - 2])
		return HM_ERR_CRC_MISMATCH;
	f->c = p[4];
	f->a = p[5];
	f->ci = p[6];
	f->data = p + 7;
	f->data_len = l - HM_MBUS_L_MIN;
	f->frame_len = n;
	return HM_ERR_OK;
}

void hm_mbus_init(struct hm_mbus *m)
{
	memset(m, 0, sizeof *m);
}

static void report(struct hm_mbus *m, enum hm_err err, hm_mbus_cb cb, void *ctx)
{
	struct hm_mbus_msg ev = {.err = err, .segments = m->segments};
	m->stats.errors[err]++;
	cb(ctx, &ev);
}

static void drop_message(struct hm_mbus *m)
{
	m->msg_len = 0;
	m->segments = 0;
}

/* A good frame: add its DLMS segment to the message, deliver it when complete. */
static void segment(struct hm_mbus *m, const struct hm_mbus_frame *f, hm_mbus_cb cb, void *ctx)
{
	if (f->ci > HM_MBUS_CI_DLMS_MAX) {
		report(m, HM_ERR_NOT_MINE, cb, ctx); /* an M-Bus frame, but no DLMS */
		return;
	}
	if (f->data_len < HM_MBUS_TSAP_LEN) {
		report(m, HM_ERR_BAD_FORMAT, cb, ctx);
		return;
	}
	unsigned seq = f->ci & HM_MBUS_CI_SEQ;
	if (seq == 0 && m->segments) {
		report(m, HM_ERR_SEGMENT_ERROR, cb, ctx); /* the last segment never came */
		drop_message(m);
	} else if (seq != (m->segments & HM_MBUS_CI_SEQ)) {
		report(m, HM_ERR_SEGMENT_ERROR, cb, ctx); /* a segment was lost */
		drop_message(m);
		return;
	}
	size_t n = f->data_len - HM_MBUS_TSAP_LEN;
	if (n > sizeof m->msg - m->msg_len) {
		report(m, HM_ERR_OVERSIZE, cb, ctx);
		drop_message(m);
		return;
	}
	memcpy(m->msg + m->msg_len, f->data + HM_MBUS_TSAP_LEN, n);
	m->msg_len += n;
	m->segments++;
	if (f->ci & HM_MBUS_CI_FIN) {
		struct hm_mbus_msg ev = {.data = m->msg, .len = m->msg_len, .segments = m->segments, .a = f->a};
		m->stats.messages++;
		cb(ctx, &ev);
		drop_message(m);
	}
}

/* Drops buf[0..from) and whatever follows up to the next start byte. */
static void resync(struct hm_mbus *m, size_t from)
{
	size_t i = from;
	while (i < m->len && m->buf[i] != HM_MBUS_START)
		i++;
	m->stats.garbage_bytes += i;
	memmove(m->buf, m->buf + i, m->len - i);
	m->len -= i;
}

static void scan(struct hm_mbus *m, hm_mbus_cb cb, void *ctx)
{
	struct hm_mbus_frame f;
	while (m->len >= HM_MBUS_HDR_LEN) {
		if (!header_ok(m->buf)) {
			resync(m, 1);
			continue;
		}
		if (m->len < (size_t)HM_MBUS_HDR_LEN + m->buf[1] + TRAILER_LEN)
			return;
		enum hm_err err = hm_mbus_frame_parse(&f, m->buf, m->len);
		if (err == HM_ERR_OK) {
			m->stats.frames++;
			segment(m, &f, cb, ctx);
			m->len = 0;
			return;
		}
		report(m, err, cb, ctx);
		resync(m, 1);
	}
}

void hm_mbus_feed(struct hm_mbus *m, const uint8_t *data, size_t len, hm_mbus_cb cb, void *ctx)
{
	m->stats.bytes += len;
	for (size_t i = 0; i < len; i++) {
		if (m->len == 0 && data[i] != HM_MBUS_START) {
			m->stats.garbage_bytes++;
			continue;
		}
		m->buf[m->len++] = data[i];
		scan(m, cb, ctx);
	}
}

bool hm_mbus_holding(const struct hm_mbus *m)
{
	return m->len > 0 || m->segments > 0;
}

void hm_mbus_flush(struct hm_mbus *m, hm_mbus_cb cb, void *ctx)
{
	if (m->len > 0 || m->segments > 0)
		report(m, HM_ERR_TRUNCATED, cb, ctx);
	m->len = 0;
	drop_message(m);
}
