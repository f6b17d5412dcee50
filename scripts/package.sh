#!/usr/bin/env bash
# Build the Debian package: dist/hacheck_<version>_<arch>.deb.
#
#   scripts/package.sh                 # version from the git tag vX.Y.Z, else 0.0~git<time>.<commit>
#   VERSION=1.2.3 scripts/package.sh
#   ARCH=arm64 scripts/package.sh      # cross-build (Debian arch name: amd64, arm64, armhf, i386)
#   DIST=/tmp/out scripts/package.sh   # somewhere else than dist/
#
# The binary is built with CGO_ENABLED=0 and -trimpath, with the version,
# commit and build date linked into internal/buildinfo (hacheck version,
# hacheck_build_info). The man pages come from the command definitions
# (the hidden `hacheck gen-man`), the completions from `hacheck
# completion`. The package is put together by nfpm, a Go program run with
# `go run` at a pinned version: no packaging toolchain to install.
# SOURCE_DATE_EPOCH (default: the last commit's time) fixes the dates.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
command -v go >/dev/null || { echo "package.sh: go is not on PATH (install Go 1.26 or newer)" >&2; exit 2; }

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
if [[ -z ${VERSION:-} ]]; then
	if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
		VERSION=${tag#v}
	else
		VERSION="0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S).${commit:0:12}"
	fi
fi
if ! [[ $VERSION =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
	echo "package.sh: VERSION=$VERSION is not a Debian version (it must start with a digit)" >&2
	exit 2
fi
ARCH=${ARCH:-$(dpkg --print-architecture 2>/dev/null || go env GOARCH)}
goarm=
case $ARCH in
amd64 | arm64 | riscv64 | ppc64el | s390x) goarch=${ARCH/ppc64el/ppc64le} ;;
i386) goarch=386 ;;
armhf) goarch=arm goarm=7 ;;
*) echo "package.sh: unsupported ARCH=$ARCH" >&2; exit 2 ;;
esac
DIST=${DIST:-dist}
built=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/hacheck-package.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

pkg=github.com/hacheck/hacheck/internal/buildinfo
ldflags="-s -w -X $pkg.version=$VERSION -X $pkg.commit=$commit -X $pkg.date=$built"
echo "package.sh: building hacheck $VERSION ($ARCH, commit ${commit:0:12})"
# /usr/sbin/hacheck is the lean front (cmd/hacheck-front): it answers
# check and hands drain to serve itself, and runs the full program,
# /usr/lib/hacheck/hacheck, for everything else (see the README).
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -trimpath -ldflags "$ldflags" -o "$STAGE/hacheck-full" ./cmd/hacheck
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -trimpath -ldflags "-s -w" -o "$STAGE/hacheck" ./cmd/hacheck-front
# The state-only check keepalived can run every second (see the README).
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -trimpath -ldflags "-s -w" -o "$STAGE/hacheck-check" ./cmd/hacheck-check
# Man pages and completions come from a binary that runs here.
host=$STAGE/hacheck-full
if [[ $goarch != "$(go env GOARCH)" ]]; then
	host=$STAGE/hacheck-host
	CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$host" ./cmd/hacheck
fi
mkdir -p "$STAGE/man" "$STAGE/completions"
"$host" gen-man "$STAGE/man" >/dev/null
# The completion command's own pages are of no use to an operator.
rm -f "$STAGE"/man/hacheck-completion-*.8
gzip -9n "$STAGE"/man/*.8
"$host" completion bash >"$STAGE/completions/hacheck.bash"
"$host" completion zsh >"$STAGE/completions/_hacheck"
"$host" completion fish >"$STAGE/completions/hacheck.fish"

# Debian wants a changelog even for a package built outside Debian.
{
	printf 'hacheck (%s) unstable; urgency=medium\n\n' "$VERSION"
	printf '  * Built from commit %s.\n\n' "$commit"
	printf ' -- hacheck developers <devel@hacheck.invalid>  %s\n' "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$STAGE/changelog.gz"

mkdir -p "$DIST"
out="$DIST/hacheck_${VERSION}_${ARCH}.deb"
rm -f "$out"
# nfpm expands variables in some fields only: substitute them all here.
sed -e "s|\${STAGE}|$STAGE|g" -e "s|\${VERSION}|$VERSION|g" -e "s|\${ARCH}|$ARCH|g" packaging/nfpm.yaml >"$STAGE/nfpm.yaml"
go run "$NFPM" package --config "$STAGE/nfpm.yaml" --packager deb --target "$out" >/dev/null
echo "package.sh: $out"
