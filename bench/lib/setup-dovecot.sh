#!/usr/bin/env bash
# Sets up a private Dovecot instance for the IMAP and POP3 benches: installs Debian's
# dovecot-imapd and dovecot-pop3d if they are missing, then writes under DIR a config that
# listens on 127.0.0.1 only (IMAP on IMAP_PORT, POP3 on POP3_PORT, no TLS), its own base and
# state directories, a passwd-file with the bench users (plaintext passwords), and one Maildir
# per user. It does not start Dovecot: the bench runs `dovecot -c DIR/dovecot.conf` and stops
# it with `doveadm -c DIR/dovecot.conf stop` (or by killing the master).
#
# Usage: setup-dovecot.sh DIR IMAP_PORT POP3_PORT PASSWORD IMAP_CLIENT_LIMIT USER...
#   IMAP_CLIENT_LIMIT: connections one imap process serves. 1 is Dovecot's default (one process
#   per connection); the IDLE bench needs more, or 10,000 connections would be 10,000 processes.
# Prints, on its last line, the directory that holds the users' Maildirs (DIR/mail/USER/Maildir).
set -euo pipefail

if [ $# -lt 6 ]; then
  echo "usage: $0 DIR IMAP_PORT POP3_PORT PASSWORD IMAP_CLIENT_LIMIT USER..." >&2
  exit 2
fi
dir=$1
imap_port=$2
pop3_port=$3
password=$4
client_limit=$5
shift 5

if ! command -v dovecot >/dev/null 2>&1 || [ ! -x /usr/lib/dovecot/imap ] ||
  [ ! -x /usr/lib/dovecot/pop3 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-dovecot: dovecot-imapd and dovecot-pop3d are missing and only root can install them" >&2
    exit 3
  fi
  echo "setup-dovecot: installing Debian's dovecot-imapd and dovecot-pop3d" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d or no systemd keeps the system instance from starting; the bench uses its own.
  if ! apt-get install -y -q dovecot-imapd dovecot-pop3d >&2; then
    apt-get update -q >&2
    apt-get install -y -q dovecot-imapd dovecot-pop3d >&2
  fi
fi

# Dovecot refuses to deliver mail as root (first_valid_uid), so as root the mail belongs to
# `nobody` and Dovecot's own unprivileged users run the login and internal processes. As any
# other user, everything runs as that user.
if [ "$(id -u)" -eq 0 ]; then
  mail_uid=$(id -u nobody)
  mail_gid=$(id -g nobody)
  internal_user=dovecot
  login_user=dovenull
else
  mail_uid=$(id -u)
  mail_gid=$(id -g)
  internal_user=$(id -un)
  login_user=$(id -un)
fi

mkdir -p "$dir/run" "$dir/state" "$dir/mail"
# Every directory down to the Maildirs must be searchable by the mail user.
chmod 0755 "$dir" "$dir/mail"

: >"$dir/users"
for user in "$@"; do
  home="$dir/mail/$user"
  mkdir -p "$home/Maildir/cur" "$home/Maildir/new" "$home/Maildir/tmp"
  # passwd-file: user:password:uid:gid:(gecos):home:(shell):extra
  echo "$user:{PLAIN}$password:$mail_uid:$mail_gid::$home::" >>"$dir/users"
done
chown -R "$mail_uid:$mail_gid" "$dir/mail"
chmod 0644 "$dir/users"

# IDLE clients sharing an imap process are not woken by inotify here (and each process needs one
# of the user's 128 inotify instances): such an instance polls each second instead of 30.
idle_check=""
[ "$client_limit" -gt 1 ] && idle_check="mailbox_idle_check_interval = 1 s"

# 10,000 IDLE connections at IMAP_CLIENT_LIMIT each, plus headroom.
imap_processes=$((12000 / client_limit + 16))
[ "$imap_processes" -gt 1000 ] && imap_processes=1000

# Dovecot 2.3 spells "allow cleartext passwords" disable_plaintext_auth = no; 2.4 renamed it.
version=$(dovecot --version | cut -d. -f1,2)
if [ "$version" = "2.3" ] || [ "${version%%.*}" -lt 2 ]; then
  cleartext="disable_plaintext_auth = no"
else
  cleartext="auth_allow_cleartext = yes"
fi

cat >"$dir/dovecot.conf" <<EOF
# Private instance for bench/imap and bench/pop3: loopback only, no TLS, plaintext test users.
instance_name = bench-$imap_port
base_dir = $dir/run
state_dir = $dir/state
protocols = imap pop3
listen = 127.0.0.1
ssl = no
$cleartext
auth_mechanisms = plain login
log_path = $dir/dovecot.log
default_internal_user = $internal_user
default_login_user = $login_user
first_valid_uid = 1
mail_location = maildir:~/Maildir
# Durable against durable: Letterbox answers OK only after fsync, so Dovecot fsyncs too.
mail_fsync = always
# One address (127.0.0.1) makes every bench connection; the default allows 10 per user and IP.
mail_max_userip_connections = 20000
$idle_check
# No FTS plugin: Debian's default Dovecot answers SEARCH BODY by reading the messages.
pop3_uidl_format = %08Xu%08Xv
default_client_limit = 15000
default_process_limit = 1000
default_vsz_limit = 1G

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $dir/users
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    port = 0
  }
  # High-performance mode: a few login processes each take many connections.
  service_count = 0
  process_min_avail = 2
  client_limit = 15000
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pop3_port
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 1
}
service imap {
  # service_count = 1 (the default) ends a process after one connection, whatever client_limit.
  service_count = $([ "$client_limit" -gt 1 ] && echo 0 || echo 1)
  client_limit = $client_limit
  process_limit = $imap_processes
}
service pop3 {
  process_limit = 100
}
service anvil {
  client_limit = 15000
}
service auth {
  client_limit = 15000
}
service imap-hibernate {
  client_limit = 15000
}
EOF

dovecot -c "$dir/dovecot.conf" -n >/dev/null
echo "$dir/mail"
