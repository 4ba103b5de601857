#!/usr/bin/env bash
# Run a repository's tests (or any command) on the *current* PyMC / ArviZ stack:
# Debian 13 "trixie" (Python 3.13) in a chroot, with pymc>=6.4, arviz>=1.3, nutpie, numpyro.
#
#   bash current-stack.sh REPO_DIR [COMMAND...]
#
#   REPO_DIR   the repository to test (copied into the root, .git excluded)
#   COMMAND    run inside the chroot, in the copied repo, with the venv first on PATH,
#              CI=true and MPLBACKEND=Agg.  Default: python -m pytest -x -q
#              (one argument is run as a bash command line; several are run as an argv)
#
# Environment (all optional):
#   HM_TRIXIE_ROOT     where the root lives    (default /var/tmp/hiermodel-trixie)
#   HM_TRIXIE_MIRROR   Debian mirror URI                 (default: the first URI in this
#                      machine's apt sources)
#   HM_TRIXIE_REFRESH  1: re-run pip install of the stack even if it is already in place
#   HM_TRIXIE_PASSENV  extra variable names to pass into the chroot (space separated)
#
# Everything is reused when present: the root (debootstrap), the apt packages, the venv and
# the pip stack (re-installed only when the requirement list below changes).  The exit status
# is the command's; set-up failures exit 97 with a "current-stack: ERROR" line.
# The repo lands in ROOT/src/<project name from pyproject.toml>; logs and the pip freeze go
# beside the root (ROOT.debootstrap.log, ROOT.apt.log, ROOT.pip.log, ROOT.pip-freeze.txt,
# ROOT.install.log); ROOT.lock serialises runs.  /proc and a tmpfs /dev/shm are mounted in
# the root for the run and unmounted on exit (trap), whatever the outcome.
set -euo pipefail

say()  { printf 'current-stack: %s\n' "$*" >&2; }
die()  { printf 'current-stack: ERROR: %s\n' "$*" >&2; exit 97; }   # could not set up
fail() { printf 'current-stack: FAILED: %s\n' "$*" >&2; exit 1; }    # the project failed
t0=$(date +%s)
stage_start=0
stage()     { stage_name=$1; stage_start=$(date +%s); say "[$stage_name] ..."; }
stage_end() { say "[$stage_name] done in $(( $(date +%s) - stage_start )) s${1:+ ($1)}"; }

[ $# -ge 1 ] || die "usage: bash $0 REPO_DIR [COMMAND...]"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount and chroot need it)"
REPO=$(cd "$1" 2>/dev/null && pwd) || die "repository directory '$1' does not exist"
[ -f "$REPO/pyproject.toml" ] || [ -f "$REPO/setup.py" ] || die "'$REPO' has no pyproject.toml or setup.py"
shift
if [ $# -eq 0 ]; then CMD='python -m pytest -x -q'
elif [ $# -eq 1 ]; then CMD=$1
else CMD=$(printf '%q ' "$@"); fi

ROOT=${HM_TRIXIE_ROOT:-/var/tmp/hiermodel-trixie}
ROOT=${ROOT%/}
[ -n "$ROOT" ] && [ "$ROOT" != / ] || die "HM_TRIXIE_ROOT must not be /"
# the project's name from pyproject.toml (so the path in the root does not depend on where the
# checkout lives), else the directory's name
NAME=$(sed -n 's/^name *= *"\([A-Za-z0-9._-]*\)".*/\1/p' "$REPO/pyproject.toml" 2>/dev/null | head -1)
NAME=${NAME:-$(basename "$REPO")}
SRC_IN_ROOT=/src/$NAME
VENV=/opt/venv
CA_IN_ROOT=/usr/local/share/host-ca-certificates.crt   # apt's ca-certificates rewrites /etc/ssl/certs
HOST_CA=/etc/ssl/certs/ca-certificates.crt

# The current stack.  hiermodel's own dependencies plus its [test] extra, unpinned, with the
# new-major lower bounds.  Changing this list makes the next run re-install.
REQUIREMENTS='pymc>=6.4
arviz>=1.3
nutpie
numpyro
numpy
scipy
pandas
xarray
matplotlib
netCDF4
h5netcdf
tabulate
pytest
nbclient
nbformat
ipykernel
ruff
dask[distributed,dataframe]'

# --- one run at a time per root (two runs would unmount proc under each other) ------------
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -n 9 || { say "another run holds $ROOT.lock; waiting"; flock 9; }

# --- mounts, undone on any exit ------------------------------------------------------------
MOUNTED=()
cleanup() {
    local rc=$? m
    for (( i=${#MOUNTED[@]}-1; i>=0; i-- )); do
        m=${MOUNTED[i]}
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "WARNING: could not unmount $m"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'die "interrupted"' INT TERM HUP

mount_in_root() {   # mount_in_root TYPE TARGET
    local type=$1 target=$ROOT$2
    mkdir -p "$target"
    if mountpoint -q "$target"; then return 0; fi
    mount -t "$type" "$type" "$target" || die "cannot mount $type on $target"
    MOUNTED+=("$target")
}

# Run a command in the root with a clean environment (the host's pip settings -- find-links,
# extra index, constraints -- point at paths that do not exist in the root).
in_root() {
    local passenv=() v
    for v in ${HM_TRIXIE_PASSENV:-} PYTEST_ADDOPTS; do
        [ -n "${!v+x}" ] && passenv+=("$v=${!v}")
    done
    chroot "$ROOT" /usr/bin/env -i \
        PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        PIP_CERT=$CA_IN_ROOT SSL_CERT_FILE=$CA_IN_ROOT REQUESTS_CA_BUNDLE=$CA_IN_ROOT \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 PIP_NO_INPUT=1 \
        "${passenv[@]}" "$@"
}

# --- 1. debootstrap --------------------------------------------------------------------------
host_mirror() {
    local f u
    for f in /etc/apt/sources.list.d/*.sources; do       # deb822: "URIs: http://..."
        [ -f "$f" ] || continue
        u=$(awk '/^URIs:/ {print $2; exit}' "$f")
        case $u in *debian.org/debian|*/debian|*/debian/) echo "$u"; return 0;; esac
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do   # "deb URI suite ..."
        [ -f "$f" ] || continue
        u=$(awk '$1=="deb" {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' "$f" \
            | grep -E '/debian/?$' | head -1) || true
        [ -n "$u" ] && { echo "$u"; return 0; }
    done
    return 1
}

if [ ! -f "$ROOT/.current-stack.debootstrap-done" ]; then
    stage debootstrap
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap on the host"
        { apt-get update -q && apt-get install -y -q debootstrap; } >/dev/null \
            || die "apt-get install debootstrap failed on the host"
    fi
    MIRROR=${HM_TRIXIE_MIRROR:-$(host_mirror)} \
        || die "no Debian mirror found in /etc/apt/sources*; set HM_TRIXIE_MIRROR"
    if [ -e "$ROOT" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
        say "$ROOT exists without a finished debootstrap; removing it"
        for m in proc sys dev/shm; do mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"; done
        rm -rf --one-file-system "$ROOT"
    fi
    say "debootstrap --variant=minbase trixie $ROOT $MIRROR"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $ROOT.debootstrap.log (last lines: $(tail -3 "$ROOT.debootstrap.log" | tr '\n' ' '))"
    touch "$ROOT/.current-stack.debootstrap-done"
    stage_end
fi

mount_in_root proc /proc
mount_in_root tmpfs /dev/shm          # multiprocessing / dask semaphores
install -D -m 0644 "$HOST_CA" "$ROOT$CA_IN_ROOT" || die "cannot copy $HOST_CA into the root"
[ -f "$ROOT/etc/ssl/certs/ca-certificates.crt" ] || install -D -m 0644 "$HOST_CA" "$ROOT/etc/ssl/certs/ca-certificates.crt"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || say "WARNING: could not copy /etc/resolv.conf"

# --- 2. apt: python3.13, venv, headers, compilers -------------------------------------------
APT_PKGS="python3 python3-venv python3-dev gcc g++"
if ! in_root dpkg -s $APT_PKGS >/dev/null 2>&1; then
    stage apt
    in_root sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $APT_PKGS" \
        > "$ROOT.apt.log" 2>&1 || die "apt-get install in the root failed; see $ROOT.apt.log"
    stage_end "$(in_root python3 --version 2>&1)"
fi

# --- 3. venv + the current stack -------------------------------------------------------------
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    stage venv
    in_root python3 -m venv "$VENV" || die "python3 -m venv $VENV failed in the root"
    rm -f "$ROOT$VENV/.current-stack.requirements"
    stage_end
fi
printf '%s\n' "$REQUIREMENTS" > "$ROOT/opt/current-stack-requirements.txt"
if [ "${HM_TRIXIE_REFRESH:-0}" = 1 ] || ! cmp -s "$ROOT/opt/current-stack-requirements.txt" \
        "$ROOT$VENV/.current-stack.requirements" 2>/dev/null; then
    stage pip
    in_root sh -c "pip install -q -U pip && pip install -U -r /opt/current-stack-requirements.txt" \
        > "$ROOT.pip.log" 2>&1 || die "pip install of the stack failed; see $ROOT.pip.log (last lines: $(tail -3 "$ROOT.pip.log" | tr '\n' ' '))"
    in_root pip freeze > "$ROOT.pip-freeze.txt"
    cp "$ROOT/opt/current-stack-requirements.txt" "$ROOT$VENV/.current-stack.requirements"
    stage_end "freeze in $ROOT.pip-freeze.txt"
fi

# --- 4. copy the repository and install it without its pins -----------------------------------
stage copy
mkdir -p "$ROOT$SRC_IN_ROOT"
EXCLUDES=(.git '*.egg-info' __pycache__ .pytest_cache .ruff_cache build dist)
if command -v rsync >/dev/null; then
    rsync -a --delete "${EXCLUDES[@]/#/--exclude=}" "$REPO/" "$ROOT$SRC_IN_ROOT/" \
        || die "rsync $REPO -> $ROOT$SRC_IN_ROOT failed"
else
    find "$ROOT$SRC_IN_ROOT" -mindepth 1 -delete
    tar -C "$REPO" "${EXCLUDES[@]/#/--exclude=}" -cf - . | tar -C "$ROOT$SRC_IN_ROOT" -xf - \
        || die "copying $REPO -> $ROOT$SRC_IN_ROOT failed"
fi
stage_end "$REPO -> $ROOT$SRC_IN_ROOT"

stage install
# with its dependencies: pip must find the installed stack acceptable (no downgrade)
in_root sh -c "cd '$SRC_IN_ROOT' && pip install -q -e '.[test]'" > "$ROOT.install.log" 2>&1 \
 || fail "pip install -e .[test] failed; see $ROOT.install.log ($(tail -3 "$ROOT.install.log" | tr '\n' ' '))"
in_root python -c "import arviz, pymc; assert int(pymc.__version__.split('.')[0]) >= 6 and int(arviz.__version__.split('.')[0]) >= 1, (pymc.__version__, arviz.__version__)" \
 || fail "installing the project replaced PyMC 6 / ArviZ 1 with older releases: check its pins"
stage_end "pip install -e $SRC_IN_ROOT[test]"

say "stack: $(in_root python -c 'import sys, importlib.metadata as m; print("python", sys.version.split()[0], *(f"{p} {m.version(p)}" for p in ("pymc","pytensor","arviz","arviz-base","arviz-stats","arviz-plots","nutpie","numpyro","xarray","numpy")))' 2>&1)"

# --- 5. the command ----------------------------------------------------------------------------
say "running in $ROOT:$SRC_IN_ROOT: $CMD"
run_start=$(date +%s)
set +e
in_root CI=true MPLBACKEND=Agg PYTHONUNBUFFERED=1 bash -c "cd '$SRC_IN_ROOT' && $CMD"
rc=$?
set -e
say "command exited $rc after $(( $(date +%s) - run_start )) s (total $(( $(date +%s) - t0 )) s)"
exit "$rc"
