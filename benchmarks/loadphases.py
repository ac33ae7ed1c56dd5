"""The phases load.py measures on one server (burst, fanout, latency, churn).

Each is ``async def phase_X(args, srv, res, tag)``: it loads the server,
fills ``res`` with its figures (server CPU per unit of work from ``srv``)
and closes its clients, also when interrupted.  What each measures is in
load.py's docstring.
"""

import asyncio
import statistics
import time

from ircload import (
    close_all, connect_and_register, cpu_delta, load_average, oper_up, pct, ping,
    register_many, sync_all, _join_hook,
)


async def phase_burst(args, srv, res, tag):
    """N clients connect and register at once."""
    n = args.clients
    res.update(clients=n, complete=False)
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + args.phase_budget
    await asyncio.sleep(0.2)                  # let the server settle
    res["rss_before_kib"] = srv.rss_kib()
    nicks = ["%sb%d" % (tag, i) for i in range(n)]
    clients = []
    errors = []
    cpu0 = srv.cpu()
    t0 = time.perf_counter()
    t_last = [t0]

    stats = {}

    async def one(nick):
        try:
            c = await connect_and_register(args.host, args.port, nick,
                                           deadline, args.reg_timeout, stats)
        except Exception as e:   # noqa: BLE001
            errors.append(repr(e))
            return
        clients.append(c)
        t_last[0] = max(t_last[0], c.t_registered)

    tasks = [loop.create_task(one(nk)) for nk in nicks]
    try:
        await asyncio.gather(*tasks)
        res["complete"] = True
    finally:
        for t in tasks:
            t.cancel()
        cpu1 = srv.cpu()
        done = [c for c in clients if c.registered.done()
                and not c.registered.cancelled()
                and c.registered.exception() is None]
        wall = (t_last[0] - t0) if done else (time.perf_counter() - t0)
        cpu, src = cpu_delta(cpu0, cpu1)
        res["registered"] = len(done)
        res["retries"] = stats.get("retries", 0)
        res["errors"] = len(errors)
        if errors:
            res["first_error"] = errors[0]
        res["wall_s"] = wall
        res["connects_per_s"] = len(done) / wall if wall > 0 else None
        res["server_cpu_s"] = cpu
        res["cpu_source"] = src
        res["server_cpu_ms_per_client"] = (1000.0 * cpu / len(done)
                                           if cpu is not None and done else None)
        regs = [c.t_registered - t0 for c in done]
        res["reg_time_p50_s"] = pct(regs, 50)
        res["reg_time_p99_s"] = pct(regs, 99)
        res["complete"] = res["complete"] and len(done) == n
        # Idle memory: let the server settle with all clients connected.
        if done:
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                pass
        res["rss_after_kib"] = srv.rss_kib()
        if res["rss_before_kib"] is not None and res["rss_after_kib"] \
                is not None and done:
            res["rss_kib_per_client"] = ((res["rss_after_kib"]
                                          - res["rss_before_kib"]) / len(done))
        await close_all(clients)


async def phase_fanout(args, srv, res, tag):
    """R receivers in one channel; one sender sends M PRIVMSGs."""
    r, m = args.members, args.messages
    chan = ("#bench%s" % tag).encode()
    res.update(receivers=r, messages=m, complete=False)
    deadline = time.monotonic() + args.phase_budget
    payload = b"x" * max(0, args.payload)
    clients = []
    try:
        # -- setup (not measured) -----------------------------------------
        res["stage"] = "register"
        sender = await connect_and_register(args.host, args.port,
                                            "%ss" % tag, deadline,
                                            args.reg_timeout)
        clients.append(sender)
        await oper_up(args, sender, deadline)
        members, errors = await register_many(
            args.host, args.port, ["%sm%d" % (tag, i) for i in range(r)],
            deadline, concurrency=args.setup_concurrency)
        clients.extend(members)
        if errors:
            res["setup_errors"] = len(errors)
            res["first_error"] = errors[0]
        res["receivers"] = len(members)
        sender_prefix = b":" + sender.nick.encode() + b"!"
        res["stage"] = "join"
        joined = []
        for c in [sender] + members:
            fut = asyncio.get_running_loop().create_future()
            joined.append(fut)
            c.on_line = _join_hook(c, fut)
            c.send(b"JOIN %s\r\n" % chan)
        await asyncio.wait_for(asyncio.gather(*joined),
                               timeout=max(deadline - time.monotonic(), 0.001))
        # Everyone drains the JOIN storm: a PING round trip per client, so
        # the server has processed everything queued before the measurement.
        for c in [sender] + members:
            c.on_line = None
        res["stage"] = "sync"
        await sync_all([sender] + members, deadline)
        res["stage"] = "measure"

        # -- measured part: `repeat` runs of M messages ---------------------
        if not members:
            raise RuntimeError("no receivers")
        marker = b" PRIVMSG " + chan + b" :"
        loop = asyncio.get_running_loop()
        reps = []
        res["runs"] = reps
        for rep in range(args.repeat):
            run = {"counts": [0] * len(members), "t_done": None,
                   "fut": loop.create_future(), "left": len(members)}

            def make_hook(i, run=run):
                counts = run["counts"]

                def hook(line):
                    if line.startswith(sender_prefix) and marker in line:
                        counts[i] += 1
                        if counts[i] == m:
                            run["left"] -= 1
                            if run["left"] == 0:
                                run["t_done"] = time.perf_counter()
                                if not run["fut"].done():
                                    run["fut"].set_result(True)
                        return True
                    return False
                return hook

            for i, c in enumerate(members):
                c.on_line = make_hook(i)
            rec = {"rep": rep}
            reps.append(rec)
            rec["_run"] = run
            rec["_cpu0"] = srv.cpu()
            rec["_t0"] = time.perf_counter()
            window = args.window if args.window > 0 else m
            sent = 0
            while sent < m:
                k = min(window, m - sent)
                sender.send(b"".join(
                    b"PRIVMSG %s :%d %d %s\r\n" % (chan, rep, sent + j, payload)
                    for j in range(k)))
                sent += k
                if sent < m:
                    # Wait until the server has read this window.
                    await ping(sender, deadline)
            await asyncio.wait_for(
                run["fut"], timeout=max(deadline - time.monotonic(), 0.001))
            _finish_rep(rec, srv, m)
            if rep + 1 < args.repeat:
                await asyncio.sleep(0.1)
        res["complete"] = True
        res.pop("stage", None)
    finally:
        reps = res.get("runs", [])
        for rec in reps:
            if "_run" in rec:
                _finish_rep(rec, srv, m)
        good = [r for r in reps if r.get("server_cpu_s_per_1000_lines")
                is not None]
        if good:
            res["delivered"] = sum(r["delivered"] for r in reps)
            res["expected"] = len(reps) * res["receivers"] * m
            res["wall_s"] = sum(r["wall_s"] for r in reps)
            res["server_cpu_s"] = sum(r["server_cpu_s"] for r in good)
            res["cpu_source"] = good[0]["cpu_source"]
            # Median over the runs: robust against one disturbed run.
            res["lines_per_s"] = statistics.median(
                r["lines_per_s"] for r in good)
            res["server_cpu_s_per_1000_lines"] = statistics.median(
                r["server_cpu_s_per_1000_lines"] for r in good)
        await close_all(clients)


def _finish_rep(rec, srv, m):
    """Compute one fan-out run's figures (also for an interrupted run)."""
    run = rec.pop("_run")
    cpu0 = rec.pop("_cpu0")
    t0 = rec.pop("_t0")
    cpu1 = srv.cpu()
    t1 = run["t_done"] or time.perf_counter()
    delivered = sum(run["counts"])
    cpu, src = cpu_delta(cpu0, cpu1)
    wall = t1 - t0
    rec["complete"] = run["t_done"] is not None
    rec["delivered"] = delivered
    rec["wall_s"] = wall
    rec["lines_per_s"] = delivered / wall if wall > 0 else None
    rec["server_cpu_s"] = cpu
    rec["cpu_source"] = src
    rec["server_cpu_s_per_1000_lines"] = (
        cpu / (delivered / 1000.0) if cpu is not None and delivered else None)


#: latency: round trips of one kind in a row before switching to the other kind
LATENCY_BLOCK = 100


async def phase_latency(args, srv, res, tag):
    """Sequential round trips: PING->PONG and PRIVMSG to self, in alternating blocks.

    The kinds alternate every LATENCY_BLOCK round trips, so a stretch of
    scheduling noise from the rest of the machine falls on both alike, and
    server CPU is read around every block (firm where p99 is noisy): server
    CPU microseconds per round trip of each kind.  The load average at the
    start and end is kept beside the figures."""
    k = args.rounds
    res.update(rounds=k, complete=False, block=LATENCY_BLOCK)
    deadline = time.monotonic() + args.phase_budget
    rtts = {"ping": [], "privmsg_self": []}
    cpu = {"ping": [], "privmsg_self": []}
    client = None
    try:
        client = await connect_and_register(args.host, args.port,
                                            "%sl" % tag, deadline)
        await oper_up(args, client, deadline)
        for _ in range(min(20, k)):             # warm-up, not recorded
            await ping(client, deadline)
        nick = client.nick.encode()
        state = {}

        def hook(line):
            tok = state.get("tok")
            # The text may come with or without a ':' (one-word trailing).
            if tok is not None and b" PRIVMSG " in line and \
                    line.rsplit(b" ", 1)[-1].lstrip(b":") == tok:
                fut = state.pop("fut")
                state.pop("tok")
                if not fut.done():
                    fut.set_result(time.perf_counter())
                return True
            return False

        client.on_line = hook
        loop = asyncio.get_running_loop()
        seq = [0]

        async def self_message():
            seq[0] += 1
            tok = b"self%d" % seq[0]
            fut = loop.create_future()
            state["tok"], state["fut"] = tok, fut
            t0 = time.perf_counter()
            client.send(b"PRIVMSG " + nick + b" :" + tok + b"\r\n")
            t1 = await asyncio.wait_for(
                fut, timeout=max(deadline - time.monotonic(), 0.001))
            return t1 - t0

        res["load_average_start"] = load_average()
        kinds = (("ping", lambda: ping(client, deadline)),
                 ("privmsg_self", self_message))
        done = 0
        while done < k:
            n = min(LATENCY_BLOCK, k - done)
            for name, once in kinds:
                c0 = srv.cpu()
                for _ in range(n):
                    rtts[name].append(await once())
                spent, _ = cpu_delta(c0, srv.cpu())
                if spent is not None:
                    cpu[name].append((spent, n))
            done += n
        res["load_average_end"] = load_average()
        res["complete"] = True
    finally:
        for name, vals in rtts.items():
            res[name + "_n"] = len(vals)
            if vals:
                res[name + "_median_ms"] = statistics.median(vals) * 1000
                res[name + "_p95_ms"] = pct(vals, 95) * 1000
                res[name + "_p99_ms"] = pct(vals, 99) * 1000
            if cpu[name]:
                res[name + "_server_cpu_us"] = 1e6 * sum(c for c, _ in cpu[name]) / sum(
                    n for _, n in cpu[name])
        if client is not None:
            await close_all([client])


async def phase_churn(args, srv, res, tag):
    """C clients each JOIN/PART a channel of their own and a shared one, in
    windows of W rounds with a PING round trip after each window."""
    n, rounds = args.churn_clients, args.churn_rounds
    window = max(1, args.churn_window)
    shared = ("#churn%s" % tag).encode()
    res.update(clients=n, rounds=rounds, complete=False)
    deadline = time.monotonic() + args.phase_budget
    clients = []
    try:
        res["stage"] = "register"
        clients, errors = await register_many(
            args.host, args.port, ["%sc%d" % (tag, i) for i in range(n)],
            deadline, concurrency=args.setup_concurrency)
        if errors:
            res["setup_errors"] = len(errors)
            res["first_error"] = errors[0]
        if not clients:
            raise RuntimeError("no churn clients registered")
        res["clients"] = len(clients)
        await sync_all(clients, deadline)
        res["stage"] = "measure"
        runs = []
        res["runs"] = runs

        echoes = [0] * len(clients)

        def echo_hook(i, c):
            mine = b":" + c.nick.encode() + b"!"

            def hook(line):
                if line.startswith(mine) and (b" JOIN " in line or b" PART " in line):
                    echoes[i] += 1
                    return True
                return False
            return hook

        for i, c in enumerate(clients):
            c.on_line = echo_hook(i, c)

        async def churn(i, c):
            own = ("#c%s%d" % (tag, i)).encode()
            block = (b"JOIN %s\r\nPART %s\r\nJOIN %s\r\nPART %s\r\n"
                     % (own, own, shared, shared))
            done = 0
            while done < rounds:
                k = min(window, rounds - done)
                c.send(block * k)
                done += k
                await ping(c, deadline)

        for rep in range(max(1, min(args.repeat, 3))):
            cpu0 = srv.cpu()
            t0 = time.perf_counter()
            await asyncio.gather(*(churn(i, c) for i, c in enumerate(clients)))
            wall = time.perf_counter() - t0
            cpu, src = cpu_delta(cpu0, srv.cpu())
            ops = 2 * rounds * len(clients)
            runs.append({"join_parts": ops, "wall_s": wall, "server_cpu_s": cpu,
                         "cpu_source": src,
                         "server_cpu_ms_per_join_part":
                             1000.0 * cpu / ops if cpu is not None else None})
        # Every JOIN and PART must have been carried out (each echoed to its
        # sender): a server refusing them would look cheap.
        res["echoes"] = sum(echoes)
        res["echoes_expected"] = 2 * sum(r["join_parts"] for r in runs)
        if res["echoes"] != res["echoes_expected"]:
            raise RuntimeError("only %d of %d JOIN/PART echoes came back"
                               % (res["echoes"], res["echoes_expected"]))
        good = [r["server_cpu_ms_per_join_part"] for r in runs
                if r["server_cpu_ms_per_join_part"] is not None]
        res["join_parts"] = sum(r["join_parts"] for r in runs)
        res["wall_s"] = sum(r["wall_s"] for r in runs)
        res["join_parts_per_s"] = res["join_parts"] / res["wall_s"]
        if good:
            res["server_cpu_ms_per_join_part"] = statistics.median(good)
            res["cpu_source"] = runs[0]["cpu_source"]
        res["complete"] = True
        res.pop("stage", None)
    finally:
        await close_all(clients)


PHASES = {"burst": phase_burst, "fanout": phase_fanout,
          "latency": phase_latency, "churn": phase_churn}
