-- wrk script of bench/load.py for the reflection autosave: each thread is one participant with
-- one connection, saving his draft again and again. A save must carry the current revision
-- (an older one is refused with 409), so each thread keeps the revision the last save returned.
--   BENCH_DRAFTS: a file with one line per thread: path, cookie, CSRF token, revision (tab-separated)
-- The summary line comes from report.lua, loaded from this script's own folder.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local participants = {}
for line in io.lines(os.getenv("BENCH_DRAFTS")) do
  local path, cookie, csrf, revision = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(%d+)$")
  table.insert(participants, { path = path, cookie = cookie, csrf = csrf, revision = revision })
end

local report_setup = setup
local next_participant = 0

function setup(thread)
  report_setup(thread)
  next_participant = next_participant + 1
  local p = participants[next_participant]
  if p == nil then
    error("more wrk threads than participants in BENCH_DRAFTS")
  end
  thread:set("path", p.path)
  thread:set("cookie", p.cookie)
  thread:set("csrf", p.csrf)
  thread:set("revision", p.revision)
end

local function urlencode(text)
  return (text:gsub("[^%w%-_%.~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  non2xx = 0
  saves = 0
  save_headers = { ["Cookie"] = cookie, ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
  saves = saves + 1
  -- A different text each time, so every save writes the draft.
  local text = "What I learned this week, draft " .. saves .. " of the load benchmark."
  local form = "csrf_token=" .. urlencode(csrf) .. "&revision=" .. revision
    .. "&text=" .. urlencode(text)
  return wrk.format("POST", path, save_headers, form)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  revision = body:match('"revision"%s*:%s*(%d+)') or revision
end
