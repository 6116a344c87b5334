#!/bin/bash
# Healthy only when the IB API answers its handshake on the relayed port (4003 live,
# 4004 paper): a gateway that is up but not logged in (waiting for 2FA) accepts TCP
# and never answers, so it is reported unhealthy.
set -uo pipefail
port="${IB_API_RELAY_PORT:-}"
if [ -z "$port" ]; then
  if [ "${TRADING_MODE:-paper}" = "live" ]; then port=4003; else port=4004; fi
fi
exec 3<>"/dev/tcp/127.0.0.1/${port}" || { echo "IB API port ${port} refuses connections"; exit 1; }
# "API\0", then the length-prefixed version range the client speaks
printf 'API\0\0\0\0\011v100..176' >&3
# the answer: 4 length bytes, then "<server version>\0<connection time>\0"
version="$(timeout 10 head -c 12 <&3 | tail -c +5 | tr '\0' '\n' | head -n 1)"
exec 3>&-
if [[ "$version" =~ ^[0-9]{3}$ ]]; then
  echo "IB API handshake ok (server version ${version})"
  exit 0
fi
echo "IB API on port ${port} did not complete the handshake (not logged in?)"
exit 1
