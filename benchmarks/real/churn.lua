-- lua5.4 workload of real_bench.py: strings formatted, sorted, indexed in tables,
-- concatenated and rewritten with gsub.  arg[1]: strings per round.  Output: a
-- checksum of everything computed (independent of pairs() order, which Lua
-- randomises per run), then "maps <file>" for every mapped file (the preload check)
-- and the VmHWM line of /proc/self/status (the peak RSS).
local n = tonumber(arg[1])
local seed = 1
local function rnd(m)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % m
end
local h = 0
for round = 1, 4 do
  local t = {}
  for i = 1, n do t[i] = string.format("%06d:%s:%d", rnd(1000000), string.rep("x", rnd(60)), i) end
  table.sort(t)
  local m = {}
  for i = 1, n do
    local k = t[i]:sub(1, 4)
    local e = m[k]
    if e then e[#e + 1] = t[i] else m[k] = { t[i] } end
  end
  local cnt = 0
  for k, v in pairs(m) do cnt = cnt + #v * #k + #v[#v] end
  local s = table.concat(t, ",", 1, n // 2)
  local g, subs = s:gsub("x+", function(x) return #x end)
  h = (h * 31 + cnt + #g + subs + #t[n // 3]) % 1000000007
  t, m, s, g = nil, nil, nil, nil
  collectgarbage()
end
print("lua", n, h)
for line in io.lines("/proc/self/maps") do
  local p = line:match("(/.*)$")
  if p then print("maps " .. p) end
end
for line in io.lines("/proc/self/status") do
  if line:match("^VmHWM:") then print(line) end
end
