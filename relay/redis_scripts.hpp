// The Lua scripts of the Redis pool state (relay/redis_pool_state.hpp has
// the key layout). Each runs atomically inside Redis: a reservation is
// checked and made in one step, so instances racing for the last unit of a
// limit cannot both get it.
//
// Windows mirror pool/window.hpp: a send in minute m counts while
// (now_minute - m) <= 1440 for the day and <= 60 for the hour, so it is
// counted for at least 24 h (1 h) and at most one minute longer.
#pragma once

namespace rp::relay::scripts {

// KEYS: usage, reservations, expiries. ARGV: now_ms ("" = Redis TIME), id,
// recipients, daily, recipient limit (0 = none), hourly (0 = none), ttl_ms.
// -> {1, now_ms} reserved, or {0, until_ms} full until then.
inline constexpr const char* kReserve = R"lua(
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local minute = math.floor(now / 60000)
local need = tonumber(ARGV[3])
local daily, rlimit, hourly = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
-- Reservations never settled (a crashed instance): no longer tracked; their
-- usage stays counted in full.
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #old do redis.call('HDEL', KEYS[2], old[i]) end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local all = redis.call('HGETALL', KEYS[1])
local msgs, hour, rcpts, stale = {}, {}, {}, {}
local dm, dr, hm = 0, 0, 0
for i = 1, #all, 2 do
  local f = all[i]
  local m = tonumber(string.sub(f, 2))
  local v = tonumber(all[i + 1])
  if m == nil or v == nil or minute - m > 1440 then
    stale[#stale + 1] = f
  elseif string.sub(f, 1, 1) == 'm' then
    dm = dm + v
    msgs[#msgs + 1] = {m, v}
    if minute - m <= 60 then hm = hm + v; hour[#hour + 1] = {m, v} end
  else
    dr = dr + v
    rcpts[#rcpts + 1] = {m, v}
  end
end
for i = 1, #stale, 500 do
  redis.call('HDEL', KEYS[1], unpack(stale, i, math.min(i + 499, #stale)))
end
-- When the oldest buckets holding `over` units have left the window.
local function frees(list, over, span)
  table.sort(list, function(a, b) return a[1] < b[1] end)
  local gone = 0
  for i = 1, #list do
    gone = gone + list[i][2]
    if gone >= over then return (list[i][1] + span + 1) * 60000 end
  end
  return (minute + span + 1) * 60000
end
local until_ms = nil
local function full(t)
  if until_ms == nil or t > until_ms then until_ms = t end
end
if dm + 1 > daily then full(frees(msgs, dm + 1 - daily, 1440)) end
if hourly > 0 and hm + 1 > hourly then full(frees(hour, hm + 1 - hourly, 60)) end
if rlimit > 0 and dr + need > rlimit then full(frees(rcpts, dr + need - rlimit, 1440)) end
if until_ms then return {0, until_ms} end
redis.call('HINCRBY', KEYS[1], 'm' .. minute, 1)
if need > 0 then redis.call('HINCRBY', KEYS[1], 'r' .. minute, need) end
redis.call('HSET', KEYS[2], ARGV[2], minute .. ' ' .. need)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], 90000000)
redis.call('PEXPIRE', KEYS[2], ttl + 60000)
redis.call('PEXPIRE', KEYS[3], ttl + 60000)
return {1, now}
)lua";

// KEYS: usage, reservations, expiries. ARGV: id, delivered recipients,
// now_ms ("" = Redis TIME). Nothing sent (0): the message and its
// recipients are released; else the recipients not delivered are.
// -> 1 settled, 0 unknown (never reserved, or expired: counted in full).
inline constexpr const char* kSettle = R"lua(
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local sp = string.find(v, ' ')
local m = tonumber(string.sub(v, 1, sp - 1))
local n = tonumber(string.sub(v, sp + 1))
local delivered = math.min(tonumber(ARGV[2]), n)
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if math.floor(now / 60000) - m > 1440 then return 1 end
if delivered == 0 then
  redis.call('HINCRBY', KEYS[1], 'm' .. m, -1)
  if n > 0 then redis.call('HINCRBY', KEYS[1], 'r' .. m, -n) end
elseif delivered < n then
  redis.call('HINCRBY', KEYS[1], 'r' .. m, delivered - n)
end
return 1
)lua";

// KEYS: states, seq. ARGV: account, "<state> <since_ms> <until_ms> <reason>".
// -> the change's sequence number.
inline constexpr const char* kState = R"lua(
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2])
return seq
)lua";

}  // namespace rp::relay::scripts
