#!/usr/bin/env bash
# Install the Debian packages the project needs, once. Usage: ensure_system_packages.sh fonts|chromium
set -euo pipefail
want="$1"
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "need root to install $*; install them with: sudo apt-get install -y $*" >&2; return 1
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
case "$want" in
  fonts)
    fc-list 2>/dev/null | grep -q "Noto Sans CJK" || apt_install fonts-noto-cjk \
      || echo "warning: no CJK font; covers fall back to Pillow's default font" >&2 ;;
  chromium)
    [ -x /usr/bin/chromium ] || apt_install chromium fonts-noto-cjk ;;
  *) echo "unknown: $want" >&2; exit 2 ;;
esac
