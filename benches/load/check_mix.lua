-- wrk script: /authz/check as nginx auth_request calls it, with a token picked at random from
-- the file named by $TOKENS (one access token per line) for every request, so a few hundred
-- callers reuse their tokens as real clients do.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", "/authz/check", {
    ["Authorization"] = "Bearer " .. token,
    ["X-Original-Method"] = "GET",
    ["X-Original-URI"] = "/shopping/1.0.0/orders?page=1",
  })
end
