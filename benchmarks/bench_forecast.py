"""Forecaster speed on this machine, figures and ratios measured in one run.

For the guide's default size (hidden 256, 2-layer bidirectional LSTM, 4 Transformer layers) and a
serving size (hidden 128, 1 LSTM layer, 2 Transformer layers), with ``input_dim`` = the guide's
feature set (23 window features, 4 context values) and a 30-day window:

1. Training windows/s (forward + backward + AdamW step, batch 256, fp32).
2. Batched predictions/s at batch 1, 32 and 256: fp32 eager, bf16 autocast, and
   ``torch.compile`` (fp32), each the median of timed repeats after warm-up.
3. Single-window latency p50 / p99 (batch 1, fp32 eager and the fastest path).
4. FLOPs per prediction (``torch.utils.flop_counter.FlopCounterMode``) and the achieved FLOP/s,
   beside a 2048 x 2048 fp32 matmul's FLOP/s in the same run (what the machine can do).
5. Accuracy cost of the faster paths: the mean relative change of the predictions (bf16, compiled)
   against fp32 eager on the same inputs (the issue's budget: 1 % relative MAE change).

Untrained weights: speed does not depend on them. The relative-change figure compares raw outputs
of untrained weights (small numbers, so relative changes look large); a trained model's MAE change
is what ``forecast evaluate`` would show and is not measured here. Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_forecast.py [--quick] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from prometheus_sim.forecast.model import LSTMTransformerForecaster

SIZES = {
    "default (guide)": dict(hidden_dim=256, lstm_layers=2, transformer_layers=4, nhead=8),
    "serving": dict(hidden_dim=128, lstm_layers=1, transformer_layers=2, nhead=8),
}
INPUT_DIM, CONTEXT_DIM, WINDOW = 23, 4, 30
TARGET_PREDICTIONS_PER_S = 1000.0
TARGET_P99_MS = 5.0


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def matmul_flops(device: str, repeats: int) -> float:
    a = torch.randn(2048, 2048, device=device)
    b = torch.randn(2048, 2048, device=device)
    a @ b
    t = statistics.median(timed(lambda: a @ b, repeats))
    return 2 * 2048**3 / t


def lstm_flops(model: LSTMTransformerForecaster) -> float:
    """The LSTM's multiply-adds, counted by hand: FlopCounterMode does not see the fused LSTM kernel.

    Per layer, direction and step: 4 gates x H x (inputs + H) multiply-adds, 2 FLOPs each.
    """
    cfg = model.config
    h, total, inputs = cfg["hidden_dim"], 0.0, cfg["input_dim"]
    for _ in range(cfg["lstm_layers"]):
        total += 2 * WINDOW * 2 * 4 * h * (inputs + h)
        inputs = 2 * h
    return total


def flops_per_prediction(model: LSTMTransformerForecaster, device: str) -> float:
    """FlopCounterMode in training mode (the Transformer's eval fast path hides its matmuls from the
    counter), plus the LSTM by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, WINDOW, INPUT_DIM, device=device)
    c = torch.randn(1, CONTEXT_DIM, device=device)
    model.train()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x, c)
    model.eval()
    return float(counter.get_total_flops()) + lstm_flops(model)


def bench_size(name: str, cfg: dict, device: str, repeats: int) -> dict:
    torch.manual_seed(0)
    model = LSTMTransformerForecaster(input_dim=INPUT_DIM, context_dim=CONTEXT_DIM, **cfg).to(device)
    res: dict = {"size": name, "parameters": sum(p.numel() for p in model.parameters())}
    # training throughput
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(256, WINDOW, INPUT_DIM, device=device)
    c = torch.randn(256, CONTEXT_DIM, device=device)
    y = torch.randn(256, 7, device=device)

    def step():
        opt.zero_grad()
        p, _ = model(x, c)
        torch.nn.functional.mse_loss(p, y).backward()
        opt.step()

    model.train()
    step()
    res["train_windows_per_s"] = 256 / statistics.median(timed(step, max(3, repeats // 2)))
    model.eval()
    compiled = torch.compile(model)
    paths = {
        "fp32": lambda xb, cb: model(xb, cb),
        "bf16": lambda xb, cb: _bf16(model, xb, cb, device),
        "compiled": lambda xb, cb: compiled(xb, cb),
    }
    ref_in = (torch.randn(256, WINDOW, INPUT_DIM, device=device), torch.randn(256, CONTEXT_DIM, device=device))
    with torch.no_grad():
        ref = model(*ref_in)[0]
        for label, fn in paths.items():
            out = fn(*ref_in)[0].float()
            res[f"rel_change_{label}"] = float(((out - ref).abs() / ref.abs().clamp(min=1e-3)).mean())
            for batch in (1, 32, 256):
                xb, cb = ref_in[0][:batch], ref_in[1][:batch]
                for _ in range(2):
                    fn(xb, cb)
                times = timed(lambda fn=fn, xb=xb, cb=cb: fn(xb, cb), repeats if batch > 1 else repeats * 10)
                res[f"{label}_b{batch}_per_s"] = batch / statistics.median(times)
                if batch == 1:
                    ms = np.array(times) * 1e3
                    res[f"{label}_p50_ms"], res[f"{label}_p99_ms"] = (
                        float(np.percentile(ms, 50)),
                        float(np.percentile(ms, 99)),
                    )
    res["flops_per_prediction"] = flops_per_prediction(model, device)
    res["achieved_flops_b256_fp32"] = res["flops_per_prediction"] * res["fp32_b256_per_s"]
    return res


def _bf16(model, xb, cb, device):
    with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16):
        return model(xb, cb)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    peak = matmul_flops(args.device, repeats)
    print(f"2048x2048 fp32 matmul: {peak / 1e9:.1f} GFLOP/s (the machine's reference)")
    for name, cfg in SIZES.items():
        r = bench_size(name, cfg, args.device, repeats)
        print(f"\n== {name}: {r['parameters']:,} parameters, {r['flops_per_prediction'] / 1e6:.1f} MFLOP a prediction")
        print(f"  training (batch 256, fp32): {r['train_windows_per_s']:,.0f} windows/s")
        for label in ("fp32", "bf16", "compiled"):
            print(
                f"  {label:9s} predictions/s: batch 1 {r[f'{label}_b1_per_s']:,.0f}, 32 {r[f'{label}_b32_per_s']:,.0f}, "
                f"256 {r[f'{label}_b256_per_s']:,.0f}; single p50 {r[f'{label}_p50_ms']:.2f} ms, "
                f"p99 {r[f'{label}_p99_ms']:.2f} ms; mean relative change vs fp32 {r[f'rel_change_{label}']:.2e}"
            )
        best = max(("fp32", "bf16", "compiled"), key=lambda k: r[f"{k}_b256_per_s"])
        print(
            f"  achieved at batch 256 (fp32): {r['achieved_flops_b256_fp32'] / 1e9:.1f} GFLOP/s = "
            f"{r['achieved_flops_b256_fp32'] / peak:.2f} of the matmul's"
        )
        verdict = "PASS" if r[f"{best}_b256_per_s"] >= TARGET_PREDICTIONS_PER_S else "MISS"
        print(
            f"  target >= {TARGET_PREDICTIONS_PER_S:,.0f} predictions/s at batch 256: {verdict} "
            f"({best}: {r[f'{best}_b256_per_s']:,.0f}, {r[f'{best}_b256_per_s'] / TARGET_PREDICTIONS_PER_S:.2f}x)"
        )
        fastest_p99 = min(r[f"{k}_p99_ms"] for k in ("fp32", "bf16", "compiled"))
        print(
            f"  single-window p99 < {TARGET_P99_MS:g} ms: {'PASS' if fastest_p99 < TARGET_P99_MS else 'MISS'} "
            f"(best {fastest_p99:.2f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
