#!/bin/sh
# Shows what the CGI got: its argv, its directory and the CGI variables that
# tell a script where it is (and any that must never reach it). A word
# "slow" in its argv makes it take 1.5 s (less than the tests' Apache Timeout).
printf 'Content-Type: text/plain\n\n'
printf 'script=env.cgi argc=%d\n' $#
for a in "$@"; do printf 'arg=[%s]\n' "$a"; done
printf 'cwd=%s\n' "$(pwd)"
case " $* " in *' slow '*) sleep 1.5; echo slept ;; esac
env | grep -E '^(SCRIPT_FILENAME|SCRIPT_NAME|PATH_INFO|PATH_TRANSLATED|QUERY_STRING|REQUEST_URI|REQUEST_METHOD|DOCUMENT_ROOT|GATEWAY_INTERFACE|HTTP_PROXY|HTTP_X_TEST|LD_[A-Z_]*|BASH_ENV|IFS)=' | sort
