#!/usr/bin/env bash
# Installs and runs throw-away Request Tracker 5 instances for casebridge's
# tests and sandbox. Nothing under /etc is edited: each instance has its own
# RT_SiteConfig.pm, SQLite database, Mason cache and mailbox in one directory.
#
#   scripts/rt.sh install              install RT 5 from Debian's packages (root)
#   scripts/rt.sh check                exit 0 when RT 5 is installed, else say how to install it
#   scripts/rt.sh start <dir> <port>   create an instance in <dir> and serve it on 127.0.0.1:<port>
#   scripts/rt.sh stop <dir>           stop the instance's server (its whole process group)
#
# The instance has a sync user "gcp-sync" (password in <dir>/sync-password),
# root (password in <dir>/root-password), the custom fields "GCP Case",
# "GCP Sync", "Google Case State", "Escalate to Google", "Google Escalation
# Reason" and "Google Escalation Justification" on queue General, a few
# human agents (agent-alice, agent-bob), and casebridge's webhook scrip. start sets the scrip's URL and secret from
# CB_RT_WEBHOOK_URL and CB_RT_WEBHOOK_SECRET (both empty by default: the
# scrip then sends nothing).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
data="$here/rt"

RT_SETUP=/usr/sbin/rt-setup-database-5
RT_SERVER=/usr/share/request-tracker5/libexec/rt-server
RT_PACKAGES=(request-tracker5 rt5-db-sqlite rt5-standalone)

die() { echo "rt.sh: $*" >&2; exit 1; }

installed() {
  [ -x "$RT_SETUP" ] && [ -x "$RT_SERVER" ] || return 1
  local p
  for p in "${RT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}

cmd_check() {
  if ! installed; then
    echo "Request Tracker 5 is not installed: run scripts/rt.sh install (as root; Debian 12 packages ${RT_PACKAGES[*]})" >&2
    exit 1
  fi
}

cmd_install() {
  if installed; then
    echo "Request Tracker 5 is already installed."
    return 0
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install ${RT_PACKAGES[*]} (Debian 12 or later) by hand"
  [ "$(id -u)" = 0 ] || die "installing Request Tracker needs root: run sudo scripts/rt.sh install"
  echo "Installing Request Tracker 5 from Debian's packages (about 90 s, ~70 MB download)..."
  apt-get update -qq
  # The packaged default instance is never used (each test instance has its
  # own config and database); these answers only make the install unattended.
  local pw
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  debconf-set-selections <<SEL
request-tracker5 request-tracker5/rtname string rt.example.test
request-tracker5 request-tracker5/organization string example.test
request-tracker5 request-tracker5/correspondaddress string rt@example.test
request-tracker5 request-tracker5/commentaddress string rt-comment@example.test
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:8080
request-tracker5 request-tracker5/initial-root-password password $pw
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
SEL
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${RT_PACKAGES[@]}" >/dev/null
  installed || die "the packages were installed but $RT_SETUP or $RT_SERVER is missing"
  echo "Request Tracker 5 installed."
}

randpw() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

# write_webhook_config writes the site config the webhook scrip reads
# (scripts/rt/initialdata.pl), rewritten at every start. It holds a secret,
# so only its owner may read it.
write_webhook_config() {
  local dir=$1 url=${CB_RT_WEBHOOK_URL:-} secret=${CB_RT_WEBHOOK_SECRET:-}
  [[ "$url$secret" != *$'\n'* ]] || die "CB_RT_WEBHOOK_URL and CB_RT_WEBHOOK_SECRET must be one line each"
  [ -z "$url" ] || printf '%s\n' "$url" | grep -Eqx "https?://[^'[:space:]\\]+" ||
    die "CB_RT_WEBHOOK_URL must be empty or an http(s) URL without quotes, backslashes or spaces"
  [ -z "$secret" ] || printf '%s\n' "$secret" | grep -Eqx '[A-Za-z0-9._~+/=-]+' ||
    die "CB_RT_WEBHOOK_SECRET may hold only letters, digits and ._~+/=-"
  (umask 077
   cat >"$dir/etc/RT_SiteConfig.d/60-casebridge-webhook.pm" <<CONF
# casebridge's webhook scrip: where to POST, and the HMAC secret. An empty
# URL turns the scrip off. Written by scripts/rt.sh start.
Set(\$CasebridgeWebhookURL, '$url');
Set(\$CasebridgeWebhookSecret, '$secret');
Set(\$CasebridgeSyncUser, 'gcp-sync');
1;
CONF
  )
}

cmd_start() {
  local dir=${1:-} port=${2:-}
  [ -n "$dir" ] && [ -n "$port" ] || die "usage: $0 start <dir> <port>"
  [[ "$port" =~ ^[0-9]+$ ]] || die "port '$port' is not a number"
  cmd_check
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/rt.pid" ] && kill -0 "$(cat "$dir/rt.pid")" 2>/dev/null; then
    die "an instance is already running from $dir (pid $(cat "$dir/rt.pid")): run $0 stop $dir first"
  fi
  mkdir -p "$dir/etc/RT_SiteConfig.d" "$dir/var" "$dir/mason" "$dir/sessions"
  cat >"$dir/etc/RT_SiteConfig.pm" <<CONF
# A throw-away Request Tracker instance made by casebridge's scripts/rt.sh.
Set(\$rtname, 'rt.example.test');
Set(\$Organization, 'example.test');
Set(\$CorrespondAddress, 'rt@example.test');
Set(\$CommentAddress, 'rt-comment@example.test');
Set(\$DatabaseType, 'SQLite');
Set(\$DatabaseName, '$dir/rt.db');
Set(\$WebPath, '');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $port);
Set(\$WebBaseURL, 'http://127.0.0.1:$port');
Set(\$MasonDataDir, '$dir/mason');
Set(\$MasonSessionDir, '$dir/sessions');
Set(\$MailCommand, 'mbox'); # outgoing mail goes to an mbox file in $dir/var, never out
Set(\$BcryptCost, 4);       # cheap password and token hashing: a test instance only
Set(\$Timezone, 'UTC');
Set(\$LogToSTDERR, 'warning');
Set(\$LogToSyslog, undef);
Set(\$LogToFile, undef);
\$RT::VarPath = '$dir/var';
1;
CONF
  write_webhook_config "$dir"
  export RT_SITE_CONFIG="$dir/etc/RT_SiteConfig.pm" RT_SITE_CONFIG_DIR="$dir/etc/RT_SiteConfig.d"
  if [ ! -f "$dir/rt.db" ]; then
    rm -f "$dir/sync-token"
    export CB_RT_DIR="$dir"
    export CB_RT_SYNC_PASSWORD CB_RT_ROOT_PASSWORD CB_RT_AGENT_PASSWORD
    CB_RT_SYNC_PASSWORD=$(randpw) CB_RT_ROOT_PASSWORD=$(randpw) CB_RT_AGENT_PASSWORD=$(randpw)
    (umask 077
     printf '%s\n' "$CB_RT_SYNC_PASSWORD" >"$dir/sync-password"
     printf '%s\n' "$CB_RT_ROOT_PASSWORD" >"$dir/root-password"
     printf '%s\n' "$CB_RT_AGENT_PASSWORD" >"$dir/agent-password")
    if ! "$RT_SETUP" --action init --skip-create </dev/null >"$dir/setup.log" 2>&1 ||
       ! "$RT_SETUP" --action insert --skip-create --datafile "$data/initialdata.pl" </dev/null >>"$dir/setup.log" 2>&1; then
      rm -f "$dir/rt.db"
      die "setting up the database failed; see $dir/setup.log"
    fi
    [ -s "$dir/sync-token" ] || die "the sync user's token was not written; see $dir/setup.log"
  fi
  : >"$dir/server.log"
  # The server needs none of the secrets the setup read from the environment.
  unset CB_RT_SYNC_PASSWORD CB_RT_ROOT_PASSWORD CB_RT_AGENT_PASSWORD CB_RT_WEBHOOK_SECRET
  setsid "$RT_SERVER" --host 127.0.0.1 --port "$port" --max-workers 2 >>"$dir/server.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/rt.pid"
  local token url="http://127.0.0.1:$port/REST/2.0/rt" i
  token=$(cat "$dir/sync-token")
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$dir/rt.pid"
      die "rt-server exited while starting; see $dir/server.log"
    fi
    if curl -fsS -o /dev/null -H "Authorization: token $token" "$url" 2>/dev/null; then
      echo "Request Tracker is ready at http://127.0.0.1:$port (pid $pid, dir $dir)"
      return 0
    fi
    sleep 0.1
  done
  cmd_stop "$dir" || true
  die "rt-server did not answer $url within 30 s; see $dir/server.log"
}

cmd_stop() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 stop <dir>"
  [ -f "$dir/rt.pid" ] || return 0
  local pid i
  pid=$(cat "$dir/rt.pid")
  # rt-server was started with setsid: its pid is its process group id, and
  # the group holds the prefork workers too.
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$dir/rt.pid"
  if kill -0 -- "-$pid" 2>/dev/null; then
    die "processes of group $pid are still running"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  check) cmd_check ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 install | check | start <dir> <port> | stop <dir>" >&2; exit 2 ;;
esac
