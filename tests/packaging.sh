#!/usr/bin/env bash
# tests/packaging.sh: the Debian package, for real. Builds the .deb with cargo-deb, checks
# its files and control fields, installs it with dpkg, checks what the postinst set up (the
# crontab group, the spool's owner and mode, the setgid crontab binary), verifies the
# installed systemd unit and the installed configuration, then removes and purges it and
# checks what each keeps. Needs root (dpkg); prints "skipped: needs root" otherwise.
#
# The machine is left as it was found: the trap purges the package and whatever this script
# installed or created for it. On a machine where another cron daemon is installed, or
# cronwright already is, nothing is installed (the package would replace it).
#
# Each step is a function, so that the administrator's path (issue 4) can be added as more
# steps between install_deb and remove_and_purge. Exits non-zero at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly PKG=cronwright
readonly CONFLICTING=(cron cronie systemd-cron bcron)
readonly SPOOL=/var/spool/cron/crontabs
readonly UNIT=/usr/lib/systemd/system/cronwright.service

DEB=""               # the built package
WORK=""              # scratch directory
INSTALLED=0          # 1 once this script installed the package
ADDED_DEPS=()        # packages this script installed as dependencies, purged at the end
GROUP_EXISTED=1      # whether the crontab group was there before
SPOOL_EXISTED=1      # whether the spool directory was there before

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

ok() {
  echo "ok: $*"
}

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# Checks `stat -c '%a %U:%G'` of a path against what is expected.
expect_mode() {
  local path=$1 want=$2 got
  got=$(stat -c '%a %U:%G' "$path") || fail "$path is missing"
  [ "$got" = "$want" ] || fail "$path is $got, expected $want"
  ok "$path is $want"
}

cleanup() {
  local status=$?
  set +e
  admin_cleanup
  if [ "$INSTALLED" = 1 ] && dpkg-query -W "$PKG" >/dev/null 2>&1; then
    dpkg --purge "$PKG" >/dev/null
  fi
  if [ "${#ADDED_DEPS[@]}" -gt 0 ]; then
    dpkg --purge "${ADDED_DEPS[@]}" >/dev/null
  fi
  if [ "$SPOOL_EXISTED" = 0 ]; then
    rmdir "$SPOOL" /var/spool/cron 2>/dev/null
  fi
  if [ "$GROUP_EXISTED" = 0 ] && getent group crontab >/dev/null; then
    groupdel crontab
  fi
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit "$status"
}

require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "skipped: needs root"
    exit 0
  fi
}

ensure_tools() {
  if ! command -v systemd-analyze >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq systemd >/dev/null
  fi
  if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked
  fi
}

build_deb() {
  # cargo deb prints the package's path as its last line on stdout.
  DEB=$(cargo deb | tail -n 1)
  [ -f "$DEB" ] || fail "cargo deb did not produce a package (got '$DEB')"
  ok "built $DEB"
}

check_deb_contents() {
  local listing
  listing=$(dpkg-deb -c "$DEB")
  local want
  for want in \
    '-rwxr-xr-x root/root .* ./usr/sbin/cronwrightd$' \
    '-rwxr-xr-x root/root .* ./usr/sbin/cronwright-session$' \
    '-rwxr-xr-x root/root .* ./usr/bin/cronwright$' \
    'lrwxrwxrwx root/root .* ./usr/bin/crontab -> cronwright$' \
    '-rw-r--r-- root/root .* ./usr/lib/systemd/system/cronwright.service$' \
    '-rw-r--r-- root/root .* ./etc/cronwright/cronwright.toml$' \
    '-rw-r--r-- root/root .* ./etc/pam.d/cron$' \
    '-rw-r--r-- root/root .* ./usr/share/man/man8/cronwrightd.8.gz$' \
    '-rw-r--r-- root/root .* ./usr/share/doc/cronwright/copyright$'; do
    # dpkg-deb prints owners as 0/0 or root/root depending on the tar member.
    grep -Eq "^${want//root\/root/(root/root|0/0)}" <<<"$listing" ||
      fail "the package lacks: $want"$'\n'"$listing"
  done
  ok "the package holds the binaries, the crontab symlink, the unit, the config, the PAM service, the man page"
  # The setgid bit is set by the postinst with the crontab group; set at build time it could
  # only be setgid root, so no file in the archive may carry a set-id bit.
  if grep -Eq '^-..[sS]|^-.....[sS]' <<<"$listing"; then
    fail "a file in the package is setuid or setgid"$'\n'"$listing"
  fi
  ok "no setuid or setgid file in the archive"
  # Only our own paths: /etc/cron.d, /etc/crontab and the spool belong to cron-daemon-common.
  if grep -Eq '\./(etc/cron\.d|etc/crontab|var/)' <<<"$listing"; then
    fail "the package ships a path cron-daemon-common owns"$'\n'"$listing"
  fi
  ok "the package ships nothing cron-daemon-common owns"
}

check_deb_control() {
  local field want got
  while IFS='|' read -r field want; do
    got=$(dpkg-deb -f "$DEB" "$field")
    [[ "$got" =~ $want ]] || fail "control field $field is '$got', expected /$want/"
  done <<'EOF'
Package|^cronwright$
Provides|^cron-daemon$
Conflicts|^cron, cronie, systemd-cron, bcron$
Replaces|^cron, cronie, systemd-cron, bcron$
Depends|cron-daemon-common
Depends|libc6
Depends|libpam0g
Section|^admin$
EOF
  ok "control fields: Provides cron-daemon, Conflicts/Replaces the other crons"
  grep -qx /etc/cronwright/cronwright.toml <<<"$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" ||
    fail "/etc/cronwright/cronwright.toml is not a conffile"
  ok "/etc/cronwright/cronwright.toml is a conffile"
  grep -qx /etc/pam.d/cron <<<"$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" ||
    fail "/etc/pam.d/cron is not a conffile"
  ok "/etc/pam.d/cron is a conffile"
  local script listing
  # Listed into a variable first: with pipefail, `grep -q` closing the pipe early would
  # make tar die of SIGPIPE and the check fail at random.
  listing=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -t)
  for script in postinst prerm postrm; do
    grep -qx "./$script" <<<"$listing" || fail "no $script in the package"
  done
  ok "maintainer scripts postinst, prerm, postrm are present"
}

# The unit as shipped, but with ExecStart at the freshly built binary, so that verify's
# check that the program exists does not depend on the package being installed.
verify_unit_in_tree() {
  local target_dir
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [ -x "$target_dir/release/cronwrightd" ] || fail "no $target_dir/release/cronwrightd"
  mkdir -p "$WORK/unit"
  sed "s|^ExecStart=/usr/sbin/cronwrightd|ExecStart=$target_dir/release/cronwrightd|" \
    systemd/cronwright.service >"$WORK/unit/cronwright.service"
  # The man page is not installed yet, so its Documentation= link cannot be checked here.
  systemd-analyze verify --man=no "$WORK/unit/cronwright.service" ||
    fail "systemd-analyze verify failed on systemd/cronwright.service"
  ok "systemd-analyze verify passes on the unit (tree copy)"
}

# Whether installing would replace something; prints the reason.
install_blocked() {
  local p
  for p in "${CONFLICTING[@]}"; do
    if is_installed "$p"; then
      echo "$p is installed"
      return 0
    fi
  done
  if dpkg-query -W "$PKG" >/dev/null 2>&1; then
    echo "$PKG is already installed"
    return 0
  fi
  return 1
}

install_deb() {
  getent group crontab >/dev/null || GROUP_EXISTED=0
  [ -d "$SPOOL" ] || SPOOL_EXISTED=0
  if ! is_installed cron-daemon-common; then
    # Through apt, the ordinary client; dpkg -i resolves no dependencies.
    apt-get install -y -qq cron-daemon-common >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq cron-daemon-common >/dev/null; }
    ADDED_DEPS+=(cron-daemon-common)
  fi
  INSTALLED=1
  dpkg -i "$DEB" >/dev/null || fail "dpkg -i $DEB failed"
  is_installed "$PKG" || fail "$PKG is not installed after dpkg -i"
  ok "dpkg -i installed $PKG"
}

check_postinst() {
  getent group crontab >/dev/null || fail "no crontab group"
  ok "group crontab exists"
  expect_mode /var/spool/cron "755 root:root"
  expect_mode "$SPOOL" "1730 root:crontab"
  expect_mode /usr/bin/cronwright "2755 root:crontab"
  expect_mode /usr/sbin/cronwrightd "755 root:root"
  [ "$(readlink /usr/bin/crontab)" = cronwright ] || fail "/usr/bin/crontab is not a symlink to cronwright"
  ok "/usr/bin/crontab -> cronwright"
  grep -qx 'root crontab 2755 /usr/bin/cronwright' <<<"$(dpkg-statoverride --list /usr/bin/cronwright)" ||
    fail "no dpkg-statoverride for /usr/bin/cronwright"
  ok "dpkg-statoverride keeps the setgid mode across upgrades"
  [ -L /etc/systemd/system/multi-user.target.wants/cronwright.service ] ||
    fail "the unit is not enabled (no multi-user.target.wants link)"
  ok "the unit is enabled"
}

check_installed_unit() {
  local man=yes
  # Without man(1), verify cannot look the Documentation= page up.
  command -v man >/dev/null 2>&1 || man=no
  systemd-analyze verify --man="$man" "$UNIT" || fail "systemd-analyze verify failed on $UNIT"
  ok "systemd-analyze verify passes on the installed unit (man=$man)"
}

check_installed_config() {
  local exec_start
  # The command line the unit runs, plus --check-config: it reads the same default config.
  exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
  $exec_start --check-config || fail "cronwrightd --check-config rejects the installed config"
  ok "the installed /etc/cronwright/cronwright.toml passes --check-config"
}

remove_and_purge() {
  # A user's crontab stands in for the users' data that remove and purge must both keep.
  touch "$SPOOL/.packaging-test"
  dpkg --remove "$PKG" >/dev/null || fail "dpkg --remove failed"
  [ ! -e /usr/sbin/cronwrightd ] && [ ! -e /usr/bin/crontab ] || fail "binaries left after remove"
  [ -f /etc/cronwright/cronwright.toml ] || fail "remove deleted the configuration"
  [ -e "$SPOOL/.packaging-test" ] || fail "remove deleted the spool"
  ok "dpkg --remove keeps the configuration and the spool"
  dpkg --purge "$PKG" >/dev/null || fail "dpkg --purge failed"
  [ ! -e /etc/cronwright ] || fail "purge left /etc/cronwright"
  [ -e "$SPOOL/.packaging-test" ] || fail "purge deleted the spool"
  ! dpkg-statoverride --list /usr/bin/cronwright >/dev/null || fail "purge left the statoverride"
  ok "dpkg --purge removes the configuration and the statoverride, keeps the spool"
  rm -f "$SPOOL/.packaging-test"
}

# ---------------------------------------------------------------------------------------
# The administrator's path (issue 4): rsyslog from Debian, two users, a crontab installed
# with `crontab` as one of them, cronwrightd started exactly as the unit's ExecStart does
# (there is no systemd as PID 1 here), and the evidence read back from /var/log/syslog.

ADMIN_USERS=()       # users this script created
RSYSLOG_PID=""       # the rsyslogd this script started
DAEMON_PID=""        # the cronwrightd this script started

admin_cleanup() {
  set +e
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  [ -n "$RSYSLOG_PID" ] && kill "$RSYSLOG_PID" 2>/dev/null
  for u in "${ADMIN_USERS[@]}"; do
    rm -f "$SPOOL/$u"
    userdel -r "$u" >/dev/null 2>&1
  done
}

start_rsyslog() {
  if ! is_installed rsyslog; then
    apt-get install -y -qq rsyslog >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq rsyslog >/dev/null; }
    ADDED_DEPS+=(rsyslog)
  fi
  if ! pgrep -x rsyslogd >/dev/null; then
    rm -f /run/rsyslogd.pid
    rsyslogd -n -iNONE &
    RSYSLOG_PID=$!
  fi
  local i
  for i in $(seq 100); do [ -S /dev/log ] && break; sleep 0.1; done
  [ -S /dev/log ] || fail "rsyslogd did not create /dev/log"
  ok "rsyslog runs and listens on /dev/log"
}

add_user() {
  useradd -m -s /bin/sh "$1"
  ADMIN_USERS+=("$1")
}

# Waits up to 30 s for a line matching the pattern in /var/log/syslog.
wait_syslog() {
  local pattern=$1 i
  for i in $(seq 300); do
    grep -qE "$pattern" /var/log/syslog 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no line matching '$pattern' in /var/log/syslog"
}

admin_path() {
  start_rsyslog
  local alice=cwadmin$$a bob=cwadmin$$b
  add_user "$alice"
  add_user "$bob"
  local tab
  tab=$(mktemp -p "$WORK")
  chmod 644 "$tab"
  printf '*/2 * * * * * echo "hello from $(id -un) in $HOME"\n' > "$tab"
  runuser -u "$alice" -- crontab - < "$tab" || fail "$alice could not install a crontab"
  expect_mode "$SPOOL/$alice" "600 $alice:crontab"
  ok "$alice installed a crontab with crontab(1)"

  # Started as systemd would: the unit's ExecStart, in the background.
  local exec_start
  exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
  $exec_start &
  DAEMON_PID=$!
  # The package's /etc/pam.d/cron is there, so jobs run in PAM sessions (Debian's stack).
  wait_syslog "cronwrightd\\[$DAEMON_PID\\]: START .* pam=cron"
  wait_syslog "\\($alice\\) END \\(echo \"hello from .*status=0 "
  wait_syslog "\\($alice\\) OUT \\(echo .*\\| hello from $alice in /home/$alice"
  ok "the job ran as $alice in a PAM session, and syslog has its exit status and output"

  # The other user can neither read nor replace it.
  runuser -u "$bob" -- crontab -l -u "$alice" >/dev/null 2>&1 && fail "$bob listed $alice's crontab"
  runuser -u "$bob" -- cat "$SPOOL/$alice" >/dev/null 2>&1 && fail "$bob read $alice's crontab"
  runuser -u "$bob" -- sh -c "echo '* * * * * * id' > $SPOOL/$alice" 2>/dev/null &&
    fail "$bob overwrote $alice's crontab"
  runuser -u "$bob" -- crontab -u "$alice" - < "$tab" >/dev/null 2>&1 && fail "$bob replaced $alice's crontab"
  ok "$bob can neither read nor replace $alice's crontab"

  # A syntax error is refused at install time, and the installed crontab stays.
  local before
  before=$(cat "$SPOOL/$alice")
  if printf '0 0 1 jna * /bin/true\n' | runuser -u "$alice" -- crontab - 2>"$WORK/err"; then
    fail "a crontab with an error was installed"
  fi
  grep -q "unknown month name 'jna'" "$WORK/err" || fail "no diagnostic: $(cat "$WORK/err")"
  [ "$(cat "$SPOOL/$alice")" = "$before" ] || fail "the refused crontab replaced the old one"
  ok "a syntax error is refused at install time with its diagnostic"

  # crontab -r stops the job.
  runuser -u "$alice" -- crontab -r || fail "crontab -r failed"
  wait_syslog "RELOAD $SPOOL/$alice entries=0"
  sleep 3
  local last
  last=$(grep -c "($alice) CMD" /var/log/syslog)
  sleep 3
  [ "$(grep -c "($alice) CMD" /var/log/syslog)" = "$last" ] || fail "the job still runs after crontab -r"
  ok "crontab -r stops the job"

  kill "$DAEMON_PID"
  wait "$DAEMON_PID" || fail "cronwrightd did not exit 0 on SIGTERM"
  DAEMON_PID=""
  ok "cronwrightd stopped with status 0"
}

main() {
  require_root
  ensure_tools
  WORK=$(mktemp -d)
  trap cleanup EXIT
  build_deb
  check_deb_contents
  check_deb_control
  verify_unit_in_tree
  local why
  if why=$(install_blocked); then
    echo "skipped: install checks ($why; not replacing it)"
    return 0
  fi
  install_deb
  check_postinst
  check_installed_unit
  check_installed_config
  admin_path
  admin_cleanup
  remove_and_purge
  echo "packaging: all checks passed"
}

main "$@"
