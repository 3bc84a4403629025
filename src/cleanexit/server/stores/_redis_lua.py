"""The Lua scripts of the Redis store: every read-modify-write runs server-side, atomically.

Cluster rule: every key a script touches shares one hash slot. ``SESSION_END`` and ``ROTATE``
touch one session's slot (``{sid}``); ``PUBLISH``, ``SNAPSHOT`` and ``PRUNE`` touch the feed
slot (``{feed}``). Against a single Redis (not a cluster) the session scripts are also handed
the feed keys and publish inline, so ending a session and announcing it are one atomic step;
against a cluster they return what to publish and the store runs ``PUBLISH`` next (see
docs/redis.md, "Key layout").

Numbers travel as the decimal strings Python's ``repr(float)`` wrote (exact round trip), are
compared as Lua doubles (the same IEEE arithmetic as Python) and are written back as the
caller's strings, never re-formatted by Lua.
"""

from __future__ import annotations

__all__ = ["ATTEMPTS_CAS", "PRUNE", "PUBLISH", "ROTATE", "SESSION_END", "SNAPSHOT", "USER_ADD"]

# Shared helpers. ``feed`` is a table of the six feed keys: stream, sid index, jti index,
# user index (zsets scored by expiry), user cutoffs (hash), entry counter. Every stream entry
# carries the counter's value ``n``, so a reader that sees n jump knows it missed entries
# (trimming does not move XINFO's max-deleted-entry-id, so ids alone cannot tell).
_PRELUDE = """
local function ttl_ms(until_, now)
  local t = math.floor((tonumber(until_) - tonumber(now)) * 1000)
  if t < 1 then t = 1 end
  return t
end

local function extend(key, t)
  local cur = redis.call('PTTL', key)
  if cur == -1 or cur < t then redis.call('PEXPIRE', key, t) end
end

local function prune_index(feed, idx, now)
  if idx == feed[4] then
    for _, sub in ipairs(redis.call('ZRANGEBYSCORE', idx, '-inf', now)) do
      redis.call('HDEL', feed[5], sub)
    end
  end
  return redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
end

-- Record one revocation (index = truth, stream = order). mode 'max' strengthens an existing
-- entry, 'absent' only adds a missing one ('once' too, and stops a PUBLISH: see there).
-- Returns 1 if anything changed (and was streamed).
local function publish(feed, kind, member, score, cutoff, now, mode, maxlen, maxage)
  if tonumber(score) <= tonumber(now) then return 0 end
  local idx = feed[4]
  if kind == 'sid' then idx = feed[2] elseif kind == 'jti' then idx = feed[3] end
  prune_index(feed, idx, now)
  local cur = redis.call('ZSCORE', idx, member)
  if cur and (mode == 'absent' or mode == 'once') then return 0 end
  local longer = (not cur) or tonumber(cur) < tonumber(score)
  if kind == 'user' then
    local old = redis.call('HGET', feed[5], member)
    local later = (not old) or tonumber(old) < tonumber(cutoff)
    if not longer and not later then return 0 end
    if later then redis.call('HSET', feed[5], member, cutoff) end
    extend(feed[5], ttl_ms(score, now))
  elseif not longer then
    return 0
  end
  if longer then redis.call('ZADD', idx, score, member) end
  extend(idx, ttl_ms(score, now))
  local n = redis.call('INCR', feed[6])
  redis.call('XADD', feed[1], 'MAXLEN', '~', maxlen, '*',
    'n', n, 'k', kind, 'm', member, 'e', score, 'c', cutoff)
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('XTRIM', feed[1], 'MINID', '~', string.format('%d', now_ms - tonumber(maxage)))
  -- An idle feed goes away; its readers see the counter restart and reload a snapshot.
  redis.call('PEXPIRE', feed[1], maxage)
  redis.call('PEXPIRE', feed[6], maxage)
  return 1
end

-- How long an ended session's sid stays denied: its last access token's exp + leeway + 1
-- (SessionRecord.deny_until). '%.17g' writes a double that Python reads back exactly.
local function deny_of(access_until, leeway)
  return string.format('%.17g', tonumber(access_until or '0') + tonumber(leeway) + 1)
end

local function feed_keys(first)
  if #KEYS < first + 5 then return nil end
  local feed = {}
  for i = 0, 5 do feed[#feed + 1] = KEYS[first + i] end
  return feed
end

-- End a session: mark it, drop its refresh family, keep the record only while its access
-- tokens can still be alive. Returns the refresh hashes it dropped (their pointers go next).
local function end_session(skey, fam, rec_prefix, now, reason, deny_until)
  redis.call('HSET', skey, 'ended_at', now, 'end_reason', reason, 'deny_until', deny_until)
  redis.call('PEXPIRE', skey, ttl_ms(deny_until, now))
  local hexes = redis.call('ZRANGE', fam, 0, -1)
  for _, h in ipairs(hexes) do redis.call('DEL', rec_prefix .. h) end
  redis.call('DEL', fam)
  return hexes
end
"""

# KEYS: the six feed keys. ARGV: now, maxlen, maxage_ms, then (kind, member, score, cutoff,
# mode) per revocation. Returns one 0/1 per revocation.
PUBLISH = (
    _PRELUDE
    + """
local feed = feed_keys(1)
local out = {}
for i = 4, #ARGV, 5 do
  out[#out + 1] = publish(feed, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[1],
    ARGV[i + 4], ARGV[2], ARGV[3])
  -- 'once' (issue 11): a live entry means a replay, and nothing after it is recorded.
  if ARGV[i + 4] == 'once' and out[#out] == 0 then return out end
end
return out
"""
)

# KEYS: session, family, [six feed keys]. ARGV: now, reason, leeway, rec_prefix, sid,
# maxlen, maxage_ms. Returns {status, deny_until, published, dropped hashes}; status 1 = ended
# now, 2 = ended before (deny_until is the one recorded then), 0 = unknown or nothing of it can
# be alive any more (SessionRecord.endable).
SESSION_END = (
    _PRELUDE
    + """
local now = ARGV[1]
local s = redis.call('HMGET', KEYS[1], 'ended_at', 'expires_at', 'deny_until', 'access_until')
if not s[2] then return {0, '', 0, {}} end
local status, deny, hexes = 2, s[3] or '', {}
if not s[1] then
  local d = deny_of(s[4], ARGV[3])
  if tonumber(now) >= tonumber(s[2]) and tonumber(now) >= tonumber(d) then
    return {0, '', 0, {}}
  end
  status, deny = 1, d
  hexes = end_session(KEYS[1], KEYS[2], ARGV[4], now, ARGV[2], deny)
end
local published = 0
local feed = feed_keys(3)
if feed and deny ~= '' then
  local mode = 'absent'
  if status == 1 then mode = 'max' end
  published = publish(feed, 'sid', ARGV[5], deny, '0', now, mode, ARGV[6], ARGV[7])
end
return {status, deny, published, hexes}
"""
)

# decide_rotation (stores/base.py), line for line, plus its effects.
# KEYS: session, family, old record, new record, [six feed keys].
# ARGV: now, grace, now + idle_ttl, leeway, new hash, rec_prefix, sid, maxlen, maxage_ms,
# access_until, client, keep_rotated.
# Returns {status, refresh_expires_at or deny_until, published, session as HGETALL, dropped
# hashes, rotated_by}; the session is the state before the call, except after ROTATED.
ROTATE = (
    _PRELUDE
    + """
local now = ARGV[1]
local n = tonumber(now)
local old = redis.call('HMGET', KEYS[3], 'expires_at', 'rotated_at', 'rotated_by')
if not old[1] then return {'invalid', '', 0, {}, {}, ''} end
local sess = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #sess, 2 do f[sess[i]] = sess[i + 1] end
if #sess == 0 or f['ended_at'] or not (n < tonumber(f['expires_at'])) then
  return {'invalid', '', 0, sess, {}, ''}
end
if old[2] then
  if n - tonumber(old[2]) <= tonumber(ARGV[2]) then
    return {'race', '', 0, sess, {}, old[3] or ''}
  end
  local deny = deny_of(f['access_until'], ARGV[4])
  local hexes = end_session(KEYS[1], KEYS[2], ARGV[6], now, 'refresh_token_reuse', deny)
  local published = 0
  local feed = feed_keys(5)
  if feed then
    published = publish(feed, 'sid', ARGV[7], deny, '0', now, 'max', ARGV[8], ARGV[9])
  end
  return {'reused', deny, published, sess, hexes, ''}
end
if n >= tonumber(old[1]) then return {'invalid', '', 0, sess, {}, ''} end
local expires = ARGV[3]
if tonumber(f['expires_at']) < tonumber(expires) then expires = f['expires_at'] end
redis.call('HSET', KEYS[3], 'rotated_at', now, 'rotated_by', ARGV[11])
redis.call('HSET', KEYS[4], 'issued_at', now, 'expires_at', expires)
redis.call('PEXPIRE', KEYS[4], ttl_ms(expires, now))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], expires, ARGV[5])
-- Keep the new token and the keep_rotated most recent others (scores are issue order, the
-- new token never among those dropped): reuse detection needs no more (finding 8).
local drop = {}
for _, h in ipairs(redis.call('ZRANGE', KEYS[2], 0, -(tonumber(ARGV[12]) + 2))) do
  if h ~= ARGV[5] then
    drop[#drop + 1] = h
    redis.call('DEL', ARGV[6] .. h)
    redis.call('ZREM', KEYS[2], h)
  end
end
extend(KEYS[2], ttl_ms(expires, now))
local access = ARGV[10]
if tonumber(f['expires_at']) < tonumber(access) then access = f['expires_at'] end
if f['access_until'] and tonumber(f['access_until']) > tonumber(access) then
  access = f['access_until']
end
redis.call('HSET', KEYS[1], 'last_seen', now, 'access_until', access)
return {'rotated', expires, 0, redis.call('HGETALL', KEYS[1]), drop, ''}
"""
)

# KEYS: the user's session index (zset sid -> expires_at), the user's sequence counter.
# ARGV: sid, expires_at, now. Returns the session's sequence number (ties in created_at).
USER_ADD = (
    _PRELUDE
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local t = ttl_ms(ARGV[2], ARGV[3])
extend(KEYS[1], t)
local seq = redis.call('INCR', KEYS[2])
extend(KEYS[2], t)
return seq
"""
)

# KEYS: the six feed keys. ARGV: now. Every live revocation, and the stream id and entry
# counter it is current to, read in one atomic step so tailing from there leaves no gap.
SNAPSHOT = """
local last = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
local live = '(' .. ARGV[1]
local users = redis.call('ZRANGEBYSCORE', KEYS[4], live, '+inf', 'WITHSCORES')
local cutoffs = {}
for i = 1, #users, 2 do cutoffs[#cutoffs + 1] = redis.call('HGET', KEYS[5], users[i]) or '0' end
return {
  last,
  redis.call('GET', KEYS[6]) or '0',
  redis.call('ZRANGEBYSCORE', KEYS[2], live, '+inf', 'WITHSCORES'),
  redis.call('ZRANGEBYSCORE', KEYS[3], live, '+inf', 'WITHSCORES'),
  users,
  cutoffs,
}
"""

# KEYS: the six feed keys. ARGV: now, maxage_ms. Drops expired index entries, trims the
# stream by age; returns how many index entries went.
PRUNE = (
    _PRELUDE
    + """
local feed = feed_keys(1)
local gone = 0
for i = 2, 4 do gone = gone + prune_index(feed, KEYS[i], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', now_ms - tonumber(ARGV[2])))
end
return gone
"""
)

# Login attempts (issue 15): compare-and-set of one key, so the rule stays in Python
# (attempts.decide_attempts) and the store only makes it atomic. KEYS: the record. ARGV: the
# value read before deciding ('' = none), the new value ('' = delete), its TTL in ms.
# Returns 1 when set, 0 when another instance changed it first (the caller decides again).
ATTEMPTS_CAS = """
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""
