// The Lua scripts of the Redis pool state (relay/redis_pool_state.hpp has
// the key layout). Each runs atomically inside Redis: a reservation is
// checked and made in one step, so instances racing for the last unit of a
// limit cannot both get it.
//
// Windows mirror pool/window.hpp: a send in minute m counts while
// (now_minute - m) <= 1440 for the day and <= 60 for the hour, so it is
// counted for at least 24 h (1 h) and at most one minute longer.
// The usage hash keeps per-minute buckets (m<minute>, r<minute>) and the
// day's totals over them (dm, dr, from minute h on): a reservation reads
// the totals, drops the buckets that left the window since the previous one
// and reads the hour's 61 buckets, so its cost does not grow with traffic.
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
local lo = minute - 1440  -- the oldest minute still in the day window
local need = tonumber(ARGV[3])
local daily, rlimit, hourly = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local U = KEYS[1]
-- Reservations never settled (a crashed instance): no longer tracked; their
-- usage stays counted in full.
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #old do redis.call('HDEL', KEYS[2], old[i]) end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
-- Day totals kept in the hash (dm, dr: buckets from minute h on), so a
-- reservation only touches the buckets that left the window since the last.
local h = tonumber(redis.call('HGET', U, 'h'))
local dm, dr = 0, 0
if h == nil or lo - h > 1441 then
  -- new, or idle for a day: every bucket is recounted (or dropped)
  local all = redis.call('HGETALL', U)
  local stale = {}
  for i = 1, #all, 2 do
    local f = all[i]
    local kind = string.sub(f, 1, 1)
    local m = tonumber(string.sub(f, 2))
    if (kind == 'm' or kind == 'r') and m ~= nil then
      if m < lo then stale[#stale + 1] = f
      elseif kind == 'm' then dm = dm + tonumber(all[i + 1])
      else dr = dr + tonumber(all[i + 1]) end
    end
  end
  for i = 1, #stale, 500 do
    redis.call('HDEL', U, unpack(stale, i, math.min(i + 499, #stale)))
  end
else
  dm = tonumber(redis.call('HGET', U, 'dm') or '0')
  dr = tonumber(redis.call('HGET', U, 'dr') or '0')
  for m = h, lo - 1 do
    local v = redis.call('HMGET', U, 'm' .. m, 'r' .. m)
    if v[1] or v[2] then
      dm = dm - tonumber(v[1] or '0')
      dr = dr - tonumber(v[2] or '0')
      redis.call('HDEL', U, 'm' .. m, 'r' .. m)
    end
  end
end
if h == nil or h < lo then redis.call('HSET', U, 'h', lo, 'dm', dm, 'dr', dr) end
local hm = 0
if hourly > 0 then
  local names = {}
  for m = minute - 60, minute do names[#names + 1] = 'm' .. m end
  local v = redis.call('HMGET', U, unpack(names))
  for i = 1, #v do hm = hm + tonumber(v[i] or '0') end
end
local full = (dm + 1 > daily) or (hourly > 0 and hm + 1 > hourly) or (rlimit > 0 and dr + need > rlimit)
if full then
  -- When the oldest buckets holding `over` units have left the window.
  local msgs, hour, rcpts = {}, {}, {}
  local all = redis.call('HGETALL', U)
  for i = 1, #all, 2 do
    local kind = string.sub(all[i], 1, 1)
    local m = tonumber(string.sub(all[i], 2))
    if (kind == 'm' or kind == 'r') and m ~= nil and m >= lo then
      local v = tonumber(all[i + 1])
      if kind == 'm' then
        msgs[#msgs + 1] = {m, v}
        if minute - m <= 60 then hour[#hour + 1] = {m, v} end
      else
        rcpts[#rcpts + 1] = {m, v}
      end
    end
  end
  local function frees(list, over, span)
    table.sort(list, function(a, b) return a[1] < b[1] end)
    local gone = 0
    for i = 1, #list do
      gone = gone + list[i][2]
      if gone >= over then return (list[i][1] + span + 1) * 60000 end
    end
    return (minute + span + 1) * 60000
  end
  local until_ms = 0
  if dm + 1 > daily then until_ms = math.max(until_ms, frees(msgs, dm + 1 - daily, 1440)) end
  if hourly > 0 and hm + 1 > hourly then until_ms = math.max(until_ms, frees(hour, hm + 1 - hourly, 60)) end
  if rlimit > 0 and dr + need > rlimit then
    until_ms = math.max(until_ms, frees(rcpts, dr + need - rlimit, 1440))
  end
  return {0, until_ms}
end
redis.call('HINCRBY', U, 'm' .. minute, 1)
redis.call('HINCRBY', U, 'dm', 1)
if need > 0 then
  redis.call('HINCRBY', U, 'r' .. minute, need)
  redis.call('HINCRBY', U, 'dr', need)
end
redis.call('HSET', KEYS[2], ARGV[2], minute .. ' ' .. need)
redis.call('ZADD', KEYS[3], now + ttl, ARGV[2])
redis.call('PEXPIRE', U, 90000000)
redis.call('PEXPIRE', KEYS[2], ttl + 60000)
redis.call('PEXPIRE', KEYS[3], ttl + 60000)
return {1, now}
)lua";

// KEYS: usage, reservations, expiries. ARGV: id, delivered recipients,
// now_ms (unused: the window's head decides). Nothing sent (0): the message and its
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
local U = KEYS[1]
-- A bucket that already left the window (and the totals) changes nothing.
local h = tonumber(redis.call('HGET', U, 'h'))
if h == nil or m < h then return 1 end
if delivered == 0 then
  redis.call('HINCRBY', U, 'm' .. m, -1)
  redis.call('HINCRBY', U, 'dm', -1)
  if n > 0 then
    redis.call('HINCRBY', U, 'r' .. m, -n)
    redis.call('HINCRBY', U, 'dr', -n)
  end
elseif delivered < n then
  redis.call('HINCRBY', U, 'r' .. m, delivered - n)
  redis.call('HINCRBY', U, 'dr', delivered - n)
end
return 1
)lua";

// KEYS: states, seq. ARGV: account, "<state> <since_ms> <until_ms> <reason>",
// "operator" | "relay" (who made the change).
// -> the change's sequence number; 0 when refused: a change the relay made by
// itself never replaces a pause (the instance decided it before it saw the
// pause an operator made on another one; it adopts the pause at its next poll).
inline constexpr const char* kState = R"lua(
if ARGV[3] ~= 'operator' then
  local current = redis.call('HGET', KEYS[1], ARGV[1])
  if current and string.match(current, '^%d+ paused ') then return 0 end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2])
return seq
)lua";

}  // namespace rp::relay::scripts
