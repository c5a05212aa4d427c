/*
 * apdustream.c - framer for bare general-glo-ciphering APDUs back to back
 * (Luxembourg Smarty P1 port; layout and contract in apdustream.h).
 *
 * A candidate starts at DB 08 (the glo-ciphering tag and the system-title
 * length, IEC 62056-5-3 9.3).  hm_cipher_parse() on the bytes held says
 * when its header is malformed, how long it will be (once the A-XDR length
 * is in), and when it is whole; the bytes it still needs are then copied in
 * one go.  A whole candidate goes to the caller, whose decoder checks the
 * GCM tag: accepted, it is consumed; refused, only its DB is dropped and
 * what is held is scanned again from the next DB.
 *
 * Invariant: buf[0] is DB whenever len > 0, and len <= HM_MSG_MAX (need is
 * at most that, and before need is known the header is at most 13 bytes).
 */
#include <string.h>

#include "hanmeter/apdustream.h"
#include "hanmeter/cipher.h"

void hm_apdustream_init(struct hm_apdustream *s)
{
	memset(s, 0, sizeof *s);
}

/* Drops buf[0..n) (counted in *counter), then what follows up to the next
 * DB (counted as garbage). */
static void drop(struct hm_apdustream *s, size_t n, uint64_t *counter)
{
	*counter += n;
	const uint8_t *q = memchr(s->buf + n, HM_CIPHER_TAG, s->len - n);
	size_t i = q ? (size_t)(q - s->buf) : s->len;
	s->stats.garbage_bytes += i - n;
	memmove(s->buf, s->buf + i, s->len - i);
	s->len -= i;
	s->need = 0;
}

/* The framer drops the candidate at buf[0]: reported, counted, rescanned. */
static void reject(struct hm_apdustream *s, enum hm_err err, hm_apdustream_cb cb, void *ctx)
{
	struct hm_apdustream_msg ev = {.err = err};
	s->stats.errors[err]++;
	cb(ctx, &ev);
	drop(s, 1, &s->stats.rejected_bytes);
}

/* Judges every candidate the bytes held allow. */
static void scan(struct hm_apdustream *s, hm_apdustream_cb cb, void *ctx)
{
	struct hm_cipher_hdr h;
	while (s->len >= 2) {
		if (s->buf[1] != HM_CIPHER_SYSTITLE_LEN) { /* a DB that starts nothing */
			drop(s, 1, &s->stats.garbage_bytes);
			continue;
		}
		enum hm_err err = hm_cipher_parse(&h, s->buf, s->len);
		/* Too long is judged first, whatever else the bytes held show, so
		 * that the verdict does not depend on how the stream was cut. */
		if (h.total_len > sizeof s->buf) {
			reject(s, HM_ERR_OVERSIZE, cb, ctx);
			continue;
		}
		if (err == HM_ERR_TRUNCATED) {
			s->need = h.total_len; /* 0 while the length is not in yet */
			return;
		}
		if (err != HM_ERR_OK) {
			reject(s, err, cb, ctx);
			continue;
		}
		struct hm_apdustream_msg ev = {.err = HM_ERR_OK, .data = s->buf, .len = h.total_len};
		enum hm_err verdict = cb(ctx, &ev);
		if (verdict == HM_ERR_OK) {
			s->stats.messages++;
			drop(s, h.total_len, &s->stats.frame_bytes);
			continue;
		}
		if ((unsigned)verdict >= HM_ERR_COUNT) /* the caller's bug; still a refusal */
			verdict = HM_ERR_BAD_FORMAT;
		s->stats.errors[verdict]++;
		drop(s, 1, &s->stats.rejected_bytes);
	}
}

void hm_apdustream_feed(struct hm_apdustream *s, const uint8_t *data, size_t len, hm_apdustream_cb cb, void *ctx)
{
	s->stats.bytes += len;
	size_t i = 0;
	while (i < len) {
		if (s->len == 0) {
			const uint8_t *q = memchr(data + i, HM_CIPHER_TAG, len - i);
			size_t skip = q ? (size_t)(q - (data + i)) : len - i;
			s->stats.garbage_bytes += skip;
			i += skip;
			if (i == len)
				break;
		}
		/* The rest of a candidate whose length is known, else one byte. */
		size_t n = s->need > s->len ? s->need - s->len : 1;
		if (n > len - i)
			n = len - i;
		memcpy(s->buf + s->len, data + i, n);
		s->len += n;
		i += n;
		scan(s, cb, ctx);
	}
}

void hm_apdustream_flush(struct hm_apdustream *s, hm_apdustream_cb cb, void *ctx)
{
	while (s->len > 0) {
		reject(s, HM_ERR_TRUNCATED, cb, ctx);
		scan(s, cb, ctx);
	}
	s->need = 0;
}
