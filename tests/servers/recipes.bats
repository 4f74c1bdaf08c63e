#!/usr/bin/env bats
# RECIPES.md is generated from the configs the server tests use; it must not drift.

@test "RECIPES.md matches the configs the server tests use" {
	run diff -u "$BATS_TEST_DIRNAME/RECIPES.md" <(bash "$BATS_TEST_DIRNAME/gen-recipes.bash")
	[ "$status" -eq 0 ] || {
		echo "$output"
		echo "regenerate: bash tests/servers/gen-recipes.bash >tests/servers/RECIPES.md"
		false
	}
}

@test "README's server recipes are RECIPES.md" {
	run diff -u "$BATS_TEST_DIRNAME/../../README.md" \
		<(sh "$BATS_TEST_DIRNAME/splice-readme.sh" "$BATS_TEST_DIRNAME/../../README.md" "$BATS_TEST_DIRNAME/RECIPES.md")
	[ "$status" -eq 0 ] || {
		echo "$output"
		echo "regenerate: make recipes"
		false
	}
}
