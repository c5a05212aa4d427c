/*
 * crc.h - the checksums the meters use.
 *
 *  CRC-16/X.25   HDLC HCS and FCS (IEC 62056-46); check("123456789") = 0x906E
 *  CRC-16/ARC    P1/DSMR telegram CRC (DSMR 5.0.2 6.12); check = 0xBB3D
 *  CRC-16/XMODEM KMP frames (Kamstrup);                  check = 0x31C3
 *
 * The _update forms continue a running CRC over split input; start with
 * the _INIT value and finish with hm_crc16_x25_final() where the algorithm
 * has a final XOR.
 */
#ifndef HANMETER_CRC_H
#define HANMETER_CRC_H

#include <stddef.h>
#include <stdint.h>

#define HM_CRC16_X25_INIT 0xFFFFu

uint16_t hm_crc16_x25_update(uint16_t crc, const uint8_t *p, size_t n);

/* hm_crc16_x25_update for a few bytes (an HDLC header: 4-10), inline, a
 * byte at a time: for so few the slicing loop's call and set-up cost more
 * than it saves. */
extern const uint16_t hm_crc16_x25_tab[8][256];
static inline uint16_t hm_crc16_x25_short(uint16_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		crc = (uint16_t)((crc >> 8) ^ hm_crc16_x25_tab[0][(crc ^ p[i]) & 0xFF]);
	return crc;
}
static inline uint16_t hm_crc16_x25_final(uint16_t crc)
{
	return (uint16_t)(crc ^ 0xFFFFu);
}
/* The whole CRC-16/X.25 of a buffer: init, update, final XOR. */
uint16_t hm_crc16_x25(const uint8_t *p, size_t n);

uint16_t hm_crc16_arc(const uint8_t *p, size_t n);
uint16_t hm_crc16_xmodem(const uint8_t *p, size_t n);

#endif
