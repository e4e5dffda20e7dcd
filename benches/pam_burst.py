#!/usr/bin/env python3
"""What a PAM session costs a job: cronwrightd (release build) runs a throwaway user's
crontab of N lines that all fire every second, first with `[jobs] pam = false`, then with
`pam = true` and the package's own /etc/pam.d/cron (Debian's stack: pam_unix's account check,
pam_loginuid, pam_env twice, pam_unix's session, pam_limits), which a private mount namespace
puts in place of the machine's. Each line the daemon logs is timestamped as it arrives; a
burst lasts from its first CMD to its last END.

Usage (as root, after `cargo build --release`):
    python3 benches/pam_burst.py [N] [SECONDS] [SERVICE_FILE]
SERVICE_FILE replaces the package's /etc/pam.d/cron (a file of `pam_permit.so` lines measures
the helper alone). Prints, for each mode, the median burst and the time per job, and the
difference per job.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMON = os.path.join(ROOT, "target/release/cronwrightd")
SERVICE = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "packaging/pam.d/cron")
USER = "cwpambench"


def run(mode_pam, n, seconds, work):
    config = os.path.join(work, f"pam-{mode_pam}.toml")
    with open(config, "w") as f:
        f.write(
            f"""[sources]
system_crontab = ""
system_dirs = []
user_spool = "{work}/spool"
[log]
syslog = false
[daemon]
timezone = "UTC"
reboot_marker = "{work}/reboot"
state_dir = "{work}/state-{mode_pam}"
control_socket = "{work}/control-{mode_pam}.sock"
[jobs]
pam = {"true" if mode_pam else "false"}
max_running_per_user = {n + 10}
"""
        )
    script = (
        't=$(mktemp -d) && mkdir "$t/u" "$t/w" && '
        'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/u,workdir=$t/w" /etc && '
        f'cp {SERVICE} /etc/pam.d/cron && exec {DAEMON} --config {config} --log stderr'
    )
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        stderr=subprocess.PIPE,
        text=True,
    )
    bursts = {}  # second -> [first CMD, last END, ENDs]
    errors = 0
    deadline = time.monotonic() + seconds + 3
    for line in proc.stderr:
        now = time.monotonic()
        if "PAM refused" in line or line.startswith("ERROR"):
            errors += 1
        second = int(time.time())
        if ") CMD (" in line:
            bursts.setdefault(second, [now, now, 0])
        elif ") END (" in line:
            # An END belongs to the newest burst that has not yet seen all its ENDs.
            for key in sorted(bursts):
                b = bursts[key]
                if b[2] < n:
                    b[1] = now
                    b[2] += 1
                    break
        if now > deadline:
            break
    proc.terminate()
    proc.wait()
    complete = [b[1] - b[0] for k, b in sorted(bursts.items()) if b[2] == n][1:]
    return complete, errors


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    if os.geteuid() != 0:
        print("skipped: needs root (a throwaway user, a mount namespace)")
        return
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
    try:
        with tempfile.TemporaryDirectory() as work:
            os.mkdir(os.path.join(work, "spool"))
            tab = os.path.join(work, "spool", USER)
            with open(tab, "w") as f:
                f.write("MAILTO=\"\"\n" + "* * * * * * true\n" * n)
            os.chmod(tab, 0o600)
            subprocess.run(["chown", USER, tab], check=True)
            results = {}
            for pam in (False, True):
                bursts, errors = run(pam, n, seconds, work)
                if not bursts:
                    sys.exit(f"pam={pam}: no complete burst")
                med = statistics.median(bursts)
                results[pam] = med
                print(
                    f"pam={'on ' if pam else 'off'} bursts={len(bursts)} jobs/burst={n} "
                    f"median burst={med * 1000:.1f} ms ({med / n * 1e6:.0f} us a job) "
                    f"errors={errors}"
                )
            extra = (results[True] - results[False]) / n
            print(f"a PAM session adds {extra * 1e6:.0f} us to each job's start and end")
    finally:
        subprocess.run(["userdel", "-r", USER], capture_output=True)


if __name__ == "__main__":
    main()
