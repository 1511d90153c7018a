#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets dep_token, machine_info, checkin and json_body
# (tests/fuzz/corpus/<name>/) with the OpenSSL command line, from the repo's own fixtures:
#   tests/fuzz/make_seeds.sh          all four (files named crash-* are kept, others rewritten)
#   tests/fuzz/make_seeds.sh keys     prints a fresh device CA, CA key, device certificate
#                                     and device key, to paste into machine_info_fuzz.cc
# The keys come from the fuzz targets themselves (the PEM constants in *_fuzz.cc), so the
# seeds always match them: dep_token_fuzz.cc holds tests/fixtures/apple_dep/test_dep_*.pem,
# machine_info_fuzz.cc a throw-away EC device CA made by `keys`. CMS encryption uses random
# content keys, so the sealed and signed seeds differ from run to run; only their meaning is
# fixed. Binary plists need python3 (plistlib); without it they are skipped.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "${1:-}" = keys ]; then
  cd "$tmp"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca_key.pem \
    -out ca.pem -days 36500 -subj "/C=US/O=Test Devices/OU=Test iPhone/CN=Fuzz iPhone Device CA" \
    -addext "basicConstraints=critical,CA:true" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout dev_key.pem \
    -out dev.csr 2>/dev/null \
    -subj "/CN=00008110-000A1B2C3D4E5F60/C=US/O=Test Devices/OU=iPhone/serialNumber=F2LXK0AAHG7F"
  printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >ext.cnf
  openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca_key.pem -set_serial 0x2a -days 36500 \
    -sha256 -extfile ext.cnf -out dev.pem 2>/dev/null
  for f in ca.pem ca_key.pem dev.pem; do echo "== $f"; cat "$f"; done
  echo "== dev_key.pem"; openssl pkey -in dev_key.pem
  exit 0
fi

# pem FILE NAME: the raw-string PEM constant NAME of a fuzz target.
pem() { awk -v n="$2" 'index($0, n "[] = R\"pem(") {f=1; next} f && /^\)pem";$/ {f=0} f' "$1"; }

# fresh DIR: empties a corpus folder but keeps the crash-* reproducers.
fresh() {
  mkdir -p "$1"
  find "$1" -maxdepth 1 -type f ! -name 'crash-*' -delete
}

have_python=0
if command -v python3 >/dev/null 2>&1 && python3 -c 'import plistlib' 2>/dev/null; then
  have_python=1
fi
# binary_plist IN OUT: the XML plist IN as a binary plist.
binary_plist() {
  [ "$have_python" = 1 ] || return 0
  python3 -c 'import plistlib,sys; d=plistlib.load(open(sys.argv[1],"rb")); open(sys.argv[2],"wb").write(plistlib.dumps(d, fmt=plistlib.FMT_BINARY))' "$1" "$2"
}

plist_head='<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">'

# ---- dep_token ----------------------------------------------------------------------------
out=$here/corpus/dep_token
fresh "$out"
pem dep_token_fuzz.cc kServerCertPem >"$tmp/server.pem"
pem dep_token_fuzz.cc kServerKeyPem >"$tmp/server_key.pem"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/other_key.pem" -out "$tmp/other.pem" \
  -days 3650 -subj "/CN=another MDM server" 2>/dev/null

token() {  # token CONSUMER_KEY EXPIRY: the token JSON
  printf '{"consumer_key":"%s","consumer_secret":"CS_seed0123456789abcdef0123456789abcdef","access_token":"AT_seed0123456789abcdef0123456789abcdef","access_secret":"AS_seed0123456789abcdef0123456789abcdef","access_token_expiry":"%s"}' "$1" "$2"
}
valid=$(token CK_seed0123456789abcdef0123456789abcdef 2031-01-01T00:00:00Z)
expired=$(token CK_seed0123456789abcdef0123456789abcdef 2020-01-01T00:00:00Z)
# inner JSON EOL MARKERS: the decrypted MIME entity as the portal writes it.
inner() {
  printf 'Content-Type: text/plain;charset=UTF-8%sContent-Transfer-Encoding: 7bit%s%s' "$2" "$2" "$2"
  [ "$3" = yes ] && printf -- '-----BEGIN MESSAGE-----%s' "$2"
  printf '%s%s' "$1" "$2"
  [ "$3" = yes ] && printf -- '-----END MESSAGE-----%s' "$2"
  return 0
}
# seal_der RECIPIENT...: stdin sealed as BER (indefinite length) CMS EnvelopedData, AES-128-CBC.
seal_der() {
  cat >"$tmp/in"
  openssl cms -encrypt -aes128 -binary -stream -outform DER -in "$tmp/in" "$@"
}
# apple: stdin (DER) with Apple's portal header and 76-column base64.
apple() {
  printf 'Content-Type: application/pkcs7-mime; name="smime.p7m";\n\tsmime-type=enveloped-data\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="smime.p7m"\nContent-Description: S/MIME Encrypted Message\n\n'
  base64 -w 76
}
inner "$valid" $'\r\n' yes | seal_der "$tmp/server.pem" | apple >"$out/apple_crlf_markers.p7m"
inner "$valid" $'\n' no | seal_der "$tmp/server.pem" >"$out/raw_ber.der"
base64 -w 64 "$out/raw_ber.der" >"$out/bare_base64.p7m"
inner "$(printf '%s' "$valid" | fold -w 23)" $'\n' no | seal_der "$tmp/server.pem" | apple >"$out/json_folded_mid_value.p7m"
inner "$valid" $'\r\n' yes >"$tmp/inner"
openssl smime -encrypt -aes128 -binary -stream -in "$tmp/inner" "$tmp/server.pem" >"$out/openssl_smime.p7m"
inner "$expired" $'\r\n' yes | seal_der "$tmp/server.pem" | apple >"$out/expired.p7m"
inner "${valid/\"access_secret\":\"AS_seed0123456789abcdef0123456789abcdef\",/}" $'\n' yes |
  seal_der "$tmp/server.pem" | apple >"$out/missing_access_secret.p7m"
inner '{"consumer_key":"CK","access_token_expiry":"not a time"' $'\n' yes |
  seal_der "$tmp/server.pem" | apple >"$out/bad_json_inside.p7m"
inner "$valid" $'\n' yes | seal_der "$tmp/other.pem" | apple >"$out/other_recipient.p7m"
inner "$valid" $'\n' yes | seal_der "$tmp/other.pem" "$tmp/server.pem" | apple >"$out/two_recipients.p7m"
head -c 700 "$out/apple_crlf_markers.p7m" >"$out/truncated_base64.p7m"
head -c 300 "$out/raw_ber.der" >"$out/truncated_ber.der"
printf '%s' "$valid" >"$tmp/json"
openssl cms -sign -binary -nodetach -outform DER -in "$tmp/json" -signer "$tmp/server.pem" \
  -inkey "$tmp/server_key.pem" | apple >"$out/signed_not_enveloped.p7m"
printf 'Content-Type: application/pkcs7-mime;\n smime-type=enveloped-data\n' >"$out/header_without_end.p7m"
printf 'Content-Type: application/pkcs7-mime\n\n!!!! not base64 !!!!\n' >"$out/body_not_base64.p7m"
cp ../fixtures/apple_dep/token_cli_markers_smime.p7m ../fixtures/apple_dep/token_cli_wrapped_smime.p7m "$out/"
# Token JSON alone (the target seals it itself).
printf '%s' "$valid" >"$out/token.json"
printf '%s' "$expired" >"$out/token_expired.json"
token CK_x 2031-07-01T22:18:53.250+02:00 >"$out/token_offset_fraction.json"
printf '{"consumer_key":"","consumer_secret":"s","access_token":"t","access_secret":"a","access_token_expiry":"2031-01-01T00:00:00Z"}' >"$out/token_empty_field.json"
printf '{"consumer_key":"k","consumer_secret":"s","access_token":"t","access_secret":"a","access_token_expiry":"2031-02-30T25:00:00Z"}' >"$out/token_bad_expiry.json"
printf '{"consumer_key":1,"consumer_secret":["s"],"access_token":null,"access_secret":{},"access_token_expiry":true}' >"$out/token_wrong_types.json"
printf '{"consumer_key":"k\\u00e9\\ud83d\\ude00","consumer_secret":"s\\"q","access_token":"t","access_secret":"a","access_token_expiry":"2031-01-01T00:00:00Z","extra":[1,2,{"x":null}]}' >"$out/token_unicode_extra.json"
printf '{"consumer_key":"k"' >"$out/token_truncated.json"

# ---- machine_info -------------------------------------------------------------------------
out=$here/corpus/machine_info
fresh "$out"
pem machine_info_fuzz.cc kDeviceCaPem >"$tmp/ca.pem"
pem machine_info_fuzz.cc kDeviceCertPem >"$tmp/dev.pem"
pem machine_info_fuzz.cc kDeviceKeyPem >"$tmp/dev_key.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp/rogue_key.pem" -out "$tmp/rogue.pem" -days 3650 \
  -subj "/CN=00008110-000A1B2C3D4E5F60" 2>/dev/null
mi() {  # mi BODY: a MachineInfo plist around the dict BODY
  printf '%s\n<dict>\n%s</dict>\n</plist>\n' "$plist_head" "$1"
}
full='	<key>UDID</key><string>00008110-000A1B2C3D4E5F60</string>
	<key>SERIAL</key><string>F2LXK0AAHG7F</string>
	<key>PRODUCT</key><string>iPhone14,2</string>
	<key>VERSION</key><string>21E219</string>
	<key>OS_VERSION</key><string>17.4</string>
	<key>IMEI</key><string>35 391805 123456 7</string>
	<key>MEID</key><string>35391805123456</string>
	<key>LANGUAGE</key><string>en</string>
	<key>MDM_CAN_REQUEST_SOFTWARE_UPDATE</key><true/>
'
mi "$full" >"$out/machineinfo.plist"
binary_plist "$out/machineinfo.plist" "$out/machineinfo_binary.plist"
mi '	<key>UDID</key><string>0000-1111</string><key>SERIAL</key><string>C02ABC</string>
' >"$out/minimal.plist"
mi '	<key>UDID</key><string>00008110-000A1B2C3D4E5F60</string>
' >"$out/missing_serial.plist"
mi '	<key>UDID</key><string>has space</string><key>SERIAL</key><string>C02-ABC</string>
' >"$out/bad_identifiers.plist"
mi '	<key>UDID</key><string>U1</string><key>SERIAL</key><integer>42</integer>
	<key>MDM_CAN_REQUEST_SOFTWARE_UPDATE</key><string>yes</string>
' >"$out/wrong_types.plist"
mi "	<key>UDID</key><string>U1</string><key>SERIAL</key><string>S1</string>
	<key>PRODUCT</key><string>$(printf 'x%.0s' $(seq 300))</string>
" >"$out/field_too_long.plist"
mi '	<key>UDID</key><string>U1</string><key>SERIAL</key><string>S1</string>
	<key>LANGUAGE</key><string>fr-CA &amp; ja &#x65E5;&#26412;</string>
' >"$out/entities.plist"
printf '%s\n<array><string>UDID</string></array>\n</plist>\n' "$plist_head" >"$out/not_a_dict.plist"
head -c 200 "$out/machineinfo.plist" >"$out/truncated.plist"
# sign IN OUT [openssl cms options]: IN signed by the fixed device, CA attached.
sign() {
  local in=$1 o=$2
  shift 2
  openssl cms -sign -nodetach -binary -outform DER -in "$in" -signer "$tmp/dev.pem" \
    -inkey "$tmp/dev_key.pem" -certfile "$tmp/ca.pem" "$@" >"$o"
}
sign "$out/machineinfo.plist" "$out/signed.der" -md sha256
sign "$out/machineinfo.plist" "$out/signed_sha1.der" -md sha1
sign "$out/machineinfo.plist" "$out/signed_no_attributes.der" -noattr
sign "$out/minimal.plist" "$out/signed_minimal.der"
sign "$out/missing_serial.plist" "$out/signed_missing_serial.der"
[ -f "$out/machineinfo_binary.plist" ] && sign "$out/machineinfo_binary.plist" "$out/signed_binary_plist.der"
openssl cms -sign -binary -outform DER -in "$out/machineinfo.plist" -signer "$tmp/dev.pem" \
  -inkey "$tmp/dev_key.pem" >"$out/signed_detached.der"
openssl cms -sign -nodetach -binary -outform DER -in "$out/machineinfo.plist" \
  -signer "$tmp/rogue.pem" -inkey "$tmp/rogue_key.pem" >"$out/signed_by_rogue_ca.der"
openssl cms -sign -nodetach -binary -outform DER -in "$out/machineinfo.plist" -signer "$tmp/dev.pem" \
  -inkey "$tmp/dev_key.pem" -signer "$tmp/rogue.pem" -inkey "$tmp/rogue_key.pem" >"$out/two_signers.der"
openssl cms -sign -nodetach -binary -outform DER -in "$out/machineinfo.plist" -signer "$tmp/dev.pem" \
  -inkey "$tmp/dev_key.pem" -nocerts >"$out/signed_no_certificates.der"
head -c 400 "$out/signed.der" >"$out/truncated_signed.der"
openssl cms -encrypt -aes128 -binary -outform DER -in "$out/machineinfo.plist" "$tmp/dev.pem" >"$out/enveloped_not_signed.der"

# ---- checkin ------------------------------------------------------------------------------
out=$here/corpus/checkin
fresh "$out"
pl() { printf '%s\n<dict>\n%s</dict>\n</plist>\n' "$plist_head" "$2" >"$out/$1.plist"; }
udid='<key>UDID</key><string>00008110-000A1B2C3D4E5F60</string>'
topic='<key>Topic</key><string>com.apple.mgmt.External.3f2a4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d</string>'
pl authenticate "<key>MessageType</key><string>Authenticate</string>$udid$topic
<key>SerialNumber</key><string>F2LXK0AAHG7F</string><key>Model</key><string>iPhone14,2</string>
<key>ModelName</key><string>iPhone</string><key>ProductName</key><string>iPhone14,2</string>
<key>OSVersion</key><string>17.4</string><key>BuildVersion</key><string>21E219</string>
<key>IMEI</key><string>35 391805 123456 7</string><key>MEID</key><string>35391805123456</string>
"
pl token_update "<key>MessageType</key><string>TokenUpdate</string>$udid$topic
<key>Token</key><data>q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=</data>
<key>PushMagic</key><string>2C5A1E4B-7D3F-4E9A-8B6C-0D1E2F3A4B5C</string>
<key>UnlockToken</key><data>AAECAwQFBgcICQoLDA0ODw==</data>
<key>AwaitingConfiguration</key><true/>
"
pl token_update_user_channel "<key>MessageType</key><string>TokenUpdate</string>$udid$topic
<key>Token</key><data>AQID</data><key>PushMagic</key><string>pm</string>
<key>UserID</key><string>A1B2C3D4-0000-1111-2222-333344445555</string>
<key>UserShortName</key><string>ann</string>
"
pl checkout "<key>MessageType</key><string>CheckOut</string>$udid$topic"
pl unknown_type "<key>MessageType</key><string>GetBootstrapToken</string>$udid
<key>AwaitingConfiguration</key><false/>"
pl token_update_missing_token "<key>MessageType</key><string>TokenUpdate</string>$udid$topic
<key>PushMagic</key><string>pm</string>"
pl token_as_string "<key>MessageType</key><string>TokenUpdate</string>$udid$topic
<key>Token</key><string>AQID</string><key>PushMagic</key><string>pm</string>"
pl awaiting_not_bool "<key>MessageType</key><string>Authenticate</string>$udid$topic
<key>AwaitingConfiguration</key><string>true</string>"
pl no_udid "<key>MessageType</key><string>Authenticate</string>$topic"
pl idle "$udid<key>Status</key><string>Idle</string>"
pl acknowledged "$udid<key>Status</key><string>Acknowledged</string>
<key>CommandUUID</key><string>0190f0a1-7c2e-7b3d-9e4f-5a6b7c8d9e0f</string>"
pl error_chain "$udid<key>Status</key><string>Error</string>
<key>CommandUUID</key><string>0190f0a1-7c2e-7b3d-9e4f-5a6b7c8d9e0f</string>
<key>ErrorChain</key><array>
<dict><key>ErrorCode</key><integer>12021</integer><key>ErrorDomain</key><string>MCMDMErrorDomain</string>
<key>LocalizedDescription</key><string>Die App konnte nicht installiert werden.</string>
<key>USEnglishDescription</key><string>The app could not be installed.</string></dict>
<dict><key>ErrorCode</key><integer>-1</integer><key>ErrorDomain</key><string>NSURLErrorDomain</string>
<key>LocalizedDescription</key><string>&#x63A5;&#x7D9A;&#x3067;&#x304D;&#x307E;&#x305B;&#x3093;</string></dict>
<string>not a dict</string>
</array>"
pl not_now "$udid<key>Status</key><string>NotNow</string>
<key>CommandUUID</key><string>0190f0a1-7c2e-7b3d-9e4f-5a6b7c8d9e0f</string>"
pl unknown_status "$udid<key>Status</key><string>Pending</string>"
pl error_chain_not_array "$udid<key>Status</key><string>Error</string>
<key>CommandUUID</key><string>u</string><key>ErrorChain</key><dict/>"
pl command_install "<key>Command</key><dict><key>ManagementFlags</key><integer>1</integer>
<key>ManifestURL</key><string>https://mdm.example.com/agent/manifest.plist</string>
<key>RequestType</key><string>InstallApplication</string></dict>
<key>CommandUUID</key><string>0190f0a1-7c2e-7b3d-9e4f-5a6b7c8d9e0f</string>"
pl command_device_configured "<key>Command</key><dict><key>RequestType</key><string>DeviceConfigured</string></dict>
<key>CommandUUID</key><string>0190f0a1-7c2e-7b3d-9e4f-5a6b7c8d9e10</string>"
pl command_not_dict "<key>Command</key><string>DeviceConfigured</string><key>CommandUUID</key><string>u</string>"
for f in authenticate token_update checkout error_chain command_install; do
  binary_plist "$out/$f.plist" "$out/${f}_binary.bplist"
done
printf '%s\n<array><string>Authenticate</string></array>\n</plist>\n' "$plist_head" >"$out/not_a_dict.plist"
head -c 300 "$out/token_update.plist" >"$out/truncated.plist"
[ -f "$out/checkout_binary.bplist" ] && head -c 60 "$out/checkout_binary.bplist" >"$out/truncated_binary.bplist"
printf 'bplist00' >"$out/bplist_magic_only.bplist"

# ---- json_body ----------------------------------------------------------------------------
out=$here/corpus/json_body
fresh "$out"
j() { printf '%s' "$2" >"$out/$1.json"; }
j user '{"username":"ann","role":"device_user","display_name":"Ann Example","email":"ann@example.com"}'
j user_bad_email '{"username":"bob","role":"administrator","email":"bob"}'
j user_missing_role '{"username":"carol"}'
j user_role_number '{"username":"dave","role":7}'
j named '{"name":"Default policy"}'
j dep_account '{"name":"Campus"}'
j dep_account_empty_name '{"name":""}'
j dep_profile '{"account_id":"acc_0123456789abcdef","profile_name":"Staff","url":"https://mdm.example.com/enroll/apple","is_supervised":true,"is_mandatory":true,"is_mdm_removable":false,"await_device_configured":true,"allow_pairing":true,"is_multi_user":false,"auto_advance_setup":false,"do_not_use_profile_from_backup":false,"support_phone_number":"+1 555 0100","support_email_address":"it@example.com","department":"IT","org_magic":"913FABBB-0032-4E13-9966-D6BBAC900331","language":"en","region":"US","skip_setup_items":["AppleID","SIMSetup","TOS"],"anchor_certs":[],"supervising_host_certs":[]}'
j dep_profile_flags_invalid '{"account_id":"acc_1","profile_name":"P","await_device_configured":true,"is_supervised":false}'
j dep_profile_bad_url '{"account_id":"acc_1","profile_name":"P","url":"ftp://x"}'
j dep_profile_bad_lists '{"account_id":"acc_1","profile_name":"P","skip_setup_items":"AppleID","anchor_certs":[1]}'
j dep_device_assign '{"profile_id":"prof_0123456789abcdef","user":"ann","policy":"Default policy","ruleset":null}'
j dep_device_unknown_field '{"profile_id":"prof_1","colour":"blue"}'
j disown '{"confirm_serial_number":"c02000000001"}'
j enroll_android '{"source":"knox_deployment","enrollment_token":"0123456789abcdef0123456789abcdef","imei":"353918051234563","imei2":"","meid":null,"serial_number":"R58N123ABCD","model":"SM-G991B","user_id":"ann","password":"ignored"}'
j enroll_android_bad_source '{"source":"adb"}'
j kme_device_assign '{"user":"","policy":"Kiosk","ruleset":"Default"}'
j knox_connect '{"base_url":"https://eu-kcs-api.samsungknox.com/kcs/v1","token_url":"https://eu-kcs-api.samsungknox.com/ams/v1/users/accesstoken","client_id":"client-1","client_secret":"s3cr3t","customer_id":"123456","auto_approve_uploads":true}'
j knox_connect_bad_url '{"base_url":"http://host:99999/x?y","client_id":"c"}'
j knox_connect_ipv6 '{"base_url":"HTTP://[::1]:8443/prefix//","client_id":"c\u0001"}'
j unicode_escapes '{"username":"\u00e9\ud83d\ude00\u0000","name":"a\"b\\c\/d\b\f\n\r\t"}'
j numbers '{"name":1e400,"x":-0.0,"y":123456789012345678901234567890,"z":[true,false,null]}'
j duplicate_keys '{"name":"a","name":"b"}'
j nested '{"a":[[[[[[[[[[{"b":[{"c":{}}]}]]]]]]]]]]}'
j not_object '["username","ann"]'
j scalar '"ann"'
j truncated '{"username":"ann","ro'
j trailing_garbage '{"name":"x"} {}'
j empty ''
j bom $'\xef\xbb\xbf{"name":"x"}'
j invalid_utf8 $'{"name":"\xc3\x28"}'
j comments '{"name":/* c */"x"}'
echo "seeds written: $(ls "$here"/corpus/{dep_token,machine_info,checkin,json_body} | grep -vc ':$\|^$')"
