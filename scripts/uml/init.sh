#!/bin/sh
# PID 1 of the User-Mode Linux guest that runs the vcan test files (scripts/uml/run-in-guest.mjs).
# The guest's root is the host's / (hostfs), so node, the checkout and can-utils are all here.
# The host passes CANPLUG_RUN=<run dir> on the kernel command line; the run dir holds guest-env.sh
# (what to run) and receives the results. Whatever happens, this script ends by powering the guest
# off: PID 1 exiting would panic the guest kernel instead of ending the UML process.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN="$CANPLUG_RUN"
say() { echo "canplug-guest: $*"; }
poweroff_now() {
  sync
  halt -f 2>/dev/null
  # Without systemd's halt (minimal images): the kernel's own power-off.
  echo 1 > /proc/sys/kernel/sysrq
  echo o > /proc/sysrq-trigger
  sleep 30
}
finish() {
  echo "$1" > "$RUN/status"
  say "done status=$1"
  poweroff_now
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Guest-private scratch space: /run shadows nothing the tests need and keeps the guest's
# temporary files (tsx's cache among them) off the host's /tmp.
mount -t tmpfs -o size=256m,mode=0755 tmpfs /run
mkdir -p /run/tmp /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o size=64m tmpfs /dev/shm
export TMPDIR=/run/tmp HOME=/run/tmp

[ -n "$RUN" ] && [ -f "$RUN/guest-env.sh" ] || { say "no run dir (CANPLUG_RUN=$RUN)"; poweroff_now; }
# Sets NODE, CANPLUG_CWD, GUEST_TIMEOUT_S and the test files as "$@".
. "$RUN/guest-env.sh"

ip link set lo up
MODS="/usr/lib/uml/modules/$(uname -r)/kernel"
for m in net/can/can.ko net/can/can-raw.ko drivers/net/can/dev/can-dev.ko drivers/net/can/vcan.ko; do
  insmod "$MODS/$m" || { say "insmod $MODS/$m failed"; finish 90; }
done
# Optional: a token-bucket qdisc lets a test make the device queue fill up (ENOBUFS), as a slow bus does.
insmod "$MODS/net/sched/sch_tbf.ko" 2>/dev/null || say "sch_tbf not loaded: the throttled-send test will fail"
ip link add dev vcan0 type vcan && ip link set up vcan0 || { say "cannot create vcan0"; finish 91; }
# A block device when the host gave one (GUEST_DISK=ubda): an ext4 image, mounted for the tests.
if [ -n "$GUEST_DISK" ]; then
  [ -b "/dev/$GUEST_DISK" ] || mknod "/run/$GUEST_DISK" b 98 0 || { say "no /dev/$GUEST_DISK"; finish 93; }
  dev="/dev/$GUEST_DISK"; [ -b "$dev" ] || dev="/run/$GUEST_DISK"
  mkdir -p /run/disk && mount -t ext4 "$dev" /run/disk || { say "cannot mount $dev"; finish 94; }
  export CANPLUG_GUEST_DISK=/run/disk
fi
say "ready kernel=$(uname -r)"

cd "$CANPLUG_CWD" || finish 92
export PATH="$(dirname "$NODE"):$PATH" CANPLUG_IN_GUEST=1
# The files share vcan0 and take it down and delete it: one file at a time (the guest has one CPU anyway).
say "suite-start"
timeout -k 10 "$GUEST_TIMEOUT_S" "$NODE" --disable-warning=MaxListenersExceededWarning --import tsx --test --test-force-exit --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$RUN/tap.txt" \
  --test-reporter=./scripts/uml/json-reporter.mjs --test-reporter-destination="$RUN/events.jsonl" \
  "$@"
status=$?
say "suite-end"
[ "$status" = 124 ] && say "the guest suite ran out of its ${GUEST_TIMEOUT_S}s"
dmesg > "$RUN/dmesg.txt" 2>/dev/null
finish "$status"
