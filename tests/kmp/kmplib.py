"""kmplib.py - KMP for the tests, written from the protocol description in
$VECTORS/README.md (not from our C code): CRC-16/XMODEM, byte stuffing, a
TCP meter that answers with the register records of the real MULTICAL
captures, and hanmeter-sim -m multical with its --expect record.
Python standard library only.
"""
import json
import os
import socket
import subprocess
import sys
import threading
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "replay"))
import harness as h  # noqa: E402

SIM = os.path.join(h.BUILD, "hanmeter-sim")
CAPTURE = "kmp-kamstrup-multical-heat-captures.hex"
# The registers in the capture's order: one request of 8, then 0x8B alone.
CAPTURE_REGS = [0x3C, 0x50, 0x56, 0x57, 0x59, 0x4A, 0x44, 0x8D, 0x8B]
SIM_REGS = [60, 68, 74, 80, 86, 87, 89, 139, 141, 1004]  # 8 + 2, the last one without a field


def crc_xmodem(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = (crc << 1 ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


assert crc_xmodem(b"123456789") == 0x31C3  # the catalogue check value

STUFFED = (0x06, 0x0D, 0x1B, 0x40, 0x80)


def unstuff(frame):
    """40/80 <stuffed body> 0D -> body (address, CID, data, CRC)."""
    body, esc = bytearray(), False
    for b in frame[1:-1]:
        if esc:
            body.append(b ^ 0xFF)
            esc = False
        elif b == 0x1B:
            esc = True
        else:
            body.append(b)
    return bytes(body)


def frame(start, body):
    crc = crc_xmodem(body)
    body = body + bytes([crc >> 8, crc & 0xFF])
    out = bytearray([start])
    for b in body:
        out += bytes([0x1B, b ^ 0xFF]) if b in STUFFED else bytes([b])
    return bytes(out + b"\x0d")


class CaptureMeter:
    """A TCP meter answering GetRegister with the captured register records."""

    def __init__(self):
        self.records = {}  # register id -> its record bytes from the capture
        for f in h.hex_frames(CAPTURE):
            if f[0] == 0x40:
                body = unstuff(f)
                assert crc_xmodem(body) == 0, "capture CRC"
                rec = body[2:-2]
                self.records[rec[0] << 8 | rec[1]] = rec
        self.captured_requests = [f for f in h.hex_frames(CAPTURE) if f[0] == 0x80]
        self.requests = []
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        buf = b""
        while True:
            try:
                d = conn.recv(512)
            except OSError:
                return
            if not d:
                return
            buf += d
            while b"\x0d" in buf:
                raw, buf = buf[: buf.index(b"\x0d") + 1], buf[buf.index(b"\x0d") + 1:]
                raw = raw[raw.find(b"\x80"):] if b"\x80" in raw else b""
                if not raw:
                    continue
                self.requests.append(raw)
                body = unstuff(raw)
                if crc_xmodem(body) != 0 or body[0] != 0x3F:
                    continue
                if body[1] == 0x10:
                    n = body[2]
                    ids = [body[3 + 2 * i] << 8 | body[4 + 2 * i] for i in range(n)]
                    data = b"".join(self.records[i] for i in ids if i in self.records)
                    conn.sendall(frame(0x40, bytes([0x3F, 0x10]) + data))
                elif body[1] == 0x02:  # serial number: the doc example's
                    conn.sendall(frame(0x40, bytes([0x3F, 0x02, 0x01, 0x23, 0x45, 0x67])))

    def close(self):
        self.srv.close()


# ---- the daemon and the simulator -----------------------------------------------

class Sim:
    def __init__(self, work, args):
        self.expect = os.path.join(work, "expect-%d.jsonl" % id(self))
        self.err = open(os.path.join(work, "sim-%d.err" % id(self)), "w+")
        self.proc = subprocess.Popen([SIM, "-m", "multical", "-e", self.expect] + args,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.where = self.proc.stdout.readline().strip()

    def stop(self):
        """Stops the simulator; returns (requests, answers) from its statistics."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.err.seek(0)
        text = self.err.read()
        for line in text.splitlines():
            if "multical:" in line:
                w = line.split()
                return int(w[w.index("requests,") - 1]), int(w[w.index("answers,") - 1])
        return None, None

    def rounds(self, per_round):
        """The --expect record as rounds: good answers, per_round at a time."""
        lines = []
        if os.path.exists(self.expect):
            with open(self.expect) as f:
                lines = [json.loads(x, parse_float=Decimal) for x in f if x.endswith("\n")]
        good = [x["values"] for x in lines if not x["corrupt"]]
        out = []
        for i in range(0, len(good) - per_round + 1, per_round):
            merged = {}
            for v in good[i:i + per_round]:
                merged.update(v)
            out.append(merged)
        return out, len(lines) - len(good)



def field_name(k):
    """The reading field of an --expect key (register_N: an unnamed register)."""
    if k.startswith("register_"):
        reg = int(k[len("register_"):])
        return "obis_0_0_255_6_%d_%d" % (reg >> 8, reg & 0xFF)
    return k


def diff_round(state, exp):
    """Differences between a reading (dict) and one round of the record."""
    d = []
    for k, v in exp.items():
        got = state.get(field_name(k))
        if got is None or Decimal(str(got)) != Decimal(v):
            d.append("%s=%s, want %s" % (field_name(k), got, v))
    known = set(field_name(k) for k in exp) | {"meter", "profile", "meter_serial", "meter_model"}
    extra = sorted(set(state) - known)
    if extra:
        d.append("fields not sent: %s" % extra)
    return d
