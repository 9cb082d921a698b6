"""What to try for each diagnosis, leaving out what the run already uses.

No remedy gives learning-rate advice: that is the ``learning_rate`` finding's alone, so two
pieces of advice never contradict each other.
"""

from __future__ import annotations

from engine.analysis.run_context import LEAKY, RELU_FAMILY, RunContext


def _choices(options: list[tuple[bool, str]]) -> str:
    """Join the options not already in use: 'a, b or c.'"""
    texts = [text for in_use, text in options if not in_use]
    if not texts:
        return ""
    return (", ".join(texts[:-1]) + " or " + texts[-1] if len(texts) > 1 else texts[0]) + "."


def remedy(kind: str, ctx: RunContext, layer: str | None = None) -> str:
    """What to try for ``kind``, leaving out what ``ctx`` shows is already in use. No
    learning-rate advice: that is the ``learning_rate`` finding's alone."""
    acts = set(ctx.activations.values())
    act = ctx.activation(layer) if layer else ""
    inits = set(ctx.weight_inits.values())
    variance_preserving = bool(inits) and all(i.startswith(("he_", "glorot_")) for i in inits)
    clipping = ctx.clipping != "none"
    if kind == "vanishing_gradients":
        return _choices([
            (bool(acts) and acts <= RELU_FAMILY, "a ReLU-family activation (relu, leaky_relu, elu, gelu) "
                                                 "instead of sigmoid/tanh"),
            (variance_preserving, "a variance-preserving initialization (he_* for ReLU, glorot_* for tanh) "
                                  "instead of a small std"),
            (False, "fewer layers"),
            (ctx.residual, "residual blocks (y = x + f(x): the gradient skips past the block's layers)"),
            (ctx.batchnorm, "batch normalization"),
            (ctx.optimizer in ("adam", "adamw", "rmsprop"), "an adaptive optimizer such as Adam"),
        ])
    if kind == "exploding_gradients":
        return _choices([
            (clipping, "gradient clipping by norm"),
            (False, "a smaller, variance-preserving initialization (he_* for ReLU, glorot_* for tanh)"),
            (ctx.batchnorm, "batch normalization"),
        ])
    if kind == "dead_relu":
        bias = ctx.bias_inits.get(layer or "", ("zeros", 0.0))
        return _choices([
            (act in LEAKY, "leaky_relu or elu (their units keep a small gradient below zero)"),
            (ctx.weight_inits.get(layer or "", "").startswith("he_"), "he_* initialization"),
            (bias[0] == "constant" and bias[1] > 0, "a small positive bias initialization (constant 0.01)"),
        ])
    if kind == "stuck_negative":
        bias = ctx.bias_inits.get(layer or "", ("zeros", 0.0))
        negative = bias[0] == "constant" and bias[1] < 0
        return _choices([
            (not negative, "a bias initialization at 0 instead of a negative constant"),
            (ctx.batchnorm, "batch normalization before the activation"),
        ]) or "wait: these units still pass a small gradient and can recover."
    if kind == "saturated":
        return _choices([
            (ctx.standardized, "standardized inputs"),
            (bool(inits) and all(i.startswith("glorot_") for i in inits),
             "smaller initial weights (glorot_*)"),
            (ctx.batchnorm, "batch normalization"),
            (bool(acts) and acts <= RELU_FAMILY, "a ReLU-family activation"),
        ])
    if kind == "update_ratio":
        return "see the learning-rate finding."
    if kind == "loss_diverging":
        return _choices([
            (ctx.schedule != "constant", "a decaying schedule (cosine)"),
            (clipping, "gradient clipping by norm"),
        ]) or "see the learning-rate finding."
    if kind == "vanishing_through_time":  # engine/analysis/time_gradients.py tailors it to the layer
        return _choices([
            (False, "an LSTM or GRU layer instead of a plain RNN"),
            (False, "shorter sequences"),
        ])
    if kind == "exploding_through_time":
        return _choices([
            (clipping, "gradient clipping by norm"),
            (False, "truncated backpropagation through time"),
            (False, "an LSTM or GRU layer"),
        ])
    if kind == "loss_plateau":
        return _choices([
            (False, "check the gradient findings"),
            (False, "add units or layers"),
            (ctx.optimizer in ("adam", "adamw"), "switch to Adam"),
        ])
    if kind == "data":  # each data warning carries its own remedy; this is the generic one
        return "fix the table's options (data.table) or the file itself."
    return ""
