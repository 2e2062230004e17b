//! The Lua scripts that make each change to a session one atomic step on the server.
//!
//! Every script works on one session hash (`KEYS[1]`, a single slot in a cluster) and takes the
//! store's "now" as an argument, so expiry is judged by the store's clock: a record expired by
//! that clock is refused or hidden even when Redis has not purged it yet (`PEXPIREAT` does the
//! real purge). The hash layout is described in `fields.rs`.
//!
//! Lua in Redis is slow at exactly what these scripts must do (a number parsed with `tonumber`
//! costs about 0.15 µs, one formatted with `%.0f` about 0.7 µs, a pattern capture 0.08 µs,
//! each `redis.call` 0.5 to 1 µs), and a script's time is added to every round trip. So the
//! scripts keep numbers as the strings they arrived in wherever they only pass through (the
//! new `last` is the caller's "now" argument), format the few they compute with `%d`, return
//! numbers as integer replies, and read and write the metadata as one field. The save script,
//! run by every write, reads text that is digits by construction (its own arguments, fields
//! its pattern matched as `%d+`) with `text + 0`, half the cost of a `tonumber` call; input
//! that may not be a number still goes through `tonumber`.

use redis::Script;
use session_core::Limits;

use super::connection::OnDropped;

/// Helpers every script starts with: reading the metadata field (upgrading a hash of the first
/// layout on the way, see `UPGRADE`), expiry arithmetic and the native TTL.
///
/// The native TTL is not the expiry itself but the end of the minute the expiry falls in
/// (`native`): a touch or save moves a rolling expiry forward by the time since the last one,
/// which mostly stays within the minute, so most writes need not renew the TTL (a
/// `PEXPIREAT` is one of the costliest steps of a touch). Every script keeps the invariant that
/// a hash's TTL is `native` of its metadata's expiry. Redis so purges a record up to a minute
/// after it expired; until then every script and load already treats it as gone.
const PRELUDE: &str = r#"
local META = '^(%d+) (%d+) (%d+) (%d*) (%d*) (%d+) (%d+) (%d+) (.*)$'
local MINUTE = 60000
-- `command key args…`, in batches of 200 arguments (an even number, so field/value pairs stay
-- together); the replies of the batches, concatenated (HMGET's nils are false).
local function batched(command, key, args, first)
  first = first or 1
  if #args - first < 200 then
    if #args < first then return {} end
    return redis.call(command, key, unpack(args, first))
  end
  local out = {}
  for from = first, #args, 200 do
    local r = redis.call(command, key, unpack(args, from, math.min(from + 199, #args)))
    if type(r) == 'table' then
      for k = 1, #r do out[#out + 1] = r[k] end
    end
  end
  return out
end
-- When a record with these times and timeouts (numbers, or false when off) expires; false when
-- never. `created` is only read with `abs`.
local function expiry(created, last, idle, abs)
  local e = idle and last + idle
  if abs then
    local deadline = created + abs
    if (not e) or deadline < e then e = deadline end
  end
  return e
end
-- When the record whose metadata is `m` expires.
local function lifetime(m)
  local c, l, i, a = string.match(m, '^%d+ (%d+) (%d+) (%d*) (%d*) ')
  local abs = a ~= '' and tonumber(a)
  return expiry(abs and tonumber(c), tonumber(l), i ~= '' and tonumber(i), abs)
end
-- Gives the hash the native TTL of expiry `e` (false: none).
local function set_ttl(key, e)
  local native = e and (math.floor(e / MINUTE) + 1) * MINUTE
  if native and native < 140737488355328 then
    redis.call('PEXPIREAT', key, string.format('%d', native))
  else
    redis.call('PERSIST', key)
  end
end
-- Moves the native TTL from expiry `old` to expiry `e`, when they differ in their minute.
local function renew_ttl(key, old, e)
  if old and e then
    if math.floor(old / MINUTE) == math.floor(e / MINUTE) then return end
  elseif (not old) and (not e) then
    return
  end
  set_ttl(key, e)
end
-- The metadata field of the session in `key`, or false when there is no session.
local function meta(key)
  local m = redis.call('HGET', key, 'm')
  if m then return m end
UPGRADE
end
"#;

/// The end of `meta` (when the hash has no `m` field): rewrites a hash of the first layout
/// (`m:version`, `m:created` … and `a:<name>` beside `v:<name>`) into the current one in
/// place, with the native TTL, and returns the new metadata, or false when the hash is empty.
/// Only a store's first write to such a hash runs it. (Inline rather than a function of its
/// own: every script builds its helper functions on every call.)
const UPGRADE: &str = r#"
  local all = redis.call('HGETALL', key)
  if #all == 0 then return false end
  local f = {}
  for k = 1, #all, 2 do f[all[k]] = all[k + 1] end
  if not f['m:version'] then
    error('session hash ' .. key .. ' has neither layout')
  end
  local set, old = {}, {}
  for name, value in pairs(f) do
    local kind = string.sub(name, 1, 2)
    if kind == 'a:' then
      local version = f['v:' .. string.sub(name, 3)]
      if not version then
        error('session hash ' .. key .. ': ' .. name .. ' has no version')
      end
      set[#set + 1] = name
      set[#set + 1] = version .. ' ' .. value
    elseif kind == 'v:' or kind == 'm:' then
      old[#old + 1] = name
    end
  end
  local principal = f['m:principal']
  m = f['m:version'] .. ' ' .. f['m:created'] .. ' ' .. f['m:last'] .. ' ' ..
    (f['m:idle'] or '') .. ' ' .. (f['m:abs'] or '') .. ' ' .. f['m:codec'] .. ' ' ..
    f['m:size'] .. ' ' .. f['m:count'] .. ' ' .. (principal and ('=' .. principal) or '')
  set[#set + 1] = 'm'
  set[#set + 1] = m
  -- Written before the old fields go, so the hash never disappears.
  batched('HSET', key, set)
  batched('HDEL', key, old)
  -- The first layout's TTL was the expiry itself; the scripts expect `native` of it.
  set_ttl(key, lifetime(m))
  return m
"#;

/// `create`: ARGV = now, the expiry ('' for never), then field/value pairs. Refuses when a
/// live record is there; replaces an expired one. Returns `{'ok'}` or `{'exists'}`.
///
/// On a single server the indexes may come along (KEYS[2] all sessions, KEYS[3] expiry,
/// KEYS[4] the principal's set when the record has a principal), so a new session is one
/// command instead of three; in a Cluster they live in other slots and the store adds them.
const CREATE: &str = r#"
local key = KEYS[1]
-- A fresh key, the common case, costs one call here instead of meta's two.
local m = redis.call('EXISTS', key) == 1 and meta(key)
if m then
  local e = lifetime(m)
  if (not e) or e > tonumber(ARGV[1]) then return {'exists'} end
  -- An expired record's attributes must not show through the new one's.
  redis.call('DEL', key)
end
batched('HSET', key, ARGV, 3)
set_ttl(key, ARGV[2] ~= '' and tonumber(ARGV[2]))
if KEYS[2] then
  local hex = string.match(key, '{(%x+)}$')
  redis.call('ZADD', KEYS[2], 0, hex)
  redis.call('ZADD', KEYS[3], ARGV[2] ~= '' and ARGV[2] or '+inf', hex)
  if KEYS[4] then redis.call('SADD', KEYS[4], hex) end
end
return {'ok'}
"#;

/// `save`: applies a change set with the version rule of `Record::apply`.
///
/// ARGV = now, loaded version, n (upserts), r (removals), options, the options' arguments, the
/// n + r field names (`a:<name>`, upserts first), the additions' d field names, the n values,
/// then the d amounts (the names side by side, so one `HMGET` reads every touched field).
/// Options is empty for the common save that only sets and removes attributes; otherwise it
/// holds `c` (cleared first), `s` (principal set: its argument is the
/// principal) or `r` (principal removed), `e` (new expiry policy: arguments idle and absolute
/// milliseconds, '' when off) and `a` (additions: the argument is d), their arguments in that
/// order.
///
/// An addition adds an integer amount to the value the rest of the change set leaves, by the
/// rule of session-core's `add_to_json_integer`: JSON-codec records only, the value absent
/// (0) or a JSON integer `-?(0|[1-9][0-9]*)`, the amount and the sum within ±(2^53 - 1),
/// which Lua's numbers (doubles) hold exactly. Additions are not checked for conflicts.
///
/// Returns the new version (an integer) when options is empty or only `a`, otherwise
/// `{'ok', version, expires (-1 never), old principal, new principal}`; or `{'gone'}`,
/// `{'conflict', detail}`, `{'addition', attribute, detail}`, `{'limit_attributes', n}`,
/// `{'limit_size', n}`.
///
/// Without a clear it makes three calls whatever the number of changed attributes: one
/// `HMGET` of the metadata and the touched attributes (additions included), one `HSET` (plus
/// an `HDEL` when something is removed) and the expiry. When the record is still at the loaded version, no
/// attribute can be newer, so the attributes' versions are not even parsed.
const SAVE: &str = r#"
local key = KEYS[1]
local n, r, options = ARGV[3] + 0, ARGV[4] + 0, ARGV[5]
local at = 6
local cleared, principal_mode, new_policy = false, false, false
local principal_arg, idle_arg, abs_arg
local adds = 0
if options ~= '' then
  cleared = string.find(options, 'c', 1, true)
  if string.find(options, 's', 1, true) then
    principal_mode, principal_arg, at = 'set', ARGV[at], at + 1
  elseif string.find(options, 'r', 1, true) then
    principal_mode = 'remove'
  end
  if string.find(options, 'e', 1, true) then
    new_policy, idle_arg, abs_arg, at = true, ARGV[at], ARGV[at + 1], at + 2
  end
  if string.find(options, 'a', 1, true) then
    adds, at = ARGV[at] + 0, at + 1
  end
end
local names_end = at + n + r - 1
local adds_at = names_end + 1
-- An upsert's value is this far after its name; the additions' amounts follow the values.
local vo = n + r + adds
local amounts_at = adds_at + adds + n

-- The metadata and the touched attributes' old values (got[1], then the n + r upserted and
-- removed ones, then the additions').
local function fetch()
  local last = names_end + adds
  if last - at < 200 then return redis.call('HMGET', key, 'm', unpack(ARGV, at, last)) end
  local names = {}
  for k = at, last do names[#names + 1] = ARGV[k] end
  local got = batched('HMGET', key, names)
  table.insert(got, 1, redis.call('HGET', key, 'm'))
  return got
end
local got = fetch()
if not got[1] then
  if not meta(key) then return {'gone'} end
  got = fetch()
end
local v, c, l, i, a, codec, size, count, p = string.match(got[1], META)
local now = ARGV[1] + 0
local last = l + 0
local idle, abs = i ~= '' and i + 0, a ~= '' and a + 0
local created = abs and c + 0
local e = expiry(created, last, idle, abs)
if e and e <= now then return {'gone'} end
local version = v + 0
local loaded = ARGV[2] + 0
-- Every write gives its attributes the record's new version, so none is newer than the record.
local check = version > loaded
size, count = size + 0, count + 0

local all = false
if cleared then
  all = redis.call('HGETALL', key)
  for k = 1, #all, 2 do
    local f = all[k]
    if check and string.sub(f, 1, 2) == 'a:' then
      local value = all[k + 1]
      if string.sub(value, 1, string.find(value, ' ', 1, true) - 1) + 0 > loaded then
        return {'conflict', 'clear would drop attribute "' .. string.sub(f, 3) .. '"'}
      end
    end
  end
end
for k = 2, n + r + 1 do
  local value = got[k]
  if value then
    local space = string.find(value, ' ', 1, true)
    if check and string.sub(value, 1, space - 1) + 0 > loaded then
      return {'conflict', 'attribute "' .. string.sub(ARGV[at + k - 2], 3) .. '"'}
    end
    size = size - #ARGV[at + k - 2] + 2 - #value + space
    count = count - 1
  end
end

local old_principal = p ~= '' and string.sub(p, 2)
local new_principal = old_principal
if principal_mode == 'set' then
  new_principal = principal_arg
elseif principal_mode == 'remove' then
  new_principal = false
end
if cleared then
  size, count = 0, 0
elseif old_principal then
  size = size - #old_principal
end
for k = at, at + n - 1 do
  size = size + #ARGV[k] - 2 + #ARGV[k + vo]
  count = count + 1
end
if new_principal then size = size + #new_principal end

-- The additions' sums, as field/value pairs for the HSET below.
local sums = {}
if adds > 0 then
  local refused = function(field, why) return {'addition', string.sub(field, 3), why} end
  if codec ~= '1' then return refused(ARGV[adds_at], 'additions need a record of the JSON codec') end
  -- Tables only when there is something to look up in them.
  local upserted, removed = false, false
  if n > 0 then
    upserted = {}
    for k = at, at + n - 1 do upserted[ARGV[k]] = ARGV[k + vo] end
  end
  if r > 0 then
    removed = {}
    for k = at + n, names_end do removed[ARGV[k]] = true end
  end
  for j = 1, adds do
    local field = ARGV[adds_at + j - 1]
    local old_value = got[n + r + 1 + j]
    local amount = tonumber(ARGV[amounts_at + j - 1])
    if not amount or math.abs(amount) > MAX_SAFE then
      return refused(field, OUT_OF_RANGE)
    end
    local base, existing = upserted and upserted[field], false
    if (not base) and (not cleared) and (not (removed and removed[field])) and old_value then
      existing = string.sub(old_value, string.find(old_value, ' ', 1, true) + 1)
      base = existing
    end
    local value = 0
    if base then
      local digits = string.match(base, '^%-?(%d+)$')
      if not digits or #digits > 16 or (#digits > 1 and string.sub(digits, 1, 1) == '0') then
        return refused(field, NOT_AN_INTEGER)
      end
      value = base + 0
      if math.abs(value) > MAX_SAFE then return refused(field, NOT_AN_INTEGER) end
    end
    local sum = value + amount
    if math.abs(sum) > MAX_SAFE then return refused(field, OUT_OF_RANGE) end
    local text = string.format('%d', sum)
    if upserted and upserted[field] then
      size = size + #text - #upserted[field]
    elseif existing then
      size = size + #text - #existing
    else
      size = size + #field - 2 + #text
      count = count + 1
    end
    sums[#sums + 1] = field
    sums[#sums + 1] = text
  end
end
if count > MAX_ATTRIBUTES then return {'limit_attributes', count} end
if size > MAX_RECORD_BYTES then return {'limit_size', size} end

version = version + 1
local prefix = string.format('%d ', version)
-- Deletions first: a cleared attribute that is set again must end up set.
if cleared then
  local del = {}
  for k = 1, #all, 2 do
    if string.sub(all[k], 1, 2) == 'a:' then del[#del + 1] = all[k] end
  end
  batched('HDEL', key, del)
end
if r > 0 then
  local del = {}
  for k = at + n, names_end do del[#del + 1] = ARGV[k] end
  batched('HDEL', key, del)
end
local set = {}
for k = at, at + n - 1 do
  set[#set + 1] = ARGV[k]
  set[#set + 1] = prefix .. ARGV[k + vo]
end
-- After the upserts: HSET keeps the last value of a field named twice.
for k = 1, #sums, 2 do
  set[#set + 1] = sums[k]
  set[#set + 1] = prefix .. sums[k + 1]
end
if new_policy then
  i, a = idle_arg, abs_arg
  idle, abs = i ~= '' and tonumber(i), a ~= '' and tonumber(a)
  created = abs and tonumber(c)
end
if now > last then
  last = now
  l = ARGV[1]
end
set[#set + 1] = 'm'
-- One concatenation (size and count are small integers, which `..` writes as `%d` would).
set[#set + 1] = prefix .. c .. ' ' .. l .. ' ' .. i .. ' ' .. a .. ' ' .. codec .. ' ' .. size .. ' ' ..
  count .. ' ' .. (new_principal and ('=' .. new_principal) or '')
batched('HSET', key, set)
local old_e = e
e = expiry(created, last, idle, abs)
renew_ttl(key, old_e, e)
if options == '' or options == 'a' then return version end
return {'ok', version, e or -1, old_principal or '', new_principal or ''}
"#;

/// `touch`: ARGV = now. Returns the new expiry (-1 for never), or nil when there is no live
/// record. Nothing is written unless "now" moves `last` forward, and the TTL only when the
/// expiry moves into another minute.
const TOUCH: &str = r#"
local key = KEYS[1]
local m = meta(key)
if not m then return false end
local v, c, l, i, a, rest = string.match(m, '^(%d+) (%d+) (%d+) (%d*) (%d*) (.*)$')
local now = tonumber(ARGV[1])
local last = tonumber(l)
local idle, abs = i ~= '' and tonumber(i), a ~= '' and tonumber(a)
local created = abs and tonumber(c)
local e = expiry(created, last, idle, abs)
if e and e <= now then return false end
if now > last then
  redis.call('HSET', key, 'm', v .. ' ' .. c .. ' ' .. ARGV[1] .. ' ' .. i .. ' ' .. a .. ' ' .. rest)
  local old = e
  e = expiry(created, now, idle, abs)
  renew_ttl(key, old, e)
end
return e or -1
"#;

/// `delete`: ARGV = now. Returns `{'none'}` or `{'deleted', live (0/1), principal}`.
const DELETE: &str = r#"
local key = KEYS[1]
local m = meta(key)
redis.call('DEL', key)
if not m then return {'none'} end
local e = lifetime(m)
local live = '0'
if (not e) or e > tonumber(ARGV[1]) then live = '1' end
local p = select(9, string.match(m, META))
return {'deleted', live, p ~= '' and string.sub(p, 2) or ''}
"#;

/// Removes the record only if it still has version ARGV[1] (the last step of `cycle_id`).
/// Returns 1 when removed.
const DELETE_IF_VERSION: &str = r#"
local m = meta(KEYS[1])
if m and string.match(m, '^%d+') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// The sweep's step for one key: ARGV = now. Returns `{'missing'}`, `{'live', expires}` (-1
/// for never) or `{'expired', principal}` (then the record is removed).
const DELETE_IF_EXPIRED: &str = r#"
local key = KEYS[1]
local m = meta(key)
if not m then return {'missing'} end
local e = lifetime(m)
if (not e) or e > tonumber(ARGV[1]) then return {'live', e or -1} end
redis.call('DEL', key)
local p = select(9, string.match(m, META))
return {'expired', p ~= '' and string.sub(p, 2) or ''}
"#;

/// Gives back a principal's lease (`principal_lease`) only if it still holds this writer's
/// token, so a writer whose lease expired cannot end another writer's.
const RELEASE_LEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                             return redis.call('DEL', KEYS[1]) end return 0";

/// A script of a store operation, and whether it may be sent again when its connection drops.
pub(crate) struct StoreScript {
    pub(crate) script: Script,
    pub(crate) on_dropped: OnDropped,
}

/// The compiled scripts (each carries its SHA-1; `EVALSHA` first, loaded on `NOSCRIPT`, so a
/// restarted server or a new cluster node gets them again by itself).
pub(crate) struct Scripts {
    /// Sent again: a second run finds the record the first made and refuses (`exists`), so
    /// the worst outcome is a create reported refused whose record stays until it expires,
    /// never a changed record. (After a restart, the usual case, the first run never
    /// reached the new server.)
    pub(crate) create: StoreScript,
    /// Never sent again: a second run would add an addition twice.
    pub(crate) save: StoreScript,
    /// Sent again: a second touch sets the same access time.
    pub(crate) touch: StoreScript,
    /// Sent again: a second run finds nothing to delete.
    pub(crate) delete: StoreScript,
    /// Sent once (the last step of `cycle_id`, which retries on its own terms).
    pub(crate) delete_if_version: Script,
    /// Sent again: a second run finds the record gone or live as before.
    pub(crate) delete_if_expired: StoreScript,
    /// Sent once: a lease not given back expires.
    pub(crate) release_lease: Script,
}

impl Scripts {
    /// The scripts of a store with these record limits (the save script checks them).
    pub(crate) fn new(limits: &Limits) -> Self {
        let prelude = PRELUDE.replace("UPGRADE", UPGRADE);
        let with_prelude = |body: &str| Script::new(&format!("{prelude}{body}"));
        // Compiled in rather than passed: every argument costs the script time on each call.
        let limits = format!(
            "local MAX_ATTRIBUTES, MAX_RECORD_BYTES = {}, {}\n\
             local MAX_SAFE, NOT_AN_INTEGER, OUT_OF_RANGE = {}, '{}', '{}'\n",
            limits.max_attributes,
            limits.max_record_bytes,
            session_core::MAX_SAFE_INTEGER,
            session_core::AdditionError::NotAnInteger,
            session_core::AdditionError::OutOfRange,
        );
        let store_script = |body: &str, on_dropped| StoreScript {
            script: with_prelude(body),
            on_dropped,
        };
        Scripts {
            create: store_script(CREATE, OnDropped::SendAgain),
            save: store_script(&format!("{limits}{SAVE}"), OnDropped::Fail),
            touch: store_script(TOUCH, OnDropped::SendAgain),
            delete: store_script(DELETE, OnDropped::SendAgain),
            delete_if_version: with_prelude(DELETE_IF_VERSION),
            delete_if_expired: store_script(DELETE_IF_EXPIRED, OnDropped::SendAgain),
            release_lease: Script::new(RELEASE_LEASE),
        }
    }
}
