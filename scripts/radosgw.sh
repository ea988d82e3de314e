#!/usr/bin/env bash
# A throwaway single-node Ceph radosgw on 127.0.0.1 for tests: one mon, one memstore OSD (data in
# RAM) and one radosgw, all in one folder, with a user and a bucket.
#
#   scripts/radosgw.sh start DIR   starts it in DIR (created; must not exist) and prints the
#                                  settings to use it, as shell assignments (also kept in DIR/env)
#   scripts/radosgw.sh stop DIR    kills its daemons and removes DIR
#
# Installs nothing: it needs Debian's ceph-mon, ceph-osd and radosgw packages.
set -euo pipefail

BUCKET="${RADOSGW_BUCKET:-spool}"
ACCESS_KEY=testaccesskey
SECRET_KEY=testsecretkey

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

stop() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  # Its data is in RAM and thrown away: no clean shutdown to wait for.
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    local pid; pid="$(cat "$pidfile")"
    kill -9 "$pid" 2>/dev/null || true
    # Gone, or a zombie where nothing reaps orphans (a container without an init).
    for _ in $(seq 1 50); do
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" = Z ] && break
      sleep 0.1
    done
  done
  rm -rf "$dir"
}

start() {
  local dir="$1"
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph; do
    command -v "$tool" >/dev/null || { echo "radosgw.sh: $tool is not installed (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw)" >&2; exit 1; }
  done
  if [ -e "$dir" ]; then echo "radosgw.sh: $dir already exists" >&2; exit 1; fi
  mkdir -p "$dir"/{mon,osd,run,log}
  dir="$(cd "$dir" && pwd)"
  trap 'echo "radosgw.sh: start failed; logs in $dir/log:" >&2; tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true; [ -n "${RADOSGW_KEEP:-}" ] || stop "$dir"' ERR

  local mon_port rgw_port fsid conf="$dir/ceph.conf"
  mon_port="$(free_port)"
  rgw_port="$(free_port)"
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr1 = false
ms bind msgr2 = true
# Without cephx there is no secure mode; radosgw asks for it unless told crc.
ms mon client mode = crc
ms client mode = crc
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
keyring = $dir/keyring
mon data = $dir/mon
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.1
mon warn on pool no redundancy = false
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/run
rgw dns name = 127.0.0.1
# Deleted objects' data is freed by radosgw's garbage collector, after two hours by default: the
# store is in RAM, and a benchmark that writes and deletes a GB a minute would fill it first.
rgw gc obj min wait = 0
rgw gc processor period = 10
EOF
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  ceph-mon --mkfs -i a -c "$conf" --monmap "$dir/monmap" >/dev/null 2>&1
  ceph-mon -i a -c "$conf"
  local osd_uuid; osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  ceph --connect-timeout 20 -c "$conf" osd new "$osd_uuid" >/dev/null
  ceph-osd -i 0 -c "$conf" --mkfs --mkkey --no-mon-config --osd-uuid "$osd_uuid" >/dev/null 2>&1
  ceph-osd -i 0 -c "$conf"
  # Pools made up front, in one session: radosgw creating each lazily takes seconds.
  {
    for pool in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
                default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
      echo "osd pool create $pool 8 8"
      echo "osd pool application enable $pool rgw"
    done
  } | ceph --connect-timeout 20 -c "$conf" >/dev/null 2>&1
  timeout 30 radosgw -c "$conf" -n client.rgw
  timeout 20 radosgw-admin -c "$conf" -n client.rgw user create --uid=tests --display-name=tests \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null

  local endpoint="http://127.0.0.1:$rgw_port"
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "$endpoint/" && break
    sleep 0.1
  done
  curl -sf -o /dev/null -X PUT -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" "$endpoint/$BUCKET"

  cat >"$dir/env" <<EOF
S3_ENDPOINT=$endpoint
AWS_ACCESS_KEY_ID=$ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$SECRET_KEY
AWS_REGION=us-east-1
S3_BUCKET=$BUCKET
EOF
  cat "$dir/env"
  trap - ERR
}

case "${1:-}" in
  start) start "${2:?usage: radosgw.sh start DIR}" ;;
  stop) stop "${2:?usage: radosgw.sh stop DIR}" ;;
  *) echo "usage: radosgw.sh start|stop DIR" >&2; exit 2 ;;
esac
