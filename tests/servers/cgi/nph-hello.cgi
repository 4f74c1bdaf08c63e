#!/bin/sh
# A non-parsed-header CGI (Apache runs any nph-* script so): its output is the
# whole HTTP response, status line and CRLFs included, passed through untouched.
printf 'HTTP/1.0 203 Non-Authoritative Information\r\n'
printf 'Content-Type: text/plain\r\nX-Nph: yes\r\nX-Args: %s\r\n\r\n' "$*"
printf 'nph body\r\nquery=%s\n' "$QUERY_STRING"
head -c 4096 "@FIXTURES@/binary.bin"
