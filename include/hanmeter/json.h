/*
 * json.h - JSON rendering of readings, without allocation.
 *
 * Field names and units as in reading.h; numbers as plain decimals; strings
 * escaped so that the output is always valid JSON (control bytes, quotes,
 * and invalid UTF-8 as \u00XX).
 */
#ifndef HANMETER_JSON_H
#define HANMETER_JSON_H

#include <stddef.h>

#include "hanmeter/reading.h"

/* Writes the members of r ("\"a\":1,\"b\":\"x\"", no braces) at buf.
 * Returns the length (excluding NUL) or -1 if cap is too small. */
int hm_json_members(const struct hm_reading *r, char *buf, size_t cap);

/* Writes s as a JSON string literal (with quotes).  Returns length or -1. */
int hm_json_string(const char *s, size_t len, char *buf, size_t cap);

#endif
