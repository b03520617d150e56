# store.bash - helpers for the store's bats tests.
#
# In a .bats file:   load '../lib/store'
#   setup_file()    { store_start; }        # once per file: bin/store-run on a free port
#   teardown_file() { store_stop; }
#   @test "..." { api GET /api/users/currentuser; expect_status 200; ... }
#
# Environment:
#   STORE_BUILD          build folder whose programs are tested (tests/run sets it;
#                        default: the repository's build/)
#   STORE_START_TIMEOUT  seconds for the store to come up (default: 60)
#   STORE_STOP_TIMEOUT   seconds for each process to stop before KILL (default: 10)
#
# After store_start: STORE_URL (http://127.0.0.1:PORT), STORE_PORT, STORE_VAR (the
# launcher's --var folder), STORE_PID (the launcher) and JWT_KEY (the key it used).
# After api: status_code, body, headers (the response headers' file).

STORE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export STORE_ROOT
: "${STORE_BUILD:=$STORE_ROOT/build}"
export STORE_BUILD

# free_port: print a TCP port on 127.0.0.1 that nothing uses now. The kernel
# picks it (bind to port 0), so parallel callers get different ports; without
# python3, random ports below the ephemeral range are probed.
free_port() {
	local port
	if command -v python3 >/dev/null 2>&1 &&
		port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) && [[ $port =~ ^[0-9]+$ ]]; then
		printf '%s\n' "$port"
		return 0
	fi
	for _ in {1..100}; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	echo "free_port: no free port found" >&2
	return 1
}

# store_start [SERVICES]: start the store (all services, or the comma-separated
# SERVICES) with bin/store-run in the background, wait for it to serve, export
# STORE_URL & co. Retries on another port when the port was taken meanwhile.
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
		# The subshell records the launcher's exit status for store_stop; fd 3
		# (bats' own) is closed so bats does not wait for the store.
		(
			rc=0
			env -u JWT_KEY BUILD="$STORE_BUILD" \
				STORE_START_TIMEOUT="${STORE_START_TIMEOUT:-60}" \
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
		# Remember every process started, to check that none outlives the store.
		cat "$STORE_VAR"/run/*.pid >"$STORE_VAR/started.pids"
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
# launcher exited 0 (no process died on its own), no process is left, and no log
# holds a sanitizer or runtime error report. Fails, saying why, otherwise.
# Runs once: later calls (teardown_file after a last test did it) do nothing.
store_stop() {
	[[ -n ${STORE_VAR:-} && -d $STORE_VAR && ! -e $STORE_VAR/stopped ]] || return 0
	local rc_file="$STORE_VAR/store-run.rc" problems=() pid end f rc
	: >"$STORE_VAR/stopped"
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
		while read -r pid; do
			if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
				problems+=("process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) is still running")
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done <"$STORE_VAR/started.pids"
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
