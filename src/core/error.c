/*
 * error.c - names and explanations of enum hm_err.
 */
#include "hanmeter/error.h"

static const char *const names[HM_ERR_COUNT] = {
#define HM_ERR_NAME(id, str) [HM_ERR_##id] = str,
    HM_ERRORS(HM_ERR_NAME)
#undef HM_ERR_NAME
};

static const char *const texts[HM_ERR_COUNT] = {
    [HM_ERR_OK] = "no error",
    [HM_ERR_NOT_MINE] = "not a frame or list this decoder knows",
    [HM_ERR_FCS_MISMATCH] = "frame check sequence (FCS) wrong",
    [HM_ERR_HCS_MISMATCH] = "header check sequence (HCS) wrong",
    [HM_ERR_LENGTH_MISMATCH] = "length field disagrees with the frame",
    [HM_ERR_TRUNCATED] = "input ended inside a frame",
    [HM_ERR_OVERSIZE] = "message larger than the buffers allow",
    [HM_ERR_BAD_FORMAT] = "frame format, address or LLC invalid",
    [HM_ERR_SEGMENT_ERROR] = "segmented message out of sequence",
    [HM_ERR_MALFORMED_APDU] = "APDU does not parse",
    [HM_ERR_TOO_DEEP] = "A-XDR data nested too deeply",
    [HM_ERR_UNKNOWN_LIST] = "list layout not known to any meter profile",
    [HM_ERR_CRC_MISMATCH] = "checksum wrong",
    [HM_ERR_NO_KEY] = "frame is encrypted and no key is configured",
    [HM_ERR_AUTH_FAILED] = "authentication failed: check auth_key",
    [HM_ERR_DECRYPT_FAILED] = "decryption produced no valid APDU: check key",
};

const char *hm_err_name(enum hm_err err)
{
	return (unsigned)err < HM_ERR_COUNT ? names[err] : "unknown";
}

const char *hm_err_text(enum hm_err err)
{
	return (unsigned)err < HM_ERR_COUNT && texts[err] ? texts[err] : "unknown error";
}
