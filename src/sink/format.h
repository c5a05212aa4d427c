/*
 * format.h - the sinks' payloads as pure functions of a reading, so that
 * the unit tests can check them byte for byte without a broker or a
 * Domoticz: the MQTT state message and the Domoticz udevice svalues.
 *
 * All return the length written (excluding the NUL), -ENODATA when the
 * reading lacks what the payload needs, or -ENOSPC when cap is too small.
 */
#ifndef HM_SINK_FORMAT_H
#define HM_SINK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "hanmeter/reading.h"

/* <prefix>/<meter>/state: {"meter":"<name>", <hm_json_members>}.  The
 * reading's own fields and times only; never the time it arrived. */
int hm_format_state(const char *meter, const struct hm_reading *r, char *buf, size_t cap);

/* True if r carries a cumulative value (a state_class total_increasing
 * field): such a reading is never evicted from the hold queue first. */
bool hm_format_has_energy(const struct hm_reading *r);

/*
 * Domoticz device values (Domoticz wiki, "Domoticz API/JSON URL's", Update
 * devices/sensors), all sent with nvalue=0:
 *   P1 Smart Meter       USAGE1;USAGE2;RETURN1;RETURN2;CONS;PROD  Wh, Wh, Wh, Wh, W, W
 *   Electric (instant+counter)  POWER;ENERGY                      W, Wh
 *   Voltage              VOLTAGE                                  V
 *   Current (3-phase)    CURRENT1;CURRENT2;CURRENT3               A
 * Counters are integers in Wh (Domoticz divides by its own 1000); the meter
 * totals are required (-ENODATA without them: a 0 would look like a meter
 * reset and spoil Domoticz's day statistics).  Missing power or phases are 0.
 */
int hm_format_dz_p1(const struct hm_reading *r, char *buf, size_t cap);
int hm_format_dz_power(const struct hm_reading *r, char *buf, size_t cap);
int hm_format_dz_voltage(const struct hm_reading *r, int phase, char *buf, size_t cap); /* phase 1..3 */
int hm_format_dz_current(const struct hm_reading *r, char *buf, size_t cap);
/* KMP heat meters: an Electric (instant+counter) device as a heat meter,
 * POWER;ENERGY in W;Wh from power_kw and heat_energy_e1_mwh (or _gj,
 * rounded to the Wh); E1 is required, a missing power is 0. */
int hm_format_dz_heat(const struct hm_reading *r, char *buf, size_t cap);
/* Temperature device: TEMP (degrees C) from field f (temp_flow_c, temp_return_c). */
int hm_format_dz_temp(const struct hm_reading *r, enum hm_num_field f, char *buf, size_t cap);

/* {"idx":N,"nvalue":0,"svalue":"..."} for domoticz/in over MQTT. */
int hm_format_dz_mqtt(int idx, const char *svalue, char *buf, size_t cap);

#endif
