#!/usr/bin/env bats
# What every program sets up first (lib/process.c, store_process_init): a
# fatal signal leaves the stack of the thread it hit on stderr (the log),
# then takes its own action, so the exit status still names the signal.
# Under AddressSanitizer (the SAN=1 build) ASan reports these signals
# itself and the report is not installed: the test checks that instead.

load '../lib/store'

# crash PROGRAM SIGNAL VAR=VALUE...: starts PROGRAM with only these
# variables, waits until it listens, sends SIGNAL; sets status (its exit
# status) and output (its stderr).
crash() {
	local prog=$1 sig=$2 pid i
	shift 2
	env -i PATH="$PATH" "$@" "$STORE_BUILD/bin/$prog" 2>"$BATS_TEST_TMPDIR/$prog.err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q '"msg":"listening' "$BATS_TEST_TMPDIR/$prog.err" && break
		sleep 0.1
	done
	grep -q '"msg":"listening' "$BATS_TEST_TMPDIR/$prog.err"
	kill "-$sig" "$pid"
	status=0
	wait "$pid" || status=$?
	output=$(<"$BATS_TEST_TMPDIR/$prog.err")
}

@test "a fatal signal leaves the stack of the thread it hit in the log, then kills the program with that signal" {
	local vars=(STORE_LISTEN="$BATS_TEST_TMPDIR/auth.sock"
		JWT_KEY=0123456789abcdef0123456789abcdef STORE_DB="sqlite:$BATS_TEST_TMPDIR/auth.db")
	crash store-auth ABRT "${vars[@]}"
	[ "$status" -eq 134 ]
	if [[ $STORE_BUILD == *san* ]]; then
		[[ $output != *"fatal signal"* ]]
		return 0
	fi
	[[ $output == *$'\nstore-auth: fatal signal 6 (SIGABRT), stack of the thread it hit (addr2line -f -e PROGRAM OFFSET):\n'* ]]
	[[ $output == *$'\nstore-auth: end of stack' ]]
	# Frames of the program itself, which addr2line turns into its functions:
	# the signal came while the main thread waited in store_service_run.
	local offs
	mapfile -t offs < <(grep -oE "^$STORE_BUILD/bin/store-auth\(\+0x[0-9a-f]+\)" <<<"$output" |
		grep -oE '0x[0-9a-f]+')
	((${#offs[@]} >= 2))
	addr2line -f -e "$STORE_BUILD/bin/store-auth" "${offs[@]}" | grep -qx store_service_run

	crash store-auth SEGV "${vars[@]}"
	[ "$status" -eq 139 ]
	[[ $output == *"store-auth: fatal signal 11 (SIGSEGV), stack of the thread it hit"* ]]
}
