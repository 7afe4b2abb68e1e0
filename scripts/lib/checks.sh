# shellcheck shell=bash
# checks.sh - the assertions every test script shares (sourced by netns.sh,
# or directly). Each check prints one PASS/FAIL line; a script ends with
# `finish`, whose "N passed, M failed" line ctest and CI read as its result.
#
#   check "the rule is listed" grep -q 198.51.100.7 "$file"   # DESCRIPTION COMMAND...
#   run vaultwallctl validate -f doc.json    # sets OUT, ERR, RC
#   expect_exit 0 "validate accepts a good document"
#   expect_json "validate -o json"           # OUT parses and has schemaVersion
#   expect_json_value '.valid' true "validate -o json says valid"   # a jq filter over OUT
#   finish                                   # summary; exit 1 if anything failed

passed=0
failed=0
OUT=
ERR=
RC=0
_vw_last_run=

# run CMD...: runs a command (60 s at most), keeping stdout in OUT, stderr
# in ERR and the exit code in RC.
run() {
	local err_file
	err_file=$(mktemp "${TMPDIR:-/tmp}/vw-stderr.$$.XXXXXX")
	OUT=$(timeout 60 "$@" 2>"$err_file")
	RC=$?
	ERR=$(<"$err_file")
	rm -f "$err_file"
	_vw_last_run="$*"
}

_pass() {
	echo "PASS: $1"
	passed=$((passed + 1))
}

# FAIL, the reason when given, and what the last run printed.
_fail() {
	echo "FAIL: $1"
	[ $# -gt 1 ] && echo "      $2"
	if [ -n "$_vw_last_run" ]; then
		echo "      last command exit $RC; stdout: ${OUT:0:600}"
		echo "      stderr: ${ERR:0:600}"
	fi
	failed=$((failed + 1))
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then _pass "$what"; else _fail "$what"; fi
}

# quietly COMMAND...: COMMAND with its output discarded, for use under check
# (a redirect after check itself would swallow the PASS/FAIL line too).
quietly() {
	"$@" >/dev/null 2>&1
}

# fails COMMAND...: succeeds when COMMAND fails (its output discarded).
fails() {
	! "$@" >/dev/null 2>&1
}

# quiet COMMAND...: COMMAND's output is shown (indented) only when it fails.
# COMMAND runs in this shell (a function may set variables).
quiet() {
	local out_file rc=0
	out_file=$(mktemp "${TMPDIR:-/tmp}/vw-quiet.$$.XXXXXX") || return 1
	"$@" >"$out_file" 2>&1 || rc=1
	[ "$rc" -eq 0 ] || sed 's/^/  | /' "$out_file"
	rm -f "$out_file"
	return "$rc"
}

# essential DESCRIPTION COMMAND...: a check everything after depends on; a
# failure ends the script.
essential() {
	local what=$1
	shift
	check "$what" quiet "$@" || fatal "$what (nothing after it can be judged)"
}

# maps_in_sync CTL ARGS...: `CTL ARGS... verify` finds the maps equal to the
# stored policy; for tests that attach no interface, the one difference
# they expect (nothing attached: the policy filters nothing) is allowed.
# Prints verify's words when it fails.
maps_in_sync() {
	local out
	out=$("$@" verify -o json 2>&1)
	jq -e '.error == null and ([.differences[] | select(startswith("no interface is attached") | not)] == [])' \
		<<<"$out" >/dev/null 2>&1 && return 0
	printf '%s\n' "$out" | head -20
	return 1
}

# fatal MESSAGE: a failure that makes the rest meaningless; ends the script.
fatal() {
	echo "FAIL: $*"
	failed=$((failed + 1))
	echo "$passed passed, $failed failed (aborted)"
	exit 1
}

# expect_exit CODE DESCRIPTION: the last run exited with CODE.
expect_exit() {
	if [ "$RC" -eq "$1" ]; then _pass "$2 (exit $1)"; else _fail "$2" "expected exit $1, got $RC"; fi
}

# expect_out / expect_err TEXT DESCRIPTION: the last run's stdout / stderr
# contains TEXT (fixed string).
expect_out() {
	if grep -qF -- "$1" <<<"$OUT"; then _pass "$2"; else _fail "$2" "stdout lacks: $1"; fi
}
expect_err() {
	if grep -qF -- "$1" <<<"$ERR"; then _pass "$2"; else _fail "$2" "stderr lacks: $1"; fi
}

# expect_err_ends_with HINT DESCRIPTION: the last line of stderr ends with
# HINT (error messages end with the next thing to try).
expect_err_ends_with() {
	local last
	last=$(tail -n 1 <<<"$ERR")
	if [[ $last == *"$1" ]]; then _pass "$2"; else _fail "$2" "last stderr line does not end with: $1"; fi
}

# is_json_with_schema_version: stdin is one JSON object with schemaVersion.
is_json_with_schema_version() {
	jq -e 'type == "object" and has("schemaVersion")' >/dev/null 2>&1
}

# expect_json DESCRIPTION: the last run's stdout parses as JSON and has a
# schemaVersion.
expect_json() {
	local why
	if ! why=$(jq empty 2>&1 <<<"$OUT"); then
		_fail "$1" "stdout is not JSON: $why"
	elif ! is_json_with_schema_version <<<"$OUT"; then
		_fail "$1" "no schemaVersion field"
	else
		_pass "$1: JSON with schemaVersion"
	fi
}

# json_value FILTER: the jq FILTER's result over the last run's stdout,
# e.g. json_value '.generation': strings raw, everything else compact JSON
# (true, 3, ["a","b"]); empty on error.
json_value() {
	jq -rc "$1" <<<"$OUT" 2>/dev/null
}

# expect_json_value FILTER WANT DESCRIPTION
expect_json_value() {
	local got
	got=$(json_value "$1")
	if [ "$got" = "$2" ]; then _pass "$3"; else _fail "$3" "$1: expected '$2', got '$got'"; fi
}

# jqf FILTER FILES...: the jq FILTER's result with $j[0], $j[1], ... = the
# parsed files (strings raw, the rest compact); /dev/stdin reads a pipe.
jqf() {
	local filter=$1
	shift
	jq -rcn "[inputs] as \$j | $filter" "$@"
}

# finish: prints the summary; exits 1 when any check failed, else 0.
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
