#!/bin/sh
# seed-catalog.sh - load a sample catalogue into a running store, as a seller.
#
#   examples/seed-catalog.sh [FILE]
#
# FILE defaults to examples/catalog.json (four categories, twelve products,
# pictures embedded). The seller's address comes from SELLER_EMAIL and the
# password from STORE_SEED_PASSWORD (asked for when unset); the store from
# STORE_URL (http://127.0.0.1:8080, what "make run" serves). Run it again
# at will: what exists is left alone, only what is missing is created.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
file=${1:-$here/catalog.json}
: "${STORE_URL:=http://127.0.0.1:8080}"
: "${SELLER_EMAIL:=seller@example.com}"
export STORE_URL

if [ -z "${STORE_SEED_PASSWORD:-}" ]; then
	printf 'password for %s (4 to 20 characters): ' "$SELLER_EMAIL" >&2
	stty -echo 2>/dev/null || true
	read -r STORE_SEED_PASSWORD
	stty echo 2>/dev/null || true
	printf '\n' >&2
	export STORE_SEED_PASSWORD
fi

# One line per category and product; a table for people.
storectl --format table seed "$file" --email "$SELLER_EMAIL" --url "$STORE_URL"

# What a shopper now sees, category by category.
curl -fsS "$STORE_URL/api/categories" | jq -r '.[] | "\(.id) \(.name)"' |
	while read -r id name; do
		printf '%s: ' "$name"
		curl -fsS "$STORE_URL/api/products/$id" | jq -r '[.[].name] | join(", ")'
	done
