#!/usr/bin/env bash
# Install the Debian tools the test suite needs, when missing (idempotent; root
# on a fresh machine of this project's kind). Kept in one place so the README's
# test command and CI stay in step.
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure_tools: installing ${need[*]} (apt-get)" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
