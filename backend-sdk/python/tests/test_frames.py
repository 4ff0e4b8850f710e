"""Session frames against the golden vectors (protocol/frames/testdata)."""

import json
import os
import unittest

from helpers import FRAMES_TESTDATA

from nanogate import frames


def read(*path):
    with open(os.path.join(FRAMES_TESTDATA, *path), "rb") as f:
        return f.read()


class TestFrames(unittest.TestCase):
    def test_vectors_parse_and_build(self):
        vectors = json.loads(read("vectors.json"))
        self.assertTrue(vectors["valid"])
        for v in vectors["valid"]:
            with self.subTest(v["file"]):
                msg = read(v["file"])
                f = frames.parse(msg)
                self.assertEqual((f.sid, f.type, f.stream, f.body),
                                 (v["sid"], v["type"], v["stream"], bytes.fromhex(v["body_hex"])))
                self.assertEqual(frames.build(v["sid"], v["type"], v["stream"], f.body), msg)

    def test_every_valid_file_is_listed(self):
        listed = {v["file"] for v in json.loads(read("vectors.json"))["valid"]}
        on_disk = {n for n in os.listdir(FRAMES_TESTDATA) if n.endswith(".frame")}
        self.assertEqual(listed, on_disk)

    def test_invalid_refused(self):
        names = sorted(os.listdir(os.path.join(FRAMES_TESTDATA, "invalid")))
        self.assertTrue(names)
        for name in names:
            with self.subTest(name):
                with self.assertRaises(frames.FrameError):
                    frames.parse(read("invalid", name))

    def test_edges(self):
        sid = "0123456789abcdeffedcba9876543210"
        self.assertEqual(frames.parse(frames.build(sid, "end", 4294967295)).stream, 4294967295)
        for bad in (sid + " end 4294967296\n", sid + " end 1 \n", sid + " end \n",
                    sid + "xend 1\n", sid + " verylongtypename-x 1\n"):
            with self.subTest(bad):
                with self.assertRaises(frames.FrameError):
                    frames.parse(bad.encode())
        self.assertEqual(frames.parse_credit(b"262144"), 262144)
        self.assertIsNone(frames.parse_credit(b"-1"))
        self.assertIsNone(frames.parse_credit(b""))
        self.assertEqual(frames.parse_close(b""), (1000, ""))
        self.assertEqual(frames.parse_close(b"4000 kicked out"), (4000, "kicked out"))
        self.assertIsNone(frames.parse_close(b"abc"))
        self.assertEqual(frames.close_body(1001, "bye"), b"1001 bye")

    def test_mutations(self):
        # Mutated vectors: FrameError or a frame, never another exception.
        import random
        rnd = random.Random(3)
        seeds = [read(v["file"]) for v in json.loads(read("vectors.json"))["valid"]]
        for _ in range(3000):
            msg = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 3)):
                pos = rnd.randrange(len(msg))
                msg[pos] = rnd.choice(b" \n0123456789abcdefxyz-\xb2\x00")
            try:
                f = frames.parse(bytes(msg))
            except frames.FrameError:
                continue
            self.assertEqual(frames.build(f.sid, f.type, f.stream, f.body), bytes(msg).replace(
                bytes(msg[:msg.index(b"\n") + 1]), frames.header(f.sid, f.type, f.stream), 1))


if __name__ == "__main__":
    unittest.main()
