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
const SAVE: &str = r#"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local loaded = tonumber(ARGV[2])
local cleared = ARGV[3] == '1'
local meta = load_meta(key)
if not is_live(meta, now) then return {'gone'} end
local n = tonumber(ARGV[11])
local first_removal = 12 + 2 * n

local function newer(name)
  local v = redis.call('HGET', key, 'v:' .. name)
  return v and tonumber(v) > loaded
end
local fields = false
if cleared then
  fields = redis.call('HKEYS', key)
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'v:' and tonumber(redis.call('HGET', key, f)) > loaded then
      return {'conflict', 'clear would drop attribute "' .. string.sub(f, 3) .. '"'}
    end
  end
end
for i = 0, n - 1 do
  local name = ARGV[12 + 2 * i]
  if newer(name) then return {'conflict', 'attribute "' .. name .. '"'} end
end
for i = first_removal, #ARGV do
  if newer(ARGV[i]) then return {'conflict', 'attribute "' .. ARGV[i] .. '"'} end
end

local old_principal = redis.call('HGET', key, 'm:principal')
local new_principal = old_principal
if ARGV[4] == '1' then new_principal = ARGV[5] elseif ARGV[4] == '2' then new_principal = false end
local size = tonumber(redis.call('HGET', key, 'm:size'))
local count = tonumber(redis.call('HGET', key, 'm:count'))
if old_principal then size = size - #old_principal end
if cleared then
  size = 0
  count = 0
else
  for i = first_removal, #ARGV do
    local old = redis.call('HGET', key, 'a:' .. ARGV[i])
    if old then size = size - #ARGV[i] - #old; count = count - 1 end
  end
end
for i = 0, n - 1 do
  local name, value = ARGV[12 + 2 * i], ARGV[13 + 2 * i]
  if not cleared then
    local old = redis.call('HGET', key, 'a:' .. name)
    if old then size = size - #name - #old; count = count - 1 end
  end
  size = size + #name + #value
  count = count + 1
end
if new_principal then size = size + #new_principal end
if count > tonumber(ARGV[9]) then return {'limit_attributes', tostring(count)} end
if size > tonumber(ARGV[10]) then return {'limit_size', fmt(size)} end

local version = meta.version + 1
if cleared then
  for _, f in ipairs(fields) do
    local p = string.sub(f, 1, 2)
    if p == 'a:' or p == 'v:' then redis.call('HDEL', key, f) end
  end
end
for i = first_removal, #ARGV do
  redis.call('HDEL', key, 'a:' .. ARGV[i], 'v:' .. ARGV[i])
end
for i = 0, n - 1 do
  local name = ARGV[12 + 2 * i]
  redis.call('HSET', key, 'a:' .. name, ARGV[13 + 2 * i], 'v:' .. name, fmt(version))
end
if new_principal then redis.call('HSET', key, 'm:principal', new_principal)
else redis.call('HDEL', key, 'm:principal') end
local idle, abs = meta.idle, meta.abs
if ARGV[6] == '1' then
  idle, abs = num(ARGV[7] ~= '' and ARGV[7]), num(ARGV[8] ~= '' and ARGV[8])
  if idle then redis.call('HSET', key, 'm:idle', ARGV[7]) else redis.call('HDEL', key, 'm:idle') end
  if abs then redis.call('HSET', key, 'm:abs', ARGV[8]) else redis.call('HDEL', key, 'm:abs') end
end
local last = math.max(meta.last, now)
redis.call('HSET', key, 'm:last', fmt(last), 'm:version', fmt(version),
  'm:size', fmt(size), 'm:count', fmt(count))
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

/// The compiled scripts (each carries its SHA-1; `EVALSHA` first, loaded on `NOSCRIPT`, so a
/// restarted server or a new cluster node gets them again by itself).
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) save: Script,
    pub(crate) touch: Script,
    pub(crate) delete: Script,
    pub(crate) delete_if_version: Script,
    pub(crate) delete_if_expired: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            create: with_prelude(CREATE),
            save: with_prelude(SAVE),
            touch: with_prelude(TOUCH),
            delete: with_prelude(DELETE),
            delete_if_version: Script::new(DELETE_IF_VERSION),
            delete_if_expired: with_prelude(DELETE_IF_EXPIRED),
        }
    }
}
