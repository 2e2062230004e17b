//! The Lua scripts that make each change to a session one atomic step on the server.
//!
//! Every script works on one session hash (`KEYS[1]`, a single slot in a cluster) and takes the
//! store's "now" as an argument, so expiry is judged by the store's clock: a record expired by
//! that clock is refused or hidden even when Redis has not purged it yet (`PEXPIREAT` does the
//! real purge). The hash layout is described in `fields.rs`.

use redis::Script;

/// Helpers every script starts with.
const PRELUDE: &str = r#"
local function expiry(created, last, idle, abs)
  local e = false
  if idle then e = last + idle end
  if abs then
    local a = created + abs
    if (not e) or a < e then e = a end
  end
  return e
end
local function num(v) if v then return tonumber(v) end return false end
local function load_meta(key)
  local m = redis.call('HMGET', key, 'm:version', 'm:created', 'm:last', 'm:idle', 'm:abs')
  if not m[1] then return false end
  local meta = { version = tonumber(m[1]), created = tonumber(m[2]), last = tonumber(m[3]),
                 idle = num(m[4]), abs = num(m[5]) }
  meta.expires = expiry(meta.created, meta.last, meta.idle, meta.abs)
  return meta
end
local function is_live(meta, now)
  return meta and ((not meta.expires) or meta.expires > now)
end
local function fmt(n) if n then return string.format('%.0f', n) end return '' end
local function set_ttl(key, e)
  if e and e < 140737488355328 then
    redis.call('PEXPIREAT', key, fmt(e))
  else
    redis.call('PERSIST', key)
  end
end
"#;

/// Helpers of the scripts that write many fields (`create`, `save`); kept out of the others,
/// which would otherwise build these closures on every call for nothing.
const BATCH_HELPERS: &str = r#"
-- `command key args…` in batches of 200 arguments (an even number, so field/value pairs stay
-- together); the replies of the batches, concatenated (HMGET's nils are false).
local function batched(command, key, args)
  local out = {}
  for first = 1, #args, 200 do
    local r = redis.call(command, key, unpack(args, first, math.min(first + 199, #args)))
    if type(r) == 'table' then
      for i = 1, #r do out[#out + 1] = r[i] end
    end
  end
  return out
end
local function hset_all(key, args, first)
  local batch = {}
  for i = first, #args do
    batch[#batch + 1] = args[i]
    if #batch == 200 then
      redis.call('HSET', key, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('HSET', key, unpack(batch)) end
end
"#;

/// `create`: ARGV = now, then field/value pairs. Refuses when a live record is there; replaces
/// an expired one. Returns `{'ok', expires}` or `{'exists'}`.
const CREATE: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
if is_live(load_meta(key), now) then return {'exists'} end
redis.call('DEL', key)
hset_all(key, ARGV, 2)
local meta = load_meta(key)
set_ttl(key, meta.expires)
return {'ok', fmt(meta.expires)}
"#;

/// `save`: applies a change set with the version rule of `Record::apply`.
/// ARGV = now, loaded_version, cleared (0/1), principal mode (0 keep, 1 set, 2 remove),
/// principal, expiry mode (0 keep, 1 set), idle ('' none), absolute ('' none), max attributes,
/// max record bytes, number of upserts n, n name/value pairs, then the removed names.
/// Returns `{'ok', version, expires, old principal, new principal}`, `{'gone'}`,
/// `{'conflict', detail}`, `{'limit_attributes', n}` or `{'limit_size', n}`.
///
/// Without a clear it makes four calls whatever the number of changed attributes: one `HMGET`
/// of the metadata, one `HMGET` of the touched attributes' versions and values, one `HSET`
/// (plus an `HDEL` when something is removed) and the expiry.
const SAVE: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local loaded = tonumber(ARGV[2])
local cleared = ARGV[3] == '1'
local m = redis.call('HMGET', key, 'm:version', 'm:created', 'm:last', 'm:idle', 'm:abs',
  'm:principal', 'm:size', 'm:count')
if not m[1] then return {'gone'} end
local meta = { version = tonumber(m[1]), created = tonumber(m[2]), last = tonumber(m[3]),
               idle = num(m[4]), abs = num(m[5]) }
meta.expires = expiry(meta.created, meta.last, meta.idle, meta.abs)
if not is_live(meta, now) then return {'gone'} end
local n = tonumber(ARGV[11])
local first_removal = 12 + 2 * n

local names = {}
for i = 0, n - 1 do names[#names + 1] = ARGV[12 + 2 * i] end
for i = first_removal, #ARGV do names[#names + 1] = ARGV[i] end
local query = {}
for _, name in ipairs(names) do
  query[#query + 1] = 'v:' .. name
  query[#query + 1] = 'a:' .. name
end
local old = batched('HMGET', key, query)

local all = false
if cleared then
  all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, 2) == 'v:' and tonumber(all[i + 1]) > loaded then
      return {'conflict', 'clear would drop attribute "' .. string.sub(f, 3) .. '"'}
    end
  end
end
for i, name in ipairs(names) do
  local v = old[2 * i - 1]
  if v and tonumber(v) > loaded then return {'conflict', 'attribute "' .. name .. '"'} end
end

local old_principal = m[6]
local new_principal = old_principal
if ARGV[4] == '1' then new_principal = ARGV[5] elseif ARGV[4] == '2' then new_principal = false end
local size = tonumber(m[7])
local count = tonumber(m[8])
if old_principal then size = size - #old_principal end
if cleared then
  size = 0
  count = 0
else
  for i, name in ipairs(names) do
    local value = old[2 * i]
    if value then size = size - #name - #value; count = count - 1 end
  end
end
for i = 0, n - 1 do
  size = size + #ARGV[12 + 2 * i] + #ARGV[13 + 2 * i]
  count = count + 1
end
if new_principal then size = size + #new_principal end
if count > tonumber(ARGV[9]) then return {'limit_attributes', tostring(count)} end
if size > tonumber(ARGV[10]) then return {'limit_size', fmt(size)} end

local version = meta.version + 1
local set, del = {}, {}
if cleared then
  for i = 1, #all, 2 do
    local p = string.sub(all[i], 1, 2)
    if p == 'a:' or p == 'v:' then del[#del + 1] = all[i] end
  end
end
for i = first_removal, #ARGV do
  del[#del + 1] = 'a:' .. ARGV[i]
  del[#del + 1] = 'v:' .. ARGV[i]
end
for i = 0, n - 1 do
  local name = ARGV[12 + 2 * i]
  set[#set + 1] = 'a:' .. name
  set[#set + 1] = ARGV[13 + 2 * i]
  set[#set + 1] = 'v:' .. name
  set[#set + 1] = fmt(version)
end
if ARGV[4] == '1' then
  set[#set + 1] = 'm:principal'
  set[#set + 1] = new_principal
elseif ARGV[4] == '2' then
  del[#del + 1] = 'm:principal'
end
local idle, abs = meta.idle, meta.abs
if ARGV[6] == '1' then
  idle, abs = num(ARGV[7] ~= '' and ARGV[7]), num(ARGV[8] ~= '' and ARGV[8])
  if idle then set[#set + 1] = 'm:idle'; set[#set + 1] = ARGV[7] else del[#del + 1] = 'm:idle' end
  if abs then set[#set + 1] = 'm:abs'; set[#set + 1] = ARGV[8] else del[#del + 1] = 'm:abs' end
end
local last = math.max(meta.last, now)
set[#set + 1] = 'm:last'
set[#set + 1] = fmt(last)
set[#set + 1] = 'm:version'
set[#set + 1] = fmt(version)
set[#set + 1] = 'm:size'
set[#set + 1] = fmt(size)
set[#set + 1] = 'm:count'
set[#set + 1] = fmt(count)
-- Deletions first: a cleared attribute that is set again must end up set.
batched('HDEL', key, del)
batched('HSET', key, set)
local e = expiry(meta.created, last, idle, abs)
set_ttl(key, e)
return {'ok', fmt(version), fmt(e), old_principal or '', new_principal or ''}
"#;

/// `touch`: ARGV = now. Returns `{'ok', expires}` or `{'none'}`.
const TOUCH: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local meta = load_meta(key)
if not is_live(meta, now) then return {'none'} end
local last = math.max(meta.last, now)
redis.call('HSET', key, 'm:last', fmt(last))
local e = expiry(meta.created, last, meta.idle, meta.abs)
set_ttl(key, e)
return {'ok', fmt(e)}
"#;

/// `delete`: ARGV = now. Returns `{'none'}` or `{'deleted', live (0/1), principal}`.
const DELETE: &str = r#"
local key = KEYS[1]
local meta = load_meta(key)
if not meta then
  redis.call('DEL', key)
  return {'none'}
end
local principal = redis.call('HGET', key, 'm:principal')
redis.call('DEL', key)
local live = '0'
if is_live(meta, tonumber(ARGV[1])) then live = '1' end
return {'deleted', live, principal or ''}
"#;

/// Removes the record only if it still has version ARGV[1] (the last step of `cycle_id`).
/// Returns 1 when removed.
const DELETE_IF_VERSION: &str = r#"
local v = redis.call('HGET', KEYS[1], 'm:version')
if v and v == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// The sweep's step for one key: ARGV = now. Returns `{'missing'}`, `{'live', expires}` or
/// `{'expired', principal}` (then the record is removed).
const DELETE_IF_EXPIRED: &str = r#"
local key = KEYS[1]
local meta = load_meta(key)
if not meta then return {'missing'} end
if is_live(meta, tonumber(ARGV[1])) then return {'live', fmt(meta.expires)} end
local principal = redis.call('HGET', key, 'm:principal')
redis.call('DEL', key)
return {'expired', principal or ''}
"#;

/// Gives back a principal's lease (`principal_lease`) only if it still holds this writer's
/// token, so a writer whose lease expired cannot end another writer's.
const RELEASE_LEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                             return redis.call('DEL', KEYS[1]) end return 0";

/// The compiled scripts (each carries its SHA-1; `EVALSHA` first, loaded on `NOSCRIPT`, so a
/// restarted server or a new cluster node gets them again by itself).
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) save: Script,
    pub(crate) touch: Script,
    pub(crate) delete: Script,
    pub(crate) delete_if_version: Script,
    pub(crate) delete_if_expired: Script,
    pub(crate) release_lease: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            create: Script::new(&format!("{PRELUDE}{BATCH_HELPERS}{CREATE}")),
            save: Script::new(&format!("{PRELUDE}{BATCH_HELPERS}{SAVE}")),
            touch: with_prelude(TOUCH),
            delete: with_prelude(DELETE),
            delete_if_version: Script::new(DELETE_IF_VERSION),
            delete_if_expired: with_prelude(DELETE_IF_EXPIRED),
            release_lease: Script::new(RELEASE_LEASE),
        }
    }
}
