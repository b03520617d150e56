#!/usr/bin/env bats
# store-nothp (bin/store-nothp.c): COMMAND runs with transparent huge pages
# off, and so does every process it starts; it is COMMAND (same pid, its
# signals, its exit status); bad usage and a command that cannot run get
# their exit statuses. The kernel reports the setting as "THP_enabled: 0" in
# /proc/PID/status (Linux 5.0 and later).

load '../lib/store'
bats_require_minimum_version 1.5.0

setup() {
	nothp=$STORE_BUILD/bin/store-nothp
	[[ -x $nothp ]]
}

# thp_field: skips the test when this kernel does not report THP_enabled.
thp_field() {
	grep -q '^THP_enabled:' /proc/self/status ||
		skip "this kernel has no THP_enabled line in /proc/PID/status"
}

@test "nothp: COMMAND and the processes it starts run without transparent huge pages; others keep them" {
	thp_field
	# 0 here too would prove nothing (a kernel without huge pages, or the
	# suite itself run without them).
	grep -qx $'THP_enabled:\t1' /proc/self/status ||
		skip "this shell already runs without transparent huge pages"
	run "$nothp" sh -c 'grep "^THP_enabled:" /proc/self/status; sh -c "grep ^THP_enabled: /proc/self/status"'
	[ "$status" -eq 0 ]
	[[ $output == $'THP_enabled:\t0\nTHP_enabled:\t0' ]]
	# "--" ends the options: a command may start with a dash after it.
	run "$nothp" -- grep '^THP_enabled:' /proc/self/status
	[[ $status == 0 && $output == $'THP_enabled:\t0' ]]
}

@test "nothp: it becomes COMMAND: the same pid, COMMAND's exit status and signals" {
	run "$nothp" sh -c 'exit 7'
	[ "$status" -eq 7 ]
	local f=$BATS_TEST_TMPDIR/pid pid
	"$nothp" sh -c "echo \$\$ >'$f'; exec sleep 30" &
	pid=$!
	wait_until 10 test -s "$f"
	[[ $(<"$f") == "$pid" ]]
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 143 ]
}

@test "nothp: --help prints the usage (exit 0); no command or an unknown option is 64; a command not found 127, not runnable 126" {
	run "$nothp" --help
	[ "$status" -eq 0 ]
	[[ $output == *"usage: store-nothp [--] COMMAND [ARG...]"* ]]
	run "$nothp"
	[ "$status" -eq 64 ]
	[[ $output == *"store-nothp: no command given"* && $output == *"store-nothp --help"* ]]
	run "$nothp" --
	[ "$status" -eq 64 ]
	run "$nothp" -x sh
	[ "$status" -eq 64 ]
	[[ $output == *"store-nothp: unknown option '-x'"* ]]
	run -127 "$nothp" store-no-such-command
	[[ $output == "store-nothp: cannot run 'store-no-such-command': No such file or directory" ]]
	printf 'not a program\n' >"$BATS_TEST_TMPDIR/plain"
	chmod 644 "$BATS_TEST_TMPDIR/plain"
	run "$nothp" "$BATS_TEST_TMPDIR/plain"
	[ "$status" -eq 126 ]
	[[ $output == "store-nothp: cannot run '$BATS_TEST_TMPDIR/plain': Permission denied" ]]
}
