#!/usr/bin/env bats
# tests/run, the test runner: a process that a test leaves running fails the
# run, named, and is stopped. Each test runs tests/run on a small build folder
# of its own whose only unit test is a script, with a bats filter that
# matches no test of tests/bats and tests/deploy.

load '../lib/store'

# fake_build NAME SCRIPT: a build folder BATS_TEST_TMPDIR/NAME whose one unit
# test, tests/test_fake, runs SCRIPT (sh) and reports one passing test.
fake_build() {
	mkdir -p "$BATS_TEST_TMPDIR/$1/tests"
	{
		printf '#!/bin/sh\n%s\n' "$2"
		printf 'echo "1..1"\necho "ok 1 - the fake unit test"\n'
	} >"$BATS_TEST_TMPDIR/$1/tests/test_fake"
	chmod +x "$BATS_TEST_TMPDIR/$1/tests/test_fake"
}

# run_runner NAME: tests/run on the fake build NAME, running no bats test.
run_runner() {
	run env -u STORE_FUZZ_BUILD STORE_BATS_FILTER='^no test has this name$' STORE_LEFTOVER_WAIT=1 \
		"$STORE_ROOT/tests/run" "$BATS_TEST_TMPDIR/$1" 3>&-
}

@test "tests/run: a run that leaves nothing behind passes" {
	fake_build tidy 'sleep 0.1'
	run_runner tidy
	echo "$output"
	[[ $status == 0 ]]
	[[ ${lines[-1]} == "1 passed, 0 failed" ]]
	[[ $output != *leftovers* ]]
}

@test "tests/run: a process left running fails the run, named, and is stopped; also one that cleared its environment but works in the run's folder" {
	# One keeps the environment (STORE_TEST_RUN), one has none and works in
	# TMPDIR, as nginx and redis-server look after they set their titles.
	fake_build leaky 'setsid sleep 301 </dev/null >/dev/null 2>&1 &
cd "$TMPDIR" && setsid env -i sleep 302 </dev/null >/dev/null 2>&1 &
sleep 0.2'
	run_runner leaky
	echo "$output"
	[[ $status == 1 ]]
	[[ ${lines[-1]} == "1 passed, 2 failed" ]]
	local line pid n=0
	for line in "${lines[@]}"; do
		if [[ $line =~ ^leaky/leftovers:\ not\ ok\ -\ process\ ([0-9]+)\ \(sleep\ 30[12]\)\ was\ started\ by\ this\ run\ and\ is\ still\ running\;\ stopped$ ]]; then
			pid=${BASH_REMATCH[1]}
			n=$((n + 1))
			wait_until 10 eval "! _alive $pid"
		fi
	done
	[[ $n == 2 ]]
}
