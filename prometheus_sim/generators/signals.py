"""Lead-lag signal kernels: a source observed once a day fires on day d, and moves returns over days d+lag..d+lag+dur-1.

Each signal keeps a ring buffer of future steps in which it is in effect, so overlapping firings
never stack and nothing at step t is read from a later step. The z-score uses an EWMA mean and
variance of the source updated *after* the test, so the value at t is compared with the past.
"""

from __future__ import annotations

import math

from numba import njit

S_SOURCE = 0  # column in the combined (on-chain + macro) vector
S_TRANSFORM = 1  # 0: zscore, 1: change
S_THRESHOLD = 2
S_ALPHA = 3  # EWMA weight per observation (one a day)
S_WARMUP = 4  # observations (days) before the z-score may fire
S_LAG = 5  # steps from the firing day's last step to the first step it acts on
S_DURATION = 6  # steps it acts on
S_EFFECT = 7  # 0: drift, 1: vol
S_STRENGTH = 8
N_SIGNAL_PARAMS = 9

TRANSFORM_ZSCORE = 0
TRANSFORM_CHANGE = 1
EFFECT_DRIFT = 0
EFFECT_VOL = 1


@njit(cache=True, error_model="numpy", _nrt=False)
def signal_fires_nb(params, g, value, state):
    """Test signal g's source value at t; update its running state ``state[g]``: mean, var, prev, count.

    Takes the tables and a row number, not row views: a view made each step costs two atomic
    reference-count updates, which measured at a fifth of the whole kernel's time.
    """
    threshold = params[g, S_THRESHOLD]
    fired = False
    if params[g, S_TRANSFORM] == TRANSFORM_ZSCORE:
        count = state[g, 3]
        if count == 0.0:
            state[g, 0] = value
            state[g, 1] = 0.0
        else:
            if count >= params[g, S_WARMUP] and state[g, 1] > 0.0:
                z = (value - state[g, 0]) / math.sqrt(state[g, 1])
                fired = z >= threshold if threshold > 0.0 else z <= threshold
            alpha = params[g, S_ALPHA]
            d = value - state[g, 0]
            state[g, 0] += alpha * d
            state[g, 1] = (1.0 - alpha) * (state[g, 1] + alpha * d * d)
        state[g, 3] = count + 1.0
    else:
        if state[g, 3] > 0.0:
            d = value - state[g, 2]
            fired = d >= threshold if threshold > 0.0 else d <= threshold
        state[g, 2] = value
        state[g, 3] += 1.0
    return fired


@njit(cache=True, error_model="numpy", _nrt=False)
def schedule_effect_nb(ring, g, slot, lag, duration):
    """Mark steps lag .. lag + duration - 1 after the one in ring slot ``slot`` as in effect for signal g.

    The ring holds ``size`` steps (at least lag + duration), so slot ``(slot + k) % size`` is found by
    subtraction, not division: an integer division costs tens of cycles, paid every step.
    """
    size = ring.shape[1]
    at = slot + lag
    while at >= size:
        at -= size
    for _ in range(duration):
        ring[g, at] = 1
        at += 1
        if at == size:
            at = 0


@njit(cache=True, error_model="numpy", _nrt=False)
def take_effect_nb(ring, g, slot):
    """Whether signal g is in effect at the step in ring slot ``slot``; clears the slot for reuse."""
    active = ring[g, slot]
    ring[g, slot] = 0
    return active
