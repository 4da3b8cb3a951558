//! The queue's server-side scripts. Each runs atomically in Redis, so a
//! check and the write it guards cannot interleave with another process's.
//!
//! Keys of a queue named `NAME` (the braces make `NAME` the Redis Cluster
//! hash tag, so that every key of one queue lives on one node, as scripts
//! need):
//! - `workwise:{NAME}:stream`: the items, one entry each, field `v` = JSON;
//! - `workwise:{NAME}:dead`: the dead letters (field `id` = the entry's id in
//!   the stream, `deliveries`, `reason`, then the entry's own fields);
//! - `workwise:{NAME}:closed`: exists once the queue is closed.

/// Moves entry ARGV[2] of stream KEYS[1] to the dead letters KEYS[2] with
/// all its fields, then acknowledges and deletes it. Shared by `TAKE` and
/// `BURY`.
const BURY_FN: &str = r"
local function bury(stream, dead, group, id, deliveries, reason)
  local args = {dead, '*', 'id', id, 'deliveries', deliveries, 'reason', reason}
  local e = redis.call('XRANGE', stream, id, id)
  if e[1] then
    for _, x in ipairs(e[1][2]) do table.insert(args, x) end
  end
  redis.call('XADD', unpack(args))
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
end
";

/// `PUT`: KEYS = stream, closed; ARGV = capacity (0: none), payload.
/// Returns 1 put, 0 full, -1 closed.
pub(crate) const PUT: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local cap = tonumber(ARGV[1])
if cap > 0 and redis.call('XLEN', KEYS[1]) >= cap then return 0 end
redis.call('XADD', KEYS[1], '*', 'v', ARGV[2])
return 1
";

/// `LEAVE`: KEYS = stream; ARGV = group, consumer. Removes the consumer
/// from the group if it holds no item (removing one that holds items would
/// drop them from the pending list, losing them). Returns 1 if removed.
pub(crate) const LEAVE: &str = r"
local s = redis.call('XPENDING', KEYS[1], ARGV[1])
if s[4] then
  for _, c in ipairs(s[4]) do
    if c[1] == ARGV[2] and tonumber(c[2]) > 0 then return 0 end
  end
end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) >= 0 and 1 or 0
";

/// `BURY`: KEYS = stream, dead; ARGV = group, id, deliveries, reason.
pub(crate) fn bury() -> String {
    format!("{BURY_FN}\nbury(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])\nreturn 1")
}

/// `TAKE`: KEYS = stream, dead, closed; ARGV = group, consumer,
/// min idle ms, max deliveries, claim cursor.
///
/// 1. Claim one entry idle for at least the visibility timeout (XAUTOCLAIM,
///    from this consumer's cursor); one delivered more than max deliveries
///    times is buried and the next one tried.
/// 2. Else read one new entry (XREADGROUP >, not blocking).
/// 3. Else say whether the queue is closed and how many undone items are
///    held by other consumers (those may still come back).
///
/// Returns `{found, id, payload|false, deliveries, buried, cursor, closed,
/// left}`.
pub(crate) fn take() -> String {
    format!(
        "{BURY_FN}{}",
        r"
local stream, dead, closed = KEYS[1], KEYS[2], KEYS[3]
local group, me, idle = ARGV[1], ARGV[2], ARGV[3]
local maxd, cursor = tonumber(ARGV[4]), ARGV[5]
local buried = 0
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return false
end
for _ = 1, 16 do
  local claimed = redis.call('XAUTOCLAIM', stream, group, me, idle, cursor, 'COUNT', 1)
  cursor = claimed[1]
  local e = claimed[2][1]
  if not e then break end
  local id = e[1]
  local p = redis.call('XPENDING', stream, group, id, id, 1)
  local n = 1
  if p[1] then n = tonumber(p[1][4]) end
  if n > maxd then
    bury(stream, dead, group, id, n,
      'delivered ' .. n .. ' times, more than max_deliveries (' .. maxd .. ')')
    buried = buried + 1
  else
    return {1, id, field(e[2], 'v'), n, buried, cursor, 0, 0}
  end
end
local r = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', 1, 'STREAMS', stream, '>')
if r and r[1] and r[1][2][1] then
  local e = r[1][2][1]
  return {1, e[1], field(e[2], 'v'), 1, buried, cursor, 0, 0}
end
local is_closed = redis.call('EXISTS', closed)
local left = 0
if is_closed == 1 then
  local mine = 0
  local s = redis.call('XPENDING', stream, group)
  if s[4] then
    for _, c in ipairs(s[4]) do
      if c[1] == me then mine = tonumber(c[2]) end
    end
  end
  left = redis.call('XLEN', stream) - mine
end
return {0, '', false, 0, buried, cursor, is_closed, left}
"
    )
}
