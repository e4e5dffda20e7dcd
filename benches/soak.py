#!/usr/bin/env python3
"""Soak: cronwrightd running JOBS jobs a second (default 1,000) for SECONDS (default 600),
as the current user, on a private directory. Every 10 s it samples the daemon's descriptors,
RSS, threads, zombie children and the size of its journal of runs in flight; at the end it checks that every run the log started it
also ended (every CMD has its END), and prints the samples and the totals.

Usage: python3 benches/soak.py [--jobs N] [--seconds S]   (from the repository; builds
cronwrightd in release mode first). Python standard library only. Not a CI test: it runs for
minutes and needs the machine to itself.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return "?"


def zombies(pid):
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and fields[1] == str(pid):
            count += 1
    return count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000, help="jobs due every second")
    ap.add_argument("--seconds", type=int, default=600)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "cronwrightd"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target/release/cronwrightd")
    work = tempfile.mkdtemp(prefix="cronwright-soak.")
    sock_path = os.path.join(work, "log.sock")
    tab = os.path.join(work, "tab")
    with open(tab, "w") as f:
        f.write("* * * * * * true\n" * args.jobs)
    with open(os.path.join(work, "cronwright.toml"), "w") as f:
        f.write(
            f'[sources]\nsystem_crontab = ""\nsystem_dirs = []\nuser_spool = ""\n'
            f'extra_user_crontabs = ["{tab}"]\n[log]\nsyslog = true\nsyslog_socket = "{sock_path}"\n'
            f'[mail]\nenabled = false\n[jobs]\nmax_running_per_user = {args.jobs * 2}\n'
            f'[daemon]\ntimezone = "UTC"\nreboot_marker = "{work}/reboot"\n'
            f'state_dir = "{work}/state"\ncontrol_socket = "{work}/control.sock"\n'
        )
    journal = os.path.join(work, "state", "inflight")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(sock_path)
    counts = {"CMD": 0, "END": 0, "ERROR": 0, "other": 0}
    started, ended = set(), set()
    stop = threading.Event()

    def receive():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                data = sock.recv(1 << 16).decode(errors="replace")
            except socket.timeout:
                continue
            msg = data.split("]: ", 1)[-1]
            if ") CMD (" in msg:
                counts["CMD"] += 1
                started.add(msg.rsplit("pid=", 1)[1].split()[0])
            elif ") END (" in msg:
                counts["END"] += 1
                ended.add(msg.split(" pid=", 1)[1].split()[0])
            elif msg.startswith("ERROR"):
                counts["ERROR"] += 1
            else:
                counts["other"] += 1

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    daemon = subprocess.Popen(
        [binary, "--foreground", "--config", os.path.join(work, "cronwright.toml")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "TZ": "UTC"},
    )
    print("  s   fds  rss_kib  threads  zombies journal_b  CMD  END")
    begin = time.time()
    try:
        while time.time() - begin < args.seconds:
            time.sleep(10)
            pid = daemon.pid
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            size = os.path.getsize(journal) if os.path.exists(journal) else 0
            print(f"{time.time() - begin:4.0f} {fds:5d} {status(pid, 'VmRSS'):>8} "
                  f"{status(pid, 'Threads'):>8} {zombies(pid):8d} {size:9d} "
                  f"{counts['CMD']:5d} {counts['END']:5d}",
                  flush=True)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        time.sleep(1)
        stop.set()
        reader.join()
    missing = started - ended
    print(f"runs started {len(started)}, ended {len(ended)}, started without an END {len(missing)}, "
          f"ERROR lines {counts['ERROR']}, other lines {counts['other']}")
    return 1 if missing or counts["CMD"] != counts["END"] else 0


if __name__ == "__main__":
    sys.exit(main())
