#!/bin/sh
# Installs canplug as a systemd service from a release artifact, or upgrades an installed one
# (deploy/README.md).
#
#   sudo deploy/install.sh canplug-0.2.0.tgz   install or upgrade from the release artifact (npm pack)
#   sudo deploy/install.sh                     the same from this checkout, after `npm ci` built it
#   sudo deploy/install.sh --kiosk ...         also boot the touchscreen into the dashboard (cage + Chromium)
#   sudo deploy/install.sh --uninstall         remove the program and the unit; keep config, data and user
#   DESTDIR=/tmp/root deploy/install.sh ...    stage the files only (packaging, tests): no user, no systemctl
#
# Options (or environment): --prefix DIR (PREFIX, default /usr/local), --destdir DIR (DESTDIR),
# --bitrate N (BITRATE, default 125000) for can0, --no-can (no can0 network file), --no-start,
# --no-deps (with DESTDIR only: stage without node_modules, for packaging that installs them itself).
# The program is the artifact's files plus its production dependencies (`npm ci --omit=dev`, which
# builds the native addons for this machine's Node); nothing else is built on the target.
set -eu
# What is installed must be readable by the service user whatever root's umask is.
umask 022

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BITRATE=${BITRATE:-125000}
CAN=yes
START=yes
ACTION=install
ARTIFACT=
KIOSK=no
DEPS=yes

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
    --no-deps) DEPS=no ;;
    --kiosk) KIOSK=yes ;;
    --uninstall) ACTION=uninstall ;;
    -h|--help) sed -n '2,/^set -eu$/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (try --help)" ;;
    *) [ -z "$ARTIFACT" ] || die "one artifact at a time (got $ARTIFACT and $1)"; ARTIFACT=$1 ;;
  esac
  shift
done

case $BITRATE in 125000|250000|500000|1000000) ;; *) die "--bitrate must be 125000, 250000, 500000 or 1000000 (got $BITRATE)" ;; esac
case $PREFIX in /*) ;; *) die "--prefix must be an absolute path (got $PREFIX)" ;; esac
if [ -n "$ARTIFACT" ]; then
  [ -f "$ARTIFACT" ] || die "no such file: $ARTIFACT (the release artifact, canplug-<version>.tgz)"
  ARTIFACT=$(cd "$(dirname "$ARTIFACT")" && pwd)/$(basename "$ARTIFACT")
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
APP=$PREFIX/lib/canplug
UNIT_DIR=$PREFIX/lib/systemd/system
SYSUSERS_DIR=$PREFIX/lib/sysusers.d
NETWORK_FILE=/etc/systemd/network/80-canplug-can0.network
SYSCTL_FILE=/etc/sysctl.d/60-canplug-can.conf
# Only a real install (no DESTDIR) touches users and ownership; only one on a running systemd
# (sd_booted: /run/systemd/system) enables and starts anything.
LIVE=no
[ -z "$DESTDIR" ] && LIVE=yes
SYSTEMD=no
[ "$LIVE" = yes ] && [ -d /run/systemd/system ] && SYSTEMD=yes
R=$DESTDIR

if [ "$DEPS" = no ] && [ "$LIVE" = yes ]; then die "--no-deps only stages (with DESTDIR): the service cannot run without its dependencies"; fi
if [ "$LIVE" = yes ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo), or stage with DESTDIR=..."; fi

uninstall() {
  echo "Uninstalling canplug from $R$PREFIX"
  if [ "$SYSTEMD" = yes ]; then
    systemctl disable --now canplug.service 2>/dev/null || true
  fi
  kiosk uninstall
  rm -rf "$R$APP" "$R$APP.new" "$R$APP.old" "$R$PREFIX/bin/canplug" "$R$UNIT_DIR/canplug.service" "$R$SYSUSERS_DIR/canplug.conf" "$R$SYSCTL_FILE"
  [ "$SYSTEMD" = yes ] && systemctl daemon-reload
  echo "Kept: /etc/canplug (config), /var/lib/canplug (database, token, backups), $NETWORK_FILE, the canplug user."
  echo "Remove them by hand if you want them gone."
}

# Node and npm, system-wide (the service cannot see home directories). Which versions: check_engines.
check_node() {
  NODE=$(command -v node || true)
  [ -n "$NODE" ] || die "node is not installed (deploy/README.md: install Node.js 24 first)"
  case $NODE in /home/*|/root/*) die "node at $NODE is in a home directory, which the service cannot see (ProtectHome); install Node system-wide" ;; esac
  NPM=$(command -v npm || true)
  [ -n "$NPM" ] || die "npm is not installed (it comes with Node.js; deploy/README.md)"
}

# Exits with a message unless this Node is in the range the release's package.json names
# (engines.node, a list of ^major.minor.patch ranges).
check_engines() {
  "$NODE" -e '
    const range = require(process.argv[1]).engines.node;
    const [major, minor] = process.versions.node.split(".").map(Number);
    const ok = range.split("||").some((r) => {
      const [M, m] = r.trim().replace(/^\^/, "").split(".").map(Number);
      return major === M && minor >= m;
    });
    if (!ok) {
      console.error(`install.sh: Node ${process.version} is not one this canplug supports (${range}); install Node.js 24 LTS (deploy/README.md)`);
      process.exit(1);
    }' "$1/package.json"
}

# The release artifact to install: the one given, else this checkout packed (its files exactly
# as a release ships them, so a checkout install cannot differ from an artifact install).
find_artifact() {
  if [ -n "$ARTIFACT" ]; then return; fi
  [ -f "$SRC/dashboard/dist/index.html" ] || die "$SRC has no built dashboard: run 'npm ci' there first (it builds dist/ and the dashboard), or pass a release artifact"
  "$NODE" --input-type=module -e "import { distIsFresh } from '$SRC/bin/source-hash.js'; process.exit(distIsFresh('$SRC') ? 0 : 1)" ||
    die "$SRC/dist is missing or older than src/: run 'npm ci' (or 'npm run build') there first, or pass a release artifact"
  # --ignore-scripts: nothing is rebuilt (as root) in the checkout; the checks above stand for it.
  (cd "$SRC" && "$NPM" pack --ignore-scripts --silent --pack-destination "$WORK" >/dev/null) || die "npm pack failed in $SRC"
  ARTIFACT=$(ls "$WORK"/canplug-*.tgz)
}

install_program() {
  STAGE=$R$APP.new
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  tar -xzf "$ARTIFACT" -C "$STAGE" --strip-components=1 --no-same-owner || die "$ARTIFACT is not a canplug release artifact (npm pack tarball)"
  [ -f "$STAGE/bin/canplug.js" ] && [ -f "$STAGE/dist/build.json" ] && [ -f "$STAGE/dashboard/dist/index.html" ] ||
    die "$ARTIFACT is not a complete canplug release (bin/, dist/ and dashboard/dist/ expected)"
  check_engines "$STAGE"
  VERSION=$("$NODE" -p "require('$STAGE/package.json').version")
  echo "Installing canplug $VERSION into $R$PREFIX"
  install_dependencies
  # Replaced as a whole, so files removed upstream do not linger.
  rm -rf "$R$APP.old"
  [ -d "$R$APP" ] && mv "$R$APP" "$R$APP.old"
  mv "$STAGE" "$R$APP"
  rm -rf "$R$APP.old"
  say "program       $APP (canplug $VERSION)"
}

install_dependencies() {
  if [ "$DEPS" = no ]; then
    say "dependencies  not installed (--no-deps): run 'npm ci --omit=dev' in $APP"
    return
  fi
  say "dependencies  npm ci --omit=dev (builds the SQLite and SocketCAN addons for Node $("$NODE" -p process.versions.node); minutes on a Pi)"
  (cd "$STAGE" && "$NPM" ci --omit=dev --no-audit --no-fund --loglevel=error) ||
    die "npm ci --omit=dev failed (above); the installed program, if any, is unchanged"
  # A new program whose addons do not load must not replace one whose addons do. SocketCAN is an
  # optional dependency, so npm ci succeeds without it; the gateway on a Pi cannot.
  (cd "$STAGE" && "$NODE" -e 'new (require("better-sqlite3"))(":memory:").close()') ||
    die "the SQLite addon does not load (above); the installed program, if any, is unchanged"
  (cd "$STAGE" && "$NODE" -e 'require("socketcan")' 2>/dev/null) ||
    die "the SocketCAN addon was not built (no compiler? sudo apt-get install build-essential python3, then run this again); the installed program, if any, is unchanged"
  # Built with canplug's patch (receive queue size, kernel drop count), or the gateway refuses to start.
  (cd "$STAGE" && "$NODE" -e 'process.exit(typeof require("socketcan/build/Release/can.node").RawChannel.prototype.getDropCount === "function" ? 0 : 1)') ||
    die "the SocketCAN addon was built without patches/socketcan+4.0.7.patch (npm ci's postinstall, above); the installed program, if any, is unchanged"
}

install_files() {
  TEMPLATES=$R$APP/deploy
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
  sed -e "s|@NODE@|$NODE|g" -e "s|@PREFIX@|$PREFIX|g" "$TEMPLATES/canplug.service" > "$R$UNIT_DIR/canplug.service"
  chmod 644 "$R$UNIT_DIR/canplug.service"
  say "unit          $UNIT_DIR/canplug.service"

  mkdir -p "$R$SYSUSERS_DIR"
  cp "$TEMPLATES/canplug.sysusers" "$R$SYSUSERS_DIR/canplug.conf"
  chmod 644 "$R$SYSUSERS_DIR/canplug.conf"
  say "service user  canplug ($SYSUSERS_DIR/canplug.conf)"

  # The CAN socket's receive queue: one second of a full bus without CAP_NET_ADMIN (the file explains).
  mkdir -p "$R/etc/sysctl.d"
  cp "$TEMPLATES/60-canplug-can.conf" "$R$SYSCTL_FILE"
  chmod 644 "$R$SYSCTL_FILE"
  say "sysctl        $SYSCTL_FILE (net.core.rmem_max for the CAN receive queue)"

  # Config: written once, never overwritten (an upgrade keeps your settings).
  mkdir -p "$R/etc/canplug"
  if [ -e "$R/etc/canplug/canplug.yaml" ]; then
    say "config        /etc/canplug/canplug.yaml (kept as it was)"
  else
    sed -e "s|@BITRATE@|$BITRATE|g" "$TEMPLATES/canplug.yaml" > "$R/etc/canplug/canplug.yaml"
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
      sed -e "s|@BITRATE@|$BITRATE|g" "$TEMPLATES/80-canplug-can0.network" > "$R$NETWORK_FILE"
      chmod 644 "$R$NETWORK_FILE"
      say "can0          $NETWORK_FILE ($BITRATE bit/s)"
    fi
  fi
}

create_user() {
  if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers "$SYSUSERS_DIR/canplug.conf"
  elif ! id canplug >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/canplug --shell /usr/sbin/nologin canplug
  fi
  chown canplug:canplug /var/lib/canplug
  # The receive queue's ceiling now, not only from the next boot on (systemd-sysctl reads the file then).
  sysctl -q -p "$SYSCTL_FILE" >/dev/null 2>&1 || say "sysctl        not applied now (a container?); from the next boot on"
  chgrp canplug /etc/canplug/canplug.yaml
}

activate() {
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
  K=$R$APP/deploy/kiosk
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
      if [ "$SYSTEMD" = yes ]; then
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
check_node
WORK=$(mktemp -d)
# A failed install leaves neither its scratch space nor a half-made program behind.
trap 'rm -rf "$WORK" "$R$APP.new"' EXIT
find_artifact
install_program
install_files
if [ "$KIOSK" = yes ]; then kiosk files; fi
if [ "$LIVE" = no ]; then
  echo "Staged under $DESTDIR: no user created, nothing enabled (run without DESTDIR on the target)."
elif [ "$SYSTEMD" = no ]; then
  create_user
  echo "systemd is not running here (a container or chroot?): canplug.service is installed but not enabled or started."
else
  create_user
  activate
  if [ "$KIOSK" = yes ]; then kiosk activate; fi
fi
