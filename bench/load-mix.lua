-- bench/load-mix.lua: wrk script for bench/load.sh.  Reads on the control
-- API in a fixed interleaving: GET /status 75%, GET /apps/<id> 15%,
-- GET /logs/<id>?tail=20 10%.  Each thread stops after BENCH_MAX_PER_THREAD
-- answers (a bounded request count); 4xx and 5xx answers are counted.
local tok = os.getenv("BENCH_TOKEN")
local app = os.getenv("BENCH_APP")
local max_per_thread = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "100000")
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	local hdr = { ["Authorization"] = "Bearer " .. tok }
	reqs = {
		wrk.format("GET", "/status", hdr),
		wrk.format("GET", "/apps/" .. app, hdr),
		wrk.format("GET", "/logs/" .. app .. "?tail=20", hdr),
	}
	plan = {}
	for i = 1, 20 do
		local k = 1
		if i % 10 == 3 then k = 3 elseif i % 20 == 7 or i % 20 == 14 or i % 20 == 19 then k = 2 end
		plan[#plan + 1] = k
	end
	sent, answered, s4, s5 = 0, 0, 0, 0
end

function request()
	sent = sent + 1
	return reqs[plan[(sent % #plan) + 1]]
end

function response(status, headers, body)
	answered = answered + 1
	if status >= 500 then
		s5 = s5 + 1
	elseif status >= 400 then
		s4 = s4 + 1
	end
	if answered >= max_per_thread then
		wrk.thread:stop()
	end
end

function done(summary, latency, requests)
	local t4, t5 = 0, 0
	for _, t in ipairs(threads) do
		t4 = t4 + t:get("s4")
		t5 = t5 + t:get("s5")
	end
	local e = summary.errors
	io.write(string.format("MIX requests=%d seconds=%.2f p50=%.2f p99=%.2f s4=%d s5=%d errors=%d closed=%d\n",
		summary.requests, summary.duration / 1e6,
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, t4, t5,
		e.connect + e.write + e.timeout, e.read))
end
