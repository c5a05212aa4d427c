/*
 * hdlc.c - the HDLC framer of include/hanmeter/hdlc.h (IEC 62056-46 frame
 * format type 3, as pushed by HAN meters: no byte stuffing, the length field
 * decides where a frame ends).
 *
 * The scan walks buf with one position that only ever moves forward.  At a
 * 7E it looks for a header; a header whose HCS checks opens a candidate,
 * which is taken the moment its L bytes are in and its FCS checks, and then
 * the scan jumps past it.  A candidate that fails (HCS or FCS) becomes the
 * one "pending" rejection and the scan goes on at the next byte, so a good
 * frame inside or right after the broken one is still found.  The pending
 * rejection is classified and reported when the evidence is in: a good
 * header, the scan passing its declared end, or the end of input.
 *
 * Cost: every byte is passed once by the scan; the CRCs run once per header
 * and once per candidate whose header checks.  Hostile input can make every
 * position such a candidate, which bounds the work by bytes * 2048, never
 * more: the buffer never holds more than one open candidate.
 */
#include <string.h>

#include "hanmeter/crc.h"
#include "hanmeter/hdlc.h"

/* IEC 62056-46 frame format type 3: the high nibble 0xA of the format field;
 * bit 0x08 of its first byte is the segmentation bit; the low three bits are
 * the top of the 11-bit frame length. */
#define FORMAT_TYPE_MASK 0xF0
#define FORMAT_TYPE_3    0xA0
#define FORMAT_SEGMENTED 0x08
#define FORMAT_LEN_HIGH  0x07

/* IEC 62056-46 address fields: low bit 1 marks the last byte of the field;
 * a field has 1, 2 or 4 bytes. */
#define ADDR_LAST_BIT 0x01
#define ADDR_MAX      4

/* The LLC header of DLMS over HDLC (IEC 62056-46, DLMS Green Book):
 * destination LSAP 0xE6, source LSAP 0xE7 (response) or 0xE6 (command),
 * quality 0x00.  Only the first segment of a message has it. */
#define LLC_DST     0xE6
#define LLC_SRC_RSP 0xE7
#define LLC_SRC_CMD 0xE6
#define LLC_QUALITY 0x00
#define LLC_LEN     3

/* Longest a frame can declare: 11 bits of length.  Shortest: format(2),
 * one-byte addresses, control, HCS, FCS. */
#define FRAME_LEN_MAX 2047
#define MIN_FRAME_LEN (2 + 1 + 1 + 1 + 2 + 2)

/* One frame's information field always fits the reassembly buffer. */
_Static_assert(FRAME_LEN_MAX < HM_MSG_MAX, "HM_MSG_MAX below one frame");

enum msg_state {
	MSG_IDLE,       /* no message in progress */
	MSG_COLLECTING, /* segments of a message are held in msg */
	MSG_SKIPPING,   /* dropping the rest of a broken message up to its last segment */
};

/* What try_header() found at a 7E. */
enum hdr_verdict {
	HDR_NEED_MORE, /* not enough bytes yet to tell */
	HDR_NONE,      /* not a frame start: the 7E is just a flag */
	HDR_BAD,       /* a plausible header whose HCS fails */
	HDR_GOOD,      /* a header whose HCS checks */
};

struct header {
	struct hm_frame f; /* format, declared_len, dst, src, control, hcs_ok */
	size_t hdr_len;    /* format..control */
	bool len_known;    /* the length field has been read */
	uint16_t crc;      /* running CRC-16/X.25 over format..control (HDR_GOOD, HDR_BAD) */
};

void hm_hdlc_init(struct hm_hdlc *h)
{
	memset(h, 0, sizeof *h);
	h->msg_state = MSG_IDLE;
}

static void emit(const struct hm_frame *f, hm_hdlc_cb cb, void *ctx)
{
	if (cb)
		cb(ctx, f);
}

static void count_error(struct hm_hdlc *h, struct hm_frame *f, enum hm_err err, hm_hdlc_cb cb, void *ctx)
{
	f->err = err;
	f->info = NULL;
	f->info_len = 0;
	h->stats.errors[err]++;
	emit(f, cb, ctx);
}

/* What addr_field() says when the bytes end inside the field. */
#define ADDR_CUT ((size_t)-1)

/* The address field at p (room bytes in hand): its length (1, 2 or 4) with
 * its value in *addr, 0 if it is none (no terminating byte within 4, or 3
 * bytes), or ADDR_CUT.  Unrolled: the one- and two-byte forms are what
 * meters send, and this runs at every 7E. */
static inline size_t addr_field(const uint8_t *p, size_t room, uint32_t *addr)
{
	if (room < 1)
		return ADDR_CUT;
	if (p[0] & ADDR_LAST_BIT) {
		*addr = p[0];
		return 1;
	}
	if (room < 2)
		return ADDR_CUT;
	if (p[1] & ADDR_LAST_BIT) {
		*addr = (uint32_t)p[0] << 8 | p[1];
		return 2;
	}
	if (room < 3)
		return ADDR_CUT;
	if (p[2] & ADDR_LAST_BIT)
		return 0; /* 1, 2 or 4 bytes only */
	if (room < 4)
		return ADDR_CUT;
	if (!(p[3] & ADDR_LAST_BIT))
		return 0; /* no terminating byte within ADDR_MAX */
	*addr = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return ADDR_MAX;
}

/* Reads the header of a candidate whose 7E is at[0], with held bytes from
 * there on in hand.  With eof set, a header that is plausible as far as it goes but
 * cut off is reported HDR_BAD with len_known telling whether its length
 * field was in. */
static inline enum hdr_verdict try_header(const uint8_t *at, size_t held, bool eof, struct header *hd)
{
	const uint8_t *b = at + 1; /* format field */
	size_t avail = held - 1, i;

	memset(hd, 0, sizeof *hd);
	if (avail < 1)
		return eof ? HDR_NONE : HDR_NEED_MORE; /* a trailing 7E is a closing flag */
	if ((b[0] & FORMAT_TYPE_MASK) != FORMAT_TYPE_3)
		return HDR_NONE;
	if (avail < 2)
		goto cut;
	hd->f.format = (uint16_t)(b[0] << 8 | b[1]);
	hd->f.declared_len = (uint16_t)((b[0] & FORMAT_LEN_HIGH) << 8 | b[1]);
	hd->len_known = true;
	if (hd->f.declared_len < MIN_FRAME_LEN)
		return HDR_NONE;

	i = 2;
	for (int field = 0; field < 2; field++) {
		uint32_t addr;
		size_t n = addr_field(b + i, avail - i, &addr);
		if (n == ADDR_CUT)
			goto cut;
		if (n == 0)
			return HDR_NONE;
		i += n;
		if (field == 0)
			hd->f.dst = addr;
		else
			hd->f.src = addr;
	}
	if (i >= avail)
		goto cut;
	hd->f.control = b[i++];
	hd->hdr_len = i;
	/* Room for header, HCS and FCS (the information field may be empty). */
	if (hd->f.declared_len < hd->hdr_len + 4)
		return HDR_NONE;
	if (avail < i + 2)
		goto cut;
	/* The HCS is the CRC over format..control, which is also the FCS's
	 * running value at that point: kept, so that the FCS pass goes on from
	 * it instead of starting over (fcs_checks()). */
	uint16_t hcs = (uint16_t)(b[i] | b[i + 1] << 8);
	hd->crc = hm_crc16_x25_short(HM_CRC16_X25_INIT, b, hd->hdr_len);
	hd->f.hcs_ok = hm_crc16_x25_final(hd->crc) == hcs;
	return hd->f.hcs_ok ? HDR_GOOD : HDR_BAD;
cut:
	return eof ? HDR_BAD : HDR_NEED_MORE;
}

/* True if the FCS of the whole candidate at[0] == 7E checks (its
 * declared_len + 1 bytes are in hand).  One pass on from the HCS's CRC over
 * HCS, information field and FCS: with a right FCS (sent LSB first) the
 * register ends at the "good FCS" residue, whatever the frame (ISO/IEC 13239
 * annex A; RFC 1662's PPPGOODFCS16), so the FCS needs no separate compare. */
#define X25_GOOD_RESIDUE 0xF0B8
static bool fcs_checks(const uint8_t *at, const struct header *hd)
{
	const uint8_t *b = at + 1 + hd->hdr_len;
	return hm_crc16_x25_update(hd->crc, b, hd->f.declared_len - hd->hdr_len) == X25_GOOD_RESIDUE;
}

/* Opens the pending rejection for the candidate at buf[at]. */
static void set_pending(struct hm_hdlc *h, size_t at, const struct header *hd)
{
	h->have_pending = true;
	h->pending_start = at;
	/* Where the closing flag belongs; an unread length puts it past any
	 * frame, so only a good header or the end of input can settle it. */
	h->pending_end = at + 1 + (hd->len_known ? hd->f.declared_len : FRAME_LEN_MAX + 1);
	h->pending = hd->f;
}

/* Drops a message being collected (a segment was lost or a new one began):
 * reported once, and the rest of it is skipped. */
static void abort_message(struct hm_hdlc *h, struct hm_frame *f, enum hm_err err, hm_hdlc_cb cb, void *ctx)
{
	if (h->msg_state != MSG_COLLECTING)
		return;
	struct hm_frame e = *f;
	e.segments = h->msg_segments;
	count_error(h, &e, err, cb, ctx);
	h->msg_len = 0;
	h->msg_segments = 0;
	h->msg_state = MSG_SKIPPING;
}

/*
 * Reports the pending rejection.  end is where its extent stops in buf (the
 * next good header, one past the declared closing flag, or the end of input);
 * closing says a 7E sits at the declared end with no good header before it;
 * cut says the input ended before the declared end.
 */
static void report_pending(struct hm_hdlc *h, size_t end, bool closing, bool cut, hm_hdlc_cb cb, void *ctx)
{
	struct hm_frame f = h->pending;
	size_t s = h->pending_start;
	enum hm_err err;

	h->have_pending = false;
	f.raw = h->buf + s;
	f.raw_len = end - s;
	f.segments = 0;
	if (cut) {
		err = memchr(h->buf + s + 1, HM_HDLC_FLAG, h->len - s - 1) ? HM_ERR_LENGTH_MISMATCH : HM_ERR_TRUNCATED;
	} else if (!closing) {
		err = HM_ERR_LENGTH_MISMATCH;
	} else {
		/* The frame is all there: give the FCS verdict too. */
		size_t l = f.declared_len;
		const uint8_t *b = h->buf + s + 1;
		f.fcs_ok = hm_crc16_x25(b, l - 2) == (uint16_t)(b[l - 2] | b[l - 1] << 8);
		err = f.hcs_ok ? HM_ERR_FCS_MISMATCH : HM_ERR_HCS_MISMATCH;
	}
	count_error(h, &f, err, cb, ctx);
	abort_message(h, &f, HM_ERR_SEGMENT_ERROR, cb, ctx);
}

static bool has_llc(const uint8_t *p, size_t n)
{
	return n >= LLC_LEN && p[0] == LLC_DST && (p[1] == LLC_SRC_RSP || p[1] == LLC_SRC_CMD) && p[2] == LLC_QUALITY;
}

/* deliver()'s common case, small enough to inline where frames arrive
 * whole: an unsegmented frame that starts a message (LLC header), with no
 * message being collected.  Reports it and returns true, or returns false
 * having touched nothing. */
static inline bool deliver_whole(struct hm_hdlc *h, const uint8_t *at, struct header *hd, hm_hdlc_cb cb, void *ctx)
{
	struct hm_frame *f = &hd->f;
	const uint8_t *info = at + 1 + hd->hdr_len + 2;
	size_t info_len = f->declared_len - hd->hdr_len - 4;

	if (((f->format >> 8) & FORMAT_SEGMENTED) || h->msg_state == MSG_COLLECTING || !has_llc(info, info_len))
		return false;
	h->stats.frames++;
	h->stats.messages++;
	h->msg_state = MSG_IDLE; /* also ends skipping the rest of a broken message */
	f->err = HM_ERR_OK;
	f->fcs_ok = true;
	f->raw = at;
	f->raw_len = (size_t)f->declared_len + 1;
	f->info = info;
	f->info_len = info_len;
	f->segments = 1;
	emit(f, cb, ctx);
	return true;
}

/* A good frame at at[0] == 7E (in buf, or in the caller's chunk):
 * reassemble, and report a whole message. */
static void deliver(struct hm_hdlc *h, const uint8_t *at, struct header *hd, hm_hdlc_cb cb, void *ctx)
{
	if (deliver_whole(h, at, hd, cb, ctx))
		return;

	struct hm_frame *f = &hd->f;
	const uint8_t *info = at + 1 + hd->hdr_len + 2;
	size_t info_len = f->declared_len - hd->hdr_len - 4;
	bool more = (hd->f.format >> 8) & FORMAT_SEGMENTED;
	bool first = has_llc(info, info_len);

	h->stats.frames++;
	f->err = HM_ERR_OK;
	f->fcs_ok = true;
	f->raw = at;
	f->raw_len = (size_t)f->declared_len + 1;

	if (first && h->msg_state == MSG_COLLECTING) /* a new start: the held message lost its end */
		abort_message(h, f, HM_ERR_SEGMENT_ERROR, cb, ctx);

	if (h->msg_state != MSG_COLLECTING) {
		/* (A lone frame that starts a message went out in deliver_whole().) */
		if (first) {
			memcpy(h->msg, info, info_len); /* <= 2038 < HM_MSG_MAX */
			h->msg_len = info_len;
			h->msg_segments = 1;
			h->msg_state = MSG_COLLECTING;
		} else if (h->msg_state == MSG_IDLE) {
			/* No LLC and no message in progress: a continuation whose
			 * start was missed (report it once, drop the rest), or a lone
			 * frame that carries no DLMS (or whose FCS checked by chance). */
			f->segments = 1;
			count_error(h, f, more ? HM_ERR_SEGMENT_ERROR : HM_ERR_BAD_FORMAT, cb, ctx);
			h->msg_state = more ? MSG_SKIPPING : MSG_IDLE;
		} else if (!more) {
			h->msg_state = MSG_IDLE; /* the last segment of a dropped message */
		}
		return;
	}

	if (h->msg_len + info_len > sizeof h->msg) {
		f->segments = h->msg_segments + 1;
		count_error(h, f, HM_ERR_OVERSIZE, cb, ctx);
		h->msg_len = 0;
		h->msg_segments = 0;
		h->msg_state = more ? MSG_SKIPPING : MSG_IDLE;
		return;
	}
	memcpy(h->msg + h->msg_len, info, info_len);
	h->msg_len += info_len;
	h->msg_segments++;
	if (more)
		return;
	f->info = h->msg;
	f->info_len = h->msg_len;
	f->segments = h->msg_segments;
	h->msg_len = 0;
	h->msg_segments = 0;
	h->msg_state = MSG_IDLE;
	h->stats.messages++;
	emit(f, cb, ctx);
}

/* Counts n bytes the scan passes outside a good frame. */
static void pass(struct hm_hdlc *h, size_t n, bool flag)
{
	if (h->have_pending)
		h->stats.rejected_bytes += n;
	else if (flag)
		h->stats.flag_bytes += n;
	else
		h->stats.garbage_bytes += n;
	h->pos += n;
}

/* Scans buf from pos as far as the bytes held allow. */
static void scan(struct hm_hdlc *h, hm_hdlc_cb cb, void *ctx)
{
	for (;;) {
		if (h->have_pending) {
			size_t e = h->pending_end;
			if (h->pos > e)
				report_pending(h, e + 1, h->buf[e] == HM_HDLC_FLAG, false, cb, ctx);
			else if (h->pos == e && e < h->len && h->buf[e] == HM_HDLC_FLAG)
				report_pending(h, e + 1, true, false, cb, ctx); /* its closing flag: settled */
		}
		if (h->pos >= h->len)
			return;

		if (h->buf[h->pos] != HM_HDLC_FLAG) {
			/* Skip to the next 7E, stopping after a pending rejection's
			 * declared end so that it is settled in stream order. */
			size_t limit = h->len;
			if (h->have_pending && h->pending_end < limit)
				limit = h->pending_end + 1;
			const uint8_t *q = memchr(h->buf + h->pos, HM_HDLC_FLAG, limit - h->pos);
			pass(h, q ? (size_t)(q - (h->buf + h->pos)) : limit - h->pos, false);
			continue;
		}

		struct header hd;
		size_t at = h->pos;
		switch (try_header(h->buf + at, h->len - at, h->eof, &hd)) {
		case HDR_NEED_MORE: return;
		case HDR_NONE: pass(h, 1, true); continue;
		case HDR_BAD:
			if (!h->have_pending)
				set_pending(h, at, &hd);
			pass(h, 1, true); /* counted as rejected */
			continue;
		case HDR_GOOD: break;
		}

		/* A good header.  Inside a pending rejection's extent it proves the
		 * rejection's length wrong (at its declared end it was settled above). */
		if (h->have_pending)
			report_pending(h, at, false, false, cb, ctx);
		size_t need = (size_t)hd.f.declared_len + 1; /* opening flag + format..FCS */
		if (h->len - at < need) {
			if (!h->eof)
				return;          /* wait for the rest */
			set_pending(h, at, &hd); /* cut off: settled at the end of the drain */
			pass(h, 1, true);
			continue;
		}
		if (fcs_checks(h->buf + at, &hd)) {
			h->stats.frame_bytes += need;
			h->pos += need;
			deliver(h, h->buf + at, &hd, cb, ctx);
		} else {
			set_pending(h, at, &hd);
			pass(h, 1, true);
		}
	}
}

/* Drops the bytes nothing needs any more. */
static void compact(struct hm_hdlc *h)
{
	size_t keep = h->have_pending ? h->pending_start : h->pos;
	if (keep == 0)
		return;
	memmove(h->buf, h->buf + keep, h->len - keep);
	h->len -= keep;
	h->pos -= keep;
	if (h->have_pending) {
		h->pending_start -= keep;
		h->pending_end -= keep;
	}
}

/*
 * The common case without a copy: nothing held but perhaps one 7E, and the
 * chunk holding whole good frames and flags.  Those are checked and delivered
 * where they lie in the caller's bytes, taking exactly the steps scan() would
 * take on them (same events, same counts); at the first byte that needs more
 * (garbage, a bad or cut-off candidate) it stops, and the rest goes through
 * buf.  Returns the bytes it consumed.
 */
static size_t direct(struct hm_hdlc *h, const uint8_t *data, size_t len, hm_hdlc_cb cb, void *ctx)
{
	size_t i = 0;

	if (h->have_pending || len == 0 || data[0] != HM_HDLC_FLAG)
		return 0;
	if (h->len != 0) {
		/* A held 7E (the last chunk's closing flag) followed by another
		 * 7E is no frame start: scan() counts it as a flag. */
		if (h->len != 1 || h->buf[0] != HM_HDLC_FLAG)
			return 0;
		h->stats.flag_bytes++;
		h->len = h->pos = 0;
	}
	while (i < len && data[i] == HM_HDLC_FLAG) {
		if (i + 1 == len) {
			/* The chunk's last byte is a 7E: a closing flag, or the next
			 * frame's opening one.  Held, as scan() holds it. */
			h->buf[0] = HM_HDLC_FLAG;
			h->len = 1;
			return len;
		}
		struct header hd;
		enum hdr_verdict v = try_header(data + i, len - i, false, &hd);
		if (v == HDR_NONE) {
			h->stats.flag_bytes++;
			i++;
			continue;
		}
		size_t need = v == HDR_GOOD ? (size_t)hd.f.declared_len + 1 : 0;
		if (v != HDR_GOOD || len - i < need || !fcs_checks(data + i, &hd))
			break;
		h->stats.frame_bytes += need;
		if (!deliver_whole(h, data + i, &hd, cb, ctx))
			deliver(h, data + i, &hd, cb, ctx);
		i += need;
	}
	return i;
}

void hm_hdlc_feed(struct hm_hdlc *h, const uint8_t *data, size_t len, hm_hdlc_cb cb, void *ctx)
{
	h->stats.bytes += len;
	size_t done = direct(h, data, len, cb, ctx);
	data += done;
	len -= done;
	while (len > 0) {
		size_t n = sizeof h->buf - h->len;
		if (n > len)
			n = len;
		memcpy(h->buf + h->len, data, n);
		h->len += n;
		data += n;
		len -= n;
		scan(h, cb, ctx);
		compact(h);
		/* The scan only stops for more bytes when one candidate (<= 2049
		 * bytes) or one rejection plus a header is held, so a full buffer
		 * would be our bug; drop it rather than spin. */
		if (h->len == sizeof h->buf) {
			h->have_pending = false;
			h->stats.garbage_bytes += h->len - h->pos;
			h->len = h->pos = 0;
		}
	}
}

bool hm_hdlc_holding(const struct hm_hdlc *h)
{
	return h->len > 1 || h->have_pending || h->msg_segments > 0;
}

void hm_hdlc_flush(struct hm_hdlc *h, hm_hdlc_cb cb, void *ctx)
{
	h->eof = true;
	scan(h, cb, ctx);
	if (h->have_pending)
		report_pending(h, h->len, false, true, cb, ctx);
	if (h->msg_state == MSG_COLLECTING) {
		struct hm_frame f = {.segments = h->msg_segments};
		count_error(h, &f, HM_ERR_TRUNCATED, cb, ctx);
	}
	h->msg_state = MSG_IDLE;
	h->msg_len = 0;
	h->msg_segments = 0;
	h->len = 0;
	h->pos = 0;
	h->eof = false;
}
