# Sourced by the benchmark scripts that install their peers' system packages.
# apt_install WHO [apt-get install options ...] -- PACKAGE ...
# Installs the packages with apt-get (as root, or through passwordless sudo); otherwise stops
# the script, saying what WHO is missing and how to install it.
apt_install() {
  local who="$1"
  shift
  local options=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    options+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      runner=(sudo -n)
    else
      echo "$who: missing system packages: $* (install them: apt-get install $*)" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: missing: $* (no apt-get here; install the equivalents)" >&2
    exit 1
  fi
  echo "$who: apt-get install $*" >&2
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq "${options[@]}" "$@"
}
