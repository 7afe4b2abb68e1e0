#!/usr/bin/env bash
# Installs everything vaultwall needs to build, test, demo and benchmark on a
# fresh Debian 12 host, and mounts bpffs when it is missing. Idempotent.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs packages and mounts bpffs)" >&2
	exit 1
fi

packages=(
	# build
	build-essential cmake pkg-config clang llvm
	libbpf-dev libelf-dev zlib1g-dev bpftool linux-libc-dev
	libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libssl-dev
	libgtest-dev libgmock-dev
	# tests, demo and benchmarks
	iproute2 curl openssl iputils-ping netcat-openbsd python3
	netsniff-ng xdp-tools nftables gnuplot-nox procps util-linux ethtool jq linux-perf
	# the deny-log line against its published JSON Schema (tests/e2e/observability_test.sh)
	python3-jsonschema
	# packaging test: dpkg-deb/dpkg-shlibdeps (cpack), systemd-analyze, completions
	dpkg-dev systemd bash-completion zsh lintian scdoc man-db
	# promtool, to check the metrics exposition (tests/e2e/observability_test.sh)
	prometheus
	# fleet mode: etcd 3.4 for the etcd client's integration tests (tests/fleet)
	etcd-server etcd-client
	# fuzzing (tests/fuzz): clang 14 cannot compile libstdc++ 12's <expected>;
	# libclang-rt-16-dev has libFuzzer and the sanitizer runtimes
	clang-16 libclang-rt-16-dev
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
echo "setup.sh: dependencies installed, bpffs mounted at /sys/fs/bpf"
