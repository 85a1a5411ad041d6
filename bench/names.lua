-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/dnswait.sh: "GET /small" with "Host: svcN.<domain>:<port>", N rotating over BENCH_HOSTS
-- names. Unlike run-peers.sh's bench.lua (whose two threads start 499 names apart and so soon walk over names
-- the other one already sent), each wrk thread owns its own slice of the names: with enough names (NAMES=300000 at
-- up to ~50,000 requests/s per thread for 3 s) no name is ever asked for twice, so every request is a cold name.
-- Environment: BENCH_HOSTS, BENCH_THREADS (wrk's -t, default 2), BENCH_DOMAIN, BENCH_ORIGIN_PORT, BENCH_PATH.
local nhosts = tonumber(os.getenv("BENCH_HOSTS") or "1000")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local domain = os.getenv("BENCH_DOMAIN") or "bench.test"
local port = os.getenv("BENCH_ORIGIN_PORT") or "18080"
local path = os.getenv("BENCH_PATH") or "/small"

local started = 0
function setup(thread)
    thread:set("tid", started)
    started = started + 1
end

local first, count, idx
function init(args)
    count = math.max(1, math.floor(nhosts / nthreads))
    first = (tonumber(tid) or 0) * count
    idx = 0
end

function request()
    local n = first + idx + 1
    idx = (idx + 1) % count
    return wrk.format("GET", path, { ["Host"] = "svc" .. n .. "." .. domain .. ":" .. port })
end
