#!/usr/bin/env bash
# images.sh -- `make images`: build the sluice-operator and sluice-worker
# container images for real with podman (there is no Docker engine here).
#
# The base image is not pulled (only package registries are reachable): it is
# made once with `debootstrap --variant=minbase bookworm`, cached as a tarball
# in $SLUICE_CACHE keyed by suite, imported as localhost/debian:bookworm and
# passed to both Dockerfiles as BASE. Tags: localhost/sluice-operator:VERSION
# and localhost/sluice-worker:VERSION (VERSION from the file of that name).
#
# To run them here: podman --runtime runc run --cgroup-manager=cgroupfs \
#     --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 IMAGE --version
# (this sandbox refuses podman's default rlimits; a normal host does not).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/versions.sh"

SUITE=${SLUICE_IMAGE_SUITE:-bookworm}
BASE=localhost/debian:$SUITE
VERSION=$(cat "$root/VERSION")
GIT_REV=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
MIRROR=${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

for tool in podman debootstrap runc; do
	command -v "$tool" >/dev/null || die "$tool is missing (run: make deps)"
done

base_image() {
	local tar=$SLUICE_CACHE/images/debian-$SUITE-minbase.tar tmp
	if podman image exists "$BASE"; then
		return 0
	fi
	if [ ! -s "$tar" ]; then
		[ "$(id -u)" = 0 ] || die "debootstrap needs root"
		mkdir -p "$(dirname "$tar")"
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-debootstrap.XXXXXX")
		say "making the base image with debootstrap ($SUITE, minbase; about a minute)"
		if ! debootstrap --variant=minbase "$SUITE" "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1; then
			tail -20 "$tmp/log" >&2
			rm -rf "$tmp"
			die "debootstrap failed (log above)"
		fi
		tar -C "$tmp/root" -c . >"$tar.tmp" && mv "$tar.tmp" "$tar"
		rm -rf "$tmp"
	fi
	say "importing $tar as $BASE"
	podman import --quiet - "$BASE" <"$tar" >/dev/null
}

build() { # build NAME
	local name=$1 log
	log=$(mktemp "${TMPDIR:-/tmp}/sluice-image-$name.XXXXXX")
	say "building localhost/sluice-$name:$VERSION (log: $log)"
	if ! podman build --isolation=chroot --build-arg "BASE=$BASE" --build-arg "GIT_REV=$GIT_REV" \
		-f "$root/Dockerfile.$name" -t "localhost/sluice-$name:$VERSION" "$root" >"$log" 2>&1; then
		tail -30 "$log" >&2
		die "podman build of Dockerfile.$name failed (log: $log)"
	fi
	rm -f "$log"
}

base_image
for name in ${SLUICE_IMAGES:-operator worker}; do
	build "$name"
done
# Dangling build stages pile up with every build; they are ours to drop.
podman image prune -f >/dev/null 2>&1 || true
podman images --filter reference='localhost/sluice-*' \
	--format '{{.Repository}}:{{.Tag}} {{.Size}}' >&2
