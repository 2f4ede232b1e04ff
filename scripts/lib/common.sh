# Shared by scripts/test and scripts/check-walkthrough: installs what the checks need.
# Source it from the repository root; it defines functions and changes nothing by itself.
#
# Everything here is idempotent and silent when the tools are already in place, so the test
# command can run on a fresh Debian machine (with Rust) and again and again on a developer's.

# The AWS CLI the walkthrough is checked with: v1 from PyPI, pinned so CI is repeatable.
AWSCLI_VERSION="${BERTH_AWSCLI_VERSION:-1.46.3}"
# Its virtualenv. build/ is gitignored and, unlike target/, survives `cargo clean`.
BERTH_VENV="${BERTH_VENV:-build/venv}"

note() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo (never prompting when
# there is no terminal, as in CI).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}

# ensure_apt_packages PKG...: installs those Debian packages that are not installed yet, with one
# `apt-get update` first, and does nothing at all when every one is present.
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
  note "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The system packages the checks use: a C toolchain for linking Rust, Python with venv for the
# AWS CLI, CA certificates for pip.
ensure_system_deps() {
  # busybox-static: the offline test image; docker-registry: the loopback registry of the pull tests.
  local pkgs=(gcc libc6-dev ca-certificates curl busybox-static docker-registry)
  if ! command -v python3 >/dev/null 2>&1; then
    pkgs+=(python3 python3-venv)
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Debian's python3 ships venv's pip bootstrap separately.
    pkgs+=(python3-venv)
  fi
  ensure_apt_packages "${pkgs[@]}"
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
}

# Creates $BERTH_VENV with awscli==$AWSCLI_VERSION unless it is already there.
ensure_awscli() {
  local have=""
  if [ -x "$BERTH_VENV/bin/python" ]; then
    have="$("$BERTH_VENV/bin/python" -c 'import awscli; print(awscli.__version__)' 2>/dev/null || true)"
  fi
  [ "$have" = "$AWSCLI_VERSION" ] && return 0
  if [ ! -x "$BERTH_VENV/bin/pip" ] || ! "$BERTH_VENV/bin/python" -c '' >/dev/null 2>&1; then
    rm -rf "$BERTH_VENV"
    python3 -m venv "$BERTH_VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  note "installing awscli==$AWSCLI_VERSION into $BERTH_VENV"
  "$BERTH_VENV/bin/pip" install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION" \
    || die "pip install awscli==$AWSCLI_VERSION failed"
}

# The directory cargo builds into (honours CARGO_TARGET_DIR and .cargo/config).
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}
