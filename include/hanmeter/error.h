/*
 * error.h - why a frame or message yielded no reading.
 *
 * Errors are values.  HM_ERR_NOT_MINE ("this is not a frame/list I know")
 * is kept apart from the errors that mean "mine, but broken", and every
 * stream counts each kind separately.  The names are the stable strings
 * printed in JSON ("error":"fcs_mismatch") and in statistics.
 */
#ifndef HANMETER_ERROR_H
#define HANMETER_ERROR_H

/* clang-format off */
#define HM_ERRORS(X)                                                           \
	X(OK, "ok")                     /* no error */                         \
	X(NOT_MINE, "not_mine")         /* not a frame/list this decoder takes */ \
	X(FCS_MISMATCH, "fcs_mismatch") /* HDLC frame check sequence wrong */   \
	X(HCS_MISMATCH, "hcs_mismatch") /* HDLC header check sequence wrong */  \
	X(LENGTH_MISMATCH, "length_mismatch") /* length field disagrees with the flags */ \
	X(TRUNCATED, "truncated")       /* input ended inside a frame/APDU */   \
	X(OVERSIZE, "oversize")         /* longer than HM_MSG_MAX et al. */     \
	X(BAD_FORMAT, "bad_format")     /* frame format/address/LLC invalid */  \
	X(SEGMENT_ERROR, "segment_error") /* segment sequence broken */        \
	X(MALFORMED_APDU, "malformed_apdu") /* APDU/A-XDR does not parse */     \
	X(TOO_DEEP, "too_deep")         /* A-XDR nesting over HM_AXDR_DEPTH_MAX */ \
	X(UNKNOWN_LIST, "unknown_list") /* parses, but no profile knows the layout */ \
	X(CRC_MISMATCH, "crc_mismatch") /* P1 CRC-16/ARC, KMP CRC-16/XMODEM, M-Bus sum */ \
	X(NO_KEY, "no_key")             /* encrypted and no key configured */  \
	X(AUTH_FAILED, "auth_failed")   /* GCM tag wrong: check auth_key */    \
	X(DECRYPT_FAILED, "decrypt_failed") /* plaintext is no APDU: check key */
/* clang-format on */

enum hm_err {
#define HM_ERR_ENUM(id, str) HM_ERR_##id,
	HM_ERRORS(HM_ERR_ENUM)
#undef HM_ERR_ENUM
	    HM_ERR_COUNT
};

/* The stable name of an error ("fcs_mismatch"); "unknown" if out of range. */
const char *hm_err_name(enum hm_err err);

/* A one-line explanation for humans and logs. */
const char *hm_err_text(enum hm_err err);

#endif
