# shellcheck shell=bash
# checks.sh - PASS/FAIL bookkeeping for the test scripts (sourced by
# netns.sh). Each check prints one line; a script ends with
#   echo "$passed passed, $failed failed"
# which ctest and CI read as its result.

passed=0
failed=0

# check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the outcome.
check() {
	local what=$1
	shift
	if "$@"; then
		echo "PASS: $what"
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
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

# fatal MESSAGE: a failure that makes the rest meaningless; ends the script.
fatal() {
	echo "FAIL: $*"
	failed=$((failed + 1))
	echo "$passed passed, $failed failed (aborted)"
	exit 1
}
