"""`make bench`: every benchmark, one after another, in this process."""

import os
import sys

from benchmarks import engine_bench, loops, readers_bench, sweep_bench


def main() -> int:
    engine_bench.main()
    readers_bench.main()
    # BENCH_BASELINE=<an older checkout> also times its engine loop and Trainer, in the same run.
    loops.main(os.environ.get("BENCH_BASELINE") or None)
    sweep_bench.main()
    try:
        from benchmarks import gui_bench
    except ImportError as exc:  # the GUI benchmark needs the desktop app
        print(f"\n(GUI benchmark skipped: {exc})")
    else:
        gui_bench.main()
    return 0


sys.exit(main())
