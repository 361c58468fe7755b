#!/usr/bin/env bash
# Two upstream-mode proxies sharing a real Redis, in front of one gu1 (the simulator's REST API),
# as a load balancer would have them; the simulated gu1 sends its webhooks to proxy A only.
# - a webhook received by A answers a request held on B, fast;
# - the per-token rate limit is one bucket across A and B, and so is the per-entity cap on
#   sessions created; a webhook delivered to A and then to B is a duplicate on B;
# - Redis stopped: every request is still answered (held ones too), each proxy logs one warning;
# - Redis back: a webhook to A wakes B again;
# - Redis stalled (DEBUG SLEEP 0.7 s, then SIGSTOP for 3 s and SIGCONT), its connections kept:
#   each instance marks it down, then up again within a few seconds, and sharing resumes
#   (the rate limit is one bucket again, a webhook to A wakes B fast again).
# Needs redis-server (scripts/setup.sh installs it).
# - each proxy's /ready says whether Redis sharing is up, and its metrics (--metrics-listen)
#   pass `promtool check metrics` (Debian's prometheus package) and count Redis and wake-ups.
# Usage: multi.sh PROXY_BINARY FIRST_PORT   (uses FIRST_PORT .. FIRST_PORT+6, loopback only:
#        Redis, the simulator, its hosted pages, proxy A, proxy B, A's and B's metrics)
# Prints each check, then "proxy-multi: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
tests=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$tests/../.." && pwd)
bin=$1 port=$2
log="$root/target/test-logs"
mkdir -p "$log"
redis_port=$port sim_port=$((port + 1)) hosted_port=$((port + 2)) a_port=$((port + 3)) b_port=$((port + 4))
a_metrics=http://127.0.0.1:$((port + 5))/metrics b_metrics=http://127.0.0.1:$((port + 6))/metrics
sim=http://127.0.0.1:$sim_port A=http://127.0.0.1:$a_port B=http://127.0.0.1:$b_port
token_secret=multi-tests-shared-secret-0123456789
webhook_secret=multi-tests-webhook-secret

passed=0 failed=0
check() { # name, then a command that succeeds when the check holds
  local name=$1; shift
  if "$@"; then echo "ok    $name"; passed=$((passed + 1)); else echo "FAIL  $name"; failed=$((failed + 1)); fi
}
finish() {
  echo "proxy-multi: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

command -v redis-server >/dev/null || { echo "redis-server is not installed (scripts/setup.sh)"; failed=1; finish; }
command -v promtool >/dev/null || { echo "promtool is not installed (Debian's prometheus; scripts/setup.sh)"; failed=1; finish; }

pids=() redis_pid=""
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  # Waited for, so a run right after this one does not find this Redis still on its port.
  [ -z "$redis_pid" ] || { kill -CONT "$redis_pid"; kill "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
  rm -f "$log"/multi-held-*
}
trap stop_all EXIT

start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --enable-debug-command local \
    >>"$log/multi-redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 50); do
    # Our Redis must be the one answering (another on the port would exit ours at once).
    kill -0 "$redis_pid" 2>/dev/null || break
    [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "redis-server did not answer on $redis_port"
  return 1
}
stop_redis() {
  kill "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  redis_pid=""
}
wait_health() { # url pid logfile
  for _ in $(seq 1 100); do
    curl -sf "$1/health" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; return 1; }
    sleep 0.1
  done
  echo "nothing answers on $1"
  return 1
}
start_proxy() { # name port metrics-port
  GU1_API_KEY=sk_test_simulator "$bin" upstream --listen "127.0.0.1:$2" --api-base "$sim" \
    --metrics-listen "127.0.0.1:$3" \
    --secret "$token_secret" --webhook-secret "$webhook_secret" \
    --redis-url "redis://127.0.0.1:$redis_port" --rate 0.2 --burst 4 --starts-per-entity 1 \
    --wait-refresh-secs 60 >"$log/multi-proxy-$1.log" 2>&1 &
  pids+=($!)
  wait_health "http://127.0.0.1:$2" "${pids[-1]}" "$log/multi-proxy-$1.log"
}

: >"$log/multi-redis.log"
start_redis || finish
"$bin" simulate --listen "127.0.0.1:$sim_port" --hosted-listen "127.0.0.1:$hosted_port" \
  --webhook-secret "$webhook_secret" --sim-webhook-url "$A/webhooks/gu1" --sim-webhook-delay-ms 0 \
  >"$log/multi-simulator.log" 2>&1 &
pids+=($!)
wait_health "$sim" "${pids[-1]}" "$log/multi-simulator.log" || finish
start_proxy a "$a_port" $((port + 5)) || finish
start_proxy b "$b_port" $((port + 6)) || finish

# A new entity with a session at gu1; sets $entity and $token.
new_entity() {
  entity=$(curl -sf -X POST "$sim/__control/sessions" -H 'Content-Type: application/json' -d '{}' \
    | sed -E 's/.*"entityId":"([^"]+)".*/\1/')
  token=$("$bin" token --entity "$entity" --secret "$token_secret")
}
etag_on() { # proxy
  curl -s -D - -o /dev/null -H "Authorization: Bearer $token" "$1/kyc/status" \
    | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}'
}
# Holds a status request on $1 for up to $2 seconds in the background; its answer goes to
# $held.{code,body,head}.
hold_on() {
  local tag
  tag=$(etag_on "$1")
  held=$log/multi-held-$RANDOM
  curl -s -o "$held.body" -D "$held.head" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H "If-None-Match: $tag" -H "Prefer: wait=$2" "$1/kyc/status" >"$held.code" &
  held_pid=$!
  sleep 0.5
}
ms() { echo $(($(date +%s%N) / 1000000)); }
decide() { # gu1 approves $entity; its webhook goes to A
  curl -sf -X POST "$sim/__control/entities/$entity/set" -H 'Content-Type: application/json' \
    -d '{"status": "approved"}' >/dev/null
}
held_answer() { # expected code, expected body text
  [ "$(cat "$held.code")" = "$1" ] && { [ -z "$2" ] || grep -q "$2" "$held.body"; }
}

cross_instance_wake() {
  new_entity
  hold_on "$B" 20
  local t0 t1
  t0=$(ms)
  decide
  wait "$held_pid"
  t1=$(ms)
  echo "      woken on B $((t1 - t0)) ms after gu1 decided (webhook to A)"
  held_answer 200 '"approved"' && [ $((t1 - t0)) -lt 1500 ]
}
check "a webhook to A answers a request held on B" cross_instance_wake

# A webhook posted straight to A, signed as gu1 signs, while gu1's own read still says pending.
shared_state() {
  new_entity
  local id now body sig
  id=$(curl -s -H "Authorization: Bearer $token" "$B/kyc/status" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  body="{\"event\":\"biometric.session_approved\",\"timestamp\":\"$now\",\"payload\":{\"id\":\"$id\",\"entityId\":\"$entity\",\"status\":\"approved\",\"updatedAt\":\"$now\"}}"
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$webhook_secret" | awk '{print $NF}')
  curl -sf -X POST "$A/webhooks/gu1" -H "X-Webhook-Signature: $sig" -d "$body" >/dev/null || return 1
  sleep 0.2
  curl -s -H "Authorization: Bearer $token" "$B/kyc/status" | grep -q '"status":"approved"'
}
check "a webhook's state received by A is served by B while gu1 lags" shared_state

shared_rate_limit() {
  new_entity
  local codes="" i
  for i in 1 2 3; do
    codes+="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$A/kyc/status") "
    codes+="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$B/kyc/status") "
  done
  echo "      6 requests alternating A and B, burst 4: $codes"
  [ "$(echo "$codes" | tr ' ' '\n' | grep -c 200)" -eq 4 ] && [ "$(echo "$codes" | tr ' ' '\n' | grep -c 429)" -eq 2 ]
}
check "the per-token rate limit is shared" shared_rate_limit

# The cap on sessions created (1 per entity here) is one bucket: a session started on A and
# cancelled, another start on B is refused.
shared_start_cap() {
  local e t codes="" r
  e=$(curl -sf -X POST "$sim/__control/sessions" -H 'Content-Type: application/json' \
    -d '{"start": false}' | sed -E 's/.*"entityId":"([^"]+)".*/\1/')
  t=$("$bin" token --entity "$e" --secret "$token_secret")
  for r in "$A/kyc/start" "$A/kyc/cancel" "$B/kyc/start"; do
    codes+="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $t" "$r") "
  done
  echo "      start on A, cancel on A, start on B: $codes"
  [ "$codes" = "201 200 429 " ]
}
check "the cap on sessions created per entity is shared" shared_start_cap

# One signed webhook delivered to A, then the same bytes to B (gu1 retrying on another
# instance, or a replay): B knows it was seen.
shared_dedup() {
  new_entity
  local now body sig first second
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  body="{\"event\":\"biometric.session_in_progress\",\"timestamp\":\"$now\",\"payload\":{\"id\":\"x\",\"entityId\":\"$entity\",\"status\":\"in_progress\"}}"
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$webhook_secret" | awk '{print $NF}')
  first=$(curl -s -X POST "$A/webhooks/gu1" -H "X-Webhook-Signature: $sig" -d "$body")
  second=$(curl -s -X POST "$B/webhooks/gu1" -H "X-Webhook-Signature: $sig" -d "$body")
  echo "      A: $first, B: $second"
  [ "$first" = '{"ok":true}' ] && [ "$second" = '{"duplicate":true,"ok":true}' ]
}
check "a webhook seen by A is a duplicate on B" shared_dedup

ready_says() { # proxy, expected body
  local got
  got=$(curl -s -w ' %{http_code}' "$1/ready")
  echo "      $1/ready: $got"
  [ "$got" = "$2 200" ]
}
check "/ready on A and B: ready, Redis sharing up" \
  bash -c "$(declare -f ready_says); ready_says $A '{\"ready\":true,\"redis\":\"up\"}' && ready_says $B '{\"ready\":true,\"redis\":\"up\"}'"
metric() { # url, series
  curl -s "$1" | awk -v s="$2" '$1 == s {print $2}'
}
scraped_well() {
  local a b
  curl -s "$a_metrics" >"$log/multi-metrics-a.txt" && curl -s "$b_metrics" >"$log/multi-metrics-b.txt" || return 1
  promtool check metrics <"$log/multi-metrics-a.txt" && promtool check metrics <"$log/multi-metrics-b.txt" || return 1
  a=$(metric "$a_metrics" 'gu1_kyc_proxy_webhooks_total{outcome="accepted"}')
  b=$(metric "$b_metrics" 'gu1_kyc_proxy_wakeups_total{source="peer"}')
  echo "      webhooks accepted by A: $a; wake-ups on B from A's webhooks: $b; redis_up A $(metric "$a_metrics" gu1_kyc_proxy_redis_up), B $(metric "$b_metrics" gu1_kyc_proxy_redis_up)"
  [ "${a:-0}" -ge 2 ] && [ "${b:-0}" -ge 2 ] && [ "$(metric "$a_metrics" gu1_kyc_proxy_redis_up)" = 1 ] \
    && [ "$(metric "$b_metrics" gu1_kyc_proxy_redis_up)" = 1 ]
}
check "metrics of A and B pass promtool and count webhooks, peer wake-ups and Redis" scraped_well

stop_redis
sleep 1.5
answered_without_redis() {
  new_entity
  local codes="" i
  for i in 1 2; do
    codes+="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$A/kyc/status") "
    codes+="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$B/kyc/status") "
  done
  echo "      without Redis: $codes"
  [ "$codes" = "200 200 200 200 " ]
}
check "Redis down: status requests are answered" answered_without_redis
held_without_redis() {
  new_entity
  hold_on "$B" 2
  wait "$held_pid"
  held_answer 304 '' && grep -qi '^preference-applied: wait=2' "$held.head"
}
check "Redis down: a held request ends with 304 as usual" held_without_redis
local_wake_without_redis() {
  new_entity
  hold_on "$A" 20
  decide
  wait "$held_pid"
  held_answer 200 '"approved"'
}
check "Redis down: a webhook still wakes its own instance" local_wake_without_redis
one_warning() {
  local a b
  a=$(grep -c '"redis_unavailable"' "$log/multi-proxy-a.log")
  b=$(grep -c '"redis_unavailable"' "$log/multi-proxy-b.log")
  echo "      warnings logged: A $a, B $b"
  [ "$a" -eq 1 ] && [ "$b" -eq 1 ]
}
check "Redis down: one warning per instance" one_warning
check "Redis down: /ready on A still ready, sharing down" ready_says "$A" '{"ready":true,"redis":"down"}'
redis_down_metric() {
  local a
  a=$(metric "$a_metrics" gu1_kyc_proxy_redis_up)
  echo "      redis_up on A: $a"
  [ "$a" = 0 ]
}
check "Redis down: A's metrics say so" redis_down_metric

start_redis
back() {
  for _ in $(seq 1 50); do
    grep -q '"redis_back"' "$log/multi-proxy-a.log" && grep -q '"redis_back"' "$log/multi-proxy-b.log" && return 0
    sleep 0.1
  done
  return 1
}
check "Redis back: both instances say so" back
check "Redis back: a webhook to A answers a request held on B again" cross_instance_wake
check "Redis back: still one warning per instance" one_warning

# A stall, not an outage: Redis stops answering for a while and its connections stay open.
# Both proxies keep asking it (the shared rate limit) meanwhile, so both see it time out.
during_stall() { # a command that stalls Redis
  new_entity
  "$@" &
  local stall=$! i
  # Two requests at once a moment into the stall: each waits on Redis past the proxies'
  # 0.5 s command timeout, so both instances see the stall.
  sleep 0.1
  curl -s -o /dev/null -m 3 -H "Authorization: Bearer $token" "$A/kyc/status" &
  local on_a=$!
  curl -s -o /dev/null -m 3 -H "Authorization: Bearer $token" "$B/kyc/status"
  wait "$on_a"
  for i in 1 2 3 4 5 6; do
    curl -s -o /dev/null -m 3 -H "Authorization: Bearer $token" "$A/kyc/status"
    curl -s -o /dev/null -m 3 -H "Authorization: Bearer $token" "$B/kyc/status"
    sleep 0.1
  done
  wait "$stall"
}
debug_sleep() { redis-cli -p "$redis_port" DEBUG SLEEP 0.7 >/dev/null; }
sigstop_3s() { kill -STOP "$redis_pid"; sleep 3; kill -CONT "$redis_pid"; }
lines() { wc -l <"$log/multi-proxy-$1.log"; }
since() { tail -n +"$(($2 + 1))" "$log/multi-proxy-$1.log"; } # name, lines before
down_then_up() { # lines of A's and B's logs before the stall
  local t0 t1
  t0=$(ms)
  for _ in $(seq 1 100); do
    if since a "$1" | grep -q '"redis_back"' && since b "$2" | grep -q '"redis_back"'; then
      t1=$(ms)
      echo "      both said redis_back $((t1 - t0)) ms after the stall ended"
      since a "$1" | grep -q '"redis_unavailable"' && since b "$2" | grep -q '"redis_unavailable"'
      return
    fi
    sleep 0.1
  done
  echo "      no redis_back within 10 s of the stall's end"
  return 1
}
stall_checks() { # name, stall command
  local a0 b0
  a0=$(lines a) b0=$(lines b)
  during_stall "$2"
  check "$1: both instances mark Redis down, then up again" down_then_up "$a0" "$b0"
  check "$1: the per-token rate limit is shared again" shared_rate_limit
  check "$1: a webhook to A answers a request held on B fast again" cross_instance_wake
}
stall_checks "Redis stalled 0.7 s (DEBUG SLEEP)" debug_sleep
stall_checks "Redis stopped 3 s (SIGSTOP, SIGCONT)" sigstop_3s

finish
