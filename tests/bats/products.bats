#!/usr/bin/env bats
# The products service (API.md, "Products service"), over HTTP through nginx:
# categories, products, owners, validation, pictures, addToCart and its stock.

# status_code, body and headers are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'

setup_file() {
	store_start
}

teardown_file() {
	store_stop
}

# A 1x1 PNG.
PNG_B64='iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

# product_with PICTURE: a product body whose picture is PICTURE, in category_id.
product_with() {
	jq -cn --arg c "$category_id" --arg pic "$1" \
		'{name: "Pictured", description: "d", price: 1, count: 1, picture: $pic, categoryId: $c}'
}

# product_with_bytes N: a product body whose picture is a data:image/png URL
# of N random bytes (their base64 in $BATS_TEST_TMPDIR/picture.b64). Through
# files: megabytes do not fit in one argument.
product_with_bytes() {
	local b64="$BATS_TEST_TMPDIR/picture.b64"
	head -c "$1" /dev/urandom | base64 -w0 >"$b64"
	jq -cn --arg c "$category_id" --rawfile b "$b64" \
		'{name: "Pictured", description: "d", price: 1, count: 1,
		  picture: ("data:image/png;base64," + $b), categoryId: $c}'
}

# --- categories -------------------------------------------------------------------

@test "a seller creates, lists, renames and deletes a category" {
	local name
	name=$(unique Garden)
	as seller signup
	as seller api POST /api/categories "$(jq -cn --arg n "$name" '{name: $n, description: "Tools"}')"
	expect_status 201
	json_get . | jq -e --arg n "$name" --arg u "$(user_id seller)" '
		(.id | test("^[0-9a-f]{24}$")) and .name == $n and .description == "Tools" and .userId == $u
		and (keys == ["description", "id", "name", "userId"])'
	local id
	id=$(json_get .id)

	API_JAR='' api GET /api/categories
	expect_status 200
	json_get . | jq -e --arg i "$id" --arg n "$name" 'any(.[]; .id == $i and .name == $n)'

	as seller api PUT "/api/categories/$id" "$(jq -cn --arg n "$name 2" '{name: $n, description: "More tools"}')"
	expect_status 200
	json_get . | jq -e --arg i "$id" --arg n "$name 2" '.id == $i and .name == $n and .description == "More tools"'

	as seller api DELETE "/api/categories/$id"
	expect_status 204
	[[ -z $body ]]
	api GET /api/categories
	json_get . | jq -e --arg i "$id" 'all(.[]; .id != $i)'
}

@test "a duplicate category name, in any letter case, is a 400 Category 'X' already exists." {
	local name
	name=$(unique Music)
	as seller signup
	as seller make_category "$name"
	local first=$category_id
	as seller api POST /api/categories "$(jq -cn --arg n "$name" '{name: $n, description: "d"}')"
	expect_error 400 "Category '$name' already exists." name
	as other signup
	as other api POST /api/categories "$(jq -cn --arg n "${name^^}" '{name: $n, description: "d"}')"
	expect_error 400 "Category '${name^^}' already exists." name

	# Renaming another category to a taken name is refused the same way.
	as seller make_category
	as seller api PUT "/api/categories/$category_id" "$(jq -cn --arg n "$name" '{name: $n, description: "d"}')"
	expect_error 400 "Category '$name' already exists." name
	as seller api PUT "/api/categories/$first" "$(jq -cn --arg n "$name" '{name: $n, description: "same name"}')"
	expect_status 200
}

@test "a category with products cannot be deleted, and can once they are gone" {
	local name
	name=$(unique Kitchen)
	as seller signup
	as seller make_category "$name"
	as seller make_product "$category_id" 2.5 4
	as seller api DELETE "/api/categories/$category_id"
	expect_error 400 "You cannot delete category '$name'. There is a product attached to this category."
	as seller api DELETE "/api/products/$product_id"
	expect_status 204
	as seller api DELETE "/api/categories/$category_id"
	expect_status 204
}

@test "category validation: Name is required, Description is required" {
	as seller signup
	as seller api POST /api/categories '{}'
	expect_error 400 "Name is required" name
	expect_error 400 "Description is required" description
	as seller api POST /api/categories '{"name":"   ","description":""}'
	expect_error 400 "Name is required" name
	expect_error 400 "Description is required" description
	as seller make_category
	as seller api PUT "/api/categories/$category_id" '{"name":"x"}'
	expect_error 400 "Description is required" description
}

# --- products ---------------------------------------------------------------------

@test "a seller creates, lists, updates and deletes a product" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 19.99 7 "Lamp"
	json_get . | jq -e --arg c "$cat" --arg u "$(user_id seller)" '
		(.id | test("^[0-9a-f]{24}$")) and .name == "Lamp" and .description == "A fine widget"
		and .price == 19.99 and .count == 7 and .views == 0 and .version == 0 and .userId == $u
		and .picture == "https://img.example.com/widget.png"
		and .category.id == $c and .category.userId == $u
		and (keys == ["category", "count", "description", "id", "name", "picture", "price", "userId", "version", "views"])'
	local pid=$product_id

	API_JAR='' api GET "/api/products/$cat"
	expect_status 200
	json_get . | jq -e --arg p "$pid" 'length == 1 and .[0].id == $p and .[0].price == 19.99'

	# PUT without a picture keeps it; the version goes up by one.
	as seller api PUT "/api/products/$pid" "$(jq -cn --arg c "$cat" \
		'{name: "Desk lamp", description: "Bright", price: 24, count: 6, categoryId: $c}')"
	expect_status 200
	json_get . | jq -e '.name == "Desk lamp" and .description == "Bright" and .price == 24
		and .count == 6 and .version == 1 and .picture == "https://img.example.com/widget.png"'

	# The seller's own products of a category; another seller has none there.
	as seller api GET "/api/products/user/$cat"
	expect_status 200
	json_get . | jq -e --arg p "$pid" 'length == 1 and .[0].id == $p'
	as other signup
	as other api GET "/api/products/user/$cat"
	expect_status 200
	[[ $(json_get .) == '[]' ]]

	as seller api DELETE "/api/products/$pid"
	expect_status 204
	[[ -z $body ]]
	api GET "/api/products/$cat"
	[[ $(json_get .) == '[]' ]]
	as seller api DELETE "/api/products/$pid"
	expect_error 404 "Not Found"
}

@test "product validation: every message of API.md, on its field" {
	as seller signup
	as seller make_category
	as seller api POST /api/products '{}'
	expect_error 400 "Name is required" name
	expect_error 400 "Description is required" description
	expect_error 400 "Price must be greater than 0" price
	expect_error 400 "Count must be greater than 0" count
	expect_error 400 "Picture is required" picture
	expect_error 400 "Category is required" categoryId
	[[ $(json_get '.errors | length') == 6 ]]

	local body_ok
	body_ok=$(product_body "$category_id" 5 5)
	as seller api POST /api/products "$(jq -c '.name = "  "' <<<"$body_ok")"
	expect_error 400 "Name is required" name
	as seller api POST /api/products "$(jq -c '.description = ""' <<<"$body_ok")"
	expect_error 400 "Description is required" description
	as seller api POST /api/products "$(jq -c '.count = 0' <<<"$body_ok")"
	expect_error 400 "Count must be greater than 0" count
	as seller api POST /api/products "$(jq -c '.count = -3' <<<"$body_ok")"
	expect_error 400 "Count must be greater than 0" count
	as seller api POST /api/products "$(jq -c 'del(.picture)' <<<"$body_ok")"
	expect_error 400 "Picture is required" picture
	as seller api POST /api/products "$(jq -c 'del(.categoryId)' <<<"$body_ok")"
	expect_error 400 "Category is required" categoryId
	as seller api POST /api/products "$(jq -c '.categoryId = "not-an-id"' <<<"$body_ok")"
	expect_error 400 "Invalid Category Id" categoryId
	as seller api POST /api/products "$(jq -c --arg c "$(oid)" '.categoryId = $c' <<<"$body_ok")"
	expect_error 400 "Invalid Category Id" categoryId
	as seller api POST /api/products "$(jq -c '.picture = "ftp://example.com/a.png"' <<<"$body_ok")"
	expect_error 400 "Picture must be an http(s) URL or a png, jpeg, gif or webp image of at most 2 MiB" picture
	as seller api POST /api/products "$(jq -c '.picture = "data:image/svg+xml;base64,PHN2Zz4="' <<<"$body_ok")"
	expect_error 400 "Picture must be an http(s) URL or a png, jpeg, gif or webp image of at most 2 MiB" picture

	# PUT validates the same fields (picture optional).
	as seller make_product "$category_id" 5 5
	as seller api PUT "/api/products/$product_id" '{"picture":"https://img.example.com/a.png"}'
	expect_error 400 "Name is required" name
	expect_error 400 "Category is required" categoryId
	[[ $(json_get '.errors | map(.field) | index("picture")') == null ]]
}

@test "money: 2 decimals at most, above 0, at most 1,000,000, else 400 on price" {
	as seller signup
	as seller make_category
	local price
	for price in -1 -0.5 -0.001 0 0.0 1000000.01 1000001 1e7 '"12.3.4"' '"1e3"' null true '[1]' '{}'; do
		as seller api POST /api/products "$(product_body "$category_id" "$price" 1)"
		expect_error 400 "Price must be greater than 0" price || {
			echo "price $price" >&2
			return 1
		}
	done
	# More decimals are never rounded away (10000.001 was stored as 10000).
	for price in 1.234 0.001 12.345 10000.001 999999.994 1.005 '"19.999"' '"0.001"'; do
		as seller api POST /api/products "$(product_body "$category_id" "$price" 1)"
		expect_error 400 "Price must have at most two decimals" price || {
			echo "price $price" >&2
			return 1
		}
		[[ $(json_get '.errors | length') == 1 ]]
	done
	for price in 0.01 12.5 3.99 1000000 7 999999.99 0.29; do
		as seller make_product "$category_id" "$price" 1
		[[ $(json_get .price) == "$price" ]] || {
			echo "price $price came back as $(json_get .price)" >&2
			return 1
		}
	done
	as seller api PUT "/api/products/$product_id" "$(product_body "$category_id" 2.345 1)"
	expect_error 400 "Price must have at most two decimals" price
	as seller api PUT "/api/products/$product_id" "$(product_body "$category_id" 10000.001 1)"
	expect_error 400 "Price must have at most two decimals" price
	api GET "/api/products/$category_id"
	json_get . | jq -e --arg p "$product_id" '.[] | select(.id == $p) | .price == 0.29'
}

# --- the original store's Next.js client ------------------------------------------

# client_body CATEGORY PRICE COUNT: a product body as the original client's form
# sends it: every field a string.
client_body() {
	jq -cn --arg c "$1" --arg price "$2" --arg count "$3" \
		'{categoryId: $c, name: "Lamp", description: "Warm", price: $price, count: $count,
		  picture: "https://img.example.com/lamp.png"}'
}

@test "the original client: price and count as strings (\"19.99\", \"5\") create and update a product" {
	as seller signup
	as seller make_category
	as seller api POST /api/products "$(client_body "$category_id" 19.99 5)"
	expect_status 201
	json_get . | jq -e '.price == 19.99 and .count == 5 and (.price | type) == "number"'
	local pid
	pid=$(json_get .id)
	as seller api PUT "/api/products/$pid" "$(client_body "$category_id" 7.5 2)"
	expect_status 200
	json_get . | jq -e '.price == 7.5 and .count == 2'
	api GET "/api/products/$category_id"
	json_get . | jq -e --arg p "$pid" '.[] | select(.id == $p) | .price == 7.5 and .count == 2'
}

@test "the original client: strings are validated as strictly as numbers" {
	as seller signup
	as seller make_category
	local v
	for v in 1e3 ' 5' '5 ' 0x10 05 +5 .5 5. -5 0 five 1,5 99999999999999999999; do
		as seller api POST /api/products "$(client_body "$category_id" "$v" "$v")"
		expect_error 400 "Price must be greater than 0" price || { echo "value '$v'" >&2; return 1; }
		expect_error 400 "Count must be greater than 0" count || { echo "value '$v'" >&2; return 1; }
		[[ $(json_get '.errors | length') == 2 ]]
	done
	as seller api POST /api/products "$(client_body "$category_id" 19.999 1.5)"
	expect_error 400 "Price must have at most two decimals" price
	expect_error 400 "Count must be greater than 0" count
	as seller api POST /api/products "$(client_body "$category_id" 1000000.01 1000001)"
	expect_error 400 "Price must be greater than 0" price
	expect_error 400 "Count must be greater than 0" count
}

@test "the original client: blank fields get the messages of absent ones, in the original order" {
	as seller signup
	as seller make_category
	as seller api POST /api/products \
		'{"categoryId":"","name":"","description":" ","price":"","count":"","picture":""}'
	expect_status 400
	json_get '[.errors[] | .field + ": " + .message]' | jq -e '. == [
		"categoryId: Category is required", "name: Name is required",
		"description: Description is required", "price: Price must be greater than 0",
		"count: Count must be greater than 0", "picture: Picture is required"]'
	as seller api POST /api/products '{}'
	json_get '[.errors[] | .message]' | jq -e '. == ["Category is required", "Name is required",
		"Description is required", "Price must be greater than 0",
		"Count must be greater than 0", "Picture is required"]'
}

@test "the original client's edit dialog: its product's own picture URL back on PUT keeps the picture" {
	as seller signup
	as seller make_category
	as seller api POST /api/products "$(product_with "data:image/png;base64,$PNG_B64")"
	expect_status 201
	local pid pic
	pid=$(json_get .id)
	pic=$(json_get .picture)
	[[ $pic == /api/products/picture/* ]]
	local edit
	edit=$(jq -cn --arg c "$category_id" --arg pic "$pic" \
		'{categoryId: $c, name: "Renamed", description: "d", price: "2.50", count: "3", picture: $pic}')
	as seller api PUT "/api/products/$pid" "$edit"
	expect_status 200
	json_get . | jq -e --arg pic "$pic" '.picture == $pic and .name == "Renamed" and .price == 2.5'
	api GET "$pic"
	expect_status 200
	# A blank picture on PUT is an absent one: kept.
	as seller api PUT "/api/products/$pid" "$(jq -c '.picture = ""' <<<"$edit")"
	expect_status 200
	json_get . | jq -e --arg pic "$pic" '.picture == $pic'

	# Another product's picture is refused, on POST and PUT; nothing changes.
	as seller api POST /api/products "$(product_with "data:image/png;base64,$PNG_B64")"
	local other other_pic
	other=$(json_get .id)
	other_pic=$(json_get .picture)
	as seller api PUT "/api/products/$pid" "$(jq -c --arg p "$other_pic" '.picture = $p' <<<"$edit")"
	expect_error 400 "Picture is another product's picture" picture
	as seller api POST /api/products "$(product_with "$pic")"
	expect_error 400 "Picture is another product's picture" picture
	as seller api PUT "/api/products/$pid" "$(jq -c '.picture = "/api/products/picture/x"' <<<"$edit")"
	expect_error 400 "Picture must be an http(s) URL or a png, jpeg, gif or webp image of at most 2 MiB" picture
	api GET "/api/products/$category_id"
	json_get . | jq -e --arg p "$pid" --arg pic "$pic" --arg o "$other" --arg op "$other_pic" '
		(.[] | select(.id == $p) | .picture == $pic) and (.[] | select(.id == $o) | .picture == $op)'
	# Deleting the other product leaves this one's picture alone.
	as seller api DELETE "/api/products/$other"
	expect_status 204
	api GET "$pic"
	expect_status 200
	api GET "$other_pic"
	expect_error 404
}

@test "only the owner may change or delete a category or a product: 403 otherwise" {
	as owner signup
	as owner make_category
	as owner make_product "$category_id" 10 2
	as intruder signup
	as intruder api PUT "/api/categories/$category_id" '{"name":"Mine now","description":"d"}'
	expect_error 403
	as intruder api DELETE "/api/categories/$category_id"
	expect_error 403
	as intruder api PUT "/api/products/$product_id" "$(product_body "$category_id" 1 1 Stolen)"
	expect_error 403
	as intruder api DELETE "/api/products/$product_id"
	expect_error 403

	# Nothing changed.
	api GET "/api/products/$category_id"
	json_get . | jq -e --arg p "$product_id" 'length == 1 and .[0].id == $p and .[0].name == "Widget" and .[0].price == 10 and .[0].version == 0'
	api GET /api/categories
	json_get . | jq -e --arg c "$category_id" 'any(.[]; .id == $c and .name != "Mine now")'
}

@test "changing routes need a session: 401 Not authorized" {
	local id
	id=$(oid)
	API_JAR='' api POST /api/categories '{"name":"n","description":"d"}'
	expect_error 401 "Not authorized"
	API_JAR='' api PUT "/api/categories/$id" '{"name":"n","description":"d"}'
	expect_error 401 "Not authorized"
	API_JAR='' api DELETE "/api/categories/$id"
	expect_error 401 "Not authorized"
	API_JAR='' api POST /api/products "$(product_body "$id" 1 1)"
	expect_error 401 "Not authorized"
	API_JAR='' api PUT "/api/products/$id" "$(product_body "$id" 1 1)"
	expect_error 401 "Not authorized"
	API_JAR='' api DELETE "/api/products/$id"
	expect_error 401 "Not authorized"
	API_JAR='' api GET "/api/products/user/$id"
	expect_error 401 "Not authorized"
	API_JAR='' api POST /api/products/addToCart "$(jq -cn --arg i "$id" '{id: $i, categoryId: $i}')"
	expect_error 401 "Not authorized"
}

@test "a malformed or unknown id in a path is a 404 Not Found, never a 500" {
	as seller signup
	as seller make_category
	local bad unknown
	unknown=$(oid)
	for bad in not-an-id 0123456789ABCDEF01234567 0123 "$unknown"; do
		as seller api PUT "/api/categories/$bad" '{"name":"n","description":"d"}'
		expect_error 404 "Not Found"
		as seller api DELETE "/api/categories/$bad"
		expect_error 404 "Not Found"
		as seller api PUT "/api/products/$bad" "$(product_body "$category_id" 1 1)"
		expect_error 404 "Not Found"
		as seller api DELETE "/api/products/$bad"
		expect_error 404 "Not Found"
		api GET "/api/products/picture/$bad"
		expect_error 404 "Not Found"
	done
	for bad in not-an-id 0123456789ABCDEF01234567 0123; do
		api GET "/api/products/$bad"
		expect_error 404 "Not Found"
		as seller api GET "/api/products/user/$bad"
		expect_error 404 "Not Found"
	done
	# A well-formed id of no category lists nothing, as the original did.
	api GET "/api/products/$unknown"
	expect_status 200
	[[ $(json_get .) == '[]' ]]
}

# --- pictures ---------------------------------------------------------------------

@test "a picture sent as a png data URL round-trips through /api/products/picture/:id" {
	as seller signup
	as seller make_category
	as seller api POST /api/products "$(product_with "data:image/png;base64,$PNG_B64")"
	expect_status 201
	local url
	url=$(json_get .picture)
	[[ $url =~ ^/api/products/picture/[0-9a-f]{24}$ ]]

	curl -sS -o "$BATS_TEST_TMPDIR/got.png" -D "$BATS_TEST_TMPDIR/got.headers" "$STORE_URL$url"
	grep -qi '^content-type: image/png' "$BATS_TEST_TMPDIR/got.headers"
	grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/got.headers"
	[[ $(base64 -w0 <"$BATS_TEST_TMPDIR/got.png") == "$PNG_B64" ]]

	# A new upload replaces it; the old one is gone.
	as seller api PUT "/api/products/$(json_get .id)" "$(product_with "data:image/png;base64,$PNG_B64")"
	expect_status 200
	[[ $(json_get .picture) != "$url" ]]
	api GET "$url"
	expect_error 404 "Not Found"
}

@test "a picture of exactly 2 MiB goes through nginx and round-trips; one byte more is a 400" {
	as seller signup
	as seller make_category
	as seller api POST /api/products "$(product_with_bytes $((2 * 1024 * 1024)))"
	expect_status 201
	curl -sS -o "$BATS_TEST_TMPDIR/got.png" "$STORE_URL$(json_get .picture)"
	[[ $(stat -c %s "$BATS_TEST_TMPDIR/got.png") == $((2 * 1024 * 1024)) ]]
	[[ $(base64 -w0 <"$BATS_TEST_TMPDIR/got.png") == "$(<"$BATS_TEST_TMPDIR/picture.b64")" ]]

	as seller api POST /api/products "$(product_with_bytes $((2 * 1024 * 1024 + 1)))"
	expect_error 400 "Picture must be an http(s) URL or a png, jpeg, gif or webp image of at most 2 MiB" picture
}

@test "a listing past one FastCGI record (64 KB) arrives whole, the same as its pages" {
	as seller signup
	as seller make_category
	# 30 products with 4,000-character descriptions: a listing of ~125 KB,
	# two records of the answer's own (bodies of 8 KB or more skip libfcgi's
	# buffer), read by nginx into its 64 KB buffers.
	local i desc
	for i in $(seq 1 30); do
		desc="$(printf 'd%02d' "$i")$(head -c 3997 /dev/zero | tr '\0' "$((i % 10))")"
		as seller api POST /api/products "$(jq -cn --arg c "$category_id" --arg n "Item $i" --arg d "$desc" \
			'{name: $n, description: $d, price: 1, count: 1, picture: "https://example.com/p.png", categoryId: $c}')"
		expect_status 201
	done
	api GET "/api/products/$category_id"
	expect_status 200
	(( ${#body} > 120000 ))
	json_get . | jq -e 'length == 30
		and ([.[] | .name] == [range(1; 31) | "Item \(.)"])
		and all(.[]; (.description | length) == 4000)
		and ([.[] | .description[0:3]] == [range(1; 31) | "d" + (if . < 10 then "0" else "" end) + "\(.)"])'
	local whole
	whole=$(json_get .)
	# A middle-sized answer (8-64 KB, one record) and the whole listing agree.
	api GET "/api/products/$category_id?page=1&limit=10"
	expect_status 200
	(( ${#body} > 8192 && ${#body} < 65536 ))
	diff <(json_get .products | jq .) <(jq ".[0:10]" <<<"$whole") >&2
}

@test "a body above store-products' limit (3.7 MB) but within nginx's (4 MB) is store-products' 413" {
	as seller signup
	local big
	big=$(head -c 2900000 /dev/zero | base64 -w0)
	as seller api POST /api/categories "{\"name\":\"$big\",\"description\":\"d\"}"
	expect_error 413
	access_log_line "$(header X-Request-Id)" | jq -e '.status == 413 and .upstream_status == "413"'
}

# --- addToCart and stock ----------------------------------------------------------

@test "addToCart holds a unit: views goes up, and with none left it is a 400 Out of stock" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 3 2
	as buyer signup
	as buyer add_to_cart "$product_id" "$category_id"
	as buyer add_to_cart "$product_id" "$category_id"
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$product_id" --arg c "$category_id" '{id: $i, categoryId: $c}')"
	expect_error 400 "Out of stock"
	api GET "/api/products/$category_id"
	json_get . | jq -e '.[0].views == 2 and .[0].count == 2 and .[0].version == 2'
}

@test "addToCart validates: unknown product 404, wrong category 400 Invalid Category Id" {
	as seller signup
	as seller make_category
	local cat=$category_id
	as seller make_product "$cat" 3 2
	as seller make_category
	as buyer signup
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$product_id" --arg c "$category_id" '{id: $i, categoryId: $c}')"
	expect_error 400 "Invalid Category Id" categoryId
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$(oid)" --arg c "$cat" '{id: $i, categoryId: $c}')"
	expect_error 404 "Not Found"
	as buyer api POST /api/products/addToCart "$(jq -cn --arg c "$cat" '{id: "nope", categoryId: $c}')"
	expect_error 400 "Invalid Product Id" id
	as buyer api POST /api/products/addToCart '{}'
	expect_error 400 "Product is required" id
	expect_error 400 "Category is required" categoryId
	# Other product fields may be sent, and are ignored.
	as buyer api POST /api/products/addToCart "$(jq -cn --arg i "$product_id" --arg c "$cat" \
		'{id: $i, categoryId: $c, price: 0.01, name: "cheap", count: 99}')"
	expect_status 200
	json_get . | jq -e '.price == 3 and .name == "Widget" and .count == 1'
}

@test "the last units: 20 buyers add a product of count 5 at once; exactly 5 get it, 15 get 400 Out of stock" {
	as seller signup
	as seller make_category
	as seller make_product "$category_id" 99 5
	local i n=20 dir="$BATS_TEST_TMPDIR/race" request
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		as "racer$i" signup
	done
	request=$(jq -cn --arg i "$product_id" --arg c "$category_id" '{id: $i, categoryId: $c}')
	local -a pids=()
	for ((i = 1; i <= n; i++)); do
		curl -sS -o "$dir/$i.body" -w '%{http_code}' --max-time 60 \
			-b "$(_jars)/racer$i.jar" -H 'Content-Type: application/json' \
			--data-binary "$request" "$STORE_URL/api/products/addToCart" \
			>"$dir/$i.status" 2>"$dir/$i.err" 3>&- &
		pids+=("$!")
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	local ok=0 out=0 status
	for ((i = 1; i <= n; i++)); do
		status=$(<"$dir/$i.status")
		printf '%s POST /api/products/addToCart\n' "$status" >>"$BATS_FILE_TMPDIR/api.statuses"
		case $status in
		200)
			ok=$((ok + 1))
			jq -e --arg b "$(user_id "racer$i")" '.userId == $b and .count == 1' "$dir/$i.body" >/dev/null
			;;
		400)
			out=$((out + 1))
			[[ $(<"$dir/$i.body") == '{"errors":[{"message":"Out of stock"}]}' ]]
			;;
		*)
			echo "racer $i: HTTP $status $(<"$dir/$i.body")" >&2
			return 1
			;;
		esac
	done
	echo "200: $ok, 400: $out" >&2
	((ok == 5 && out == 15))
	api GET "/api/products/$category_id"
	json_get . | jq -e '.[0].views == 5 and .[0].count == 5'
}

# --- file-wide checks: keep these last ------------------------------------------

@test "no response in this file was a 5xx" {
	if grep -E '^5[0-9][0-9] ' "$BATS_FILE_TMPDIR/api.statuses"; then
		return 1
	fi
}

@test "the store stops cleanly: no process died, none is left, no sanitizer report" {
	store_stop
}
