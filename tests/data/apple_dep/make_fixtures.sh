#!/bin/sh
# Regenerates the DEP token fixtures with the OpenSSL command line, the way an
# admin's portal download looks (apple-dep.md §1.2, §1.5). The key is a
# throw-away test key: it protects nothing but these fixtures.
#
#   cd tests/data/apple_dep && sh make_fixtures.sh
set -eu
openssl req -x509 -newkey rsa:2048 -nodes -keyout test_dep_key.pem -out test_dep_cert.pem \
  -days 36500 -subj "/CN=autoenroll-test-dep" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment" 2>/dev/null
JSON='{"consumer_key":"CK_fixture0123456789abcdef0123456789abcdef","consumer_secret":"CS_fixture0123456789abcdef0123456789abcdef","access_token":"AT_O1234567890O0123456789abcdefO1234567890","access_secret":"AS_fixture0123456789abcdef0123456789abcdef","access_token_expiry":"2031-01-01T00:00:00Z"}'
# 1. As the portal hands it out: inner MIME header, BEGIN/END MESSAGE lines, CRLF.
printf 'Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n-----BEGIN MESSAGE-----\r\n%s\r\n-----END MESSAGE-----\r\n' \
  "$JSON" > inner_markers.txt
openssl smime -encrypt -aes128 -binary -stream -in inner_markers.txt \
  -out token_cli_markers_smime.p7m test_dep_cert.pem
# 2. Apple's documentation sample style: no markers, JSON wrapped at 80 columns mid-value, LF.
printf 'Content-Type: text/plain;charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n' > inner_wrapped.txt
printf '%s\n' "$JSON" | fold -w 80 >> inner_wrapped.txt
openssl smime -encrypt -aes128 -binary -stream -in inner_wrapped.txt \
  -out token_cli_wrapped_smime.p7m test_dep_cert.pem
rm -f inner_markers.txt inner_wrapped.txt
