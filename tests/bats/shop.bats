#!/usr/bin/env bats
# What a shopper expects of the products API (issue 16): search, pages of a
# listing with the total, sorting, one product by id.

# status_code and body are set by api (tests/lib/store.bash).
# shellcheck disable=SC2154
load '../lib/store'
load '../lib/shop'

setup_file() {
	store_start
}

teardown_file() {
	store_stop
}

# word: a made-up word no other test's product holds (letters only).
word() {
	local w=zq
	for _ in 1 2 3 4 5 6; do w+=$(printf "\\$(printf '%03o' $((97 + RANDOM % 26)))"); done
	printf '%s\n' "$w"
}

# named CATEGORY PRICE NAME DESCRIPTION: POST /api/products; sets product_id.
named() {
	api POST /api/products "$(jq -cn --arg c "$1" --argjson p "$2" --arg n "$3" --arg d "$4" \
		'{name: $n, description: $d, price: $p, count: 5,
		  picture: "https://img.example.com/p.png", categoryId: $c}')" || return 1
	expect_status 201 || return 1
	product_id=$(json_get .id)
}

@test "search finds products by name and description, any case, words in any order, best first" {
	local w
	w=$(word)
	as seller signup
	as seller make_category
	as seller named "$category_id" 30 "Desk lamp $w" "Warm light"
	local lamp=$product_id
	as seller named "$category_id" 10 "Chair" "Goes with a desk LAMP, $w edition"
	local chair=$product_id
	as seller named "$category_id" 20 "Table $w" "Oak"

	API_JAR='' api GET "/api/products/search?q=lamp+${w^^}"
	expect_status 200
	json_get . | jq -e --arg l "$lamp" --arg c "$chair" '
		.total == 2 and .page == 1 and .limit == 20 and (.products | map(.id)) == [$l, $c]'
	# API.md's product shape, with its category.
	json_get '.products[0]' | jq -e --arg cat "$category_id" '
		(keys == ["category","count","description","id","name","picture","price","userId","version","views"])
		and .price == 30 and .category.id == $cat and (.category.name | length > 0)'

	api GET "/api/products/search?q=desk%20$w%20lamps"
	expect_status 200
	json_get . | jq -e --arg l "$lamp" --arg c "$chair" '(.products | map(.id)) == [$l, $c]'

	api GET "/api/products/search?q=$w+oak"
	json_get . | jq -e '.total == 1 and .products[0].name != "Chair"'
	api GET "/api/products/search?q=$w+nothingmatches"
	expect_status 200
	json_get . | jq -e '.total == 0 and .products == []'
}

@test "search follows updates and deletes at once" {
	local w v
	w=$(word)
	v=$(word)
	as seller signup
	as seller make_category
	as seller named "$category_id" 5 "Kettle $w" "Boils"
	api GET "/api/products/search?q=$w"
	json_get . | jq -e '.total == 1'
	as seller api PUT "/api/products/$product_id" "$(jq -cn --arg c "$category_id" --arg n "Kettle $v" \
		'{name: $n, description: "Boils", price: 5, count: 5, categoryId: $c}')"
	expect_status 200
	api GET "/api/products/search?q=$w"
	json_get . | jq -e '.total == 0'
	api GET "/api/products/search?q=$v"
	json_get . | jq -e '.total == 1'
	as seller api DELETE "/api/products/$product_id"
	expect_status 204
	api GET "/api/products/search?q=$v"
	json_get . | jq -e '.total == 0'
}

@test "search text is plain words: FTS and MongoDB operators neither fail nor work" {
	local w q
	w=$(word)
	as seller signup
	as seller make_category
	as seller named "$category_id" 5 "Lamp $w" "Plain"
	for q in "$w%22+OR+%22x" "NEAR($w+x)" "$w*" "-$w" "name:$w" "%22" "$w+AND+x" "($w" \
		"%24where+$w" "%7B%24gt%3A1%7D" "$w'+--" "%5E$w" "$w+%2B+x"; do
		api GET "/api/products/search?q=$q"
		expect_status 200
		json_get . | jq -e '(.products | type) == "array" and (.total | type) == "number"'
	done
	api GET "/api/products/search?q=$w+OR+zzzzzz"
	json_get . | jq -e '.total == 0'
	api GET "/api/products/search?q=-$w"
	json_get . | jq -e '.total == 1'
}

@test "search pages, limits and sorts by price or newest" {
	local w ids=() i
	w=$(word)
	as seller signup
	as seller make_category
	for i in 3 1 5 2 4; do
		as seller named "$category_id" "$i" "Item $w $i" "d"
		ids+=("$product_id")
	done
	api GET "/api/products/search?q=$w&limit=2&page=2&sort=price"
	expect_status 200
	json_get . | jq -e '.total == 5 and .page == 2 and .limit == 2 and (.products | map(.price)) == [3, 4]'
	api GET "/api/products/search?q=$w&limit=3&sort=-price"
	json_get . | jq -e '(.products | map(.price)) == [5, 4, 3]'
	api GET "/api/products/search?q=$w&sort=newest"
	json_get . | jq -e --arg last "${ids[4]}" --arg first "${ids[0]}" \
		'(.products | map(.id)) as $i | $i[0] == $last and $i[4] == $first and (.products | length) == 5'
	api GET "/api/products/search?q=$w&page=4&limit=2"
	expect_status 200
	json_get . | jq -e '.total == 5 and .products == []'
}

@test "bad search parameters are a 400 on their field" {
	local long
	long=$(printf 'a%.0s' {1..201})
	api GET "/api/products/search"
	expect_error 400 "Search text is required" q
	api GET "/api/products/search?q="
	expect_error 400 "Search text is required" q
	api GET "/api/products/search?q=+%20+"
	expect_error 400 "Search text is required" q
	api GET "/api/products/search?q=$long"
	expect_error 400 "Search text must be at most 200 characters, without control characters" q
	api GET "/api/products/search?q=a%0Ab"
	expect_error 400 "Search text must be at most 200 characters, without control characters" q
	api GET "/api/products/search?q=a%00b"
	expect_error 400 "Search text must be at most 200 characters, without control characters" q
	api GET "/api/products/search?q=%C3%28"
	expect_error 400 "Search text must be at most 200 characters, without control characters" q
	api GET "/api/products/search?q=a&page=0"
	expect_error 400 "Page must be a whole number from 1 to 10000" page
	api GET "/api/products/search?q=a&page=x"
	expect_error 400 "Page must be a whole number from 1 to 10000" page
	api GET "/api/products/search?q=a&limit=101"
	expect_error 400 "Limit must be a whole number from 1 to 100" limit
	api GET "/api/products/search?q=a&limit=-1"
	expect_error 400 "Limit must be a whole number from 1 to 100" limit
	api GET "/api/products/search?q=a&sort=cheapest"
	expect_error 400 "Sort must be price, -price or newest" sort
	api GET "/api/products/search?page=0&limit=0&sort=x"
	expect_error 400 "Search text is required" q
	json_get '.errors | map(.field)' | jq -e '. == ["q", "page", "limit", "sort"]'
}

@test "a category's products: unpaged as the original, or paged with the total, and sorted" {
	local i ids=()
	as seller signup
	as seller make_category
	for i in 3 1 2; do
		as seller named "$category_id" "$i" "P$i" "d"
		ids+=("$product_id")
	done
	# No parameters: the original's bare array, in creation order.
	api GET "/api/products/$category_id"
	expect_status 200
	json_get . | jq -e --arg a "${ids[0]}" --arg b "${ids[1]}" --arg c "${ids[2]}" \
		'type == "array" and map(.id) == [$a, $b, $c]'
	api GET "/api/products/$category_id?sort=price"
	expect_status 200
	json_get . | jq -e 'type == "array" and map(.price) == [1, 2, 3]'
	api GET "/api/products/$category_id?page=1&limit=2&sort=-price"
	expect_status 200
	json_get . | jq -e '.total == 3 and .page == 1 and .limit == 2 and (.products | map(.price)) == [3, 2]
		and (.products[0].category.id | length == 24)'
	api GET "/api/products/$category_id?page=2&limit=2&sort=-price"
	json_get . | jq -e '.total == 3 and .page == 2 and (.products | map(.price)) == [1]'
	api GET "/api/products/$category_id?page=2"
	json_get . | jq -e '.total == 3 and .limit == 20 and .products == []'
	api GET "/api/products/$category_id?sort=newest&limit=1"
	json_get . | jq -e --arg c "${ids[2]}" '.products[0].id == $c'
	api GET "/api/products/$category_id?limit=1000"
	expect_error 400 "Limit must be a whole number from 1 to 100" limit
	api GET "/api/products/$category_id?page=1.5"
	expect_error 400 "Page must be a whole number from 1 to 10000" page
	api GET "/api/products/$category_id?sort=price%00"
	expect_error 400 "Sort must be price, -price or newest" sort
	# An unknown category is an empty page; a malformed id a 404, as before.
	api GET "/api/products/$(oid)?page=1"
	expect_status 200
	json_get . | jq -e '.total == 0 and .products == []'
	api GET "/api/products/nothex?page=1"
	expect_error 404
}

@test "categories: unpaged as the original, or paged with the total" {
	local n
	as seller signup
	as seller make_category "$(unique Aaa)"
	as seller make_category "$(unique Bbb)"
	api GET /api/categories
	expect_status 200
	n=$(json_get length)
	json_get . | jq -e 'type == "array"'
	api GET "/api/categories?page=1&limit=1"
	expect_status 200
	json_get . | jq -e --argjson n "$n" '.total == $n and .page == 1 and .limit == 1
		and (.categories | length) == 1 and (.categories[0] | keys) == ["description","id","name","userId"]'
	api GET "/api/categories?limit=100"
	json_get . | jq -e --argjson n "$n" "(.categories | length) == \$n"
	api GET "/api/categories?page=abc"
	expect_error 400 "Page must be a whole number from 1 to 10000" page
}

@test "one product by id at /api/products/item/:id" {
	as seller signup
	as seller make_category
	as seller named "$category_id" 12.5 "Solo" "Just one"
	API_JAR='' api GET "/api/products/item/$product_id"
	expect_status 200
	json_get . | jq -e --arg i "$product_id" --arg c "$category_id" '
		.id == $i and .name == "Solo" and .price == 12.5 and .count == 5 and .views == 0
		and .category.id == $c and (.category.name | length > 0)'
	api GET "/api/products/item/$(oid)"
	expect_error 404
	api GET "/api/products/item/nothex"
	expect_error 404
	# "search" and "item" never shadow a category id, nor the other way round.
	api GET "/api/products/$category_id"
	json_get . | jq -e --arg i "$product_id" 'type == "array" and .[0].id == $i'
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
