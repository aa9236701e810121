#!/usr/bin/env bash
# Sets up a private Postfix instance for the SMTP bench: installs Debian's postfix package if it
# is missing, then writes a config under DIR that listens on 127.0.0.1:PORT only and delivers
# RECIPIENT to a Maildir under DIR, with no DNS. It does not start Postfix: the bench runs
# `postfix -c DIR/etc start` and `postfix -c DIR/etc stop` itself.
#
# Usage: setup-postfix.sh DIR PORT RECIPIENT
# Prints, on its last line, the Maildir (with trailing slash) the recipient's mail lands in.
set -euo pipefail
. "$(dirname "$0")/../lib/postfix-common.sh"

if [ $# -ne 3 ]; then
  echo "usage: $0 DIR PORT RECIPIENT" >&2
  exit 2
fi
dir=$1
port=$2
rcpt=$3
domain=${rcpt#*@}
local_part=${rcpt%@*}

postfix_require_root
postfix_install
export PATH="/usr/sbin:/usr/lib/postfix/sbin:$PATH"

# A user the virtual(8) agent delivers as. virtual_minimum_uid (default 100) rules out system
# users such as root.
vuid=$(id -u nobody)
vgid=$(id -g nobody)

postfix_dirs "$dir"
mkdir -p "$dir/mail"
chmod 0755 "$dir/mail"
maildir="$dir/mail/$domain/$local_part/Maildir/"
mkdir -p "$maildir/new" "$maildir/cur" "$maildir/tmp"
chown -R "$vuid:$vgid" "$dir/mail/$domain"

# Loopback only, no DNS, virtual delivery to a Maildir.
postfix_main_cf "$dir"
cat >>"$dir/etc/main.cf" <<EOF
lmtp_host_lookup = native
virtual_mailbox_domains = $domain
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_uid_maps = static:$vuid
virtual_gid_maps = static:$vgid
virtual_mailbox_limit = 0
EOF

echo "$rcpt $domain/$local_part/Maildir/" >"$dir/etc/vmailbox"

postfix_master_cf "$dir" "$port"
echo "virtual    unix - n n - - virtual" >>"$dir/etc/master.cf"

postfix -c "$dir/etc" check >&2
echo "$maildir"
