#!/bin/sh
# Sends its response, closes stdout and stderr, then keeps working ~5 s.
# Query: t=TRIAL. The work's end is noted in @STATE@/TRIAL.log.
id=${QUERY_STRING#t=}
case $id in '' | *[!0-9a-z-]*) printf 'Status: 400\n\n'; exit 1 ;; esac
note() { echo "$1 $$ $(date +%s.%N)" >>"@STATE@/$id.log"; }
trap 'note term' TERM
printf 'Content-Type: text/plain\n\nresponse %s\n' "$id"
exec >&- 2>&-
note closed
i=0
while [ $i -lt 25 ]; do
	sleep 0.2
	i=$((i + 1))
done
note 'done'
