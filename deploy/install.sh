#!/bin/sh
# Installs canplug as a systemd service, or upgrades an installed one (deploy/README.md).
#
#   sudo deploy/install.sh                  install or upgrade into /usr/local, start the service
#   sudo deploy/install.sh --uninstall      remove the program and the unit; keep config, data and user
#   sudo deploy/install.sh --kiosk          also boot the touchscreen into the dashboard (cage + Chromium)
#   DESTDIR=/tmp/root deploy/install.sh     stage the files only (packaging, tests): no user, no systemctl
#
# Options (or environment): --prefix DIR (PREFIX, default /usr/local), --destdir DIR (DESTDIR),
# --bitrate N (BITRATE, default 125000) for can0, --no-can (no can0 network file), --no-start.
# Run it from a checkout in which `npm ci --omit=dev` has been run: node_modules is copied as is.
set -eu

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BITRATE=${BITRATE:-125000}
CAN=yes
START=yes
ACTION=install
KIOSK=no

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "  $*"; }

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift ;;
    --prefix=*) PREFIX=${1#*=} ;;
    --destdir) DESTDIR=${2:?--destdir needs a directory}; shift ;;
    --destdir=*) DESTDIR=${1#*=} ;;
    --bitrate) BITRATE=${2:?--bitrate needs a number}; shift ;;
    --bitrate=*) BITRATE=${1#*=} ;;
    --no-can) CAN=no ;;
    --no-start) START=no ;;
    --uninstall) ACTION=uninstall ;;
    --kiosk) KIOSK=yes ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
  shift
done

case $BITRATE in 125000|250000|500000|1000000) ;; *) die "--bitrate must be 125000, 250000, 500000 or 1000000 (got $BITRATE)" ;; esac
case $PREFIX in /*) ;; *) die "--prefix must be an absolute path (got $PREFIX)" ;; esac

SRC=$(cd "$(dirname "$0")/.." && pwd)
APP=$PREFIX/lib/canplug
UNIT_DIR=$PREFIX/lib/systemd/system
SYSUSERS_DIR=$PREFIX/lib/sysusers.d
NETWORK_FILE=/etc/systemd/network/80-canplug-can0.network
# Only a real install (no DESTDIR) touches users, ownership and systemd.
LIVE=no
[ -z "$DESTDIR" ] && LIVE=yes
R=$DESTDIR

if [ "$LIVE" = yes ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo), or stage with DESTDIR=..."; fi

uninstall() {
  echo "Uninstalling canplug from $R$PREFIX"
  if [ "$LIVE" = yes ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now canplug.service 2>/dev/null || true
  fi
  kiosk uninstall
  rm -rf "$R$APP" "$R$PREFIX/bin/canplug" "$R$UNIT_DIR/canplug.service" "$R$SYSUSERS_DIR/canplug.conf"
  [ "$LIVE" = yes ] && command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload
  echo "Kept: /etc/canplug (config), /var/lib/canplug (database, token, backups), $NETWORK_FILE, the canplug user."
  echo "Remove them by hand if you want them gone."
}

install_files() {
  NODE=$(command -v node || true)
  [ -n "$NODE" ] || die "node is not installed (deploy/README.md: install Node 20 first)"
  case $NODE in /home/*|/root/*) die "node at $NODE is in a home directory, which the service cannot see (ProtectHome); install Node system-wide" ;; esac
  MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]')
  [ "$MAJOR" -ge 20 ] || die "Node $MAJOR is too old; canplug needs Node 20 or newer"
  [ -d "$SRC/node_modules/better-sqlite3" ] || die "run 'npm ci --omit=dev' in $SRC first"

  echo "Installing canplug into $R$PREFIX"
  # The program: replaced as a whole, so files removed upstream do not linger.
  mkdir -p "$R$PREFIX/lib"
  rm -rf "$R$APP.new"
  mkdir -p "$R$APP.new"
  for item in package.json package-lock.json bin src dist migrations node_modules deploy docs README.md dashboard firmware/canplug.dbc; do
    if [ -e "$SRC/$item" ]; then
      mkdir -p "$R$APP.new/$(dirname "$item")"
      cp -R "$SRC/$item" "$R$APP.new/$item"
    fi
  done
  rm -rf "$R$APP.old"
  [ -d "$R$APP" ] && mv "$R$APP" "$R$APP.old"
  mv "$R$APP.new" "$R$APP"
  rm -rf "$R$APP.old"
  say "program       $APP"

  # The command: a wrapper that reads the system config unless told otherwise.
  mkdir -p "$R$PREFIX/bin"
  cat > "$R$PREFIX/bin/canplug" <<WRAPPER
#!/bin/sh
# canplug command line (installed by deploy/install.sh)
: "\${CANPLUG_CONFIG:=/etc/canplug/canplug.yaml}"
export CANPLUG_CONFIG
exec $NODE $APP/bin/canplug.js "\$@"
WRAPPER
  chmod 755 "$R$PREFIX/bin/canplug"
  say "command       $PREFIX/bin/canplug"

  mkdir -p "$R$UNIT_DIR"
  sed -e "s|@NODE@|$NODE|g" -e "s|@PREFIX@|$PREFIX|g" "$SRC/deploy/canplug.service" > "$R$UNIT_DIR/canplug.service"
  chmod 644 "$R$UNIT_DIR/canplug.service"
  say "unit          $UNIT_DIR/canplug.service"

  mkdir -p "$R$SYSUSERS_DIR"
  cp "$SRC/deploy/canplug.sysusers" "$R$SYSUSERS_DIR/canplug.conf"
  chmod 644 "$R$SYSUSERS_DIR/canplug.conf"
  say "service user  canplug ($SYSUSERS_DIR/canplug.conf)"

  # Config: written once, never overwritten (an upgrade keeps your settings).
  mkdir -p "$R/etc/canplug"
  if [ -e "$R/etc/canplug/canplug.yaml" ]; then
    say "config        /etc/canplug/canplug.yaml (kept as it was)"
  else
    sed -e "s|@BITRATE@|$BITRATE|g" "$SRC/deploy/canplug.yaml" > "$R/etc/canplug/canplug.yaml"
    chmod 640 "$R/etc/canplug/canplug.yaml"
    say "config        /etc/canplug/canplug.yaml (new: edit it, then 'canplug config check')"
  fi

  mkdir -p "$R/var/lib/canplug"
  chmod 750 "$R/var/lib/canplug"
  say "data          /var/lib/canplug"

  if [ "$CAN" = yes ]; then
    mkdir -p "$R/etc/systemd/network"
    if [ -e "$R$NETWORK_FILE" ]; then
      say "can0          $NETWORK_FILE (kept as it was)"
    else
      sed -e "s|@BITRATE@|$BITRATE|g" "$SRC/deploy/80-canplug-can0.network" > "$R$NETWORK_FILE"
      chmod 644 "$R$NETWORK_FILE"
      say "can0          $NETWORK_FILE ($BITRATE bit/s)"
    fi
  fi
}

activate() {
  command -v systemctl >/dev/null 2>&1 || die "systemctl not found: is this a systemd system?"
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers "$SYSUSERS_DIR/canplug.conf"
  elif ! id canplug >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/canplug --shell /usr/sbin/nologin canplug
  fi
  chown canplug:canplug /var/lib/canplug
  chgrp canplug /etc/canplug/canplug.yaml
  if [ "$CAN" = yes ]; then
    # networkd brings can0 up. Enabling it also enables systemd-networkd-wait-online, which,
    # with no interface it must wait for (can0 is RequiredForOnline=no), would hold every unit
    # that wants network-online.target for 2 minutes at boot: disable it unless it was on before.
    if ! systemctl is-enabled --quiet systemd-networkd.service 2>/dev/null; then
      systemctl enable systemd-networkd.service
      systemctl disable systemd-networkd-wait-online.service 2>/dev/null || true
    fi
    systemctl restart systemd-networkd.service
  fi
  systemctl daemon-reload
  systemctl enable canplug.service
  if [ "$START" = yes ]; then
    # restart, not start: an upgrade runs the new version (migrations back the database up first).
    systemctl restart canplug.service
    say "started: systemctl status canplug; journalctl -u canplug -f"
  fi
}

# The touchscreen kiosk (--kiosk, deploy/kiosk/): `kiosk files` stages it, `kiosk activate` turns it
# on after the gateway, `kiosk uninstall` removes it (its settings and Chromium profile stay).
kiosk() {
  K=$SRC/deploy/kiosk
  case $1 in
    files)
      if [ "$LIVE" = yes ]; then
        command -v cage >/dev/null 2>&1 || die "--kiosk needs cage: sudo apt-get install cage chromium (chromium-browser on Raspberry Pi OS)"
        command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || die "--kiosk needs Chromium: sudo apt-get install chromium (chromium-browser on Raspberry Pi OS)"
        if systemctl is-enabled --quiet display-manager.service 2>/dev/null; then
          die "--kiosk: a desktop (display-manager.service) has the screen; boot to the console first (sudo raspi-config: System Options > Boot / Auto Login > Console), then run this again"
        fi
      fi
      mkdir -p "$R$UNIT_DIR" "$R$SYSUSERS_DIR" "$R/etc/pam.d" "$R/etc/udev/rules.d" "$R/etc/canplug"
      sed -e "s|@NODE@|$NODE|g" -e "s|@PREFIX@|$PREFIX|g" "$K/canplug-kiosk.service" > "$R$UNIT_DIR/canplug-kiosk.service"
      cp "$K/canplug-kiosk.sysusers" "$R$SYSUSERS_DIR/canplug-kiosk.conf"
      cp "$K/canplug-kiosk.pam" "$R/etc/pam.d/canplug-kiosk"
      cp "$K/70-canplug-backlight.rules" "$R/etc/udev/rules.d/70-canplug-backlight.rules"
      chmod 644 "$R$UNIT_DIR/canplug-kiosk.service" "$R$SYSUSERS_DIR/canplug-kiosk.conf" "$R/etc/pam.d/canplug-kiosk" "$R/etc/udev/rules.d/70-canplug-backlight.rules"
      say "kiosk unit    $UNIT_DIR/canplug-kiosk.service (user canplug-kiosk, tty1)"
      if [ -e "$R/etc/canplug/kiosk.env" ]; then
        say "kiosk config  /etc/canplug/kiosk.env (kept as it was)"
      else
        cp "$K/kiosk.env" "$R/etc/canplug/kiosk.env"
        chmod 644 "$R/etc/canplug/kiosk.env"
        say "kiosk config  /etc/canplug/kiosk.env (new: start page, blank after 300 s)"
      fi
      ;;
    activate)
      systemd-sysusers "$SYSUSERS_DIR/canplug-kiosk.conf"
      udevadm control --reload 2>/dev/null && udevadm trigger --subsystem-match=backlight --action=add 2>/dev/null || true
      systemctl daemon-reload
      # The kiosk starts with the graphical target (Raspberry Pi OS Lite boots to multi-user).
      systemctl set-default graphical.target
      systemctl enable canplug-kiosk.service
      if [ "$START" = yes ]; then
        systemctl restart canplug-kiosk.service
        say "kiosk started: systemctl status canplug-kiosk; journalctl -u canplug-kiosk -f"
      fi
      ;;
    uninstall)
      if [ "$LIVE" = yes ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now canplug-kiosk.service 2>/dev/null || true
      fi
      rm -f "$R$UNIT_DIR/canplug-kiosk.service" "$R$SYSUSERS_DIR/canplug-kiosk.conf" "$R/etc/pam.d/canplug-kiosk" "$R/etc/udev/rules.d/70-canplug-backlight.rules"
      ;;
  esac
}

if [ "$ACTION" = uninstall ]; then
  uninstall
  exit 0
fi
install_files
[ "$KIOSK" = yes ] && kiosk files
if [ "$LIVE" = yes ]; then
  activate
  [ "$KIOSK" = yes ] && kiosk activate
else
  echo "Staged under $DESTDIR: no user created, nothing enabled (run without DESTDIR on the target)."
fi
