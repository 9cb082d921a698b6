"""TensorFlow Playground's own engine (``src/nn.ts``) under Node, as a racer in ``benchmarks.loops``.

Playground's engine is not part of this project and is not copied into it (Apache-2.0, its
notice stays with it): give a copy of its ``src/nn.ts`` with ``PLAYGROUND_NN_TS=PATH`` (or
``--playground PATH``). This module strips its TypeScript types with a few rules written for
that file (no TypeScript compiler, no network), checks the result with ``node --check``, and
runs it in a Node child that answers the same ``<loop> <net> <steps>`` lines as
``baseline_child.py`` with the CPU seconds taken.

The loops are Playground's ``oneStep()`` cut into weight updates: for each point of a batch of
10, ``forwardProp`` and ``backProp`` (``Errors.SQUARE``), then ``updateWeights`` (lr 0.03, no
regularization), cycling over the 500 training points in order. ``playground_epoch`` also
computes, after every 50 updates, the loss over the training and test points as ``oneStep()``
does (``getLoss`` of ``playground.ts``, rewritten here). Hidden tanh, linear output, as
Playground builds a regression net; the points are the same as the NumPy loops'.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# The Playground net's training points (the NumPy loops use the same, from workloads._data).
HARNESS = r"""
const DATA = __DATA__;
const BATCH = 10, LR = 0.03;

function makeNetwork() {
  return buildNetwork([2, 8, 8, 1], Activations.TANH, Activations.LINEAR, null, ["x", "y"]);
}

// playground.ts's getLoss: the mean squared error of the network over some points.
function getLoss(network, points) {
  let loss = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    loss += Errors.SQUARE.error(forwardProp(network, p.x), p.y);
  }
  return loss / points.length;
}

function makeLoop(withEpochLoss) {
  const network = makeNetwork();
  const train = DATA.train, test = DATA.test;
  let next = 0, updates = 0;
  return function step() {
    for (let k = 0; k < BATCH; k++) {
      const p = train[next];
      forwardProp(network, p.x);
      backProp(network, p.y, Errors.SQUARE);
      next = next + 1 === train.length ? 0 : next + 1;
    }
    updateWeights(network, LR, 0);
    updates++;
    if (withEpochLoss && next === 0) {
      globalThis.lastLoss = [getLoss(network, train), getLoss(network, test)];
    }
  };
}

const loops = {};
const lines = require("readline").createInterface({ input: process.stdin });
console.log(__SOURCE__);
lines.on("line", (line) => {
  const [loop, , steps] = line.trim().split(/\s+/);
  if (!(loop in loops)) {
    if (loop !== "playground" && loop !== "playground_epoch") throw new Error("unknown loop " + loop);
    loops[loop] = makeLoop(loop === "playground_epoch");
    loops[loop]();
  }
  const fn = loops[loop];
  const t = process.cpuUsage();
  for (let i = 0, n = Number(steps); i < n; i++) fn();
  const d = process.cpuUsage(t);
  console.log(String((d.user + d.system) / 1e6));
});
"""

# Rules for nn.ts (TypeScript 2-era syntax): interfaces go, casts and `public` go, and a type
# annotation `name: Type` (no space before the colon, unlike a ternary's ` : `) loses its type.
_INTERFACE = re.compile(r"^export interface \w+ \{.*?^\}\n", re.S | re.M)
_CAST = re.compile(r"\(<any>(\w+)\)")
_RETURN_TYPE = re.compile(r"\)\s*:\s*[\w\[\]]+\s*\{")
_ANNOTATION = re.compile(
    r"\b(\w+)\??:\s*(?:\([^()]*\)\s*=>\s*\w+|[A-Za-z_]\w*(?:\[\])*)"  # name: (a: T) => R, or name: T[]
    r"(?=\s*(?:[,);]|=(?!>)))"  # then , ) ; or = (not =>: `der: x => 1` is a key and an arrow)
)


def strip_types(ts: str) -> str:
    """nn.ts as plain JavaScript, its licence header and comments kept."""
    js = _INTERFACE.sub("", ts)
    js = _CAST.sub(r"\1", js)
    js = _RETURN_TYPE.sub(") {", js)
    js = _ANNOTATION.sub(r"\1", js)
    js = re.sub(r"^export ", "", js, flags=re.M)
    return js.replace("public static ", "static ")


def source_path(given: str | None = None) -> Path | None:
    path = given or os.environ.get("PLAYGROUND_NN_TS")
    return Path(path) if path else None


def unavailable(given: str | None = None) -> str | None:
    """Why the Playground racer cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    path = source_path(given)
    if path is None:
        return ("set PLAYGROUND_NN_TS to a copy of TensorFlow Playground's src/nn.ts"
                " (not part of this project)")
    if not path.is_file():
        return f"{path} is not a file"
    return None


def write_script(nn_ts: Path, points: dict[str, list], folder: Path) -> Path:
    """The stripped engine and the harness as one script in ``folder``; checked by node."""
    script = folder / "playground_child.js"
    harness = HARNESS.replace("__DATA__", json.dumps(points)).replace("__SOURCE__", json.dumps(str(nn_ts)))
    script.write_text(strip_types(nn_ts.read_text(encoding="utf-8")) + "\n" + harness, encoding="utf-8")
    check = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"{nn_ts} did not turn into valid JavaScript:\n{check.stderr.strip()}")
    return script


def command(given: str | None, points: dict[str, list]) -> list[str]:
    """The node command line of a Playground child (its script in a fresh temporary folder)."""
    path = source_path(given)
    assert path is not None
    folder = Path(tempfile.mkdtemp(prefix="playground-bench-"))
    return ["node", str(write_script(path, points, folder))]
