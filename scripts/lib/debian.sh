# shellcheck shell=bash
# What building Storefleet and running its throwaway servers need from Debian (test.sh, run.sh and the
# benchmarks each ensure these, so each works on a fresh machine on its own).
# shellcheck disable=SC2034 # read by the scripts that source this file
STOREFLEET_BUILD_PACKAGES=(pkg-config libpq-dev libhiredis-dev libcurl4-openssl-dev redis-server postgresql postgresql-client)

# ensure_debian_packages PKG... : installs the Debian packages that are missing (as root, or through sudo).
ensure_debian_packages() {
  local missing=() package sudo=""
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  printf '\n==> installing Debian packages: %s\n' "${missing[*]}"
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
