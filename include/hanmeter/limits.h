/*
 * limits.h - every buffer size of the parsing core, in one place.
 *
 * The core never allocates: the caller owns every struct below and their
 * sizes come from these constants.  Each number says where it comes from.
 */
#ifndef HANMETER_LIMITS_H
#define HANMETER_LIMITS_H

/* IEC 62056-46: the frame format field carries an 11-bit length, so one
 * HDLC frame is at most 2047 bytes between the flags, plus the two flags. */
#define HM_HDLC_FRAME_MAX 2049

/* A segmented message (segmentation bit 0x0800) is reassembled here.  The
 * longest Nordic list (Swedish Aidon, 581 bytes) fits one frame; Swiss and
 * Austrian meters split ~1 KiB notifications over 2-4 frames.  8 KiB covers
 * four full-size segments with room to spare. */
#define HM_MSG_MAX 8192

/* A-XDR nesting: a data-notification is array -> structure -> structure
 * (Aidon's {OBIS, value, {scaler, unit}}), 3 levels.  8 leaves margin for
 * other makes and stops a hostile frame from nesting without bound. */
#define HM_AXDR_DEPTH_MAX 8

/* Flat A-XDR items in one APDU.  The Swedish Aidon list has 32 registers of
 * 6 items each (~200); a DSMR-sized OBIS list stays below 512. */
#define HM_AXDR_ITEMS_MAX 512

/* Text values (meter id, model, list version): the GS1 meter id is 16
 * characters, Kamstrup's model string 18; P1 header lines reach ~40. */
#define HM_TEXT_MAX 64

/* OBIS-coded values the core has no name for, kept per reading. */
#define HM_EXTRA_MAX 32

/* Largest |scaler| taken from a list.  A-XDR allows -128..127, but no
 * electricity register needs more than 10^+-12 (mWh to TWh); a larger one is
 * corruption, and would make a number 130 digits long. */
#define HM_SCALER_MAX 12

/* A JSON rendering of one full reading.  Worst case (tests/unit/test_json.c
 * builds it): 41 numbers of <= 36 characters, 13 texts and 32 text extras of
 * 63 characters that all need escaping (126), names and punctuation: 8931
 * bytes.  Twice that leaves room for new fields; a real list takes 0.3-2 KiB. */
#define HM_JSON_MAX 16384

/* One P1/DSMR telegram, '/' to the CR LF after the CRC.  A DSMR 5 telegram
 * with every line is ~1 KiB; the text message 0-0:96.13.0 may add 1024
 * characters hex-encoded (2048).  4 KiB holds the longest with margin. */
#define HM_P1_MAX 4096

#endif
