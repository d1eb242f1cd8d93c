#!/usr/bin/env bash
# images.sh -- `make images`: build the sluice-operator and sluice-worker
# container images for real with podman (there is no Docker engine here).
#
# The base image is not pulled (only package registries are reachable): it is
# made once with `debootstrap --variant=minbase bookworm`, cached as a tarball
# in $SLUICE_CACHE keyed by suite, imported as localhost/debian:bookworm and
# passed to both Dockerfiles as BASE. Tags: localhost/sluice-operator:VERSION
# and localhost/sluice-worker:VERSION (VERSION from the file of that name).
# Both final images are FROM scratch: the binaries and the shared objects
# they load, staged in the build stage (docs/images.md).
#
# Rebuilds happen only when an input changed. The build context is what git
# sees in the checkout, committed or not (tracked files as they are on disk,
# plus untracked files that are not ignored), packed into a deterministic tar;
# each image is labelled sluice.inputs=sha256(that tar, the base image's id,
# the revision --version prints, the image's name), and an image whose label
# matches is left as it is. SLUICE_IMAGES_REBUILD=1 builds regardless. The
# compilers' layer (the Dockerfiles' deps stage) is tagged
# localhost/sluice-build-deps:VERSION so that pruning keeps it.
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

# The build context: every file git sees (see the header), in $ctx/src,
# and the sha256 of its deterministic tar in $ctx_hash. Outside a git
# checkout the context is the directory itself and nothing is skipped.
ctx= ctx_hash=
make_context() {
	local list f
	if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		ctx_src=$root
		return 0
	fi
	ctx=$(mktemp -d "${TMPDIR:-/tmp}/sluice-image-context.XXXXXX")
	trap 'rm -rf "$ctx"' EXIT
	list=$ctx/files
	# Tracked files deleted on disk are listed too; leave them out.
	git -C "$root" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$root/$f" ] || [ -L "$root/$f" ]; then printf '%s\0' "$f"; fi
		done | sort -zu >"$list"
	tar -C "$root" --no-recursion --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		--format=gnu --null -T "$list" -cf "$ctx/context.tar"
	ctx_hash=$(sha256sum <"$ctx/context.tar" | cut -d' ' -f1)
	mkdir "$ctx/src"
	tar -C "$ctx/src" -xf "$ctx/context.tar"
	ctx_src=$ctx/src
	# sluice-dashboard embeds uPlot, which the build stage cannot fetch (no
	# npm there): the pinned copy in $SLUICE_CACHE (scripts/dashboard-assets.sh,
	# fetched now if missing) goes into the context as .sluice-cache/, and
	# Dockerfile.worker builds with SLUICE_CACHE=/src/.sluice-cache. Its version
	# is in versions.sh, so the inputs' hash covers it.
	"$here/dashboard-assets.sh" fetch >/dev/null
	mkdir -p "$ctx/src/.sluice-cache/npm"
	cp -R "$SLUICE_CACHE/npm/uplot-$UPLOT_VERSION" "$ctx/src/.sluice-cache/npm/"
}

inputs_key() { # inputs_key NAME
	[ -n "$ctx_hash" ] || return 0
	printf '%s\n' "$1" "$ctx_hash" "$(podman image inspect --format '{{.Id}}' "$BASE")" "$GIT_REV" |
		sha256sum | cut -d' ' -f1
}

podman_build() { # podman_build NAME LOG ARGS...
	local name=$1 log=$2
	shift 2
	if ! podman build --isolation=chroot --build-arg "BASE=$BASE" --build-arg "GIT_REV=$GIT_REV" \
		-f "$ctx_src/Dockerfile.$name" "$@" "$ctx_src" >"$log" 2>&1; then
		tail -30 "$log" >&2
		die "podman build of Dockerfile.$name failed (log: $log)"
	fi
}

built=0
build() { # build NAME
	local name=$1 ref=localhost/sluice-$1:$VERSION key have log
	key=$(inputs_key "$name")
	if [ -n "$key" ] && [ "${SLUICE_IMAGES_REBUILD:-0}" != 1 ] && podman image exists "$ref"; then
		have=$(podman image inspect --format '{{index .Labels "sluice.inputs"}}' "$ref" || true)
		if [ "$have" = "$key" ]; then
			say "$ref is up to date (inputs ${key:0:12})"
			return 0
		fi
	fi
	log=$(mktemp "${TMPDIR:-/tmp}/sluice-image-$name.XXXXXX")
	if [ "$built" = 0 ]; then
		# The compilers' layer, tagged so that the prune below keeps it.
		say "building the build stage's packages (log: $log)"
		podman_build "$name" "$log" --target deps -t "localhost/sluice-build-deps:$VERSION"
	fi
	say "building $ref (log: $log)"
	podman_build "$name" "$log" ${key:+--label "sluice.inputs=$key"} -t "$ref"
	rm -f "$log"
	built=1
}

base_image
make_context
for name in ${SLUICE_IMAGES:-operator worker}; do
	build "$name"
done
# Dangling build stages and replaced images pile up with every build; they
# are ours to drop.
if [ "$built" = 1 ]; then
	podman image prune -f >/dev/null 2>&1 || true
fi
for name in ${SLUICE_IMAGES:-operator worker}; do
	podman image inspect --format "localhost/sluice-$name:$VERSION {{.Size}}" \
		"localhost/sluice-$name:$VERSION" |
		awk '{ printf "%s %.1f MB\n", $1, $2 / 1e6 }' >&2
done
