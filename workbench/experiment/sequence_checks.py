"""Problems of meaning for recurrent layers and sequence data (``check_spec`` calls this).

Sequence sources predict one target per sequence, so the network must end its recurrent part
on the last step; recurrent layers need (time, features) inputs, which only sequence sources give.
"""

from __future__ import annotations

from engine.spec import ExperimentSpec
from workbench.experiment.errors import Problem

RECURRENT = ("rnn", "lstm", "gru")


def sequence_problems(spec: ExperimentSpec) -> list[Problem]:
    from engine.data import DATASETS

    source = DATASETS.get(spec.data.source) if spec.data.source in DATASETS else None
    sequential = getattr(source, "kind", None) in ("sequence", "csv_series")
    layers = spec.model.layers
    recurrent = [i for i, layer in enumerate(layers) if layer.type in RECURRENT]
    if recurrent and not sequential:
        i = recurrent[0]
        return [Problem(f"model.layers[{i}]",
                        f"a {layers[i].type} layer needs sequence data (time × features), but "
                        f"{spec.data.source!r} gives one feature vector per sample; choose a sequence "
                        "source (adding, recall, parity, noisy_sine, csv_series)")]
    if sequential and not recurrent:
        return [Problem("model.layers",
                        f"{spec.data.source!r} gives sequences, and a network without an rnn, lstm or "
                        "gru layer cannot read them: add one")]
    if sequential:
        last = recurrent[-1]
        if layers[last].return_sequences:
            return [Problem(f"model.layers[{last}].return_sequences",
                            f"{spec.data.source!r} has one target per sequence: the last recurrent layer "
                            "must return the last step (return_sequences false)")]
        for i, layer in enumerate(layers[:last]):
            if layer.type in RECURRENT and not layer.return_sequences:
                return [Problem(f"model.layers[{i}].return_sequences",
                                "a recurrent layer followed by another must return every step "
                                "(return_sequences true)")]
    return []
