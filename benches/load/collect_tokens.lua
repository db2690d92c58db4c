-- wrk script: issue client_credentials tokens as fast as the server allows and keep every
-- access token, one file per wrk thread ($TOKENS_OUT.<n>), for a later run that must present
-- tokens the server has never seen.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  out = io.open(os.getenv("TOKENS_OUT") .. "." .. id, "w")
  out:setvbuf("full")
end

wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=order_view"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- inventory-service:inventory-secret
wrk.headers["Authorization"] = "Basic aW52ZW50b3J5LXNlcnZpY2U6aW52ZW50b3J5LXNlY3JldA=="

local seen = 0
function response(status, headers, body)
  local token = body:match('"access_token":"([^"]+)"')
  if token then
    out:write(token, "\n")
    seen = seen + 1
    if seen % 1000 == 0 then out:flush() end
  end
end
