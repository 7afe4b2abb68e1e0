# vw_run_bench_binary SUFFIX TARGET ARGS...: builds the benchmark TARGET in
# $BUILD_DIR (default build) and runs it with ARGS, its results written to
# bench/results/<UTC date>-<commit>[-dirty]-SUFFIX.json. Root only
# (BPF_PROG_TEST_RUN, bpffs pins). Run from the repository's root.
vw_run_bench_binary() {
	local suffix=$1 target=$2 build_dir=${BUILD_DIR:-build} commit out
	shift 2
	if [ "$(id -u)" -ne 0 ]; then
		echo "$(basename "$0"): needs root (BPF_PROG_TEST_RUN, bpffs pins)" >&2
		exit 1
	fi
	[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
	cmake --build "$build_dir" -j 2 --target "$target" >/dev/null
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	git diff --quiet 2>/dev/null || commit="$commit-dirty"
	mkdir -p bench/results
	out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit-$suffix.json"
	"$build_dir/tests/bench/$target" --out "$out" "$@"
	echo "results: $out"
}
