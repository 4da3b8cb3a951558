-- workwise::redis::RedisRateLimiter's decision: see the protocol in mod.rs.
local key = KEYS[1]
local cost = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local now_s, now_ns
if ARGV[4] then
  now_s = tonumber(ARGV[4])
  now_ns = tonumber(ARGV[5])
else
  local t = redis.call('TIME')
  now_s = tonumber(t[1])
  now_ns = tonumber(t[2]) * 1000
end
local ahead = 0
local v = redis.pcall('GET', key)
if type(v) == 'table' then
  return {-1, 'a value of type ' .. redis.call('TYPE', key).ok}
end
if v then
  if #v == 0 or #v > 19 or not string.match(v, '^%d+$') then
    return {-1, v}
  end
  local tat_s, tat_ns = 0, tonumber(v)
  if #v > 9 then
    tat_s = tonumber(string.sub(v, 1, -10))
    tat_ns = tonumber(string.sub(v, -9))
  end
  if tat_s >= now_s then
    if tat_s - now_s > 9000000 then
      return {-1, v}
    end
    ahead = (tat_s - now_s) * 1000000000 + tat_ns - now_ns
    if ahead < 0 then ahead = 0 end
  end
end
local new = ahead + cost
local wait = new - window
if wait < 0 then wait = 0 end
if wait > max_wait then
  return {0, wait}
end
local total = now_ns + new
local carry = math.floor(total / 1000000000)
local tat = string.format('%d%09d', now_s + carry, total - carry * 1000000000)
if ARGV[4] then
  redis.call('SET', key, tat)
else
  redis.call('SET', key, tat, 'PX', string.format('%d', math.floor(new / 1000000) + 1))
end
return {1, wait}
