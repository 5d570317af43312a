/**
 * The Redis engine's Lua scripts: each one step that must be atomic. Presence scripts take the
 * presence base key (`<prefix>{p}`) as `KEYS[1]` and touch only keys that start with it (one hash
 * slot: presence lives on one shard of a cluster); room scripts take a room's base key
 * (`<prefix>{r:<room>}`, also its pub/sub channel) and touch only that room's keys, so a
 * cluster spreads rooms over its shards. Nicks and room keys are ASCII (lib/protocol/limits.ts),
 * so Lua's `string.lower` matches the server's.
 *
 * Presence keys: `:m` member id → record (node, nick, since, room keys; one per line), `:nicks`
 * nick → member id, `:names` room key → display name, `:rooms` room key → creation order,
 * `:r:<room>` member id → join order, `:order` member id → attach order, `:n:<node>` the node's
 * member ids, `:nodes` node id → heartbeat deadline (ms), `:seq` and `:guest` counters.
 *
 * Room keys: `:meta` (epoch, last id), `:log` a stream of batches (entry id `<first id>-0`,
 * fields `t` time, `n` messages, `f` the encoded frames), `:nodes` node id → members there.
 *
 * @module
 */

import { MAX_SAY_MESSAGES } from "../../core/engine.ts";
import { type Script, script } from "./link.ts";

/** Most messages in one log entry (the hub cuts longer runs): the size trim's margin. */
export const ENTRY_MESSAGES: number = MAX_SAY_MESSAGES;

const PRESENCE = `
local B = KEYS[1]
local function rec(id)
  local v = redis.call('HGET', B..':m', id)
  if not v then return nil end
  local f = {}
  for part in string.gmatch(v, '[^\\n]+') do f[#f+1] = part end
  local r = {node = f[1], nick = f[2], since = f[3], rooms = {}}
  for i = 4, #f do r.rooms[#r.rooms+1] = f[i] end
  return r
end
local function save(id, r)
  local v = r.node..'\\n'..r.nick..'\\n'..r.since
  if #r.rooms > 0 then v = v..'\\n'..table.concat(r.rooms, '\\n') end
  redis.call('HSET', B..':m', id, v)
end
local function seq() return redis.call('INCR', B..':seq') end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function lobby()
  if redis.call('HSETNX', B..':names', 'lobby', 'lobby') == 1 then
    redis.call('ZADD', B..':rooms', 0, 'lobby')
  end
end
local function add(id, r, key, name)
  local display = redis.call('HGET', B..':names', key)
  if not display then
    display = name
    redis.call('HSET', B..':names', key, name)
    redis.call('ZADD', B..':rooms', seq(), key)
  end
  if redis.call('ZSCORE', B..':r:'..key, id) then return display, 0 end
  redis.call('ZADD', B..':r:'..key, seq(), id)
  r.rooms[#r.rooms+1] = key
  return display, 1
end
local function drop(id, key)
  local display = redis.call('HGET', B..':names', key)
  if redis.call('ZREM', B..':r:'..key, id) == 0 then return false end
  if key ~= 'lobby' and redis.call('ZCARD', B..':r:'..key) == 0 then
    redis.call('HDEL', B..':names', key)
    redis.call('ZREM', B..':rooms', key)
  end
  return display or key
end
local function guest()
  local nick
  repeat nick = 'guest-'..redis.call('INCR', B..':guest')
  until redis.call('HEXISTS', B..':nicks', nick) == 0
  return nick
end
local function detach(id)
  local r = rec(id)
  if not r then return {} end
  local out = {}
  for _, key in ipairs(r.rooms) do
    local display = drop(id, key)
    if display then out[#out+1] = key; out[#out+1] = display; out[#out+1] = r.nick end
  end
  local nk = string.lower(r.nick)
  if redis.call('HGET', B..':nicks', nk) == id then redis.call('HDEL', B..':nicks', nk) end
  redis.call('HDEL', B..':m', id)
  redis.call('ZREM', B..':order', id)
  redis.call('SREM', B..':n:'..r.node, id)
  return out
end
`;

/** ARGV node, member, since → the guest nick given. */
export const ATTACH: Script = script(
  PRESENCE + `
lobby()
local node, id = ARGV[1], ARGV[2]
detach(id)
local nick = guest()
redis.call('HSET', B..':nicks', nick, id)
local r = {node = node, nick = nick, since = ARGV[3], rooms = {}}
add(id, r, 'lobby', 'lobby')
save(id, r)
redis.call('ZADD', B..':order', seq(), id)
redis.call('SADD', B..':n:'..node, id)
return nick
`,
);

/**
 * ARGV node, member, since, nick, then its rooms' display names (lobby first) → the nick it has
 * now (a fresh guest nick when another member took its own meanwhile).
 */
export const RESTORE: Script = script(
  PRESENCE + `
lobby()
local node, id = ARGV[1], ARGV[2]
detach(id)
local nick = ARGV[4]
local owner = redis.call('HGET', B..':nicks', string.lower(nick))
if owner and owner ~= id then nick = guest() end
redis.call('HSET', B..':nicks', string.lower(nick), id)
local r = {node = node, nick = nick, since = ARGV[3], rooms = {}}
for i = 5, #ARGV do add(id, r, string.lower(ARGV[i]), ARGV[i]) end
save(id, r)
redis.call('ZADD', B..':order', seq(), id)
redis.call('SADD', B..':n:'..node, id)
return nick
`,
);

/** ARGV member → its rooms as key, display name, nick triples. */
export const DETACH: Script = script(PRESENCE + `return detach(ARGV[1])`);

/** ARGV member, nick → 1 when it has the nick now, 0 when another member has it. */
export const RENAME: Script = script(
  PRESENCE + `
local id, nick = ARGV[1], ARGV[2]
local r = rec(id)
if not r then return 0 end
local nk = string.lower(nick)
local owner = redis.call('HGET', B..':nicks', nk)
if owner and owner ~= id then return 0 end
local old = string.lower(r.nick)
if redis.call('HGET', B..':nicks', old) == id then redis.call('HDEL', B..':nicks', old) end
redis.call('HSET', B..':nicks', nk, id)
r.nick = nick
save(id, r)
return 1
`,
);

/** ARGV member, room → display name, 1 when added (0: it was in it, or is gone). */
export const JOIN: Script = script(
  PRESENCE + `
local id, name = ARGV[1], ARGV[2]
local r = rec(id)
local key = string.lower(name)
if not r then
  return {redis.call('HGET', B..':names', key) or name, 0}
end
local display, added = add(id, r, key, name)
if added == 1 then save(id, r) end
return {display, added}
`,
);

/** ARGV member, room → the room's display name, or false when it was not in it. */
export const LEAVE: Script = script(
  PRESENCE + `
local id = ARGV[1]
local key = string.lower(ARGV[2])
local r = rec(id)
if not r then return false end
local display = drop(id, key)
if not display then return false end
for i, k in ipairs(r.rooms) do if k == key then table.remove(r.rooms, i) break end end
save(id, r)
return display
`,
);

/** ARGV nick → member, node, nick, since; or false. */
export const LOOKUP: Script = script(
  PRESENCE + `
local id = redis.call('HGET', B..':nicks', string.lower(ARGV[1]))
if not id then return false end
local r = rec(id)
if not r then return false end
return {id, r.node, r.nick, r.since}
`,
);

/** ARGV room or '' → nick, since, rooms (display names, one per line) per member; false: no room. */
export const WHO: Script = script(
  PRESENCE + `
local ids
if ARGV[1] == '' then
  ids = redis.call('ZRANGE', B..':order', 0, -1)
else
  local key = string.lower(ARGV[1])
  if key ~= 'lobby' and redis.call('HEXISTS', B..':names', key) == 0 then return false end
  ids = redis.call('ZRANGE', B..':r:'..key, 0, -1)
end
local out = {}
for _, id in ipairs(ids) do
  local r = rec(id)
  if r then
    local names = {}
    for _, k in ipairs(r.rooms) do names[#names+1] = redis.call('HGET', B..':names', k) or k end
    out[#out+1] = r.nick; out[#out+1] = r.since; out[#out+1] = table.concat(names, '\\n')
  end
end
return out
`,
);

/** → display name, member count per room, lobby first, then in creation order. */
export const ROOMS: Script = script(
  PRESENCE + `
lobby()
local out = {}
for _, key in ipairs(redis.call('ZRANGE', B..':rooms', 0, -1)) do
  out[#out+1] = redis.call('HGET', B..':names', key) or key
  out[#out+1] = redis.call('ZCARD', B..':r:'..key)
end
return out
`,
);

/**
 * ARGV node, timeout (ms) → 1 when the node was known, 0 when it must restore its members. The
 * deadline is Redis's clock plus the timeout (the nodes' clocks may differ).
 */
export const HEARTBEAT: Script = script(
  PRESENCE + `
local known = redis.call('ZSCORE', B..':nodes', ARGV[1])
redis.call('ZADD', B..':nodes', now() + tonumber(ARGV[2]), ARGV[1])
if known then return 1 end
return 0
`,
);

/**
 * ARGV at most this many nodes → the nodes found dead (past their deadline on Redis's clock),
 * each forgotten with its members: dead node ids, '', then key, display, nick per room each
 * member was in.
 */
export const REAP: Script = script(
  PRESENCE + `
local dead = redis.call('ZRANGEBYSCORE', B..':nodes', '-inf', '('..now(), 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, node in ipairs(dead) do out[#out+1] = node end
out[#out+1] = ''
for _, node in ipairs(dead) do
  for _, id in ipairs(redis.call('SMEMBERS', B..':n:'..node)) do
    for _, v in ipairs(detach(id)) do out[#out+1] = v end
  end
  redis.call('DEL', B..':n:'..node)
  redis.call('ZREM', B..':nodes', node)
end
return out
`,
);

const ROOM = `
local R = KEYS[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function meta(candidate, ttl)
  local epoch = redis.call('HGET', R..':meta', 'epoch')
  if not epoch then
    epoch = candidate
    redis.call('HSET', R..':meta', 'epoch', epoch, 'last', 0)
    redis.call('DEL', R..':log')
  end
  redis.call('PEXPIRE', R..':meta', ttl)
  return epoch, tonumber(redis.call('HGET', R..':meta', 'last'))
end
local function audience(except)
  local n = 0
  local v = redis.call('HGETALL', R..':nodes')
  for i = 1, #v, 2 do if v[i] ~= except then n = n + tonumber(v[i+1]) end end
  return n
end
local function keep(first, n, frames, last, size, ttl)
  if size <= 0 then return end
  redis.call('XADD', R..':log', first..'-0', 't', now(), 'n', n, 'f', frames)
  local floor = last - size + 1 - ${ENTRY_MESSAGES}
  if floor > 1 then redis.call('XTRIM', R..':log', 'MINID', '~', floor) end
  redis.call('PEXPIRE', R..':log', ttl)
end
`;

/**
 * One sender's messages to a room: ids, encoded frames, kept in the log, published to every node
 * (this one too: its members hear them from the channel, in the room's order).
 * ARGV head (`MSG room nick`), sender member id, payload lengths (comma separated), the payloads
 * back to back, history size, ttl (ms), epoch candidate, this node → first id, members of the
 * room on the other nodes.
 */
export const SAY: Script = script(
  ROOM + `
local size, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local _, last = meta(ARGV[7], ttl)
local first = last + 1
local parts = {}
local pos, id, n = 1, last, 0
local head, blob = ARGV[1]..' id ', ARGV[4]
for len in string.gmatch(ARGV[3], '%d+') do
  len = tonumber(len)
  id = id + 1
  n = n + 1
  parts[n] = head..id..' '..len..'\\r\\n'..string.sub(blob, pos, pos + len - 1)..'\\r\\n'
  pos = pos + len
end
redis.call('HSET', R..':meta', 'last', id)
local frames = table.concat(parts)
keep(first, n, frames, id, size, ttl)
redis.call('SPUBLISH', R, 'M'..ARGV[2]..'\\n'..frames)
return {first, audience(ARGV[8])}
`,
);

/** ARGV epoch candidate, ttl → the next id (for {@linkcode RoomLog.next}). */
export const NEXT: Script = script(
  ROOM + `
local _, last = meta(ARGV[1], tonumber(ARGV[2]))
redis.call('HSET', R..':meta', 'last', last + 1)
return last + 1
`,
);

/** ARGV id, frame, size, ttl → 1 when kept (for {@linkcode RoomLog.put}). */
export const PUT: Script = script(
  ROOM + `
local id, size, ttl = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local last = tonumber(redis.call('HGET', R..':meta', 'last') or '0')
if id > last or id <= last - size then return 0 end
local top = redis.call('XREVRANGE', R..':log', '+', '-', 'COUNT', 1)[1]
if top and tonumber(string.match(top[1], '^%d+')) >= id then return 0 end
keep(id, 1, ARGV[2], last, size, ttl)
return 1
`,
);

/**
 * A page of the log, its entries past the age limit dropped first. ARGV limit, after (-1: the
 * newest), size, ttl (ms), epoch candidate → epoch, last, first, then first id and frames of
 * each entry that may hold a message of the page, oldest first (the caller picks the messages).
 */
export const HISTORY: Script = script(
  ROOM + `
local limit, after, size, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local epoch, last = meta(ARGV[5], ttl)
local L = R..':log'
local cutoff = now() - ttl
while true do
  local e = redis.call('XRANGE', L, '-', '+', 'COUNT', 1)[1]
  if not e or tonumber(e[2][2]) >= cutoff then break end
  redis.call('XDEL', L, e[1])
end
local floor = last - size + 1
if floor < 1 then floor = 1 end
local oldest = redis.call('XRANGE', L, '-', '+', 'COUNT', 1)[1]
local first
if last == 0 then first = 0
elseif not oldest then first = last + 1
else
  first = tonumber(string.match(oldest[1], '^%d+'))
  if first < floor then first = floor end
end
local out = {epoch, last, first}
if limit <= 0 or not oldest then return out end
local picked = {}
local count = 0
if after >= 0 then
  local start = after + 1 - ${ENTRY_MESSAGES}
  if start < 1 then start = 1 end
  local cursor = start..'-0'
  while count < limit do
    local page = redis.call('XRANGE', L, cursor, '+', 'COUNT', 64)
    if #page == 0 then break end
    for _, e in ipairs(page) do
      local f = tonumber(string.match(e[1], '^%d+'))
      local n = tonumber(e[2][4])
      local hi = f + n - 1
      local lo = math.max(f, after + 1, floor)
      if hi >= lo then picked[#picked+1] = e; count = count + hi - lo + 1 end
      cursor = '('..e[1]
    end
  end
else
  local cursor = '+'
  while count < limit do
    local page = redis.call('XREVRANGE', L, cursor, '-', 'COUNT', 64)
    if #page == 0 then break end
    for _, e in ipairs(page) do
      local f = tonumber(string.match(e[1], '^%d+'))
      local n = tonumber(e[2][4])
      local lo = math.max(f, floor)
      local hi = f + n - 1
      if hi >= lo then table.insert(picked, 1, e); count = count + hi - lo + 1 end
      cursor = '('..e[1]
      if count >= limit then break end
    end
  end
end
for _, e in ipairs(picked) do
  out[#out+1] = tonumber(string.match(e[1], '^%d+'))
  out[#out+1] = e[2][6]
end
return out
`,
);

/**
 * A push to the room's members on every node. ARGV the message (header included), this node →
 * how many members the room has on the other nodes.
 */
export const PUSH: Script = script(
  ROOM + `
redis.call('SPUBLISH', R, ARGV[1])
return audience(ARGV[2])
`,
);

/** ARGV node → the room's members on the other nodes. */
export const AUDIENCE: Script = script(ROOM + `return audience(ARGV[1])`);

/** ARGV node, members here, ttl → the room's count for this node (0 removes it). */
export const COUNT: Script = script(
  ROOM + `
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', R..':nodes', ARGV[1], ARGV[2])
  redis.call('PEXPIRE', R..':nodes', ARGV[3])
  if redis.call('EXISTS', R..':meta') == 1 then redis.call('PEXPIRE', R..':meta', ARGV[3]) end
else
  redis.call('HDEL', R..':nodes', ARGV[1])
end
return 1
`,
);

/** ARGV → whether the room has a log. */
export const HAS_LOG: Script = script(ROOM + `return redis.call('EXISTS', R..':meta')`);

/** ARGV → the last id given (0 for none). */
export const LAST: Script = script(
  ROOM + `
return tonumber(redis.call('HGET', R..':meta', 'last') or '0')
`,
);
