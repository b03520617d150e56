#!/usr/bin/env bats
# storectl against the real store (bin/store-run: nginx, the programs,
# nats-server), plus a redis-server and an expirerd for the jobs when the
# launcher runs none: every subcommand, its bad arguments, and the on-call
# stories (a replay that rebuilds a deleted cart database, a dead letter
# retried once its cause is fixed, health with a dependency down). Also the
# man pages: mandoc -Tlint, and --help and the pages agree.
# Nothing sleeps: the tests poll (wait_until, bounded).

# status_code, body, output, stderr are set by api and run.
# shellcheck disable=SC2154
bats_require_minimum_version 1.5.0

load '../lib/store'
load '../lib/shop'
load '../lib/ctl'

setup_file() {
	store_start
	ctl_redis_start
}

teardown_file() {
	ctl_expirerd_stop
	ctl_redis_stop
	store_stop
}

# A test that stops processes starts them again; if it failed half-way, this
# puts the store back for the next test.
teardown() {
	local name pid
	# After store_stop (the last test) nothing may be started again.
	[[ ! -e $STORE_VAR/stopped ]] || return 0
	for name in nats products productsd cart cartd; do
		[[ -s $STORE_VAR/run/$name.cmd ]] || continue
		pid=$(cat "$STORE_VAR/run/$name.pid" 2>/dev/null) || pid=""
		if [[ -z $pid ]] || ! _alive "$pid"; then
			svc_start "$name"
		fi
	done
}

# A catalogue product event for id at version v.
product_created() {
	jq -cn --arg id "$1" --argjson v "${2:-0}" --arg c "${3:-$(oid)}" --arg u "${4:-$(oid)}" \
		--argjson count "${5:-5}" '{id: $id, name: "Late product", description: "It came late",
		price: 3.5, picture: "https://img.example.com/late.png", userId: $u,
		categoryId: $c, count: $count, version: $v}'
}

# cart_add PRODUCT USER [CATEGORY]: a store.cart.add payload, the unit backed
# by a new hold that lasts an hour.
cart_add() {
	jq -cn --arg p "$1" --arg u "$2" --arg c "${3:-$(oid)}" --arg s "$(oid)" \
		--arg at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" '{productId: $p, name: "Late product",
		description: "It came late", picture: "https://img.example.com/late.png", price: 3.5,
		categoryId: $c, version: 0, count: 1, userId: $u, selectionId: $s, expiresAt: $at}'
}

# --- usage -----------------------------------------------------------------------

@test "no command: the usage on stderr, exit 64" {
	run_ctl
	expect_exit 64
	[[ -z $output ]]
	expect_stderr "usage: storectl"
}

@test "help lists every command, and each command's --help and help CMD print its usage (exit 0)" {
	run_ctl help
	expect_exit 0
	local cmd list=$output
	for cmd in publish replay tail dead jobs card-charge health seed help; do
		[[ $list == *"  $cmd "* ]]
		run_ctl "$cmd" --help
		expect_exit 0
		[[ $output == "usage: storectl $cmd"* ]]
		run_ctl help "$cmd"
		expect_exit 0
		[[ $output == "usage: storectl $cmd"* ]]
	done
	run_ctl --help
	expect_exit 0
	[[ $output == *"exit status:"* && $output == *"78  configuration"* ]]
}

@test "bad arguments: exit 64 and a clear message naming the problem" {
	local -a cases=(
		"bogus|unknown command 'bogus'"
		"--bogus publish|unknown option '--bogus'"
		"--format xml health|--format must be json or table"
		"--timeout 0 health|--timeout must be a number of seconds"
		"publish|missing argument"
		"publish product.created {} extra|unexpected argument 'extra'"
		"publish product.*|is not a subject"
		"publish product.created {} --id bad.id|--id must be 1 to 64"
		"publish product.created {} --id|option '--id' needs a value"
		"replay --from-seq abc|--from-seq must be a stream sequence"
		"replay --from-seq 5 --to-seq 2|--to-seq is before --from-seq"
		"replay --since yesterday|--since must be an RFC 3339 time"
		"replay --from-seq 1 --since 1h|cannot be used together"
		"replay --to cart|--to needs a start point"
		"replay --to cart --from-seq 1 --to-seq 9|cannot be used with --to"
		"replay --to cart --from-seq 1 --print|--print and --to cannot be used together"
		"replay --to Cart.Bad --from-seq 1|is not a consumer or service name"
		"replay --no-wait|--no-wait and --wait go with --to"
		"replay --print=yes|option '--print' takes no value"
		"tail --count 0|--count must be a number"
		"dead|which: ls, retry or drop?"
		"dead undo 3|unknown subcommand 'undo'"
		"dead retry|retry takes dead letter ids or --all"
		"dead retry 3 --all|retry takes dead letter ids or --all"
		"dead retry x1|'x1' is not a dead letter id"
		"dead drop|drop takes dead letter ids only"
		"dead ls 4|ls takes --subject and --consumer only"
		"jobs|which: ls or count?"
		"jobs count --limit 3|--limit goes with ls"
		"jobs ls --limit 0|--limit goes with ls and must be from 1"
		"card-charge --token tok_visa|--amount is required"
		"card-charge --amount 0 --token tok_visa|--amount must be above 0"
		"card-charge --amount 1.005 --token tok_visa|--amount must be above 0"
		"card-charge --amount 5|give --token or --card"
		"card-charge --amount 5 --token tok_visa --card 4242424242424242|give --token or --card"
		"card-charge --amount 5 --card 4242424242424242|--card needs --exp MM/YY"
		"card-charge --amount 5 --card 4242424242424242 --exp 13/30|--card needs --exp MM/YY"
		"card-charge --amount 5 --card 42x2 --exp 12/30|--card must be 12 to 19 digits"
		"card-charge --amount 5 --token tok_visa --cvc 123|--exp and --cvc go with --card"
		"card-charge --amount 5 --token tok_visa --currency dollars|--currency must be three letters"
		"health --var /nonexistent|is not a folder"
		"health extra|unexpected argument 'extra'"
		"seed|missing argument"
		"seed catalog.json|--email is required"
		"seed catalog.json --email a@b.co --password p --url ftp://x|--url must be an http"
	)
	local c args want
	for c in "${cases[@]}"; do
		args=${c%%|*}
		want=${c#*|}
		# shellcheck disable=SC2086
		run_ctl $args
		if [[ $status != 64 || $stderr != *"$want"* ]]; then
			printf 'storectl %s: exit %s, stderr: %s\n(wanted 64 and "%s")\n' "$args" "$status" \
				"$stderr" "$want" >&2
			return 1
		fi
		[[ -z $output ]]
		[[ $stderr == *"Try 'storectl"* ]]
	done
}

# --- publish ---------------------------------------------------------------------

@test "publish: a catalogue event gets a new id and its sequence; the same --id twice is a duplicate" {
	local id seq
	run_ctl publish product.created "$(product_created "$(oid)")"
	expect_exit 0
	[[ $(ctl_json .subject) == '"store.product.created"' ]]
	ctl_json '.id' | grep -Eq '^"[0-9a-f]{24}"$'
	seq=$(ctl_json .seq)
	((seq > 0))
	[[ $(ctl_json .duplicate) == false ]]

	id=$(oid)
	run_ctl publish store.product.deleted "{\"id\":\"$(oid)\",\"version\":1}" --id "$id" \
		--request-id req-storectl-1
	expect_exit 0
	seq=$(ctl_json .seq)
	run_ctl publish product.deleted "{\"id\":\"$(oid)\",\"version\":1}" --id "$id"
	expect_exit 0
	[[ $(ctl_json .duplicate) == true && $(ctl_json .seq) == "$seq" ]]
	# The headers, as storectl replay shows them.
	run_ctl replay --from-seq "$seq" --to-seq "$seq"
	expect_exit 0
	ctl_expect --arg id "$id" '.id == $id and .headers["Nats-Msg-Id"] == $id
		and .headers["Store-Request-Id"] == "req-storectl-1"
		and (.headers["Store-Occurred-At"] | test("^[0-9-]+T[0-9:.]+Z$"))'
}

@test "publish: a subject not in the catalogue is refused (64) unless --raw" {
	local before
	before=$(nats_tool count store.inventory.counted)
	run_ctl publish inventory.counted '{"sku":"x"}'
	expect_exit 64
	expect_stderr "'store.inventory.counted' is not in the event catalogue"
	[[ $(nats_tool count store.inventory.counted) == "$before" ]]

	run_ctl publish inventory.counted '{"sku":"x"}' --raw
	expect_exit 0
	[[ $(ctl_json .subject) == '"store.inventory.counted"' ]]
	[[ $(nats_tool count store.inventory.counted) == $((before + 1)) ]]
}

@test "publish: malformed payloads are refused (65) and nothing is published" {
	local before
	before=$(nats_tool count store.product.updated)
	local -a cases=(
		'not json|is not valid JSON'
		'[1,2]|is not a JSON object'
		'{"id":"abc"}|field '"'"'id'"'"' must be a 24-hex id'
		"$(product_created "$(oid)" 1 | jq -c 'del(.price)')|field 'price' is missing"
		"$(product_created "$(oid)" 1 | jq -c '.price = 1.234')|field 'price' must be an amount above 0 with at most two decimals"
		"$(product_created "$(oid)" 1 | jq -c '.price = "12"')|field 'price' must be"
		"$(product_created "$(oid)" 1 | jq -c '.count = -1')|field 'count' must be an integer of 0 or more"
		"$(product_created "$(oid)" 1 | jq -c '.version = 1.5')|field 'version' must be an integer"
		"$(product_created "$(oid)" 1 | jq -c '.name = 7')|field 'name' must be a string"
	)
	local c payload want
	for c in "${cases[@]}"; do
		payload=${c%%|*}
		want=${c#*|}
		run_ctl publish product.updated "$payload"
		if [[ $status != 65 || $stderr != *"$want"* ]]; then
			printf 'payload %s: exit %s, stderr: %s\n(wanted 65 and "%s")\n' "$payload" \
				"$status" "$stderr" "$want" >&2
			return 1
		fi
	done
	# From stdin: all are checked before the first is published.
	run_ctl publish product.updated - <<<"$(product_created "$(oid)" 1)
{\"id\": 5}"
	expect_exit 65
	expect_stderr "payload 2 does not fit"
	run_ctl publish store.payment.created '{"id":"'"$(oid)"'","userId":"'"$(oid)"'","stripeId":"ch_1","total":5,"info":[{"productId":"x","qty":1}]}'
	expect_exit 65
	expect_stderr "field 'info' must be an array of {productId, qty}"
	[[ $(nats_tool count store.product.updated) == "$before" ]]
}

@test "publish: payloads from stdin, one after another, each with its own id" {
	local a b c
	a=$(oid) b=$(oid) c=$(oid)
	run_ctl publish product.deleted < <(printf '{"id":"%s","version":1}\n{"id":"%s","version":1}  {"id":"%s",\n"version":1}\n' "$a" "$b" "$c")
	expect_exit 0
	[[ $(ctl_json -s 'length') == 3 ]]
	[[ $(ctl_json -s '[.[].id] | unique | length') == 3 ]]
	[[ $(ctl_json -s '[.[].seq] == ([.[].seq] | sort)') == true ]]
	run_ctl publish product.deleted --id "$(oid)" <<<"{\"id\":\"$a\",\"version\":1} {\"id\":\"$b\",\"version\":1}"
	expect_exit 64
	expect_stderr "--id takes one payload"
}

# --- replay --print and tail -----------------------------------------------------

@test "replay --print: by subject pattern, sequence range and time; --dry-run counts; quiet when piped" {
	local p1 p2 s1 s2 s3
	p1=$(oid) p2=$(oid)
	s1=$(storectl publish product.created "$(product_created "$p1")" | jq .seq)
	s2=$(storectl publish product.deleted "{\"id\":\"$p1\",\"version\":1}" | jq .seq)
	s3=$(storectl publish product.created "$(product_created "$p2")" | jq .seq)

	run_ctl replay --subject 'product.*' --from-seq "$s1" --to-seq "$s3"
	expect_exit 0
	[[ $(ctl_json -s '[.[].seq]') == "[$s1,$s2,$s3]" ]]
	[[ -z $stderr ]] # no progress bar: stderr is not a terminal
	ctl_json -s '.[0]' | jq -e --arg p "$p1" '.subject == "store.product.created" and .payload.id == $p
		and (.time | test("Z$")) and (.headers | type == "object")'

	run_ctl replay --print --subject store.product.created --from-seq "$s1" --to-seq "$s3"
	expect_exit 0
	[[ $(ctl_json -s '[.[].seq]') == "[$s1,$s3]" ]]

	run_ctl replay --subject 'product.>' --from-seq "$s1" --to-seq "$s3" --dry-run
	expect_exit 0
	[[ $(ctl_json .would_print) == 3 && $(ctl_json .dry_run) == true ]]

	# By time: everything since a minute ago includes them, until a day ago nothing.
	run_ctl replay --subject 'product.*' --since 1m
	expect_exit 0
	ctl_json -s 'any(.[]; .payload.id == "'"$p2"'")' | grep -qx true
	run_ctl replay --until 1d
	expect_exit 0
	[[ -z $output ]]
	run_ctl replay --subject product.created --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
	expect_exit 0
	[[ -z $output ]]

	run_ctl --format table replay --subject 'product.*' --from-seq "$s1" --to-seq "$s2"
	expect_exit 0
	[[ $(head -n 1 <<<"$output") == SEQ*TIME*SUBJECT*ID*PAYLOAD ]]
	[[ $(wc -l <<<"$output") == 3 ]]
}

@test "tail: prints new events of the pattern as they come; --count stops it" {
	local s p out="$BATS_TEST_TMPDIR/tail.out" pid
	p=$(oid)
	s=$(storectl publish product.deleted "{\"id\":\"$(oid)\",\"version\":1}" | jq .seq)
	"$STORE_BUILD/bin/storectl" tail 'product.deleted' --from-seq $((s + 1)) --count 2 >"$out" 2>&1 3>&- &
	pid=$!
	storectl publish product.created "$(product_created "$p")" >/dev/null
	storectl publish product.deleted "{\"id\":\"$p\",\"version\":1}" >/dev/null
	storectl publish product.deleted "{\"id\":\"$p\",\"version\":2}" >/dev/null
	wait "$pid"
	[[ $(jq -s 'length' "$out") == 2 ]]
	jq -e -s --arg p "$p" 'all(.[]; .subject == "store.product.deleted" and .payload.id == $p)
		and ([.[].payload.version] == [1, 2])' "$out"

	# Interrupted, it exits 0.
	s=$(storectl publish product.deleted "{\"id\":\"$p\",\"version\":3}" | jq .seq)
	"$STORE_BUILD/bin/storectl" tail --from-seq "$s" >"$out" 2>&1 3>&- &
	pid=$!
	wait_until 10 grep -q '"version":3' "$out"
	kill -INT "$pid"
	wait "$pid"
}

# --- replay --to -----------------------------------------------------------------

@test "replay --to a consumer under its running daemon: caught up, nothing applied twice, new events flow, a restarted daemon keeps it" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 10 10
	as buyer signup
	as buyer add_to_cart "$product_id" "$category_id"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$product_id" '.qty == 1 and .product.version == 1'
	api GET "/api/products/$category_id"
	product=$(jq -c --arg p "$product_id" '.[] | select(.id == $p)' <<<"$body")
	local before
	before=$(as buyer cart_version)

	run_ctl replay --to cart-product-updated,cart-product-created --from-seq 1
	expect_exit 0
	[[ $(ctl_json -s 'length') == 2 ]]
	ctl_json -s '.' | jq -e 'all(.[]; .status == "caught_up" and .pending == 0 and .from_seq == 1
		and .events > 0)'
	# Every event came again; each was a duplicate for the replica.
	[[ $(as buyer cart_version) == "$before" ]]

	# The daemon's subscription still works on the re-made consumer.
	publish store.product.updated "$(product_event "$product" 2 '.price = 22.22')" --id "$(oid)"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$product_id" '.product.version == 2 and .product.price == 22.22'

	# A restarted daemon keeps the re-driven consumer (no fight over its start).
	svc_stop cartd
	svc_start cartd
	publish store.product.updated "$(product_event "$product" 3 '.price = 33.33')" --id "$(oid)"
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$product_id" '.product.version == 3 and .product.price == 33.33'
	grep -q "consumer 'cart-product-updated' was re-driven from another start point" "$STORE_VAR/log/cartd.log"
	if grep -q "cannot make consumer 'cart-product-updated'" "$STORE_VAR/log/cartd.log"; then return 1; fi
	run_ctl replay --to cart-product-updated --from-seq 1 --dry-run
	expect_exit 0
	[[ $(ctl_json .deliver) == '"by_start_sequence"' ]]
}

@test "replay --to: --dry-run changes nothing and says where each consumer stands; --since; --no-wait; an unknown consumer is 1" {
	run_ctl replay --to cart --from-seq 1 --dry-run
	expect_exit 0
	ctl_json -s '.' | jq -e 'length == 7 and all(.[]; .dry_run and (.consumer | startswith("cart-"))
		and (.would_redeliver | type == "number"))'
	ctl_json -s '.' | jq -e 'map(.consumer) == ["cart-cart-add", "cart-expiration-complete",
		"cart-payment-created", "cart-product-created", "cart-product-deleted", "cart-product-updated",
		"cart-user-signedout"]'
	local floor
	floor=$(ctl_json -s 'map(select(.consumer == "cart-product-deleted"))[0].ack_floor')
	run_ctl replay --to cart-product-deleted --from-seq 1 --dry-run
	[[ $(ctl_json .ack_floor) == "$floor" ]]

	run_ctl replay --to cart-product-deleted --since 10m --no-wait
	expect_exit 0
	[[ $(ctl_json .status) == '"redriven"' ]]
	ctl_json .since | grep -Eq '^"[0-9-]+T[0-9:.]+Z"$'
	run_ctl replay --to cart-product-deleted --since 10m
	expect_exit 0
	[[ $(ctl_json .status) == '"caught_up"' ]]

	run_ctl replay --to nosuch-consumer --from-seq 1
	expect_exit 1
	expect_stderr "no consumer and no service 'nosuch-consumer'"
}

@test "replay --to cart rebuilds a deleted cart database to the state the events describe" {
	local a b c want
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 10 5 "Rebuild A"
	a=$product_id
	as seller make_product "$category_id" 20 3 "Rebuild B"
	b=$product_id
	as seller make_product "$category_id" 30 2 "Rebuild C"
	c=$product_id
	as buyer signup
	as buyer add_to_cart "$a" "$category_id"
	as buyer add_to_cart "$a" "$category_id"
	as buyer add_to_cart "$b" "$category_id"
	as buyer add_to_cart "$c" "$category_id"
	as seller api PUT "/api/products/$a" "$(product_body "$category_id" 11.11 5 "Rebuild A2")"
	expect_status 200
	as seller api DELETE "/api/products/$c"
	expect_status 204
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$a" '.qty == 2 and .product.price == 11.11 and .product.name == "Rebuild A2"'
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$b" '.qty == 1'
	wait_until "$EVENT_WAIT" as buyer cart_lacks "$c"
	want=$(as buyer cart_lines)
	[[ $(jq length <<<"$want") == 2 ]]

	# The incident: the cart's database is lost.
	svc_stop cartd
	svc_stop cart
	rm -f "$STORE_VAR"/db/cart.db "$STORE_VAR"/db/cart.db-wal "$STORE_VAR"/db/cart.db-shm
	svc_start cart
	svc_start cartd
	as buyer api GET /api/cart
	expect_status 200
	[[ $body == null ]]

	# The replicas first, then what builds on them.
	run_ctl replay --to cart-product-created,cart-product-updated,cart-product-deleted --from-seq 1
	expect_exit 0
	ctl_json -s '.' | jq -e 'length == 3 and all(.[]; .status == "caught_up")'
	run_ctl replay --to cart-cart-add,cart-payment-created --from-seq 1
	expect_exit 0
	ctl_json -s '.' | jq -e 'length == 2 and all(.[]; .status == "caught_up")'
	wait_until "$EVENT_WAIT" as buyer cart_lines_are "$want"
}

# --- dead letters ----------------------------------------------------------------

@test "dead letter retried after the cause is fixed: the cart shows the unit" {
	local pid uid eid seq id
	as buyer signup
	uid=$(user_id buyer)
	pid=$(oid)

	# A unit of a product the cart's replica never heard of: it waits
	# (ELATER) until STORE_MAX_DELIVER (5), then is given up.
	run_ctl publish cart.add "$(cart_add "$pid" "$uid")"
	expect_exit 0
	eid=$(ctl_json -r .id)
	wait_until "$EVENT_WAIT" dead_letter_of "$eid" --subject cart.add
	run_ctl dead ls --subject cart.add --consumer cart-cart-add
	expect_exit 0
	id=$(ctl_json -r "select(.event_id == \"$eid\") | .id")
	[[ -n $id ]]
	ctl_expect --argjson i "$id" --arg p "$pid" 'select(.id == $i) | .subject == "store.cart.add"
		and .consumer == "cart-cart-add" and .delivered >= 5 and .attempts == 5
		and (.error | endswith("after 5 attempts")) and .payload.productId == $p
		and (.original_seq | type == "number")'
	as buyer cart_lacks "$pid"
	run_ctl --format table dead ls --subject cart.add
	[[ $(head -n 1 <<<"$output") == ID*TIME*SUBJECT*CONSUMER*DELIVERED*ATTEMPTS*"EVENT ID"*ERROR ]]

	# The cause is fixed: the product reaches the replica.
	run_ctl publish product.created "$(product_created "$pid" 0)"
	expect_exit 0
	run_ctl dead retry --all --subject cart.add --dry-run
	expect_exit 0
	ctl_json -s 'map(.id)' | jq -e --argjson i "$id" 'index($i) != null'
	run_ctl dead retry "$id"
	expect_exit 0
	ctl_expect --argjson i "$id" --arg e "$eid" '.id == $i and .event_id == $e
		and .subject == "store.cart.add" and .duplicate == false'
	seq=$(ctl_json .seq)
	wait_until "$EVENT_WAIT" as buyer cart_line_is "$pid" '.qty == 1'

	# Gone from the dead letters; it was re-published with its original id.
	run_ctl dead ls --subject cart.add
	[[ $(ctl_json "select(.id == $id)") == "" ]]
	run_ctl replay --from-seq "$seq" --to-seq "$seq"
	ctl_expect --arg e "$eid" '.id == $e and .headers["Store-Event-Id"] == $e
		and .headers["Nats-Msg-Id"] != $e'
	run_ctl dead retry "$id"
	expect_exit 1
	expect_stderr "no dead letter $id"
	# Delivered once more (a replay) it changes nothing: the event id was seen.
	run_ctl replay --to cart-cart-add --from-seq "$seq"
	expect_exit 0
	as buyer cart_line_is "$pid" '.qty == 1'
}

@test "dead drop deletes a dead letter for good; unknown ids exit 1, others are still handled" {
	local eid id
	run_ctl publish store.cart.add '{"productId":"nope"}' --raw
	eid=$(ctl_json -r .id)
	wait_until "$EVENT_WAIT" dead_letter_of "$eid" --consumer cart-cart-add
	id=$(storectl dead ls --consumer cart-cart-add | jq -r --arg e "$eid" 'select(.event_id == $e) | .id')
	[[ -n $id ]]

	run_ctl dead drop 999999999 "$id"
	expect_exit 1
	expect_stderr "no dead letter 999999999"
	ctl_expect --argjson i "$id" '.id == $i and .dropped'
	run_ctl dead ls
	[[ $(ctl_json "select(.id == $id)") == "" ]]
	run_ctl dead drop "$id"
	expect_exit 1
	# Not a dead letter: refused, never deleted.
	local seq
	seq=$(storectl publish product.deleted "{\"id\":\"$(oid)\",\"version\":1}" | jq .seq)
	run_ctl dead drop "$seq"
	expect_exit 1
	run_ctl replay --from-seq "$seq" --to-seq "$seq"
	[[ $(ctl_json .seq) == "$seq" ]]
}

# --- delayed jobs ----------------------------------------------------------------

@test "jobs ls and count: a hold scheduled by expirerd, with its due time" {
	ctl_expirerd_start
	local sel due="2031-01-02T03:04:05Z" before
	sel=$(oid)
	run_ctl jobs count
	expect_exit 0
	before=$(ctl_json .waiting)
	run_ctl publish product.selected "$(jq -cn --arg s "$sel" --arg p "$(oid)" --arg u "$(oid)" \
		--arg c "$(oid)" --arg d "$due" '{productId: $p, selectionId: $s, userId: $u,
		categoryId: $c, views: 1, expiresAt: $d}')"
	expect_exit 0
	wait_until "$EVENT_WAIT" job_of "$sel"
	run_ctl jobs ls
	expect_exit 0
	ctl_expect --arg s "$sel" 'select(.id == $s) | .state == "waiting"
		and .due == "2031-01-02T03:04:05.000Z" and .due_in_s > 0 and .tries == 0
		and .payload.selectionId == $s and .lease_until == null'
	run_ctl jobs count
	expect_exit 0
	(($(ctl_json .waiting) >= before + 1))
	run_ctl --format table jobs ls --limit 1
	expect_exit 0
	[[ $(wc -l <<<"$output") == 2 && $output == ID*STATE*DUE* ]]
}

@test "jobs: Redis unreachable is 69, a malformed REDIS_URL is 78" {
	REDIS_URL="redis://127.0.0.1:$(free_port)" run_ctl jobs count
	expect_exit 69
	expect_stderr "redis does not answer"
	REDIS_URL="http://nope" run_ctl jobs ls
	expect_exit 78
	expect_stderr "REDIS_URL"
}

# --- card-charge -----------------------------------------------------------------

@test "card-charge: every sandbox outcome, by token and by card; a decline exits 1 with the provider's message" {
	export STORE_DB="sqlite:$BATS_FILE_TMPDIR/payments.db"
	local -a cases=(
		"--token tok_visa|0|succeeded||"
		"--token tok_mastercard|0|succeeded||"
		"--token tok_chargeDeclined|1|failed|card_declined|Your card was declined."
		"--token tok_chargeDeclinedInsufficientFunds|1|failed|card_declined|Your card has insufficient funds."
		"--token tok_chargeDeclinedExpiredCard|1|failed|expired_card|Your card has expired."
		"--token tok_chargeDeclinedProcessingError|1|failed|processing_error|An error occurred while processing your card."
		"--token tok_chargeDeclinedIncorrectCvc|1|failed|incorrect_cvc|Your card's security code is incorrect."
		"--card 4242424242424242 --exp 12/34 --cvc 123|0|succeeded||"
		"--card 4242-4242-4242-4242 --exp 12/2034|0|succeeded||"
		"--card 4000000000000002 --exp 12/34|1|failed|card_declined|Your card was declined."
		"--card 4000000000009995 --exp 12/34|1|failed|card_declined|Your card has insufficient funds."
		"--card 4000000000000069 --exp 12/34|1|failed|expired_card|Your card has expired."
		"--card 4000000000000119 --exp 12/34|1|failed|processing_error|An error occurred"
		"--card 4000000000000127 --exp 12/34 --cvc 999|1|failed|incorrect_cvc|Your card's security code is incorrect."
		"--card 4242424242424241 --exp 12/34|1|failed|incorrect_number|Your card number is incorrect."
		"--card 4242424242424242 --exp 01/20|1|failed|invalid_expiry_year|Your card's expiration year is invalid."
	)
	local c args code state err msg
	for c in "${cases[@]}"; do
		IFS='|' read -r args code state err msg <<<"$c"
		# shellcheck disable=SC2086
		run_ctl card-charge --amount 12.50 $args
		if [[ $status != "$code" ]]; then
			printf 'card-charge %s: exit %s, wanted %s\nstdout: %s\nstderr: %s\n' "$args" \
				"$status" "$code" "$output" "$stderr" >&2
			return 1
		fi
		ctl_expect --arg s "$state" --arg e "$err" '.status == $s and .amount == 12.5
			and .currency == "usd" and .provider == "sandbox" and (.id | startswith("ch_"))
			and ($e == "" or .code == $e) and (.idempotency_key | length > 0)'
		if [[ -n $msg ]]; then
			expect_stderr "declined: $msg"
			[[ $(ctl_json -r .message) == "$msg"* ]]
		fi
		# Never the card number, on stdout or stderr.
		[[ $output != *4242424242* && $output != *400000000* && $stderr != *4242424242* && $stderr != *400000000* ]]
		if [[ $args == --card* ]]; then
			[[ $(ctl_json -r .last4) =~ ^[0-9]{4}$ ]]
		fi
	done
	# The card number from stdin, out of sight of ps.
	run_ctl card-charge --amount 3 --card - --exp 12/34 <<<"5555 5555 5555 4444"
	expect_exit 0
	[[ $(ctl_json -r .last4) == 4444 && $(ctl_json -r .status) == succeeded ]]
	if grep -rq 4242424242424242 "$BATS_FILE_TMPDIR/payments.db"* "$STORE_VAR/log"; then return 1; fi
}

@test "card-charge: an idempotency key answers the first result again, and is refused with other parameters" {
	export STORE_DB="sqlite:$BATS_FILE_TMPDIR/payments.db"
	local key="order-$(oid)" id
	run_ctl card-charge --amount 7.25 --currency EUR --token tok_visa --idempotency-key "$key" --description "test order"
	expect_exit 0
	id=$(ctl_json -r .id)
	[[ $(ctl_json -r .currency) == eur && $(ctl_json .replayed) == false ]]
	run_ctl card-charge --amount 7.25 --currency eur --token tok_visa --idempotency-key "$key"
	expect_exit 0
	[[ $(ctl_json -r .id) == "$id" && $(ctl_json .replayed) == true ]]
	run_ctl card-charge --amount 8 --currency eur --token tok_visa --idempotency-key "$key"
	expect_exit 65
	expect_stderr "idempotency_error"
	run_ctl card-charge --amount 1 --token tok_nosuch
	expect_exit 65
	expect_stderr "No such token: 'tok_nosuch'"
	# A declined key stays declined.
	run_ctl card-charge --amount 2 --token tok_chargeDeclined --idempotency-key "d-$key"
	expect_exit 1
	run_ctl card-charge --amount 2 --token tok_chargeDeclined --idempotency-key "d-$key"
	expect_exit 1
	[[ $(ctl_json .replayed) == true ]]
}

@test "card-charge: configuration errors are 78" {
	run env -u STORE_DB "$STORE_BUILD/bin/storectl" card-charge --amount 1 --token tok_visa
	[[ $status == 78 && $output == *"setting 'STORE_DB' is required"* ]]
	STORE_PAYMENTS=stripe STRIPE_KEY= run_ctl card-charge --amount 1 --token tok_visa
	expect_exit 78
	expect_stderr "STRIPE_KEY"
	STORE_DB=oracle:x run_ctl card-charge --amount 1 --token tok_visa
	expect_exit 78
}

# --- health ----------------------------------------------------------------------

@test "health: every service, process, database and nats-server up: exit 0, one line each" {
	run_ctl health --var "$STORE_VAR"
	expect_exit 0
	ctl_json -s '.' | jq -e 'all(.[]; .status == "up")'
	local name program daemon db _
	while read -r name program daemon db _; do
		if [[ $daemon == no ]]; then
			ctl_json -s '.' | jq -e --arg n "$name" 'any(.[]; .check == "service" and .name == $n and .detail == "ready")'
		else
			ctl_json -s '.' | jq -e --arg n "$name" 'any(.[]; .check == "process" and .name == $n)'
		fi
	done < <("$STORE_ROOT/bin/store-nginx-conf" --services)
	local f
	for f in "$STORE_VAR"/db/*.db; do
		f=${f##*/}
		ctl_json -s '.' | jq -e --arg d "${f%.db}" 'any(.[]; .check == "db" and .name == $d)'
	done
	ctl_json -s '.' | jq -e 'any(.[]; .check == "nats" and (.detail | test("stream .STORE.")))'
	ctl_json -s '.' | jq -e 'any(.[]; .check == "process" and .name == "nats")'
	ctl_json -s '.' | jq -e 'any(.[]; .check == "process" and .name == "nginx")'
	ctl_json -s '.' | jq -e 'any(.[]; .check == "redis")'
	run_ctl --format table health --var "$STORE_VAR"
	expect_exit 0
	[[ $(head -n 1 <<<"$output") == CHECK*NAME*STATUS*DETAIL ]]
}

@test "health: a daemon stopped is down (69); started again, all up" {
	svc_stop cartd
	run_ctl health --var "$STORE_VAR"
	expect_exit 69
	ctl_expect 'select(.name == "cartd") | (.status == "down" and .check == "process")'
	[[ $(ctl_json -s 'map(select(.status == "down")) | length') == 1 ]]
	expect_stderr "1 check is down"
	svc_start cartd
	run_ctl health --var "$STORE_VAR"
	expect_exit 0
}

@test "health: a pid file naming a live process of another program is down, named by the program that should run (nats-server, not store-nothp)" {
	local saved sleeper
	saved=$(<"$STORE_VAR/run/nats.pid")
	sleep 60 &
	sleeper=$!
	echo "$sleeper" >"$STORE_VAR/run/nats.pid"
	run_ctl health --var "$STORE_VAR"
	echo "$saved" >"$STORE_VAR/run/nats.pid"
	kill "$sleeper"
	wait "$sleeper" || true
	expect_exit 69
	ctl_expect --arg d "pid $sleeper is not running nats-server" \
		'select(.check == "process" and .name == "nats") | (.status == "down" and .detail == $d)'
	[[ $(ctl_json -s 'map(select(.status == "down")) | length') == 1 ]]
	run_ctl health --var "$STORE_VAR"
	expect_exit 0
}

@test "health: nats-server stopped: nats down and the services using it not ready (69); back, all up" {
	nats_stop
	run_ctl --timeout 1 health --var "$STORE_VAR"
	expect_exit 69
	ctl_expect 'select(.check == "nats") | (.status == "down")'
	ctl_expect 'select(.name == "nats" and .check == "process") | (.status == "down")'
	ctl_expect 'select(.name == "cart" and .check == "service") | (.status == "down" and (.detail | test("nats")))'
	ctl_expect 'select(.name == "auth" and .check == "service") | (.status == "up")'
	ctl_expect 'select(.check == "db") | (.status == "up")'
	nats_start
	wait_until 30 "$STORE_BUILD/bin/storectl" health --var "$STORE_VAR"
}

@test "health: a FastCGI program that is not there is down, and the unit checks of NATS_URL" {
	NATS_URL="nats://127.0.0.1:$(free_port)" run_ctl --timeout 1 health --var "$BATS_TEST_TMPDIR"
	expect_exit 69
	ctl_expect 'select(.check == "nats") | (.status == "down")'
	NATS_URL="bogus://x" run_ctl --timeout 1 health --var "$BATS_TEST_TMPDIR"
	expect_exit 69
	# A socket that nothing serves.
	mkdir -p "$BATS_TEST_TMPDIR/v/run"
	printf 'STORE_LISTEN=%s/v/run/ghost.sock\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/v/run/ghost.env"
	printf 'ghost\n' >"$BATS_TEST_TMPDIR/v/run/ghost.cmd"
	run_ctl --timeout 1 health --var "$BATS_TEST_TMPDIR/v"
	expect_exit 69
	ctl_expect 'select(.name == "ghost") | (.check == "service" and .status == "down" and (.detail | test("cannot connect")))'
}

# --- publish and the other commands need NATS ------------------------------------

@test "NATS unreachable: publish, replay, tail and dead exit 69 within --timeout" {
	local url="nats://127.0.0.1:$(free_port)"
	NATS_URL=$url run_ctl --timeout 1 publish product.deleted "{\"id\":\"$(oid)\",\"version\":1}"
	expect_exit 69
	expect_stderr "cannot reach nats at '$url' within 1 s"
	NATS_URL=$url run_ctl --timeout 1 replay
	expect_exit 69
	NATS_URL=$url run_ctl --timeout 1 tail
	expect_exit 69
	NATS_URL=$url run_ctl --timeout 1 dead ls
	expect_exit 69
	NATS_URL="nats://user:secret@127.0.0.1:$(free_port)" run_ctl --timeout 1 dead ls
	expect_exit 69
	[[ $stderr != *secret* ]]
	STORE_MAX_DELIVER=zero run_ctl dead ls
	expect_exit 78
	expect_stderr "STORE_MAX_DELIVER"
}

# --- seed ------------------------------------------------------------------------

@test "seed: examples/catalog.json through the API; a second run creates nothing; the pictures are served" {
	local email
	email=$(new_email seeder)
	run_ctl seed "$STORE_ROOT/examples/catalog.json" --url "$STORE_URL" --email "$email" \
		--password "$STORE_TEST_PASSWORD"
	expect_exit 0
	local cats prods
	cats=$(jq '.categories | length' "$STORE_ROOT/examples/catalog.json")
	prods=$(jq '[.categories[].products[]] | length' "$STORE_ROOT/examples/catalog.json")
	((prods >= 10))
	[[ $(ctl_json -s 'map(select(.kind == "category")) | length') == "$cats" ]]
	[[ $(ctl_json -s 'map(select(.kind == "product" and .status == "created")) | length') == "$prods" ]]

	# What the store now shows: the products of each category, pictures served.
	local cat_id first
	cat_id=$(ctl_json -r 'select(.kind == "category" and .name == "Kitchen") | .id')
	api GET "/api/products/$cat_id"
	expect_status 200
	json_get '[.[].name] | sort' | jq -e '. == ["Cast Iron Skillet", "Chef'"'"'s Knife 20 cm", "Stoneware Mug"]'
	first=$(json_get '.[0].picture')
	[[ $first == /api/products/picture/* ]]
	api GET "$first"
	expect_status 200
	[[ $(header Content-Type) == image/png* ]]

	# Again, as the same user: everything exists. Password from stdin.
	run_ctl seed "$STORE_ROOT/examples/catalog.json" --url "$STORE_URL" --email "$email" --password - <<<"$STORE_TEST_PASSWORD"
	expect_exit 0
	[[ $(ctl_json -s 'map(select(.status == "created")) | length') == 0 ]]
	[[ $(ctl_json -s 'map(select(.kind == "category" and .status == "reused")) | length') == "$cats" ]]
	[[ $(ctl_json -s 'map(select(.kind == "product" and .status == "exists")) | length') == "$prods" ]]
}

@test "seed: a malformed file is 65 before any request, a wrong password 1, an unreachable store 69" {
	local f="$BATS_TEST_TMPDIR/bad.json"
	printf '{"categories":[{"name":"A","description":"d","products":[{"name":"p","description":"d","price":1.234,"count":1,"picture":"https://x/p.png"}]}]}' >"$f"
	run_ctl seed "$f" --url "$STORE_URL" --email "$(new_email)" --password "$STORE_TEST_PASSWORD"
	expect_exit 65
	expect_stderr "categories[0].products[0]: price must be"
	printf '{"categories":[{"name":"A","description":"d","products":[{"name":"p","description":"d","price":1,"count":1,"picture":"ftp://x"}]}]}' >"$f"
	run_ctl seed "$f" --url "$STORE_URL" --email "$(new_email)" --password "$STORE_TEST_PASSWORD"
	expect_exit 65
	expect_stderr "picture must be"
	run_ctl seed "$BATS_TEST_TMPDIR/none.json" --url "$STORE_URL" --email "$(new_email)" --password "$STORE_TEST_PASSWORD"
	expect_exit 65
	printf 'nope' >"$f"
	run_ctl seed "$f" --url "$STORE_URL" --email "$(new_email)" --password "$STORE_TEST_PASSWORD"
	expect_exit 65

	local email
	email=$(new_email seeder)
	as someone signup "$email"
	run_ctl seed "$STORE_ROOT/examples/catalog.json" --url "$STORE_URL" --email "$email" --password Pw_wrong
	expect_exit 1
	expect_stderr "cannot sign in as '$email': Invalid credentials"
	run_ctl --timeout 1 seed "$STORE_ROOT/examples/catalog.json" --url "http://127.0.0.1:$(free_port)" \
		--email "$email" --password Pw_wrong
	expect_exit 69
}

# --- man pages -------------------------------------------------------------------

@test "man pages: mandoc -Tlint reports nothing" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	# From man/, so that cross-references between the pages resolve. A line
	# "outdated mandoc.db lacks X(N) entry" is about this machine's manual
	# database (makewhatis never ran), not about the pages: left out.
	cd "$STORE_ROOT/man"
	run mandoc -Tlint ./*.[1378]
	output=$(grep -v '^mandoc: outdated mandoc.db lacks .* entry, run makewhatis' <<<"$output" || true)
	if [[ $status != 0 || -n $output ]]; then
		printf '%s\n' "$output" >&2
		return 1
	fi
}

@test "man pages: every program has one, and --help, its page and store(7) name the same options and variables" {
	local prog page v opt cmd
	for prog in "$STORE_BUILD"/bin/*; do
		[[ -f $prog && -x $prog && $prog != *.[od] ]] || continue
		prog=${prog##*/}
		page=$STORE_ROOT/man/$prog.8
		[[ $prog != storectl ]] || page=$STORE_ROOT/man/storectl.1
		[[ -f $page ]] || { echo "no man page for $prog" >&2; return 1; }
		for v in $("$STORE_BUILD/bin/$prog" --help | grep -oE '\b(STORE|NATS|REDIS|JWT|STRIPE)_[A-Z_]*[A-Z]\b' | sort -u); do
			if ! grep -qE "Ev $v([^A-Z_]|\$)" "$page"; then
				echo "$prog --help names $v, ${page##*/} does not" >&2
				return 1
			fi
			if ! grep -qE "Ev $v([^A-Z_]|\$)" "$STORE_ROOT/man/store.7"; then
				echo "$prog --help names $v, store(7) does not" >&2
				return 1
			fi
		done
	done
	for cmd in publish replay tail dead jobs card-charge health seed; do
		for opt in $("$STORE_BUILD/bin/storectl" "$cmd" --help | grep -oE '(^|[ [(|])--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' | sort -u); do
			if ! grep -qE -- "Fl ${opt#-}([^a-z-]|\$)" "$STORE_ROOT/man/storectl.1"; then
				echo "storectl $cmd --help names $opt, storectl(1) does not" >&2
				return 1
			fi
		done
	done
	[[ -f $STORE_ROOT/man/libstore.3 && -f $STORE_ROOT/man/store.7 ]]
}

# --- file-wide checks: keep these last ------------------------------------------

@test "no response in this file was a 5xx" {
	if grep -E '^5[0-9][0-9] ' "$BATS_FILE_TMPDIR/api.statuses"; then return 1; fi
}

@test "the store stops cleanly: no process died on its own, none is left, no sanitizer report" {
	ctl_expirerd_stop
	local f
	for f in "$BATS_FILE_TMPDIR"/expirerd/*.log; do
		[[ -e $f ]] || continue
		if grep -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$f"; then return 1; fi
	done
	store_stop
}
