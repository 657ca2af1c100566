#!/usr/bin/env bash
# Make sure a Docker engine answers and the chatdev runner image exists and is current.
#
#   scripts/ensure_docker.sh          (idempotent: a second run takes a few seconds)
#
# 1. If the engine does not answer: on Debian, as root, install docker.io when missing
#    (saying so) and start dockerd in the background; then wait until it answers.
# 2. If the runner image is missing or outdated: `chatdev sandbox build --bootstrap`
#    (debootstrap + docker import: no registry needed, about 2 minutes).
# Exit codes: 0 ready, 3 the environment cannot be made ready (the message says why).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log="${CHATDEV_DOCKERD_LOG:-/tmp/chatdev-dockerd.log}"

if [ -n "${CHATDEV:-}" ]; then
  read -r -a chatdev <<<"$CHATDEV"
elif [ -x "$root/.venv/bin/chatdev" ]; then
  chatdev=("$root/.venv/bin/chatdev")
elif command -v chatdev >/dev/null 2>&1; then
  chatdev=(chatdev)
else
  chatdev=(python3 -m chatdev)
fi
case "${chatdev[0]}" in  # the Python that has chatdev, for the two checks below
  */chatdev) python="${chatdev[0]%/chatdev}/python" ;;
  *python*) python="${chatdev[0]}" ;;
  *) python=python3 ;;
esac
[ -x "$python" ] || command -v "$python" >/dev/null 2>&1 || python=python3

say() { echo "ensure_docker: $*" >&2; }

engine_answers() {
  if command -v docker >/dev/null 2>&1; then
    docker info >/dev/null 2>&1
  else
    "$python" -c 'from chatdev.sandbox import container; container.client()' >/dev/null 2>&1
  fi
}

if ! engine_answers; then
  if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "Docker is not installed; installing docker.io with apt-get"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    else
      say "Docker is not installed: install Docker Engine (Debian: sudo apt-get install docker.io)"
      exit 3
    fi
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      say "the Docker daemon is not running: start it (sudo systemctl start docker, or run this script as root)"
      exit 3
    fi
    say "starting dockerd in the background (log: $log)"
    nohup dockerd >"$log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 1
  done
  if ! engine_answers; then
    say "the Docker daemon did not answer within 60 s; see $log"
    exit 3
  fi
fi

if "$python" - <<'PY'
from chatdev.sandbox import container, image
present, current = image.image_state(container.client(), image.image_tag())
raise SystemExit(0 if present and current else 1)
PY
then
  say "the Docker engine answers and the runner image is current"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing debootstrap (it makes the runner's base image without a registry)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi
say "building the runner image (missing or outdated): ${chatdev[*]} sandbox build --bootstrap"
"${chatdev[@]}" sandbox build --bootstrap
"${chatdev[@]}" sandbox check
