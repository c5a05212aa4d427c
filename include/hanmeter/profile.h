/*
 * profile.h - meter profiles: one manufacturer's list layout -> the canonical reading.
 *
 * Profiles are a table (hm_profiles[]), tried in order for auto-detection
 * (the one that matched last first, unless it is a fallback).
 * decode() answers HM_ERR_NOT_MINE when the layout is not its own, so that
 * "not mine" is never confused with "mine but broken".
 */
#ifndef HANMETER_PROFILE_H
#define HANMETER_PROFILE_H

#include <stdbool.h>

#include "hanmeter/dlms.h"
#include "hanmeter/error.h"
#include "hanmeter/reading.h"

struct hm_profile {
	const char *name;         /* config/CLI name: "aidon" */
	const char *manufacturer; /* for Home Assistant's device registry: "Aidon" */
	bool fallback;            /* claims any list of its kind (generic OBIS): never tried before the others */
	/* Fills r from a notification whose header is parsed: reads a->body
	 * straight (a list of known shape) or as items (hm_dlms_items()).
	 * HM_ERR_OK with the whole body read, HM_ERR_NOT_MINE, or a "mine but
	 * broken" error (HM_ERR_UNKNOWN_LIST, HM_ERR_MALFORMED_APDU, ...). */
	enum hm_err (*decode)(struct hm_apdu *a, struct hm_reading *r);
};

/* Every profile, NULL-terminated, in auto-detection order. */
extern const struct hm_profile *const hm_profiles[];

/* The profile called name, or NULL. */
const struct hm_profile *hm_profile_find(const char *name);

#endif
