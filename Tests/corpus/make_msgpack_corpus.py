#!/usr/bin/python3
# Writes Tests/corpus/msgpack/: one malformed MessagePack message per file, named after what is
# wrong with it. Every file must be refused by MessagePackValidator and by network.Decode (the
# Swift CorpusTests and spec/codec_spec.lua check that). Fuzzing adds files here; re-running this
# script only rewrites the files it names.
#
# Thread: n/a (a build-time helper). Usage: /usr/bin/python3 Tests/corpus/make_msgpack_corpus.py
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "msgpack")

CASES = {
    "empty": b"",
    "root-integer": b"\x01",
    "root-string": b"\xa3abc",
    "root-nil": b"\xc0",
    "truncated-fixmap-no-entries": b"\x81",
    "truncated-fixmap-key-no-value": b"\x81\xa1a",
    "truncated-fixarray": b"\x93\x01\x02",
    "truncated-fixstr": b"\x91\xa5abc",
    "truncated-str8-length": b"\x91\xd9",
    "truncated-uint16": b"\x91\xcd\x01",
    "truncated-int64": b"\x91\xd3\x00\x00\x00",
    "truncated-float64": b"\x91\xcb\x3f\xf0\x00",
    "truncated-float32": b"\x91\xca\x3f",
    "truncated-array16-count": b"\xdc\x00",
    "truncated-map32-count": b"\xdf\x00\x00",
    "str32-length-beyond-input": b"\x91\xdb\x7f\xff\xff\xff" + b"abc",
    "bin32-length-beyond-input": b"\x91\xc6\xff\xff\xff\xff" + b"\x00\x01",
    "str16-length-beyond-input": b"\x91\xda\x01\x00" + b"x" * 10,
    "array32-huge-count-no-elements": b"\xdd\xff\xff\xff\xff",
    "map32-huge-count-no-elements": b"\xdf\xff\xff\xff\xff",
    "array16-count-beyond-input": b"\xdc\x01\x00" + b"\x01" * 10,
    "map16-count-beyond-input": b"\xde\x00\x10" + b"\xa1a\x01" * 3,
    "nested-array32-huge-count": b"\x91\xdd\x10\x00\x00\x00\x01",
    "nil-map-key": b"\x81\xc0\x01",
    "nan-map-key-float64": b"\x81\xcb" + struct.pack(">d", float("nan")) + b"\x01",
    "nan-map-key-float32": b"\x81\xca" + struct.pack(">f", float("nan")) + b"\x01",
    "nil-map-key-nested": b"\x91\x81\xc0\x01",
    "ext8": b"\x91\xc7\x01\x05\x00",
    "ext16": b"\x91\xc8\x00\x01\x05\x00",
    "ext32": b"\x91\xc9\x00\x00\x00\x01\x05\x00",
    "fixext1": b"\x91\xd4\x05\x00",
    "fixext16": b"\x91\xd8\x05" + b"\x00" * 16,
    "timestamp-ext": b"\x91\xd6\xff\x00\x00\x00\x00",
    "never-used-c1": b"\x91\xc1",
    "uint64-above-int64": b"\x91\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
    "uint64-max": b"\x91\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
    "trailing-garbage": b"\x91\x01\x02",
    "two-messages": b"\x80\x80",
    "trailing-zero": b"\x90\x00",
    "nesting-bomb-arrays": b"\x91" * 100000 + b"\x01",
    "nesting-bomb-maps": b"\x81\xa1k" * 1000 + b"\x01",
    "nesting-bomb-unterminated": b"\x91" * 1000,
    "depth-65": b"\x91" * 65 + b"\x01",
    "table-key-nesting-bomb": b"\x81" * 200 + b"\x01",
}


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, data in CASES.items():
        with open(os.path.join(HERE, name + ".bin"), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(CASES), HERE))


if __name__ == "__main__":
    main()
