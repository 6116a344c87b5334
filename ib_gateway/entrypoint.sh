#!/bin/bash
# Read the IB user id from a file (TWS_USERID_FILE), as the base image already does for the
# password, then run the base image's start script. Nothing is printed about either value.
set -euo pipefail
if [ -n "${TWS_USERID_FILE:-}" ]; then
  if [ -n "${TWS_USERID:-}" ]; then
    echo "ecosystem: set TWS_USERID or TWS_USERID_FILE, not both" >&2
    exit 2
  fi
  if [ ! -r "$TWS_USERID_FILE" ]; then
    echo "ecosystem: TWS_USERID_FILE ($TWS_USERID_FILE) cannot be read by uid $(id -u)" >&2
    exit 2
  fi
  TWS_USERID="$(tr -d '\r\n' < "$TWS_USERID_FILE")"
  export TWS_USERID
  unset TWS_USERID_FILE
fi
exec "$@"
