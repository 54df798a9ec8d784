#!/usr/bin/env python3
"""Synthetic rows in SCBench's scbench_kv style, for tests and small models.

Each row's context is a JSON object of random UUID keys and values (as
SCBench's key-value retrieval task, inherited from InfiniteBench); each turn
asks for the value of one of its keys. Rows follow SCBench's format:
{"id", "context", "multi_turns": [{"input", "answer"}]}.

usage: make_scbench_kv.py [--rows 2] [--pairs 8] [--turns 3] [--seed 0] [--compact] > scbench_kv.jsonl
--compact asks 'Key: "<key>"\nValue: ' instead of SCBench's longer instruction,
so that a few turns fit a small model's context.
"""
import argparse
import json
import random
import sys
import uuid


def make_row(index, pairs, turns, rng, compact):
    def new_uuid():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    kv = {new_uuid(): new_uuid() for _ in range(pairs)}
    asked = rng.sample(list(kv), min(turns, pairs))
    def query(key):
        if compact:
            return f'Key: "{key}"\nValue: '
        return (f'Extract the value corresponding to the specified key in the JSON object above.\n\n'
                f'Key: "{key}"\nThe value associated with the specified key is: ')

    multi_turns = [{"input": query(key), "answer": kv[key]} for key in asked]
    context = "JSON data:\n" + json.dumps(kv, indent=1)
    return {"id": index, "context": context, "multi_turns": multi_turns}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=8, help="key-value pairs in each context")
    parser.add_argument("--turns", type=int, default=3, help="queries per row (at most --pairs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compact", action="store_true", help="short queries, for small contexts")
    args = parser.parse_args()
    if args.rows < 1 or args.pairs < 1 or args.turns < 1:
        parser.error("--rows, --pairs and --turns must be >= 1")
    if args.turns > args.pairs:
        parser.error("--turns cannot exceed --pairs (each turn asks for a different key)")
    rng = random.Random(args.seed)
    for index in range(args.rows):
        sys.stdout.write(json.dumps(make_row(index, args.pairs, args.turns, rng, args.compact)) + "\n")


if __name__ == "__main__":
    main()
