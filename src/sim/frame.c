/*
 * frame.c - HDLC frames as the meters send them (IEC 62056-46, frame format
 * type 3, no byte stuffing):
 *
 *   7E | format (2) | dst, src addresses | control | HCS (2) | info | FCS (2) | 7E
 *
 * format = 0xA000 | segmentation 0x0800 | 11-bit length of everything
 * between the flags.  HCS covers format..control, FCS format..info; both
 * CRC-16/X.25, least significant byte first.
 *
 * A message longer than one frame may carry is split into segments: every
 * segment but the last has the segmentation bit set and the control byte's
 * P/F bit (0x10) cleared; the last has the bit clear and P/F set.  Only the
 * first segment starts with the LLC bytes, because the segments are just
 * consecutive slices of one information field (as in the Iskra capture
 * iskra-am550-ch-segmented-3frames.hex: control 0x03, 0x03, 0x13).
 */
#include "hanmeter/crc.h"

#include "sim.h"

#define HDLC_FLAG         0x7E
#define HDLC_FORMAT_TYPE3 0xA000 /* frame format type 3 (0xA in the top nibble) */
#define HDLC_SEGMENTED    0x0800 /* S bit of the format field */
#define HDLC_LEN_MAX      0x07FF /* 11-bit length field */
#define HDLC_PF           0x10   /* poll/final bit of the control byte */

int sim_hdlc_frame(const struct sim_hdlc_addr *a, const uint8_t *info, size_t len, size_t max_frame, uint8_t *out,
                   size_t cap, unsigned *frames)
{
	size_t head = 2 + a->addr_len + 1; /* format, addresses, control */
	size_t overhead = head + 2 + 2;    /* + HCS + FCS */
	if (max_frame > HDLC_LEN_MAX)
		max_frame = HDLC_LEN_MAX;
	if (max_frame <= overhead)
		return -1;
	size_t chunk_max = max_frame - overhead, o = 0, done = 0;
	unsigned n = 0;
	do {
		size_t chunk = len - done < chunk_max ? len - done : chunk_max;
		bool more = done + chunk < len;
		size_t flen = overhead + chunk;
		if (o + flen + 2 > cap)
			return -1;
		uint8_t *f = out + o;
		f[0] = HDLC_FLAG;
		uint16_t format = (uint16_t)(HDLC_FORMAT_TYPE3 | (more ? HDLC_SEGMENTED : 0) | flen);
		f[1] = (uint8_t)(format >> 8);
		f[2] = (uint8_t)format;
		for (size_t i = 0; i < a->addr_len; i++)
			f[3 + i] = a->addr[i];
		f[1 + head - 1] = more ? (uint8_t)(a->control & ~HDLC_PF) : a->control;
		uint16_t hcs = hm_crc16_x25(f + 1, head);
		f[1 + head] = (uint8_t)hcs;
		f[1 + head + 1] = (uint8_t)(hcs >> 8);
		for (size_t i = 0; i < chunk; i++)
			f[1 + head + 2 + i] = info[done + i];
		uint16_t fcs = hm_crc16_x25(f + 1, flen - 2);
		f[1 + flen - 2] = (uint8_t)fcs;
		f[1 + flen - 1] = (uint8_t)(fcs >> 8);
		f[1 + flen] = HDLC_FLAG;
		o += flen + 2;
		done += chunk;
		n++;
	} while (done < len);
	*frames = n;
	return (int)o;
}
