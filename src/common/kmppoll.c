/*
 * kmppoll.c - one KMP polling round (see kmppoll.h): requests of at most 8
 * registers, the answer found in the stream, checked against its request.
 */
#include <string.h>

#include "common/kmppoll.h"

void hm_kmp_rx_reset(struct hm_kmp_rx *rx)
{
	rx->len = 0;
	rx->echo = false;
}

size_t hm_kmp_rx_feed(struct hm_kmp_rx *rx, const uint8_t *p, size_t n, bool *done)
{
	*done = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (rx->len == 0) { /* between answers: our echo or noise */
			if (rx->echo) {
				rx->echo = b != HM_KMP_STOP;
				rx->skipped++;
			} else if (b == HM_KMP_START_TO_METER) {
				rx->echo = true;
				rx->skipped++;
			} else if (b == HM_KMP_START_FROM_METER) {
				rx->buf[rx->len++] = b;
			} else {
				rx->skipped++;
			}
			continue;
		}
		rx->buf[rx->len++] = b;
		/* 0D never occurs stuffed inside a body, so it ends the frame */
		if (b == HM_KMP_STOP || rx->len == sizeof rx->buf) {
			*done = true;
			return i + 1;
		}
	}
	return n;
}

unsigned hm_kmp_poll_requests(size_t n)
{
	return (unsigned)((n + HM_KMP_REGS_MAX - 1) / HM_KMP_REGS_MAX);
}

/* The ids of request i: ids + *first, *count of them. */
static void slice(size_t n, unsigned i, size_t *first, size_t *count)
{
	*first = (size_t)i * HM_KMP_REGS_MAX;
	*count = *first < n ? n - *first : 0;
	if (*count > HM_KMP_REGS_MAX)
		*count = HM_KMP_REGS_MAX;
}

enum hm_err hm_kmp_poll_request(const uint16_t *ids, size_t n, unsigned i, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t first, count;
	slice(n, i, &first, &count);
	return hm_kmp_request_registers(HM_KMP_ADDR_HEAT_METER, ids + first, count, out, cap, out_len);
}

enum hm_err hm_kmp_poll_answer(const uint16_t *ids, size_t n, unsigned i, const uint8_t *raw, size_t len,
                               struct hm_reading *r, unsigned *stored)
{
	uint8_t body[HM_KMP_BODY_MAX];
	struct hm_kmp_frame f;
	struct hm_kmp_register regs[HM_KMP_REGS_MAX];
	size_t first, count, got;

	*stored = 0;
	slice(n, i, &first, &count);
	enum hm_err err = hm_kmp_decode(raw, len, body, sizeof body, &f);
	if (err != HM_ERR_OK)
		return err;
	if (f.start != HM_KMP_START_FROM_METER || f.addr != HM_KMP_ADDR_HEAT_METER || f.cid != HM_KMP_CID_GET_REGISTER)
		return HM_ERR_NOT_MINE;
	err = hm_kmp_parse_registers(&f, regs, HM_KMP_REGS_MAX, &got);
	if (err != HM_ERR_OK)
		return err;
	/* A meter leaves out the registers it does not have; the rest come in
	 * the order asked for, each once. */
	size_t at = 0;
	for (size_t k = 0; k < got; k++) {
		while (at < count && ids[first + at] != regs[k].id)
			at++;
		if (at++ == count)
			return HM_ERR_MALFORMED_APDU;
	}

	for (size_t k = 0; k < got; k++) {
		unsigned s = hm_kmp_to_reading(&regs[k], 1, r);
		if (s == 0) { /* no field for it (or a unit the field cannot take): keep it */
			struct hm_extra x = {.obis = {0, 0, 255, 6, (uint8_t)(regs[k].id >> 8), (uint8_t)regs[k].id},
			                     .num = regs[k].value};
			s = hm_reading_add_extra(r, &x) ? 1 : 0;
		}
		*stored += s;
	}
	return HM_ERR_OK;
}
