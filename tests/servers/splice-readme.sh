#!/bin/sh
# splice-readme.sh README RECIPES: print README with the text between its
# <!-- recipes:begin --> and <!-- recipes:end --> markers replaced by RECIPES
# (its title line dropped, its headings, not the comments in its code blocks,
# one level down), so the README shows the very configs the server tests
# use.  `make recipes` writes it back;
# recipes.bats fails when the README and the tests' configs drift apart.
set -eu
readme=$1 recipes=$2
awk -v recipes="$recipes" '
/<!-- recipes:begin -->/ {
	print
	n = 0
	while ((getline line < recipes) > 0) {
		if (n++ == 0 && line ~ /^# /)
			continue
		if (line ~ /^```/)
			fenced = !fenced
		else if (!fenced && line ~ /^#+ /)
			line = "#" line
		print line
	}
	skip = 1
	next
}
/<!-- recipes:end -->/ { skip = 0 }
!skip { print }
' "$readme"
