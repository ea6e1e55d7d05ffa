"""Benchmark (not a test): `stack` pull vs `skopeo copy` of the same image.

Starts a local registry (docker-registry on 127.0.0.1, temp storage), pushes a
5-layer image of about 50 MB (part random, part compressible text), then times,
each several times from scratch, interleaved so machine load hits all alike:
  - skopeo:      `skopeo copy docker://... oci:DIR` (download and verify);
  - stack fetch: the same work in stack (ImageService.fetch: download, verify, store);
  - stack pull:  a full pull (download, verify, and unpack every layer, ready to run).
It prints the medians side by side and the ratios to skopeo (target <= 1.2x
for the like-for-like fetch; the full pull also decompresses and writes files).

    python3 bench/bench_pull.py [--runs 5] [--layers 5] [--mb 50]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.config import EngineConfig
from runtime.engine import LocalEngine
from tests.integration.conftest import start_registry
from tests.integration.images.imagebuild import layer_tar, store_test_image


def make_layer(size: int, index: int) -> bytes:
    random_part = os.urandom(size * 6 // 10)
    text_part = base64.b64encode(os.urandom(size * 3 // 10))  # ~4/3 of it, compresses ~25 %
    return layer_tar([(f"layer{index}", b"<dir>"), (f"layer{index}/random.bin", random_part),
                      (f"layer{index}/text.txt", text_part)])


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        print("skopeo not found (apt-get install skopeo)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="stk-bench-"))
    registry_gen = start_registry(tls=False, auth=False)
    try:
        registry = next(registry_gen)
        name = f"{registry.host}/bench/image:1"
        source = LocalEngine(EngineConfig(state_root=work / "source", run_dir=work / "run"))
        layer_size = args.mb * 1_000_000 // args.layers
        info = store_test_image(source.images, [make_layer(layer_size, i)
                                                for i in range(args.layers)], name)
        source.image_push(name)
        size = info.size
        source.close()
        print(f"image: {args.layers} layers, {size / 1e6:.1f} MB compressed, "
              f"registry {registry.host}")

        times: dict[str, list[float]] = {"skopeo": [], "stack fetch": [], "stack pull": []}
        for run in range(args.runs):
            for mode in ("stack fetch", "stack pull"):
                root = work / f"{mode.replace(' ', '-')}-{run}"
                engine = LocalEngine(EngineConfig(state_root=root, run_dir=work / "run"))
                # Both from the same start: the engine opens its image store inside the timing.
                times[mode].append(timed(
                    (lambda e=engine: e.images.fetch(name)) if mode == "stack fetch"
                    else (lambda e=engine: e.image_pull(name))))
                engine.close()
                shutil.rmtree(root)
            oci = work / f"oci-{run}"
            times["skopeo"].append(timed(lambda oci=oci: subprocess.run(
                ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{name}",
                 f"oci:{oci}:bench"], check=True)))
            shutil.rmtree(oci)
        base = statistics.median(times["skopeo"])
        print(f"{'':13}{'median':>8}  {'ratio':>6}  runs")
        for mode, values in times.items():
            median = statistics.median(values)
            print(f"{mode:13}{median:7.2f}s  {median / base:5.2f}x  "
                  + " ".join(f"{t:.2f}" for t in values))
        print("target: stack fetch <= 1.2x skopeo (same work); stack pull also unpacks")
        return 0
    finally:
        registry_gen.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
