#!/usr/bin/env bash
# Runs COMMAND in a fresh minimal Debian 12 root, as a new user on a new machine would: nothing installed but
# `debootstrap --variant=minbase bookworm`, the host's apt configuration (so it reaches the same archive with the
# same settings), and a clean `git clone` of this repository's HEAD (no build/, no .cache/, no uncommitted
# changes). This is how we check that the README's two commands work from nothing; .ci/run uses it.
#
# Usage: scripts/fresh-debian.sh [COMMAND [ARG...]]     (default: scripts/test.sh, the README's test command)
#   e.g. scripts/fresh-debian.sh scripts/demo.sh
#
# The pristine base root (debootstrap's output, nothing of the project) is cached as a tarball outside the
# repository ($EAGLE_FRESH_CACHE, default /var/cache/eagle-fresh-debian) and unpacked anew for every run, so
# everything the project installs happens fresh each time. Needs root (or sudo) for debootstrap, chroot and
# mounts. The root is unmounted and deleted on exit, failure or Ctrl-C (EAGLE_FRESH_KEEP=1 keeps it to look
# inside). Prints the wall time of each phase; exits with COMMAND's status.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
    exec sudo --preserve-env=EAGLE_FRESH_CACHE,EAGLE_FRESH_KEEP,EAGLE_DEBIAN_MIRROR,CI "$0" "$@"
fi
if (($# == 0)); then
    set -- scripts/test.sh
fi

suite=bookworm
cache=${EAGLE_FRESH_CACHE:-/var/cache/eagle-fresh-debian}
base=$cache/$suite-minbase.tar
# debootstrap needs one mirror URL; apt inside the root then uses the host's own sources and settings
mirror=${EAGLE_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}

say() { echo "fresh-debian: $*" >&2; }
phases=()
phase_start=0
begin() { phase_name=$1; phase_start=$(date +%s); say "$1 ..."; }
end() {
    local t=$(( $(date +%s) - phase_start ))
    phases+=("$(printf '%-8s %4d s' "$phase_name" "$t")")
    say "$phase_name: ${t} s"
}

work=""
root=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $root && -d $root ]]; then
        # stop whatever the command left running inside the root, then unmount (deepest first)
        local pid
        for pid in $(ls /proc | grep -E '^[0-9]+$'); do
            [[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$root" ]] && kill -9 "$pid" 2>/dev/null || true
        done
        local m
        for m in dev/shm dev/pts dev proc; do
            mountpoint -q "$root/$m" && { umount "$root/$m" 2>/dev/null || umount -l "$root/$m"; }
        done
    fi
    if [[ -n $work && -d $work ]]; then
        if [[ ${EAGLE_FRESH_KEEP:-0} == 1 ]]; then
            say "kept $root"
        else
            # never follow anything out of the root: the mounts are gone, and rm stays on this file system
            rm -rf --one-file-system "$work"
        fi
    fi
    if ((${#phases[@]})); then
        say "wall time per phase:"
        printf '  %s\n' "${phases[@]}" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. the pristine base root, made once and cached (it holds nothing of the project)
if [[ ! -s $base ]]; then
    begin "base"
    if ! command -v debootstrap > /dev/null; then
        say "installing debootstrap on this machine"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
    fi
    mkdir -p "$cache"
    tmp_root=$(mktemp -d "$cache/debootstrap.XXXXXX")
    if ! debootstrap --variant=minbase "$suite" "$tmp_root" "$mirror" > "$cache/debootstrap.log" 2>&1; then
        say "error: debootstrap $suite from $mirror failed (see $cache/debootstrap.log)"
        rm -rf --one-file-system "$tmp_root"
        exit 1
    fi
    rm -f "$tmp_root"/var/cache/apt/archives/*.deb; find "$tmp_root/var/lib/apt/lists" -maxdepth 1 -type f -delete
    tar -C "$tmp_root" -cf "$base.tmp" .
    mv "$base.tmp" "$base"
    rm -rf --one-file-system "$tmp_root"
    end
fi

# 2. a new root from the base, with the host's apt configuration
begin "root"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/eagle-fresh.XXXXXX")
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$base"
rm -f "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*
[[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$root/etc/apt/"
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && cp "$f" "$root/etc/apt/sources.list.d/"
done
cp -a /etc/apt/apt.conf.d/. "$root/etc/apt/apt.conf.d/"
for d in /etc/apt/trusted.gpg.d /etc/apt/keyrings /usr/share/keyrings; do
    [[ -d $d ]] && mkdir -p "$root$d" && cp -an "$d/." "$root$d/"
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp /etc/hosts "$root/etc/hosts" 2>/dev/null || true
end

# 3. the project: a clean clone of HEAD (and shared/ beside it, as CI has it)
begin "clone"
mkdir -p "$root/work"
git -C "$repo" rev-parse --verify -q HEAD > /dev/null || { say "error: $repo has no commit to clone"; exit 1; }
git clone -q --no-hardlinks "$repo" "$root/work/eagle"
git -C "$root/work/eagle" checkout -q --detach "$(git -C "$repo" rev-parse HEAD)"
[[ -d $repo/../shared ]] && cp -r "$repo/../shared" "$root/work/shared"
say "cloned $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes are not included)')"
end

# 4. what a build and Chromium need
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"

# 5. the command, with a clean environment, as root in /work/eagle
begin "command"
say "running: $*"
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" DEBIAN_FRONTEND=noninteractive \
    /bin/bash -c 'cd /work/eagle && exec "$@"' fresh-debian "$@"
status=$?
set -e
end
say "command exited with status $status"
exit "$status"
