#!/usr/bin/env python3
"""Container mode, measured: `cronwrightd CRONTAB` as a container runs it.

Each figure comes from the real release binary on a temporary crontab, read from its stdout:
- start: from exec to the START line (median of --starts runs);
- idle: RSS and USS of a daemon with a few jobs, after it has settled (smaps_rollup);
- passthrough: one job prints --lines lines; time from its CMD line to the last line read
  back, and the daemon's CPU time for it;
- orphans: one job leaves --orphans processes in sessions of their own, each exiting at
  0.3 s later; how long until every one is reaped (REAPED lines), and zombies left over (should be 0);
- stop: SIGTERM while a job sleeps; time to the daemon's exit with the default grace period.

Usage: python3 benches/container.py [--no-build] [--starts N] [--lines N] [--orphans N]
Needs nothing but Python 3 and the repository. Not a test: it asserts nothing.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cronwrightd")
TICKS = os.sysconf("SC_CLK_TCK")


class Daemon:
    """cronwrightd --log json on `crontab`, its stdout lines collected with arrival times."""

    def __init__(self, crontab_text, extra=()):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.crontab = os.path.join(d, "crontab")
        with open(self.crontab, "w") as f:
            f.write(crontab_text)
        config = os.path.join(d, "cronwright.toml")
        with open(config, "w") as f:
            f.write(
                f'[daemon]\nstate_dir = "{d}/state"\ncontrol_socket = "{d}/control.sock"\n'
                f'reboot_marker = "{d}/reboot"\n[jobs]\npam = false\n'
            )
        self.lines = []
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [BIN, "--config", config, "--log", "json", *extra, self.crontab],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=d,
            env={**os.environ, "TZ": "UTC"},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        import json

        for raw in self.proc.stdout:
            try:
                v = json.loads(raw)
            except ValueError:
                continue
            with self.lock:
                self.lines.append((time.monotonic(), v))

    def wait_for(self, pred, timeout=60.0, count=1):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                hits = [(t, v) for t, v in self.lines if pred(v)]
            if len(hits) >= count:
                return hits
            time.sleep(0.002)
        raise SystemExit(f"timed out waiting ({count} wanted)")

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def memory(self):
        got = {}
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Private_Clean", "Private_Dirty"):
                    got[key] = int(rest.split()[0])
        return got["Rss"] / 1024, (got["Private_Clean"] + got["Private_Dirty"]) / 1024

    def stop(self, sig=signal.SIGTERM):
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        return code, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.dir.cleanup()


def event(name):
    return lambda v: v.get("event") == name


def measure_start(n):
    took = []
    for _ in range(n):
        d = Daemon("0 0 1 1 * true\n")
        t, _ = d.wait_for(event("START"))[0]
        took.append((t - d.started) * 1000)
        d.stop()
        d.close()
    return statistics.median(took)


def measure_idle():
    d = Daemon("".join(f"{i} 3 * * * echo job {i}\n" for i in range(5)))
    d.wait_for(event("START"))
    time.sleep(3)
    rss, uss = d.memory()
    d.close()
    return rss, uss


def measure_passthrough(lines):
    d = Daemon(f"CRON_NAME=chatty\n@reboot seq {lines}\n", ["--passthrough"])
    d.wait_for(event("START"))
    cpu0 = d.cpu()
    cmd_t, cmd = d.wait_for(event("CMD"))[0]
    pid = cmd["pid"]
    last = d.wait_for(
        lambda v: v.get("event") == "OUTPUT" and v.get("pid") == pid and v.get("line") == str(lines)
    )[0][0]
    cpu = d.cpu() - cpu0
    with d.lock:
        got = sum(1 for _, v in d.lines if v.get("event") == "OUTPUT" and v.get("pid") == pid)
    d.close()
    return last - cmd_t, cpu, got


def measure_orphans(n):
    job = f"for i in $(seq {n}); do setsid sleep 0.3 & done; echo left {n}"
    d = Daemon(f"CRON_NAME=leaver\n@reboot {job}\n")
    end_t, _ = d.wait_for(event("END"))[0]
    hits = d.wait_for(event("REAPED"), count=n, timeout=30)
    last = max(t for t, _ in hits)
    time.sleep(0.5)
    zombies = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if rest[0] == "Z" and int(rest[1]) == d.proc.pid:
            zombies += 1
    d.close()
    return len(hits), max(0.0, last - end_t), zombies


def measure_stop():
    d = Daemon("CRON_NAME=long\n@reboot sleep 60\n")
    d.wait_for(event("CMD"))
    code, took = d.stop()
    d.wait_for(event("STOP"), timeout=5)
    with d.lock:
        end = [v for _, v in d.lines if v.get("event") == "END"]
    d.close()
    return code, took, end[0]["status"] if end else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--starts", type=int, default=20)
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--orphans", type=int, default=200)
    a = p.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "cronwrightd"], cwd=ROOT, check=True)
    print(f"start, exec to START: {measure_start(a.starts):.1f} ms (median of {a.starts})")
    rss, uss = measure_idle()
    print(f"idle, 5 jobs: RSS {rss:.2f} MiB, USS {uss:.2f} MiB")
    took, cpu, got = measure_passthrough(a.lines)
    print(
        f"passthrough, {a.lines} lines of one job: {got} lines out in {took * 1000:.0f} ms "
        f"({got / took / 1000:.0f}k lines/s), daemon CPU {cpu * 1000:.0f} ms"
    )
    reaped, after, zombies = measure_orphans(a.orphans)
    print(f"orphans, {a.orphans} left by one job: {reaped} reaped, the last {after * 1000:.0f} ms after the job's END; zombies left: {zombies}")
    code, took, status = measure_stop()
    print(f"stop with a job sleeping, default grace: exit {code} after {took:.2f} s, the job's END status={status}")


if __name__ == "__main__":
    sys.exit(main())
