#!/usr/bin/env python3
"""Measures the figures of issue 14 (SECURITY.md) against a gu1-kyc-proxy binary, on loopback,
ports 48020-48034; standin.py plays a misbehaving gu1. Needs python3 and prlimit (util-linux).
Not part of scripts/test.sh: the tests in proxy/tests/proxy.rs prove each item; this prints the
figures before and after.
Usage: measure.py BIN all|conns|flood|memory|loop|errors [extra proxy flags...]"""
import json, os, socket, statistics, subprocess, sys, threading, time, urllib.request, urllib.error

BIN, WHAT = sys.argv[1], sys.argv[2]
EXTRA = sys.argv[3:]
SECRET = "measure-secret-0123456789abcdef"
WH = "whsec-measure"
HERE = os.path.dirname(os.path.abspath(__file__))
procs = []

def start(args, env=None, prefix=(), stdout=subprocess.DEVNULL):
    p = subprocess.Popen(list(prefix) + args, stdout=stdout, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, **(env or {})))
    procs.append(p)
    return p

def wait_up(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1); return
        except Exception:
            time.sleep(0.05)
    raise SystemExit("not up: " + url)

def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")

def stop_all():
    for p in procs:
        p.kill(); p.wait()
    procs.clear()

def http(method, url, token=None, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, method=method, data=body)
    if token: req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items(): req.add_header(k, v)
    t = time.monotonic()
    try:
        r = urllib.request.urlopen(req, timeout=timeout)
        return r.status, r.read(), r.headers, time.monotonic() - t
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers, time.monotonic() - t

def mint(entity, kind):
    return subprocess.check_output([BIN, "token", "--secret", SECRET, "--entity", entity, "--kind", kind,
                                    "--ttl", "900"]).decode().strip()

def sim(port=48020):
    start([BIN, "simulate", "--listen", f"127.0.0.1:{port}", "--hosted-listen", f"127.0.0.1:{port+1}"])
    wait_up(f"http://127.0.0.1:{port}/health")
    return f"http://127.0.0.1:{port}"

def upstream(api, port=48022, prefix=(), extra=(), stdout=subprocess.DEVNULL):
    p = start([BIN, "upstream", "--listen", f"127.0.0.1:{port}", "--api-base", api, "--secret", SECRET,
               "--webhook-secret", WH, *extra, *EXTRA],
              env={"GU1_API_KEY": "sk_test_simulator"}, prefix=prefix, stdout=stdout)
    wait_up(f"http://127.0.0.1:{port}/health")
    return f"http://127.0.0.1:{port}", p

def new_entity(gu1, kind, start_it):
    s, b, _, _ = http("POST", gu1 + "/__control/sessions", body=json.dumps({"kind": kind, "start": start_it}).encode(),
                      headers={"Content-Type": "application/json"})
    return json.loads(b)["entityId"]

def conns():
    gu1 = sim()
    proxy, p = upstream(gu1, prefix=("prlimit", "--nofile=1024:1024"))
    socks = []
    attack = time.monotonic()
    for i in range(1100):
        try:
            s = socket.create_connection(("127.0.0.1", 48022), timeout=2)
            if i % 2: s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        except OSError:
            pass
    opened = time.monotonic() - attack
    fds_held = len(os.listdir(f"/proc/{p.pid}/fd"))
    t = time.monotonic()
    try:
        urllib.request.urlopen(proxy + "/health", timeout=30).read()
        health = f"answered {time.monotonic() - attack:.1f} s after the attack began"
    except Exception as e:
        health = f"no answer within 30 s ({type(e).__name__})"
    time.sleep(15)
    held = 0
    for s in socks:
        s.setblocking(False)
        try:
            held += 1 if s.recv(1) else 0
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    fds = len(os.listdir(f"/proc/{p.pid}/fd"))
    print(f"conns: {len(socks)} idle/half-sent connections opened in {opened:.1f} s (open-file limit 1024; "
          f"proxy fds then {fds_held}); /health {health}; 15 s later {held} still held open, proxy fds {fds}")
    for s in socks: s.close()

def cpu_secs(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def flood():
    for signature, what in [("00", "unsigned"), ("ab" * 32, "forged-signature")]:
        flood_with(signature, what)

def flood_with(signature, what):
    gu1 = sim()
    access = open("/tmp/gu1-measure-access.log", "w+")
    proxy, pp = upstream(gu1, stdout=access)
    ent = new_entity(gu1, "biometric", True)
    tok = mint(ent, "biometric")
    def lat(n=40):
        xs = []
        for _ in range(n):
            xs.append(http("GET", proxy + "/kyc/status", tok)[3] * 1000); time.sleep(0.05)
        xs.sort(); return f"median {statistics.median(xs):.1f} ms, p90 {xs[int(len(xs)*0.9)]:.1f} ms, max {xs[-1]:.0f} ms"
    base = lat()
    # The senders run in their own processes at the lowest priority, as if on other machines,
    # so the probe measures the proxy's work, not theirs; each sends a prebuilt request.
    sender = (
        "import socket, sys, threading\n"
        "port, n = int(sys.argv[1]), int(sys.argv[2]); body = b'x' * (1024 * 1024 - 100)\n"
        "req = (b'POST /webhooks/gu1 HTTP/1.1\\r\\nHost: x\\r\\nX-Webhook-Signature: ' + sys.argv[3].encode()\n"
        "       + b'\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n' % len(body)) + body\n"
        "def spam():\n"
        "    while True:\n"
        "        try:\n"
        "            s = socket.create_connection(('127.0.0.1', port), timeout=10)\n"
        "            s.sendall(req); s.recv(256); s.close()\n"
        "        except OSError: pass\n"
        "for _ in range(n): threading.Thread(target=spam, daemon=True).start()\n"
        "threading.Event().wait()\n"
    )
    senders = [subprocess.Popen(["nice", "-n", "19", "python3", "-c", sender, proxy.rsplit(":", 1)[1], "32", signature],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    time.sleep(1)
    cpu, wall = cpu_secs(pp.pid), time.monotonic()
    under = lat()
    cpu, wall = cpu_secs(pp.pid) - cpu, time.monotonic() - wall
    for p in senders:
        p.kill(); p.wait()
    time.sleep(0.5)
    access.seek(0)
    hooks = [json.loads(l) for l in access if '"/webhooks/gu1"' in l]
    refused = sum(1 for h in hooks if h["status"] == 401)
    shed = sum(1 for h in hooks if h["status"] == 503)
    print(f"flood: status latency alone: {base}; under 64 senders (2 processes, nice 19) of {what} 1 MiB "
          f"webhooks: {under}; the proxy used {cpu / wall * 100:.0f}% of a core meanwhile; webhooks refused 401: "
          f"{refused}, shed 503: {shed}")
    stop_all()

def memory():
    start(["python3", os.path.join(HERE, "standin.py"), "48030", "huge"])
    wait_port(48030)
    proxy, p = upstream("http://127.0.0.1:48030")
    tok = mint("ent_mem", "biometric")
    res = []
    def one():
        try: res.append(http("GET", proxy + "/kyc/status", tok, timeout=60)[0])
        except Exception as e: res.append(type(e).__name__)
    ts = [threading.Thread(target=one) for _ in range(3)]
    for t in ts: t.start()
    for t in ts: t.join()
    hwm = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmHWM")][0].split()[1]
    print(f"memory: three 100 MiB answers at once: statuses {res}, proxy peak RSS {int(hwm)//1024} MiB")

def loop():
    gu1 = sim()
    proxy, _ = upstream(gu1)
    ent = new_entity(gu1, "kyc", False)
    tok = mint(ent, "kyc")
    created = other = 0; codes = {}
    end = time.monotonic() + 10
    while time.monotonic() < end:
        s, b, h, _ = http("POST", proxy + "/kyc/start", tok)
        codes[s] = codes.get(s, 0) + 1
        if s == 201: created += 1
        if s == 429:
            time.sleep(min(float(h.get("Retry-After", "1")), 1.0)); continue
        http("POST", proxy + "/kyc/cancel", tok)
    print(f"loop: start/cancel for 10 s with one KYC token: {created} validations created (start answers {codes})")

def errors():
    start(["python3", os.path.join(HERE, "standin.py"), "48031", "other"])
    start(["python3", os.path.join(HERE, "standin.py"), "48032", "redirect", "http://127.0.0.1:48031"])
    start(["python3", os.path.join(HERE, "standin.py"), "48033", "r429"])
    start(["python3", os.path.join(HERE, "standin.py"), "48034", "r401"])
    for port in range(48031, 48035):
        wait_port(port)
    tok = mint("ent_x", "biometric")
    for port, name in [(48032, "302 to another host"), (48033, "gu1 429 Retry-After: 7"), (48034, "gu1 401 with key in error")]:
        proxy, p = upstream(f"http://127.0.0.1:{port}", port=48023)
        s, b, h, _ = http("GET", proxy + "/kyc/status", tok)
        print(f"errors: {name}: browser gets {s} {b.decode()[:120]} Retry-After={h.get('Retry-After')}")
        p.kill(); p.wait(); procs.remove(p)
    try:
        r = subprocess.run([BIN, "upstream", "--listen", "127.0.0.1:48024", "--api-base", "http://api.gu1.example",
                            "--secret", SECRET], env=dict(os.environ, GU1_API_KEY="sk_x"), capture_output=True, timeout=3)
        print(f"errors: --api-base http://api.gu1.example: exit {r.returncode} {r.stderr.decode().strip()[:160]}")
    except subprocess.TimeoutExpired:
        print("errors: --api-base http://api.gu1.example: accepted (the proxy started)")

try:
    for w in (["errors", "memory", "loop", "flood", "conns"] if WHAT == "all" else [WHAT]):
        globals()[w](); stop_all()
finally:
    stop_all()
