"""Times workloads for ``benchmarks.loops`` in a separate process, usually on an older checkout.

Run by path with ``PYTHONPATH=<checkout>``: ``import engine`` then finds that checkout's engine
(PYTHONPATH comes before the editable install), while ``workloads`` is this file's neighbour.
Reads ``<loop> <net> <steps>`` lines; answers each with the CPU seconds the steps took
(CPU time, not wall time: other processes on a shared machine then barely change it).
"""

import sys
import time

import workloads  # type: ignore[import-not-found]  # this directory is sys.path[0]
from threadpoolctl import threadpool_limits


def main() -> None:
    import engine

    print(engine.__file__, flush=True)
    loops: dict[tuple[str, str], object] = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for line in sys.stdin:
            loop, net, steps = line.split()
            fn = loops.get((loop, net))
            if fn is None:
                fn = loops[(loop, net)] = workloads.LOOPS[loop](net)
                fn()
            excluded = getattr(fn, "excluded", 0.0)
            t = time.process_time()
            for _ in range(int(steps)):
                fn()
            elapsed = time.process_time() - t
            print(elapsed - (getattr(fn, "excluded", 0.0) - excluded), flush=True)


if __name__ == "__main__":
    main()
