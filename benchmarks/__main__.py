"""`make bench`: every benchmark, one after another, in this process."""

import os
import sys

from benchmarks import (
    conv_bench,
    engine_bench,
    loops,
    readers_bench,
    recurrent_bench,
    sweep_bench,
    table_bench,
)


def main() -> int:
    engine_bench.main()
    recurrent_bench.main()
    conv_bench.main()
    readers_bench.main()
    table_bench.main()
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
