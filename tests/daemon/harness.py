"""harness.py - runs hanmeterd in the foreground for the tests/daemon/*.test
scripts (python3 standard library only).

The daemon gets its own NOTIFY_SOCKET (an AF_UNIX datagram socket read by a
thread, every message kept with its arrival time), a configuration written
into a private directory, and a JSON-lines file the test reads back.
Expected values come from $VECTORS/MANIFEST.tsv, never from our own output.

Every check prints "ok - NAME" or "not ok - NAME"; finish() exits 0, 1, or
77 (skip) as tests/run expects.
"""
import binascii
import decimal
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77


class Harness:
    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.passed = 0
        self.build = os.environ.get("HM_BUILD") or os.path.abspath("build/san")
        self.daemon_bin = os.path.join(self.build, "hanmeterd")
        self.vectors = os.environ.get("VECTORS", "")
        self.tmp = tempfile.mkdtemp(prefix="hm-%s-" % name)
        self.procs = []
        if not os.access(self.daemon_bin, os.X_OK):
            self.skip("no hanmeterd binary at %s" % self.daemon_bin)
        # The placeholder main (before the framer landed) cannot run these.
        probe = self.write_config("[meter m]\ntcp = 127.0.0.1:9\n", "probe.conf")
        r = subprocess.run([self.daemon_bin, "--check-config", "-c", probe], capture_output=True, timeout=20)
        if r.returncode != 0:
            self.skip("hanmeterd cannot check a configuration: not complete yet")

    # -- reporting --------------------------------------------------------
    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok - %s" % what, flush=True)
        else:
            self.failed += 1
            print("not ok - %s%s" % (what, (": " + detail) if detail else ""), flush=True)
        return cond

    def skip(self, why):
        print("#" * 70)
        print("##  SKIPPED %s: %s" % (self.name, why))
        print("#" * 70)
        print("skip: %s" % why, flush=True)
        self.cleanup()
        sys.exit(SKIP)

    def need_vectors(self):
        if not os.path.isfile(os.path.join(self.vectors, "MANIFEST.tsv")):
            self.skip("VECTORS not found at '%s': real-capture test SKIPPED, not passed" % self.vectors)

    def finish(self):
        self.cleanup()
        if self.failed or os.environ.get("HM_KEEP"):
            print("# logs kept in %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(1 if self.failed else 0)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    # -- vectors ----------------------------------------------------------
    def manifest(self, fname):
        """expected_values of fname as a dict name -> text."""
        with open(os.path.join(self.vectors, "MANIFEST.tsv"), encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            col = header.index("expected_values")
            for line in f:
                cells = line.rstrip("\n").split("\t")
                if cells[0] == fname:
                    out = {}
                    for pair in cells[col].split("; "):
                        k, _, v = pair.partition("=")
                        out[k] = v
                    return out
        raise KeyError(fname)

    def frames(self, fname):
        """The data lines of a .hex vector, as bytes, one per line."""
        out = []
        with open(os.path.join(self.vectors, fname), encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    out.append(binascii.unhexlify(line))
        return out

    @staticmethod
    def mismatches(obj, expected):
        """Fields of a JSON reading that differ from MANIFEST's expected values
        (numbers compared as exact decimals)."""
        bad = []
        for k, want in expected.items():
            got = obj.get(k)
            if isinstance(got, decimal.Decimal):
                try:
                    same = got == decimal.Decimal(want)
                except decimal.InvalidOperation:
                    same = False
            else:
                same = got == want
            if not same:
                bad.append("%s=%r (want %s)" % (k, got, want))
        return bad

    # -- files ------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_config(self, text, name="hanmeterd.conf"):
        p = self.path(name)
        with open(p + ".new", "w") as f:
            f.write(text)
        os.chmod(p + ".new", 0o640)
        os.rename(p + ".new", p)
        return p


class Notify:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []  # (time, "KEY=value") in arrival order
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            now = time.monotonic()
            with self.lock:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.messages.append((now, line))

    def lines(self):
        with self.lock:
            return [m for _, m in self.messages]

    def count(self, line):
        return self.lines().count(line)

    def last_status(self):
        for m in reversed(self.lines()):
            if m.startswith("STATUS="):
                return m[7:]
        return ""

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


class Daemon:
    """hanmeterd -n -c CONF with its own NOTIFY_SOCKET; stderr to a file."""

    def __init__(self, h, conf, jsonl, args=(), env_extra=None):
        self.h = h
        self.conf = conf
        self.jsonl = jsonl
        self.notify = Notify(h.path("notify-%d.sock" % len(h.procs)))
        self.stderr_path = h.path("stderr-%d.log" % len(h.procs))
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path,
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")
        env.pop("WATCHDOG_USEC", None)
        env.pop("WATCHDOG_PID", None)
        env.update(env_extra or {})
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([h.daemon_bin, "-n", "-c", conf] + list(args), env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        h.procs.append(self.proc)

    def wait_for(self, cond, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            if self.proc.poll() is not None:
                return cond()
            time.sleep(0.05)
        return cond()

    def ready(self, timeout=10.0):
        return self.wait_for(lambda: "READY=1" in self.notify.lines(), timeout)

    def readings(self, meter=None):
        """The JSON lines written so far (numbers as Decimal)."""
        out = []
        try:
            with open(self.jsonl, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break  # being written
                    obj = json.loads(line, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
                    if meter is None or obj.get("meter") == meter:
                        out.append(obj)
        except FileNotFoundError:
            pass
        return out

    def stderr_text(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def status_field(self, word):
        """The number before WORD in the last STATUS= ("12 readings" -> 12)."""
        parts = self.notify.last_status().replace(",", "").split()
        for i in range(1, len(parts)):
            if parts[i] == word and parts[i - 1].isdigit():
                return int(parts[i - 1])
        return None

    def online(self):
        """The "(N online)" count of the last STATUS=."""
        m = re.search(r"\((\d+) online\)", self.notify.last_status())
        return int(m.group(1)) if m else None

    def log_count(self, text):
        return self.stderr_text().count(text)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM; returns (exit status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.stderr.close()
        self.notify.close()
        return rc, self.stderr_text()

    def check_clean_exit(self, what="SIGTERM"):
        rc, err = self.stop()
        self.h.check(rc == 0, "%s: exit status 0" % what, "status %s" % rc)
        sanitizer = [l for l in err.splitlines()
                     if "Sanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]
        self.h.check(not sanitizer, "%s: no sanitizer report" % what, "; ".join(sanitizer[:3]))
        self.h.check("STOPPING=1" in self.notify.lines(), "%s: STOPPING=1 sent" % what)
        return err


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
