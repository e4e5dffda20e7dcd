#!/usr/bin/env bash
# What looking a job's user up at each start costs: getpwnam_r + getgrouplist, the two calls
# the daemon makes (as root) before every start, timed over 10,000 lookups, first with this
# machine's /etc/passwd and /etc/group, then (as root, in a private mount namespace) with
# 10,000 more users and groups in those files, the worst case of NSS "files".
# Usage: bash benches/user_lookup.sh   (needs gcc; the second part needs root and unshare)
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/lookup.c" <<'C'
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <time.h>
int main(int argc, char **argv) {
  const char *name = argc > 1 ? argv[1] : "root";
  const int n = 10000;
  char buf[16384];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    struct passwd pw, *found;
    if (getpwnam_r(name, &pw, buf, sizeof buf, &found) != 0 || !found) return 1;
    gid_t groups[1024];
    int count = 1024;
    if (getgrouplist(name, pw.pw_gid, groups, &count) < 0) return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
  printf("%-6s %8.1f us per lookup\n", name, us);
  return 0;
}
C
gcc -O2 -o "$work/lookup" "$work/lookup.c"
echo "this machine: $(wc -l < /etc/passwd) passwd lines, $(wc -l < /etc/group) group lines"
"$work/lookup" root
if [ "$(id -u)" != 0 ]; then
  echo "skipped: the 10,000-user case needs root (mount namespace)"
  exit 0
fi
cp /etc/passwd "$work/passwd"
cp /etc/group "$work/group"
for i in $(seq 0 9999); do
  echo "u$i:x:$((20000 + i)):$((20000 + i))::/home/u$i:/bin/sh" >> "$work/passwd"
  echo "g$i:x:$((20000 + i)):" >> "$work/group"
done
echo "with 10,000 more users and groups in the files:"
unshare --mount --propagation private -- sh -c \
  "mount --bind $work/passwd /etc/passwd && mount --bind $work/group /etc/group &&
   $work/lookup root && $work/lookup u9999"
