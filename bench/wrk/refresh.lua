-- refresh_token grants with rotation: a refresh token works once, and each answer carries the
-- next one. Each wrk thread starts with its share of the seed tokens (WRK_SEEDS, one a line,
-- obtained by real login flows just before the run) and keeps a pool: request() takes a token,
-- response() puts back the rotated one. So every request presents a live, never-used token,
-- as a real client would; a failed request loses its chain (and shows as an error).
--   WRK_SEEDS  file of refresh tokens;  WRK_THREADS  wrk's -t;  WRK_AUTH  Basic credentials
local threads_made = 0
function setup(thread)
  thread:set("thread_index", threads_made)
  threads_made = threads_made + 1
end

local pool = {}
local auth = os.getenv("WRK_AUTH")

function init(args)
  local n, i = tonumber(os.getenv("WRK_THREADS")), 0
  for line in io.lines(os.getenv("WRK_SEEDS")) do
    if line ~= "" then
      if i % n == thread_index then table.insert(pool, line) end
      i = i + 1
    end
  end
end

function request()
  local token = table.remove(pool) or "pool-exhausted"
  return wrk.format("POST", nil, {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if token then table.insert(pool, token) end
end
