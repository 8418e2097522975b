#!/usr/bin/env bash
# The README's commands on a bare Debian, as a newcomer meets them: debootstrap a minimal
# Debian (minbase plus python3, make and git, what the README assumes), `git clone` this
# repository inside it, then `make run` and `make test` inside it (pivot_root in a mount
# namespace of its own), as root and then as a user with sudo. Not part of `make test`: it needs root, a network that reaches Debian's
# mirror, PyPI and npm, and about an hour on two cores.
#
#   sudo .ci/fresh-debian.sh [--user-only | --root-only] [--keep]
#
# It tests the commit HEAD names (not uncommitted changes), pushed as `main` to a bare
# repository inside the root. Environment:
#   SUITE     Debian suite (default: this machine's VERSION_CODENAME, e.g. bookworm)
#   MIRROR    Debian mirror (default http://deb.debian.org/debian)
#   WORKDIR   where the roots go (default /var/tmp/tl-fresh-debian): base, the debootstrapped
#             Debian, copied to root/ and user/ for the two runs (each on a fresh copy, so
#             the user's run installs its packages through sudo); removed at the end unless
#             --keep, never while anything is mounted under them
#   STEPS     the shell commands run in each root instead of the README's (to check this
#             script itself quickly, e.g. STEPS='echo make run: exit 0; echo make test: exit 0')
#   CA_BUNDLE a PEM bundle pip and npm inside should trust, for a network whose
#             HTTPS goes through an intercepting proxy (e.g. /etc/ssl/certs/ca-certificates.crt)
# Each run's output goes to $WORKDIR/root.log and $WORKDIR/user.log (lines "make run: exit N
# (S s)" and "make test: exit N (S s)"); the script prints those and pytest's summary line,
# and exits 0 only when every `make run` and `make test` did.
set -euo pipefail
# one brace group: bash reads it whole before running it, so editing this file mid-run is safe
{

as_root=1 as_user=1 keep=0
for arg in "$@"; do
  case "$arg" in
    --user-only) as_root=0 ;;
    --root-only) as_user=0 ;;
    --keep) keep=1 ;;
    *) echo "usage: .ci/fresh-debian.sh [--user-only | --root-only] [--keep]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "error: debootstrap, mount and pivot_root need root: run it with sudo" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 ||
  { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
SUITE=${SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[ -n "$SUITE" ] || { echo "error: set SUITE (e.g. bookworm)" >&2; exit 1; }
MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORKDIR=${WORKDIR:-/var/tmp/tl-fresh-debian}
base=$WORKDIR/base   # the debootstrapped Debian, never mounted into; copied for each run
root=                # the copy a run uses, with mounts while it runs
mounts=(proc sys dev dev/pts dev/shm)

mounted_under() { findmnt -rn -o TARGET | grep -q "^$1\(/\|$\)"; }
unmount_all() {
  local m i
  [ -n "$root" ] || return 0
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=$root/${mounts[i]}
    if mountpoint -q "$m"; then umount "$m" || umount -l "$m"; fi
  done
}
remove() {  # a root, never while anything is mounted under it
  if mounted_under "$1"; then
    echo "warning: mounts left under $1; not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$1"
}
child=               # the process group of the command running in the root
stop_child() {  # when stopped early: that command and what it started
  [ -n "$child" ] || return 0
  kill -TERM -- "-$child" 2>/dev/null || true
  sleep 2
  kill -KILL -- "-$child" 2>/dev/null || true
}
cleanup() {
  stop_child
  unmount_all
  [ -z "$root" ] || [ "$keep" -eq 1 ] || remove "$root" || true
  [ "$keep" -eq 1 ] || remove "$base" || true
}

for dir in "$base" "$WORKDIR/root" "$WORKDIR/user"; do
  if [ -e "$dir" ]; then
    mounted_under "$dir" &&
      { echo "error: $dir has mounts under it (an earlier run?): unmount them first" >&2; exit 1; }
    rm -rf --one-file-system "$dir"
  fi
done
mkdir -p "$WORKDIR"
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
echo "== debootstrap $SUITE (minbase + python3 make git) into $base"
debootstrap --variant=minbase --include=python3,make,git "$SUITE" "$base" "$MIRROR" \
  >"$WORKDIR/debootstrap.log" 2>&1 || { tail -20 "$WORKDIR/debootstrap.log"; exit 1; }
# the sources a Debian installer writes (debootstrap writes only the suite itself)
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  case "$MIRROR" in
    http://deb.debian.org/debian) echo "deb http://deb.debian.org/debian-security $SUITE-security main" ;;
  esac
} >"$base/etc/apt/sources.list"
cp /etc/resolv.conf "$base/etc/resolv.conf"
# the host name in /etc/hosts, as the installer writes it (else sudo warns it cannot resolve it)
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$(hostname)" >"$base/etc/hosts"
ca_env=()
if [ -n "${CA_BUNDLE:-}" ]; then
  cp "$CA_BUNDLE" "$base/etc/fresh-ca-bundle.crt"
  ca_env=(PIP_CERT=/etc/fresh-ca-bundle.crt NODE_EXTRA_CA_CERTS=/etc/fresh-ca-bundle.crt
    SSL_CERT_FILE=/etc/fresh-ca-bundle.crt)
fi
git init -q --bare "$base/srv/tensorlogic-tools.git"
git -C "$repo" push -q "$base/srv/tensorlogic-tools.git" HEAD:refs/heads/main
git -C "$base/srv/tensorlogic-tools.git" symbolic-ref HEAD refs/heads/main
commit=$(git -C "$repo" rev-parse --short HEAD)

# The README's steps, in a login-like environment with nothing of ours: HOME, a plain PATH,
# no locale (a minbase Debian has none) and no terminal.
newcomer=${STEPS:-'set -u; cd ~ && git clone -q /srv/tensorlogic-tools.git && cd tensorlogic-tools || exit 1
s=$(date +%s); make run; echo "make run: exit $? ($(( $(date +%s) - s )) s)"
s=$(date +%s); make test; echo "make test: exit $? ($(( $(date +%s) - s )) s)"'}
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Into the root: not chroot, under which the kernel refuses user namespaces (`unshare --user`,
# which a test uses as any user may on Debian), but pivot_root in a mount namespace of its own,
# as container tools do. PYTEST_ADDOPTS=-rfEs: pytest lists failures, errors and every
# skipped test with its reason (only tests/gpu may skip). Each command runs in its own
# session (a process group to stop).
# shellcheck disable=SC2016
enter='mount --rbind "$1" "$1" && cd "$1" && mkdir -p .host && pivot_root . .host && cd / &&
  umount -l /.host && rmdir /.host && shift && exec "$@"'
in_root() {
  setsid unshare --mount --propagation private -- /bin/sh -c "$enter" sh "$root" \
    /usr/bin/env -i PATH=$path TERM=dumb PYTEST_ADDOPTS=-rfEs "${ca_env[@]}" "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=
  return $rc
}

status=0
run_as() {  # root | user: a fresh copy of the base, mounted, the README's steps, unmounted
  local who=$1 log=$WORKDIR/$1.log
  root=$WORKDIR/$who
  cp -a "$base" "$root"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount --bind /dev/shm "$root/dev/shm"
  local t0
  t0=$(date +%s)
  if [ "$who" = root ]; then
    echo "== as root: make run, make test (commit $commit)"
    in_root HOME=/root /bin/bash -c "$newcomer" >"$log" 2>&1 || true
  else
    echo "== as a user with sudo: make run, make test (commit $commit)"
    # a user's machine has sudo (a minbase Debian does not)
    in_root HOME=/root DEBIAN_FRONTEND=noninteractive apt-get install -y -q sudo \
      >"$WORKDIR/sudo.log" 2>&1
    in_root HOME=/root useradd -m -s /bin/bash newcomer
    # their own clone's origin, as one from a server would be (git refuses a repository
    # another user owns)
    in_root HOME=/root chown -R newcomer: /srv/tensorlogic-tools.git
    echo 'newcomer ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/newcomer"
    chmod 440 "$root/etc/sudoers.d/newcomer"
    in_root HOME=/home/newcomer USER=newcomer LOGNAME=newcomer \
      /usr/sbin/runuser -u newcomer -- /bin/bash -c "$newcomer" >"$log" 2>&1 || true
  fi
  echo "   $(grep -E '^make (run|test): exit' "$log" | tr '\n' ' ')($(( ($(date +%s) - t0) / 60 )) min)"
  grep -E '^[= ]*[0-9]+ (passed|failed|error).* in [0-9.]+s' "$log" | tail -1 | sed 's/^/   /' || true
  grep -q '^make run: exit 0 ' "$log" && grep -q '^make test: exit 0 ' "$log" || status=1
  if grep -E '^SKIPPED' "$log" | grep -v ' tests/gpu/' | sed 's/^/   not a GPU test: /' | grep .; then
    status=1
  fi
  unmount_all
  [ "$keep" -eq 1 ] || remove "$root"
  root=
}
[ "$as_root" -eq 0 ] || run_as root
[ "$as_user" -eq 0 ] || run_as user
echo "== $SUITE, commit $commit, $(( ($(date +%s) - start) / 60 )) min in all; logs in $WORKDIR"
exit $status
}
