-- Sends the signed calls of scripts/signed-calls once each: every wrk thread takes its own share
-- of the file (a nonce sent twice would be refused), and a thread stops when its share ends. The
-- script that loads this sets SIGNED_CALLS (the file) and THREADS (wrk's -t) first.
local next_thread = 0
function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local signatures = {}
local used = 0

function init(args)
  local index = 0
  for line in io.lines(SIGNED_CALLS) do
    if index % THREADS == thread_index then
      local ts, nonce, sign = line:match("^(%S+) (%S+) (%S+)$")
      signatures[#signatures + 1] = { ts, nonce, sign }
    end
    index = index + 1
  end
end

-- Puts the next unused signature on the request's headers; false when this thread has none left.
function sign_next()
  used = used + 1
  local signature = signatures[used]
  if signature == nil then
    wrk.thread:stop()
    return false
  end
  wrk.headers["Ts"] = signature[1]
  wrk.headers["Nonce"] = signature[2]
  wrk.headers["Sign"] = signature[3]
  return true
end
