-- wrk script: /authz/check where every request presents a token the server has not checked
-- before (read from $TOKENS.<n>, one file per wrk thread, each token used once, in order).
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("TOKENS") .. "." .. id) do
    tokens[#tokens + 1] = line
  end
  nexti = 0
end

function request()
  nexti = nexti + 1
  if nexti > #tokens then
    -- Out of fresh tokens: the run is too long for the pool; fail loudly rather than reuse.
    return wrk.format("GET", "/pool-exhausted")
  end
  return wrk.format("GET", "/authz/check", {
    ["Authorization"] = "Bearer " .. tokens[nexti],
    ["X-Original-Method"] = "GET",
    ["X-Original-URI"] = "/shopping/1.0.0/orders",
  })
end
