#!/bin/sh
# Starts the touchscreen kiosk (run by canplug-kiosk.service, see deploy/README.md): cage shows
# Chromium full-screen on the dashboard; the backlight helper darkens the panel when idle.
#
# The API token never appears on a command line, which `ps` shows to every user: systemd hands the
# token file over as a credential ($CREDENTIALS_DIRECTORY/token, readable by this service only), and
# a start page in the private runtime directory carries it into the dashboard's URL fragment (which
# the browser never sends to the server). The dashboard stores it and takes it out of the address.
#
# Settings (environment, from /etc/canplug/kiosk.env): CANPLUG_KIOSK_URL, CANPLUG_KIOSK_BLANK_S,
# CANPLUG_KIOSK_BROWSER, CANPLUG_KIOSK_FLAGS; CANPLUG_NODE is the node the gateway runs on.
set -eu

die() { echo "canplug-kiosk: $*" >&2; exit 1; }

URL=${CANPLUG_KIOSK_URL:-http://127.0.0.1:8080/#/devices}
BLANK=${CANPLUG_KIOSK_BLANK_S:-300}
BROWSER=${CANPLUG_KIOSK_BROWSER:-}
RUN=${RUNTIME_DIRECTORY:?run from canplug-kiosk.service, which provides RUNTIME_DIRECTORY}
STATE=${STATE_DIRECTORY:?run from canplug-kiosk.service, which provides STATE_DIRECTORY}
HERE=${0%/*}

case $BLANK in '' | *[!0-9]*) die "CANPLUG_KIOSK_BLANK_S must be a whole number of seconds, 0 for never (got '$BLANK')" ;; esac
case $URL in http://* | https://*) ;; *) die "CANPLUG_KIOSK_URL must start with http:// or https:// (got '$URL')" ;; esac
case $URL in *[\'\"\<\>\\\ ]*) die "CANPLUG_KIOSK_URL cannot contain quotes, <, >, backslashes or spaces (got '$URL')" ;; esac
if [ -z "$BROWSER" ]; then
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then BROWSER=$(command -v "$candidate") && break; fi
  done
fi
[ -n "$BROWSER" ] || die "Chromium is not installed: sudo apt-get install chromium (chromium-browser on Raspberry Pi OS)"
command -v cage >/dev/null 2>&1 || die "cage is not installed: sudo apt-get install cage"

# The start URL: ?blank=<s> turns on the page's own blank screen, #...&token=... hands the token over.
base=${URL%%#*}
fragment=
case $URL in *'#'*) fragment=${URL#*#} ;; esac
if [ "$BLANK" -gt 0 ]; then
  case $base in *'?'*) base="$base&blank=$BLANK" ;; *) base="$base?blank=$BLANK" ;; esac
fi
token=
if [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -r "$CREDENTIALS_DIRECTORY/token" ]; then
  token=$(tr -d ' \t\r\n' <"$CREDENTIALS_DIRECTORY/token")
  case $token in *[!A-Za-z0-9._~-]*) die "the API token has characters a URL cannot carry as they are; make a new one: sudo -u canplug canplug token rotate" ;; esac
else
  echo "canplug-kiosk: no token handed over (LoadCredential=token:...): the dashboard shows read-only" >&2
fi
[ -n "$token" ] && fragment="${fragment:+$fragment&}token=$token"
start=$base${fragment:+#$fragment}

umask 077
page=$RUN/start.html
# It waits until the gateway answers (at boot Chromium may be up first, and a browser error page
# would stay), then replaces itself with the dashboard, leaving no history entry to go back to. It
# asks with a WebSocket to the live stream: the gateway's pages refuse to be fetched from another
# origin (Cross-Origin-Resource-Policy), a WebSocket handshake is not bound by that.
cat >"$page" <<PAGE
<!doctype html>
<meta charset="utf-8">
<title>canplug</title>
<style>html { height: 100%; display: grid; place-items: center; background: #111418; color: #9aa3ad; font: 22px system-ui, sans-serif; }</style>
<p>Waiting for the canplug gateway…</p>
<script>
  const start = "$start";
  const live = new URL('api/live', start.split('#')[0]);
  live.protocol = live.protocol === 'https:' ? 'wss:' : 'ws:';
  (function wait() {
    const socket = new WebSocket(live, ['canplug.v1']);
    socket.onopen = () => location.replace(start);
    socket.onerror = () => setTimeout(wait, 2000);
  })();
</script>
PAGE

if [ "$BLANK" -gt 0 ]; then
  "${CANPLUG_NODE:-node}" "$HERE/backlight.mjs" "$BLANK" &
fi

# shellcheck disable=SC2086 # CANPLUG_KIOSK_FLAGS is a list of flags, split on purpose
exec cage -- "$BROWSER" --kiosk --ozone-platform=wayland --user-data-dir="$STATE/chromium" \
  --noerrdialogs --disable-infobars --no-first-run --disable-session-crashed-bubble --disable-translate \
  --password-store=basic --disable-pinch --overscroll-history-navigation=0 --check-for-update-interval=31536000 \
  ${CANPLUG_KIOSK_FLAGS:-} "file://$page"
