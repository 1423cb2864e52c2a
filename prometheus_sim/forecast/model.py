"""``LSTMTransformerForecaster``: the guide's network, with the context vector C(t) actually used.

Sizes default to the guide's (hidden 256, a 2-layer bidirectional LSTM, a 2H -> H projection,
sinusoidal positions up to 5,000 steps, a 4-layer Transformer encoder with 8 heads and a 4H
feed-forward, dropout 0.1). The last step's representation, plus a projection of C(t) when the
model has a context, feeds two heads: predictions H -> H/2 -> ReLU -> dropout -> horizon, and
confidence H -> H/4 -> ReLU -> horizon -> sigmoid. ``input_dim`` follows the feature set (the
guide's 64 is its default, not a rule). Predictions are scaled log returns from the window's last
close to t + h (see :mod:`prometheus_sim.forecast.data`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """The sinusoidal encoding of "Attention is all you need", added to the sequence (max length 5,000)."""

    def __init__(self, d_model: int, max_len: int = 5000):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe.unsqueeze(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.size(1)]


class LSTMTransformerForecaster(nn.Module):
    """``forward(x, context=None) -> (predictions, confidence)``, each (batch, horizon).

    Parameters
    ----------
    input_dim : features per time step of the window X
    context_dim : size of C(t) (0: no context)
    """

    def __init__(
        self,
        input_dim: int = 64,
        hidden_dim: int = 256,
        lstm_layers: int = 2,
        nhead: int = 8,
        transformer_layers: int = 4,
        dropout: float = 0.1,
        horizon: int = 7,
        context_dim: int = 0,
    ):
        super().__init__()
        if hidden_dim % nhead or hidden_dim % 4:
            raise ValueError(f"hidden_dim {hidden_dim} must be a multiple of nhead ({nhead}) and of 4")
        self.config = {
            "input_dim": input_dim, "hidden_dim": hidden_dim, "lstm_layers": lstm_layers, "nhead": nhead,
            "transformer_layers": transformer_layers, "dropout": dropout, "horizon": horizon,
            "context_dim": context_dim,
        }  # fmt: skip
        self.lstm = nn.LSTM(input_dim, hidden_dim, num_layers=lstm_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if lstm_layers > 1 else 0.0)  # fmt: skip
        self.projection = nn.Linear(2 * hidden_dim, hidden_dim)
        self.positions = PositionalEncoding(hidden_dim)
        layer = nn.TransformerEncoderLayer(hidden_dim, nhead, dim_feedforward=4 * hidden_dim, dropout=dropout,
                                           batch_first=True)  # fmt: skip
        self.transformer = nn.TransformerEncoder(layer, num_layers=transformer_layers, enable_nested_tensor=False)
        self.context = nn.Linear(context_dim, hidden_dim) if context_dim > 0 else None
        self.prediction_head = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim // 2), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_dim // 2, horizon)
        )
        self.confidence_head = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim // 4), nn.ReLU(), nn.Linear(hidden_dim // 4, horizon), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h, _ = self.lstm(x)
        h = self.transformer(self.positions(self.projection(h)))
        last = h[:, -1]
        if self.context is not None:
            if context is None:
                raise ValueError(f"this model was trained with a context C(t) of {self.config['context_dim']} values")
            last = last + self.context(context)
        return self.prediction_head(last), self.confidence_head(last)


__all__ = ["LSTMTransformerForecaster", "PositionalEncoding"]
