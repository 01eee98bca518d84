"""The native LSTM cell against a float64 numpy transcription of PyTorch's LSTMCell formulas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rtvoice
from rtvoice._core import LstmCell, dense_kernel_isa


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_run(xs, w_ih, w_hh, b_ih, b_hh, h, c):
    """PyTorch LSTMCell, gate order (i, f, g, o), in float64."""
    w_ih, w_hh, b_ih, b_hh = (np.asarray(a, np.float64) for a in (w_ih, w_hh, b_ih, b_hh))
    h = np.asarray(h, np.float64)
    c = np.asarray(c, np.float64)
    hs, cs = [], []
    for x in np.asarray(xs, np.float64):
        gates = w_ih @ x + b_ih + w_hh @ h + b_hh
        i, f, g, o = np.split(gates, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
        cs.append(c)
    return np.array(hs), np.array(cs)


def random_cell(rng, inputs, hidden, scale=None):
    scale = scale if scale is not None else 1.0 / np.sqrt(hidden)  # PyTorch's init range
    w_ih = rng.uniform(-scale, scale, (4 * hidden, inputs)).astype(np.float32)
    w_hh = rng.uniform(-scale, scale, (4 * hidden, hidden)).astype(np.float32)
    b_ih = rng.uniform(-scale, scale, 4 * hidden).astype(np.float32)
    b_hh = rng.uniform(-scale, scale, 4 * hidden).astype(np.float32)
    return w_ih, w_hh, b_ih, b_hh


@pytest.mark.parametrize("inputs,hidden", [(128, 128), (7, 13), (64, 33), (1, 1)])
def test_long_random_sequence_matches_numpy(inputs, hidden):
    rng = np.random.default_rng(inputs * 1000 + hidden)
    weights = random_cell(rng, inputs, hidden, scale=2.0 / np.sqrt(hidden))  # large enough to saturate gates
    xs = rng.normal(0.0, 1.5, (3000, inputs)).astype(np.float32)
    cell = LstmCell(*weights)
    hs, h, c = cell.run(xs)
    ref_h, ref_c = reference_run(xs, *weights, np.zeros(hidden), np.zeros(hidden))
    assert hs.shape == (3000, hidden) and hs.dtype == np.float32
    assert np.abs(hs - ref_h).max() < 1e-5
    assert np.abs(c - ref_c[-1]).max() < 1e-4 * max(1.0, np.abs(ref_c[-1]).max())
    assert np.array_equal(h, hs[-1])


def test_step_carries_explicit_state_and_equals_run():
    rng = np.random.default_rng(1)
    weights = random_cell(rng, 128, 128)
    cell = LstmCell(*weights)
    xs = rng.normal(size=(50, 128)).astype(np.float32)
    h0 = rng.normal(size=128).astype(np.float32)
    c0 = rng.normal(size=128).astype(np.float32)
    h0_before, c0_before = h0.copy(), c0.copy()
    h, c = h0, c0
    stepped = []
    for x in xs:
        h, c = cell.step(x, h, c)
        stepped.append(h)
    hs, h_run, c_run = cell.run(xs, h0, c0)
    assert np.array_equal(np.array(stepped), hs)
    assert np.array_equal(h, h_run) and np.array_equal(c, c_run)
    ref_h, ref_c = reference_run(xs, *weights, h0, c0)
    assert np.abs(hs - ref_h).max() < 1e-5
    # the caller's state arrays are not modified in place
    assert np.array_equal(h0, h0_before) and np.array_equal(c0, c0_before)


def test_gate_order_is_i_f_g_o():
    # Only the forget gate's bias is large and only the cell-input gate g sees x: c must accumulate.
    hidden = 4
    w_ih = np.zeros((16, 1), np.float32)
    w_hh = np.zeros((16, 4), np.float32)
    b = np.zeros(16, np.float32)
    b[0:4] = 20.0   # i -> 1
    b[4:8] = 20.0   # f -> 1
    w_ih[8:12, 0] = 1.0  # g = tanh(x)
    b[12:16] = 20.0  # o -> 1
    cell = LstmCell(w_ih, w_hh, b, None)
    _, h, c = cell.run(np.full((3, 1), 0.5, np.float32))
    assert np.allclose(c, 3 * np.tanh(0.5), atol=1e-5)
    assert np.allclose(h, np.tanh(3 * np.tanh(0.5)), atol=1e-5)


def test_bad_arguments_are_value_errors():
    rng = np.random.default_rng(2)
    w_ih, w_hh, b_ih, b_hh = random_cell(rng, 8, 4)
    with pytest.raises(ValueError, match="4H rows"):
        LstmCell(w_ih[:15], w_hh)
    with pytest.raises(ValueError, match="weight_hh"):
        LstmCell(w_ih, w_hh[:, :3])
    with pytest.raises(ValueError, match="bias_ih"):
        LstmCell(w_ih, w_hh, b_ih[:5])
    bad = w_ih.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        LstmCell(bad, w_hh)
    cell = LstmCell(w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"\(8,\)"):
        cell.step(np.zeros(7, np.float32))
    with pytest.raises(ValueError, match="steps, 8"):
        cell.run(np.zeros((5, 9), np.float32))


def test_baseline_and_dispatched_kernels_agree(tmp_path):
    """The SSE2 build and the AVX+FMA build (where the CPU has it) compute the same cell."""
    script = tmp_path / "run_lstm.py"
    script.write_text(
        "import numpy as np, sys\n"
        "from rtvoice._core import LstmCell, dense_kernel_isa\n"
        "rng = np.random.default_rng(5)\n"
        "w = [rng.uniform(-.3, .3, s).astype(np.float32) for s in ((512, 128), (512, 128), 512, 512)]\n"
        "xs = rng.normal(size=(500, 128)).astype(np.float32)\n"
        "np.save(sys.argv[1], LstmCell(*w).run(xs)[0])\n"
        "print(dense_kernel_isa())\n"
    )
    # the same rtvoice package this process imported (the checkout, or a sanitizer build's stage)
    env = dict(os.environ, PYTHONPATH=str(Path(rtvoice.__file__).resolve().parents[1]))
    outputs = {}
    for mode in ("baseline", "auto"):
        env["RTVOICE_KERNELS"] = mode
        out = tmp_path / f"{mode}.npy"
        isa = subprocess.run([sys.executable, str(script), str(out)], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        outputs[mode] = (isa, np.load(out))
    assert outputs["baseline"][0] == "baseline"
    assert outputs["auto"][0] == dense_kernel_isa()
    assert np.abs(outputs["baseline"][1] - outputs["auto"][1]).max() < 1e-5
