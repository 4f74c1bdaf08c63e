#!/bin/sh
# The seed's silent variant: the same rewrite under flock, but nothing reaches
# the server until the data file is whole again (~7 s), so the client never
# gives up; only a server timeout (Apache's Timeout) abandons the request.
# Query: t=TRIAL. Notes go to @STATE@/TRIAL.log.
id=${QUERY_STRING#t=}
case $id in '' | *[!0-9a-z-]*) printf 'Status: 400\n\n'; exit 1 ;; esac
note() { echo "$1 $$ $(date +%s.%N)" >>"@STATE@/$id.log"; }
trap 'note term' TERM
exec 9<>"@STATE@/$id.data"
flock -x 9
: >"@STATE@/$id.data"
note inside
i=0
while [ $i -lt 35 ]; do
	sleep 0.2
	i=$((i + 1))
done
cat "@FIXTURES@/seed.expected" >&9
note 'done'
printf 'Content-Type: text/plain\n\ndone\n'
