#!/bin/sh
# The seed (Apache PR 8063): rewrite a data file in place under flock. Between
# the truncate and the write a slow "disk" holds the file for ~4 s while
# progress lines go to the client. TERM is caught only to note it, as the
# reporter's CGI did. Query: t=TRIAL. Notes go to @STATE@/TRIAL.log.
id=${QUERY_STRING#t=}
case $id in '' | *[!0-9a-z-]*) printf 'Status: 400\n\n'; exit 1 ;; esac
note() { echo "$1 $$ $(date +%s.%N)" >>"@STATE@/$id.log"; }
trap 'note term' TERM
exec 9<>"@STATE@/$id.data"
flock -x 9
printf 'Content-Type: text/plain\n\n'
: >"@STATE@/$id.data"
note inside
i=0
while [ $i -lt 20 ]; do
	echo "progress $i"
	sleep 0.2
	i=$((i + 1))
done
cat "@FIXTURES@/seed.expected" >&9
note 'done'
