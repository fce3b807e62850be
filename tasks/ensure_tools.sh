#!/usr/bin/env bash
# Install the Debian tools the test suite needs, when missing (idempotent; root
# on a fresh machine of this project's kind). Kept in one place so the README's
# test command and CI stay in step.
#   gcc                    C kernels (kernels/c) through Deno FFI
#   zstd, xz-utils         the coder benchmark's comparison compressors
#   fonts-dejavu-core      text in rendered PNG charts
#   chromium               the HTML report test (headless, driven by playwright-core)
#   jupyter-nbconvert, python3-nbclient   running the notebooks headless
#   mesa-vulkan-drivers, libvulkan1       a WebGPU adapter (llvmpipe) for the WGSL kernels
#   slurmctld, slurmd, slurm-client, munge  a real single-node Slurm cluster for deno task submit's test
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || need+=(git)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c "import nbclient, nbformat" >/dev/null 2>&1 || need+=(python3-nbclient jupyter-nbconvert)
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 ' || need+=(libvulkan1)
command -v slurmctld >/dev/null 2>&1 || need+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || need+=(slurmd)
command -v sbatch >/dev/null 2>&1 || need+=(slurm-client)
command -v munged >/dev/null 2>&1 || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure_tools: installing ${need[*]} (apt-get)" >&2
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
