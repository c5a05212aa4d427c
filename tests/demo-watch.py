"""demo-watch.py - the live view of tests/demo (make demo).

Follows two growing files until SIGTERM and prints one labelled line per
new line: hanmeterd's JSON-lines sink as a short human summary of the
reading, and mosquitto_sub -v output (topic, then payload) as it is.

usage: demo-watch.py READINGS.jsonl MQTT.log COLOUR1 COLOUR2 RESET
"""
import json
import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
jsonl_path, mqtt_path, c1, c2, reset = sys.argv[1:6]


def reading(line):
    try:
        r = json.loads(line)
    except ValueError:
        return "(not JSON) " + line
    parts = []
    if "active_power_import_w" in r:
        parts.append("P+ %s W" % r["active_power_import_w"])
    for label, keys, unit in (("U", ("voltage_l1_v", "voltage_l2_v", "voltage_l3_v"), "V"),
                              ("I", ("current_l1_a", "current_l2_a", "current_l3_a"), "A")):
        v = [str(r[k]) for k in keys if k in r]
        if v:
            parts.append("%s %s %s" % (label, "/".join(v), unit))
    if "active_energy_import_kwh" in r:
        parts.insert(0, "HOURLY, meter clock %s:" % r.get("meter_time", "?"))
        parts.append("E+ %s kWh" % r["active_energy_import_kwh"])
    meter = r.get("meter", "")
    return ("[%s] " % meter if meter else "") + ("  ".join(parts) or line)


def mqtt(line):
    return line if len(line) <= 130 else line[:127] + "..."


follow = [
    {"path": jsonl_path, "label": c1 + "jsonl" + reset, "fmt": reading, "f": None, "buf": b""},
    {"path": mqtt_path, "label": c2 + "mqtt " + reset, "fmt": mqtt, "f": None, "buf": b""},
]
while True:
    for s in follow:
        if s["f"] is None and os.path.exists(s["path"]):
            s["f"] = open(s["path"], "rb")
        if s["f"] is None:
            continue
        s["buf"] += s["f"].read()
        while b"\n" in s["buf"]:
            line, s["buf"] = s["buf"].split(b"\n", 1)
            print("  %s  %s" % (s["label"], s["fmt"](line.decode(errors="replace"))), flush=True)
    time.sleep(0.1)
