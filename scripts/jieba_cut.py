#!/usr/bin/env python3
"""Chinese word segmentation for `slkv eval score`, exactly as LongBench's
metrics do it: list(jieba.cut(text, cut_all=False)).

Reads a JSON array of strings on standard input and writes a JSON array with,
for each string, the list of its words. slkv runs it once per batch of texts
(launch/eval/chinese_segmenter.cpp). Exit status 3 when jieba is missing.
"""
import json
import sys


def main():
    try:
        import jieba
    except ImportError:
        sys.stderr.write("jieba_cut.py: no module named jieba for %s\n" % sys.executable)
        return 3
    jieba.setLogLevel(60)  # silence "Building prefix dict ..." on stderr
    texts = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        sys.stderr.write("jieba_cut.py: expected a JSON array of strings on stdin\n")
        return 2
    words = [list(jieba.cut(text, cut_all=False)) for text in texts]
    sys.stdout.buffer.write(json.dumps(words, ensure_ascii=False).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
