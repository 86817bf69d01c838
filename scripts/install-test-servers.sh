#!/usr/bin/env bash
# Installs, when missing, the servers and tools the integration tests run
# against. Idempotent: a machine that has them spends a second here.
#   tansu 0.6.0     the Kafka-compatible broker of the Kafka tests (crates.io,
#                   cargo install; 10-30 minutes once on 2 cores)
#   GNU parallel    README's backfill recipe (Debian; needs root, as CI runs)
#   slurm-wlm, munge  a one-node Slurm for contrib/slurm/backfill.sh (Debian)
#   s3s-fs 0.14.1   the S3 server of the remote-input tests (crates.io, ~4 min)
#   swift-*, memcached  OpenStack Swift for the swift:// tests (Debian)
#   chromium        a headless browser for netprofile's --html page (Debian)
# Each step prints its seconds. Run it from anywhere; it changes nothing in
# the checkout.
set -euo pipefail

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
step() { echo "install-test-servers: $1 in $(( $(date +%s) - $2 )) s"; }
apt_updated=
# apt_install [--no-install-recommends] PACKAGE...
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-servers: run as root to install $*, or install them yourself (apt-get install $*)" >&2
    return 1
  fi
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v tansu >/dev/null 2>&1 && [ ! -x "$cargo_bin/tansu" ]; then
  echo "install-test-servers: installing tansu 0.6.0 for the Kafka tests (10-30 minutes, longer on a busy machine)"
  t=$(date +%s)
  cargo install tansu --version 0.6.0 --locked --features dynostore
  step "tansu" "$t"
fi

# The remote-input tests run a real S3 server, s3s-fs (0.15 and later need a
# newer Rust than 1.85): about 4 minutes on an idle 2-core machine.
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$cargo_bin/s3s-fs" ]; then
  echo "install-test-servers: installing s3s-fs 0.14.1 for the S3 tests (about 4 minutes)"
  t=$(date +%s)
  cargo install s3s-fs --version 0.14.1 --locked --features binary
  step "s3s-fs" "$t"
fi

# Debian packages (root): GNU parallel for README's backfill recipe; Slurm
# and munge for contrib/slurm/backfill.sh on a real one-node cluster.
packages=()
command -v parallel >/dev/null 2>&1 || packages+=(parallel)
PATH=$PATH:/usr/sbin command -v slurmctld >/dev/null 2>&1 || packages+=(slurm-wlm)
PATH=$PATH:/usr/sbin command -v munged >/dev/null 2>&1 || packages+=(munge)
if [ ${#packages[@]} -gt 0 ]; then
  t=$(date +%s)
  apt_install "${packages[@]}"
  step "${packages[*]}" "$t"
fi

# OpenStack Swift (tempauth needs memcached) for the swift:// tests (~70
# packages, 20-45 s).
if ! PATH=$PATH:/usr/sbin command -v swift-proxy-server >/dev/null 2>&1 \
  || ! PATH=$PATH:/usr/sbin command -v memcached >/dev/null 2>&1; then
  t=$(date +%s)
  apt_install --no-install-recommends swift-proxy swift-account swift-container swift-object memcached
  step "swift and memcached" "$t"
fi

# Debian's chromium loads netprofile's --html overview in the tests
# (headless: its DOM, its console log, a screenshot).
if ! command -v chromium >/dev/null 2>&1; then
  t=$(date +%s)
  apt_install --no-install-recommends chromium
  step "chromium" "$t"
fi
