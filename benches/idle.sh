#!/usr/bin/env bash
# Idle cost of cronwrightd: wakeups (context switches of all its threads) and memory over a
# window, with one job due once a day, the run history, the control socket and the metrics on. Usage: benches/idle.sh [SECONDS] (default 600).
# Prints the figures; needs nothing but a built release binary (it builds one).
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-600}
cargo build --release --quiet --bin cronwrightd
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
printf '0 4 * * * echo daily\n' > "$dir/daily"
chmod 600 "$dir/daily"
cat > "$dir/cronwright.toml" <<EOT
[sources]
system_crontab = ""
system_dirs = []
user_spool = ""
extra_user_crontabs = ["$dir/daily"]
[log]
syslog = false
[mail]
enabled = false
[daemon]
timezone = "UTC"
reboot_marker = "$dir/reboot"
state_dir = "$dir/state"
control_socket = "$dir/control.sock"
# History (on by default) and metrics on: neither may add a wakeup while nothing is due.
[metrics]
listen = "127.0.0.1:0"
textfile = "$dir/cronwright.prom"
EOT
./target/release/cronwrightd --foreground --config "$dir/cronwright.toml" 2>/dev/null &
pid=$!
sleep 2
switches() {
  local total=0
  for t in /proc/$pid/task/*; do
    local v n
    v=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")
    n=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")
    total=$((total + v + n))
  done
  echo "$total"
}
threads=$(ls /proc/$pid/task | wc -l)
before=$(switches)
ticks_before=$(awk '{print $14 + $15}' /proc/$pid/stat)
sleep "$window"
after=$(switches)
ticks_after=$(awk '{print $14 + $15}' /proc/$pid/stat)
rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
hz=$(getconf CLK_TCK)
echo "window=${window}s threads=$threads wakeups=$((after - before)) wakeups_per_hour=$(( (after - before) * 3600 / window ))"
echo "cpu=$(( (ticks_after - ticks_before) * 1000 / hz ))ms rss=${rss}kB peak_rss=${hwm}kB"
