#!/usr/bin/env python3
"""Load generator for `slkv serve` (issue 13): at each concurrency, that many
clients each send streamed /v1/completions requests back to back; reports
output tokens/s, requests/s, and p50/p99 time to first token and inter-token
latency, plus the most requests the server's /metrics showed running at once.

Usage: bench_serve.py --url http://127.0.0.1:8000 --concurrency 1,4,16,64
                      --prompt-len 256 --gen-len 64 [--requests-per-client 2] [--json FILE]
"""
import argparse, http.client, json, random, statistics, sys, threading, time, urllib.parse

WORDS = ("once upon a time there was a little girl named lily she loved to play outside in the park "
         "one day she saw a big red ball tom had a dog that liked to run").split()


def prompt_of(length, seed):
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(length))  # about one token a word for these models


def one_request(url, prompt, gen_len, seed):
    parts = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": gen_len, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}, "seed": seed})
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]}")
    arrivals, tokens = [], 0
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        elif chunk["choices"] and chunk["choices"][0].get("text"):
            arrivals.append(time.perf_counter())
    conn.close()
    end = time.perf_counter()
    ttft = (arrivals[0] - start) if arrivals else end - start
    itls = [b - a for a, b in zip(arrivals, arrivals[1:])]
    return {"ttft": ttft, "itls": itls, "tokens": tokens, "seconds": end - start}


def running_now(url):
    try:
        parts = urllib.parse.urlparse(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/metrics")
        for line in conn.getresponse().read().decode().splitlines():
            if line.startswith("slkv_requests_running "):
                return int(float(line.split()[1]))
    except OSError:
        pass
    return 0


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def level(url, concurrency, prompt_len, gen_len, per_client):
    results, errors, lock = [], [], threading.Lock()
    peak = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], running_now(url))
            time.sleep(0.05)

    def client(c):
        for r in range(per_client):
            try:
                out = one_request(url, prompt_of(prompt_len, c * 1000 + r), gen_len, c * 1000 + r)
                with lock:
                    results.append(out)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                with lock:
                    errors.append(str(e))

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    itls = [x for r in results for x in r["itls"]]
    ttfts = [r["ttft"] for r in results]
    return {"concurrency": concurrency, "requests": len(results), "errors": len(errors),
            "output_tok_s": sum(r["tokens"] for r in results) / wall, "req_s": len(results) / wall,
            "ttft_p50_ms": 1e3 * percentile(ttfts, 50), "ttft_p99_ms": 1e3 * percentile(ttfts, 99),
            "itl_p50_ms": 1e3 * percentile(itls, 50), "itl_p99_ms": 1e3 * percentile(itls, 99),
            "peak_running": peak[0], "seconds": wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--prompt-len", type=int, default=256)
    parser.add_argument("--gen-len", type=int, default=64)
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--label", default="")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    print(f"| {args.label or 'run'} concurrency | requests | output tok/s | req/s | TTFT p50 / p99 (ms) | ITL p50 / p99 (ms) | peak running |")
    print("|---|---|---|---|---|---|---|")
    for c in (int(x) for x in args.concurrency.split(",")):
        row = level(args.url, c, args.prompt_len, args.gen_len, args.requests_per_client)
        row["label"] = args.label
        rows.append(row)
        print(f"| {c} | {row['requests']} ({row['errors']} errors) | {row['output_tok_s']:.1f} | {row['req_s']:.2f} | "
              f"{row['ttft_p50_ms']:.0f} / {row['ttft_p99_ms']:.0f} | {row['itl_p50_ms']:.1f} / {row['itl_p99_ms']:.1f} | "
              f"{row['peak_running']} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
