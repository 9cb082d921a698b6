"""The Playground benchmark's TypeScript stripper: the constructs of Playground's nn.ts (written
here in the same style, not copied) become JavaScript that node runs with the same results."""

from __future__ import annotations

import math
import shutil
import subprocess

import pytest

from benchmarks.playground import strip_types, unavailable

SAMPLE = """\
/* A licence header stays. */
export class Unit {
  id: string;
  inputs: Unit[] = [];
  bias = 0.1;
  act: Squash;
  constructor(id: string, act: Squash, zero?: boolean) {
    this.id = id;
    this.act = act;
    if (zero) {
      this.bias = 0;
    }
  }
  value(x: number): number {
    return this.act.output(x + this.bias);
  }
}

export interface Squash {
  output: (input: number) => number;
  der: (input: number) => number;
}

export class Squashes {
  public static TANH: Squash = {
    output: x => (<any>Math).tanh(x),
    der: x => 1
  };
  public static STEP: Squash = {
    output: x => x <= 0 ? 0 : 1,
    der: x => 0
  };
}

export function pick(flag: boolean, a: Squash, b: Squash): Squash {
  return flag ? a : b;
}

export function each(units: Unit[][], visit: (unit: Unit) => any) {
  let all: Unit[] = [];
  for (let i = 0; i < units.length; i++) {
    all = all.concat(units[i]);
  }
  all.forEach(visit);
}
"""


def test_types_go_and_the_code_stays() -> None:
    js = strip_types(SAMPLE)
    assert js.startswith("/* A licence header stays. */")
    assert "interface" not in js and "export" not in js and "public" not in js and "<any>" not in js
    assert "constructor(id, act, zero) {" in js
    assert "value(x) {" in js
    assert "  inputs = [];" in js and "  id;" in js and "  bias = 0.1;" in js
    assert "static TANH = {" in js and "output: x => Math.tanh(x)," in js
    assert "der: x => 1" in js  # an object key followed by an arrow is not a type
    assert "output: x => x <= 0 ? 0 : 1," in js  # a ternary's ' : ' is not a type
    assert "function pick(flag, a, b) {" in js and "return flag ? a : b;" in js
    assert "function each(units, visit) {" in js and "let all = [];" in js


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_runs_the_stripped_code() -> None:
    program = strip_types(SAMPLE) + """
const u = new Unit("u", Squashes.TANH);
const seen = [];
each([[u], [new Unit("v", pick(false, Squashes.TANH, Squashes.STEP), true)]], (x) => seen.push(x.id));
console.log(JSON.stringify([u.value(0.4), seen, Squashes.STEP.output(-1)]));
"""
    result = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'[{math.tanh(0.5)!r},["u","v"],0]'


def test_a_missing_source_is_named(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("PLAYGROUND_NN_TS", raising=False)
    if shutil.which("node") is None:
        assert unavailable() == "node is not installed"
        return
    assert "PLAYGROUND_NN_TS" in (unavailable() or "")
    assert unavailable(str(tmp_path / "nn.ts")) == f"{tmp_path / 'nn.ts'} is not a file"
