#!/usr/bin/env bash
# Installs the real mail components the tests drive (Debian packages):
# Postfix (milter test), spamc (spamd protocol), rspamc (Rspamd protocol,
# from the rspamd package; no daemon is started) and Exim with content
# scanning (exim4-daemon-heavy, for its `spam =` ACL condition),
# dnsmasq (a DNS server the authentication tests start on loopback) and
# redis-server (the shared-state tests start their own on loopback).
#
# Postfix and Exim are both mail transport agents and Debian will not
# install both; Exim's binary is therefore unpacked from its package into
# /opt/spamsift-test/exim (its libraries installed normally) and the Exim
# test runs it from there with its own configuration (-C), as root.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
EXIM_DIR=/opt/spamsift-test/exim

need=()
command -v postfix >/dev/null 2>&1 || need+=(postfix)
command -v spamc >/dev/null 2>&1 || need+=(spamc)
command -v rspamc >/dev/null 2>&1 || need+=(rspamd)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ! -x "$EXIM_DIR/usr/sbin/exim4" ] && [ ! -x /usr/sbin/exim4 ]; then need+=(exim); fi
# The unpacked Exim binary looks up its compiled-in user before it reads
# any configuration, and nothing here installs the package that creates it.
if ! getent passwd Debian-exim >/dev/null; then
  $SUDO useradd --system --user-group --no-create-home --home-dir /var/spool/exim4 \
    --shell /usr/sbin/nologin Debian-exim
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
pkgs=()
for p in "${need[@]}"; do [ "$p" = exim ] || pkgs+=("$p"); done
if [[ " ${need[*]} " == *" exim "* ]]; then
  # Exim's shared libraries (every lib* it depends on).
  mapfile -t libs < <(apt-cache depends exim4-daemon-heavy | awk '/Depends: lib/ {print $2}')
  pkgs+=("${libs[@]}")
fi
# No daemon may start from the packages (no rspamd, postfix or redis service).
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  own_policy=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${pkgs[@]}"
[ "$own_policy" = 0 ] || $SUDO rm -f /usr/sbin/policy-rc.d
if [[ " ${need[*]} " == *" exim "* ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -q exim4-daemon-heavy)
  $SUDO mkdir -p "$EXIM_DIR"
  $SUDO dpkg -x "$tmp"/exim4-daemon-heavy_*.deb "$EXIM_DIR"
  rm -rf "$tmp"
  # -bV prints the version, then exits 1 when there is no system
  # configuration (there is none: the tests pass their own with -C).
  version=$("$EXIM_DIR/usr/sbin/exim4" -bV 2>&1 || true)
  if ! grep -m1 '^Exim version' <<<"$version"; then
    echo "the unpacked exim4 does not run: $version" >&2
    exit 1
  fi
fi
