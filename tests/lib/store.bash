# store.bash - helpers for the store's bats tests.
#
# In a .bats file:   load '../lib/store'
#   setup_file()    { store_start; }        # once per file: bin/store-run on a free port
#   teardown_file() { store_stop; }
#   @test "..." { api GET /api/users/currentuser; expect_status 200; ... }
#
# Several users in one test: each has a named cookie jar (kept for the file):
#   as seller signup                      # a new user, its session in jar "seller"
#   as seller api POST /api/categories '{"name":"Books","description":"d"}'
#   as buyer signup; as buyer api GET /api/cart
#   user_id seller                        # its id
#
# Processes (names of "bin/store-nginx-conf --services", and nats, redis, nginx):
#   svc_stop NAME [SIGNAL]   stop it (TERM by default), wait until it is gone
#   svc_kill NAME            the same with KILL
#   svc_start NAME           start it again exactly as bin/store-run did
#                            (DIR/run/NAME.env and NAME.cmd), wait until it serves;
#                            refused once store_stop ran (nothing may outlive it)
#   nats_stop, nats_start    the same for nats-server (same ports, same store)
#   nats_behind_cutter [BYTES], nats_without_cutter, cut_now, cut_after
#                            NATS connections cut (tests/lib/tcp_cut.py)
#   redis_stop, redis_start  the same for redis-server (same port, same data:
#                            it writes its append-only file as it stops)
#   wait_until TIMEOUT CMD...  poll CMD until it succeeds, at most TIMEOUT seconds
#   nats_tool ARGS...        tests/lib/nats-tool.js on the store's NATS
#   redis_cli ARGS...        redis-cli on the store's redis-server
#
# Environment:
#   STORE_BUILD          build folder whose programs are tested (tests/run sets it;
#                        default: the repository's build/)
#   STORE_START_TIMEOUT  seconds for the store to come up (default: 60)
#   STORE_STOP_TIMEOUT   seconds for each process to stop before KILL (default: 10)
#   STORE_ACK_WAIT_MS, STORE_NAK_DELAY_MS, STORE_MAX_DELIVER: the bus settings
#                        the store runs with (default here: 1000, 100, 5)
#   STORE_TEST_NATS_CUTS SECONDS: store_start puts nats-server behind the cutter
#                        and cuts every NATS connection every SECONDS seconds
#                        until store_stop (a file's tests under a failing
#                        network; tests that cut connections themselves skip)
#
# After store_start: STORE_URL (http://127.0.0.1:PORT), STORE_PORT, STORE_VAR (the
# launcher's --var folder), STORE_PID (the launcher), JWT_KEY (the key it used)
# and, when nats-server runs, NATS_URL; when redis-server runs, REDIS_URL.
# After api: status_code, body, headers (the response headers' file).

STORE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export STORE_ROOT
: "${STORE_BUILD:=$STORE_ROOT/build}"
export STORE_BUILD

# free_port: print a TCP port on 127.0.0.1 that nothing uses now (the
# launcher's own choice, so the tests and bin/store-run share one way).
free_port() {
	"$STORE_ROOT/bin/store-run" --free-port
}

# _close_fds: close every file descriptor above 2 of this (sub)shell: bats
# keeps pipes open on 3 and others, and waits for whoever holds them, so a
# process that outlives a test must not inherit them.
_close_fds() {
	local fd
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

# _alive PID: the process exists and is not a zombie (a process restarted by a
# test may end up a zombie of a parent that does not reap).
_alive() {
	local stat
	[[ -n $1 ]] || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# _proc_start PID: the process's start time (clock ticks since boot), which
# tells it from a later process that got the same pid.
_proc_start() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086 # split on purpose: the fields from "state" on
	set -- $stat
	printf '%s\n' "${20}"
}

# _remember_pids PID...: note in STORE_VAR/started.pids each live process, with
# its start time, for store_stop to check that none is left.
_remember_pids() {
	local pid start
	for pid in "$@"; do
		[[ $pid =~ ^[0-9]+$ ]] || continue
		start=$(_proc_start "$pid") || continue
		printf '%s %s\n' "$pid" "$start" >>"$STORE_VAR/started.pids"
	done
}

# _run_pids: the pids of STORE_VAR/run/*.pid.
_run_pids() {
	local f pid
	for f in "$STORE_VAR"/run/*.pid; do
		[[ -e $f && $f != */store-run.pid ]] || continue
		read -r pid 2>/dev/null <"$f" && printf '%s\n' "$pid"
	done
}

# store_start [SERVICES]: start the store (all services, or the comma-separated
# SERVICES) with bin/store-run in the background, wait for it to serve, export
# STORE_URL & co. Retries on another port when the port was taken meanwhile.
# The store runs with STORE_RUN_KEEP_GOING=1: tests kill and restart processes.
store_start() {
	local only=${1:-} out rc_file rc try end wait_s
	STORE_VAR=${STORE_VAR:-${BATS_FILE_TMPDIR:?store_start needs bats}/var}
	export STORE_VAR
	mkdir -p "$STORE_VAR"
	out="$STORE_VAR/store-run.out"
	rc_file="$STORE_VAR/store-run.rc"
	for try in 1 2 3; do
		rm -f "$rc_file" "$STORE_VAR/stopped"
		STORE_PORT=$(free_port) || return 1
		# The subshell records the launcher's exit status for store_stop; bats'
		# own descriptors are closed so bats does not wait for the store.
		(
			_close_fds
			rc=0
			# The tests' own variables are not the programs' business.
			env -u JWT_KEY -u NATS_URL -u REDIS_URL -u STORE_ROOT -u STORE_BUILD -u STORE_VAR \
				-u STORE_URL -u STORE_PID -u STORE_PORT BUILD="$STORE_BUILD" \
				STORE_START_TIMEOUT="${STORE_START_TIMEOUT:-60}" \
				STORE_RUN_KEEP_GOING=1 \
				STORE_ACK_WAIT_MS="${STORE_ACK_WAIT_MS:-1000}" \
				STORE_NAK_DELAY_MS="${STORE_NAK_DELAY_MS:-100}" \
				STORE_MAX_DELIVER="${STORE_MAX_DELIVER:-5}" \
				"$STORE_ROOT/bin/store-run" --var "$STORE_VAR" --port "$STORE_PORT" \
				${only:+--only "$only"} || rc=$?
			echo "$rc" >"$rc_file"
		) </dev/null >"$out" 2>&1 3>&- &
		wait_s=$((${STORE_START_TIMEOUT:-60} + 10))
		end=$((SECONDS + wait_s))
		until grep -q '^store: serving ' "$out" 2>/dev/null; do
			if [[ -s $rc_file ]]; then
				rc=$(<"$rc_file")
				if [[ $rc == 75 && $try -lt 3 ]]; then
					continue 2 # the port was taken in the meantime
				fi
				echo "store_start: bin/store-run exited with status $rc:" >&2
				cat "$out" >&2
				return 1
			fi
			if ((SECONDS >= end)); then
				echo "store_start: the store did not serve within ${wait_s}s:" >&2
				cat "$out" >&2
				_store_kill_launcher
				return 1
			fi
			sleep 0.1
		done
		STORE_PID=$(<"$STORE_VAR/run/store-run.pid")
		STORE_URL="http://127.0.0.1:$STORE_PORT"
		JWT_KEY=$(<"$STORE_VAR/jwt.key")
		export STORE_PID STORE_PORT STORE_URL JWT_KEY
		if [[ -s $STORE_VAR/run/nats.cmd ]]; then
			NATS_URL="nats://127.0.0.1:$(_cmd_option nats -p)"
			export NATS_URL
		fi
		if [[ -s $STORE_VAR/run/redis.cmd ]]; then
			REDIS_URL="redis://127.0.0.1:$(_cmd_option redis --port)"
			export REDIS_URL
		fi
		if [[ -n ${STORE_TEST_NATS_CUTS:-} && -s $STORE_VAR/run/nats.cmd ]]; then
			{ nats_behind_cutter 65536 && _cuts_every "$STORE_TEST_NATS_CUTS"; } || return 1
		fi
		# Remember every process started, to check that none outlives the store.
		: >"$STORE_VAR/started.pids"
		# shellcheck disable=SC2046 # one pid a word
		_remember_pids $(_run_pids)
		return 0
	done
	echo "store_start: no free port after 3 tries" >&2
	return 1
}

_store_kill_launcher() {
	local pid
	pid=$(cat "$STORE_VAR/run/store-run.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
}

# store_stop: stop the store started by store_start and check it went well: the
# launcher exited 0, no process it or a test started is left (those of
# DIR/run/*.pid included), no process died on its own (only those a test
# stopped with svc_stop or svc_kill may have), and no log holds a sanitizer or
# runtime error report. Fails, saying why, otherwise.
# Runs once: later calls (teardown_file after a last test did it) do nothing.
store_stop() {
	[[ -n ${STORE_VAR:-} && -d $STORE_VAR && ! -e $STORE_VAR/stopped ]] || return 0
	local rc_file="$STORE_VAR/store-run.rc" problems=() pid start end f rc name how
	: >"$STORE_VAR/stopped"
	_cutter_stop
	# Whatever runs now (restarted by a test too) must be gone afterwards.
	# shellcheck disable=SC2046 # one pid a word
	_remember_pids $(_run_pids)
	if [[ ! -s $rc_file && -n ${STORE_PID:-} ]]; then
		kill -TERM "$STORE_PID" 2>/dev/null || true
	fi
	end=$((SECONDS + ${STORE_STOP_TIMEOUT:-10} * 3 + 5))
	until [[ -s $rc_file ]]; do
		if ((SECONDS >= end)); then
			problems+=("bin/store-run (pid ${STORE_PID:-?}) did not stop; killed")
			kill -KILL "${STORE_PID:-}" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	if [[ -s $rc_file ]]; then
		rc=$(<"$rc_file")
		[[ $rc == 0 ]] || problems+=("bin/store-run exited with status $rc (a process failed)")
	fi
	if [[ -f $STORE_VAR/started.pids ]]; then
		while read -r pid start; do
			if [[ -n $pid ]] && _alive "$pid" && [[ $(_proc_start "$pid") == "$start" ]]; then
				problems+=("process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) is still running")
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done < <(sort -u "$STORE_VAR/started.pids")
	fi
	if [[ -f $STORE_VAR/run/exits ]]; then
		while read -r pid name how; do
			[[ -n $pid ]] || continue
			if ! grep -qx "$pid" "$STORE_VAR/run/expected-exits" 2>/dev/null; then
				problems+=("$name (pid $pid) died on its own ($how); see $STORE_VAR/log/$name.log")
			fi
		done <"$STORE_VAR/run/exits"
	fi
	for f in "$STORE_VAR"/log/*.log; do
		[[ -e $f ]] || continue
		if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$f"; then
			problems+=("$f holds a sanitizer report:")
			problems+=("$(grep -m 40 -E -A 30 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f")")
		fi
	done
	((${#problems[@]})) || return 0
	printf 'store_stop: %s\n' "${problems[@]}" >&2
	printf -- '--- bin/store-run output ---\n' >&2
	cat "$STORE_VAR/store-run.out" >&2 || true
	return 1
}

# --- processes -------------------------------------------------------------------

# _svc_pid NAME: the pid in DIR/run/NAME.pid.
_svc_pid() {
	local pid=""
	read -r pid 2>/dev/null <"$STORE_VAR/run/$1.pid" || true
	if ! [[ $pid =~ ^[0-9]+$ ]]; then
		echo "no pid file $STORE_VAR/run/$1.pid: '$1' is not running" >&2
		return 1
	fi
	printf '%s\n' "$pid"
}

# _cmd_option NAME OPTION: the value after OPTION in DIR/run/NAME.cmd.
_cmd_option() {
	local -a cmd=()
	local i
	eval "cmd=($(<"$STORE_VAR/run/$1.cmd"))"
	for ((i = 0; i + 1 < ${#cmd[@]}; i++)); do
		if [[ ${cmd[i]} == "$2" ]]; then
			printf '%s\n' "${cmd[i + 1]}"
			return 0
		fi
	done
	echo "no option $2 in $STORE_VAR/run/$1.cmd" >&2
	return 1
}

# _fcgi_healthy SOCK: the FastCGI program on SOCK answers GET /healthz with 200.
_fcgi_healthy() {
	local out status
	out=$(cd / && env -i PATH="$PATH" REQUEST_METHOD=GET DOCUMENT_URI=/healthz \
		REQUEST_URI=/healthz SCRIPT_NAME=/healthz QUERY_STRING= \
		SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
		timeout 3 cgi-fcgi -bind -connect "$1" </dev/null 2>/dev/null) || return 1
	[[ -n $out ]] || return 1
	status=$(sed -n 's/^Status:[[:space:]]*\([0-9][0-9][0-9]\).*/\1/Ip' <<<"$out" | head -n 1)
	[[ -z $status || $status == 200 ]]
}

# _nats_healthy: nats-server's monitor answers /healthz with 200.
_nats_healthy() {
	local port code
	port=$(_cmd_option nats -m) || return 1
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/healthz") || return 1
	[[ $code == 200 ]]
}

# _redis_healthy: redis-server answers PING (after it loaded its data).
_redis_healthy() {
	[[ $(redis_cli PING 2>/dev/null) == PONG ]]
}

# svc_stop NAME [SIGNAL]: send SIGNAL (TERM by default) to the process NAME and
# wait until it is gone (STORE_STOP_TIMEOUT seconds at most). Its pid file is
# removed, and its exit noted as wanted (store_stop does not count it).
svc_stop() {
	local name=$1 sig=${2:-TERM} pid end
	pid=$(_svc_pid "$name") || return 1
	printf '%s\n' "$pid" >>"$STORE_VAR/run/expected-exits"
	if ! kill "-$sig" "$pid" 2>/dev/null && _alive "$pid"; then
		echo "svc_stop: cannot send SIG$sig to $name (pid $pid)" >&2
		return 1
	fi
	end=$((SECONDS + ${STORE_STOP_TIMEOUT:-10}))
	while _alive "$pid"; do
		if ((SECONDS >= end)); then
			echo "svc_stop: $name (pid $pid) still runs ${STORE_STOP_TIMEOUT:-10}s after SIG$sig" >&2
			return 1
		fi
		sleep 0.05
	done
	rm -f "$STORE_VAR/run/$name.pid"
}

# svc_kill NAME: kill -9 the process NAME and wait until it is gone.
svc_kill() {
	svc_stop "$1" KILL
}

# svc_start NAME: start NAME again exactly as bin/store-run did, from
# DIR/run/NAME.env and NAME.cmd, in its own session, appending to its log;
# write its pid file; wait (STORE_START_TIMEOUT seconds at most) until a
# FastCGI program answers /healthz on its socket, nats-server's monitor
# answers /healthz, redis-server answers PING, or else (a daemon) that it is
# alive.
svc_start() {
	local name=$1 run="$STORE_VAR/run" log line pid sock="" end
	local -a envs=() cmd=()
	if [[ ! -s $run/$name.cmd || ! -f $run/$name.env ]]; then
		echo "svc_start: no $run/$name.cmd or $name.env: bin/store-run did not start '$name'" >&2
		return 1
	fi
	# store_stop checked that nothing is left: a process started after it
	# would outlive the test file.
	if [[ -e $STORE_VAR/stopped ]]; then
		echo "svc_start: the store was stopped (store_stop): '$name' is not started again" >&2
		return 1
	fi
	if pid=$(_svc_pid "$name" 2>/dev/null) && _alive "$pid"; then
		echo "svc_start: $name runs already (pid $pid)" >&2
		return 1
	fi
	while IFS= read -r line; do
		[[ -n $line && $line != \#* ]] || continue
		envs+=("$line")
		if [[ $line == STORE_LISTEN=/* ]]; then
			sock=${line#STORE_LISTEN=}
		fi
	done <"$run/$name.env"
	eval "cmd=($(<"$run/$name.cmd"))"
	log="$STORE_VAR/log/$name.log"
	[[ $name != nginx ]] || log="$STORE_VAR/log/nginx-error.log"
	[[ -z $sock ]] || rm -f "$sock"
	(
		_close_fds
		exec env "${envs[@]}" setsid "${cmd[@]}"
	) </dev/null >>"$log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$run/$name.pid"
	_remember_pids "$pid"
	end=$((SECONDS + ${STORE_START_TIMEOUT:-60}))
	while :; do
		if ! _alive "$pid"; then
			echo "svc_start: $name (pid $pid) exited at start; the end of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if [[ -n $sock ]]; then
			_fcgi_healthy "$sock" && return 0
		elif [[ $name == nats ]]; then
			_nats_healthy && return 0
		elif [[ $name == redis ]]; then
			_redis_healthy && return 0
		else
			return 0
		fi
		if ((SECONDS >= end)); then
			echo "svc_start: $name (pid $pid) did not serve within ${STORE_START_TIMEOUT:-60}s; the end of $log:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# nats_stop: stop nats-server cleanly (SIGINT: it exits 0). nats_start: start it
# again on the same ports with the same store, wait until it serves.
nats_stop() {
	svc_stop nats INT
}
nats_start() {
	svc_start nats
}

# --- NATS connections cut ---------------------------------------------------------

# nats_behind_cutter [BYTES]: nats-server stopped and started again on another
# port, with tests/lib/tcp_cut.py (BYTES: its SIGUSR2 mark) on nats-server's
# own port in front of it, so every program reconnects through the cutter.
# DIR/run/nats.cmd keeps the new port: nats_stop and nats_start act on the
# server behind the cutter. The cutter logs to DIR/log/cutter.log, a line a
# cut. nats_without_cutter undoes it (a no-op when there is no cutter).
nats_behind_cutter() {
	local run="$STORE_VAR/run" port side pid
	if [[ -s $run/cutter.pid ]]; then
		echo "nats_behind_cutter: the cutter runs already" >&2
		return 1
	fi
	port=$(_cmd_option nats -p) || return 1
	side=$(free_port) || return 1
	[[ ! -e $run/nats.pid ]] || nats_stop || return 1
	printf '%s\n' "$port" >"$run/cutter.port"
	sed -i "s/ -p $port / -p $side /" "$run/nats.cmd"
	grep -q -- " -p $side " "$run/nats.cmd" || return 1
	svc_start nats || return 1
	(
		_close_fds
		exec python3 "$STORE_ROOT/tests/lib/tcp_cut.py" "$port" "$side" ${1:+"$1"}
	) </dev/null >"$STORE_VAR/log/cutter.log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$run/cutter.pid"
	wait_until 10 grep -q '^listening' "$STORE_VAR/log/cutter.log"
}
nats_without_cutter() {
	local run="$STORE_VAR/run" port side
	[[ -s $run/cutter.port ]] || return 0
	_cutter_stop
	port=$(<"$run/cutter.port")
	side=$(_cmd_option nats -p) || return 1
	[[ ! -e $run/nats.pid ]] || nats_stop || return 1
	sed -i "s/ -p $side / -p $port /" "$run/nats.cmd"
	rm -f "$run/cutter.port"
	nats_start
}
# cut_now: every connection through the cutter reset. cut_after: the same once
# the clients have sent the cutter's BYTES more (cut_withdrawn takes it back).
# cuts: how many cuts the cutter made.
cut_now() {
	kill -USR1 "$(<"$STORE_VAR/run/cutter.pid")"
}
cut_after() {
	kill -USR2 "$(<"$STORE_VAR/run/cutter.pid")"
}
cut_withdrawn() {
	kill -HUP "$(<"$STORE_VAR/run/cutter.pid")"
}
cuts() {
	grep -c '^cut ' "$STORE_VAR/log/cutter.log" || true
}
# _cuts_every SECONDS: a cut every SECONDS seconds, from a loop in the
# background (its pid in DIR/run/cutter-loop.pid) until _cutter_stop.
_cuts_every() {
	(
		_close_fds
		while sleep "$1" && cut_now; do :; done
	) </dev/null >/dev/null 2>&1 &
	printf '%s\n' "$!" >"$STORE_VAR/run/cutter-loop.pid"
}
# _cutter_stop: the loop of _cuts_every and the cutter stopped (their
# connections with it), if they run.
_cutter_stop() {
	local f pid
	for f in "$STORE_VAR/run/cutter-loop.pid" "$STORE_VAR/run/cutter.pid"; do
		[[ -s $f ]] || continue
		pid=$(<"$f")
		# Wanted, as svc_stop's: bin/store-run watches DIR/run/*.pid and
		# notes a death it sees before the pid file goes.
		printf '%s\n' "$pid" >>"$STORE_VAR/run/expected-exits"
		kill "$pid" 2>/dev/null || true
		while _alive "$pid"; do sleep 0.05; done
		rm -f "$f"
	done
}

# redis_stop: stop redis-server cleanly (SIGTERM, as bin/store-run does: it
# writes its append-only file and exits 0). redis_start: start it again on the
# same port with the same data, wait until it answers (its data loaded).
redis_stop() {
	svc_stop redis TERM
}
redis_start() {
	svc_start redis
}

# wait_until TIMEOUT CMD...: run CMD (a command or a function; in a subshell,
# with errexit on, so any failing step fails it) every 0.1 s until it succeeds;
# fail after TIMEOUT seconds, printing CMD and its last output. Never use a
# fixed sleep to wait for something: wait for it.
wait_until() {
	local timeout=$1 end rc had_e=0 out
	shift
	if ! [[ $timeout =~ ^[0-9]+$ ]] || (($# == 0)); then
		echo "wait_until: usage: wait_until SECONDS CMD..." >&2
		return 2
	fi
	out="${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/wait_until.$$.out"
	end=$((SECONDS + timeout))
	[[ $- != *e* ]] || had_e=1
	while :; do
		set +e
		(
			trap - ERR DEBUG
			set -e
			"$@"
		) >"$out" 2>&1
		rc=$?
		((had_e == 0)) || set -e
		if ((rc == 0)); then
			rm -f "$out"
			return 0
		fi
		if ((SECONDS >= end)); then
			printf 'wait_until: "%s" did not succeed within %ss (last exit status %s); its last output:\n' \
				"$*" "$timeout" "$rc" >&2
			tail -n 20 "$out" >&2
			return 1
		fi
		sleep 0.1
	done
}

# nats_tool ARGS...: tests/lib/nats-tool.js (publish, count, get) on NATS_URL.
nats_tool() {
	local url=${NATS_URL:-}
	# Behind the cutter, the test's own tool goes straight to nats-server.
	if [[ -s $STORE_VAR/run/cutter.port ]]; then
		url="nats://127.0.0.1:$(_cmd_option nats -p)" || return 1
	fi
	NATS_URL=$url node "$STORE_ROOT/tests/lib/nats-tool.js" "$@"
}

# redis_cli ARGS...: redis-cli on the store's redis-server (its port from
# DIR/run/redis.cmd), at most 10 seconds.
redis_cli() {
	local port
	port=$(_cmd_option redis --port) || return 1
	timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

# --- users -----------------------------------------------------------------------

# Every password the helpers use starts with "Pw_", so a file-wide check can
# tell that none came back in a body or reached a log.
STORE_TEST_PASSWORD=Pw_secret1

_jars() {
	printf '%s/jars\n' "${BATS_FILE_TMPDIR:?users need bats}"
}

# as NAME CMD...: run CMD (api, signup, or a function calling them) as the user
# NAME: with NAME's cookie jar (kept for the whole file).
as() {
	local name=$1 jars
	shift
	if ! [[ $name =~ ^[A-Za-z0-9_.-]+$ ]]; then
		echo "as: '$name' is not a user name (letters, digits, . _ -)" >&2
		return 2
	fi
	jars=$(_jars)
	mkdir -p "$jars"
	API_JAR="$jars/$name.jar" API_AS=$name "$@"
}

# new_email [WHO]: a fresh address.
new_email() {
	printf '%s-%s-%s%s@example.com\n' "${1:-user}" "${BATS_TEST_NUMBER:-0}" "$RANDOM" "$RANDOM"
}

# signup [EMAIL]: sign up (a fresh EMAIL by default) with the current jar, and
# expect 201. Under "as NAME", user_id NAME and user_email NAME tell who it is.
signup() {
	local email=${1:-}
	[[ -n $email ]] || email=$(new_email "${API_AS:-user}")
	api POST /api/users/signup \
		"$(jq -cn --arg e "$email" --arg p "$STORE_TEST_PASSWORD" '{email: $e, password: $p}')" ||
		return 1
	expect_status 201 || return 1
	if [[ -n ${API_AS:-} ]]; then
		json_get .id >"$(_jars)/$API_AS.id"
		printf '%s\n' "$email" >"$(_jars)/$API_AS.email"
	fi
}

# user_id NAME, user_email NAME: who the user NAME (of "as NAME signup") is.
user_id() {
	cat "$(_jars)/$1.id"
}
user_email() {
	cat "$(_jars)/$1.email"
}

# api METHOD PATH [BODY] [CURL-ARGS...]: one request to the store. A non-empty
# BODY is sent as application/json. Sets status_code, body and headers (a file).
# Cookies persist within a test in a jar; set API_JAR= (empty) for a request
# without the jar, e.g.  API_JAR= api GET /x "" -H "Cookie: session=..."
# Every status and body is also kept for file-wide checks (api_log_*).
api() {
	local method=$1 path=$2 data=${3-} dir=${BATS_TEST_TMPDIR:?api needs bats}
	shift 2
	(($#)) && shift
	local jar=${API_JAR-$dir/cookies.txt} args rc=0
	args=(-sS -X "$method" -o "$dir/api.body" -D "$dir/api.headers"
		-w '%{http_code}' --max-time 30)
	if [[ -n $jar ]]; then
		args+=(-b "$jar" -c "$jar")
	fi
	if [[ -n $data ]]; then
		printf '%s' "$data" >"$dir/api.request"
		args+=(-H 'Content-Type: application/json' --data-binary "@$dir/api.request")
	fi
	headers="$dir/api.headers"
	: >"$headers"
	status_code=$(curl "${args[@]}" "$@" "$STORE_URL$path") || rc=$?
	body=$(cat "$dir/api.body" 2>/dev/null || true)
	printf '%s %s %s\n' "$status_code" "$method" "$path" >>"$BATS_FILE_TMPDIR/api.statuses"
	printf '%s\n' "$body" >>"$BATS_FILE_TMPDIR/api.bodies"
	if ((rc)); then
		echo "api: curl $method $path failed (exit $rc, HTTP $status_code)" >&2
		return 1
	fi
}

# access_log_line REQUEST-ID: nginx's access log line (JSON) for that request,
# waiting up to 5 s for nginx to write it.
access_log_line() {
	local end=$((SECONDS + 5)) line
	while :; do
		line=$(grep -F "\"req_id\":\"$1\"" "$STORE_VAR/log/nginx-access.log" 2>/dev/null | tail -n 1)
		[[ -z $line ]] || break
		if ((SECONDS >= end)); then
			echo "access_log_line: no line for request $1 in nginx-access.log" >&2
			return 1
		fi
		sleep 0.05
	done
	printf '%s\n' "$line"
}

# header NAME: the value of the last NAME header of the last response.
header() {
	local name=${1,,}
	awk -v n="$name" 'BEGIN { FS = ":" }
		{ sub(/\r$/, "") }
		tolower($1) == n { v = substr($0, length($1) + 2); sub(/^[ \t]+/, "", v); last = v }
		END { if (last != "") print last }' "$headers"
}

# json_get FILTER: jq FILTER on the last response body (raw strings, compact).
json_get() {
	jq -rc "$1" <<<"$body"
}

# expect_status CODE: the last response had HTTP status CODE.
expect_status() {
	if [[ $status_code != "$1" ]]; then
		printf 'expected HTTP %s, got %s\nbody: %s\n' "$1" "$status_code" "$body" >&2
		return 1
	fi
}

# expect_error CODE [MESSAGE [FIELD]]: status CODE and a body in the API's error
# shape {"errors":[{"message":..., "field":...}]}; with MESSAGE, one error has
# that message (and that field, with FIELD).
expect_error() {
	local code=$1 message=${2-} field=${3-}
	expect_status "$code" || return 1
	if ! jq -e '(.errors | type == "array" and length > 0) and all(.errors[];
			type == "object" and (.message | type == "string" and length > 0)
			and ((has("field") | not) or (.field | type == "string"))
			and ((keys - ["message", "field"]) | length == 0))' <<<"$body" >/dev/null 2>&1; then
		printf 'not the error shape: %s\n' "$body" >&2
		return 1
	fi
	[[ -n $message ]] || return 0
	if ! jq -e --arg m "$message" --arg f "$field" \
		'any(.errors[]; .message == $m and ($f == "" or .field == $f))' <<<"$body" >/dev/null; then
		printf 'expected an error "%s"%s, got: %s\n' "$message" "${field:+ on field $field}" "$body" >&2
		return 1
	fi
}

# b64url_decode: decode base64url (JWT parts) or plain base64 from stdin.
b64url_decode() {
	local s
	s=$(tr -d '\n' | tr '_-' '/+')
	while ((${#s} % 4)); do s+="="; done
	base64 -d <<<"$s"
}

# b64url_encode: base64url without padding, of stdin.
b64url_encode() {
	base64 -w0 | tr '/+' '_-' | tr -d '='
}
