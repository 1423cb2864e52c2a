"""Market: frames with the seed's column names, exact save/load round trips, clear errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from prometheus_sim import __version__
from prometheus_sim.market import Market

COLUMNS = [
    "open", "high", "low", "close", "volume", "whale_transactions", "active_addresses",
    "exchange_inflow", "exchange_outflow", "inflation_rate", "fed_rate", "dxy_index",
]  # fmt: skip


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_overrides(horizon_days=90), seed=17, n_paths=12)


def test_array_shapes(market):
    p, t, a = 12, 90, 5
    for arr in (market.open, market.high, market.low, market.close, market.volume):
        assert arr.shape == (p, t, a)
    assert market.onchain.shape == (p, t, 4)
    assert market.macro.shape == (p, t, 3)
    assert market.truth.regime.shape == (p, t)
    assert market.truth.drift.shape == (p, t, a)
    assert market.truth.signal_active.shape == (p, t, 2)


def test_frame_has_the_seed_columns_and_a_daily_datetime_index(market):
    frame = market.frame(3, "ETH")
    assert list(frame.columns) == COLUMNS
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index[0] == pd.Timestamp("2024-01-01")
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta(days=1)).all()
    np.testing.assert_array_equal(frame["close"].to_numpy(), market.close[3, :, 1])
    assert frame["whale_transactions"].dtype == np.int64
    # the open is the bar's first trade: inside the range, and not the price the last bar closed at
    assert (frame["low"] <= frame["open"]).all() and (frame["open"] <= frame["high"]).all()
    assert (frame["open"].to_numpy()[1:] != frame["close"].to_numpy()[:-1]).all()


def test_frame_errors_name_the_problem(market):
    with pytest.raises(KeyError, match="unknown asset 'DOGE'"):
        market.frame(0, "DOGE")
    with pytest.raises(IndexError, match="path 12 out of range"):
        market.frame(12, "BTC")
    for bad in (True, 1.0):  # True was a pandas error about 1-dimensional data, 1.0 a raw NumPy IndexError
        with pytest.raises(TypeError, match="path: a row of this market, an integer"):
            market.frame(bad, "BTC")
    with pytest.raises(TypeError, match="asset: a name or an index, got True"):  # was ETH, index 1
        market.frame(0, True)


def test_save_and_load_round_trip_exactly(market, tmp_path):
    market.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["seed"] == 17
    assert manifest["scenario_digest"] == market.spec.digest()
    assert manifest["shapes"]["close"] == [12, 90, 5]
    assert manifest["package_version"]
    loaded = Market.load(tmp_path / "m")
    assert loaded.digest() == market.digest()
    assert loaded.spec == market.spec
    for name, arr in market.named_arrays().items():
        got = loaded.named_arrays()[name]
        assert got.dtype == arr.dtype
        np.testing.assert_array_equal(got, arr)
    pd.testing.assert_frame_equal(loaded.frame(5, "SOL"), market.frame(5, "SOL"))


def test_a_cut_market_loads_with_its_own_calendar_and_shocks(market, tmp_path):
    # head() cuts the steps; loading used to give it the scenario's whole calendar and shock series
    cut = market.head(40)
    cut.save(tmp_path / "cut")
    loaded = Market.load(tmp_path / "cut")
    assert loaded.n_steps == 40 and len(loaded.calendar) == 40
    pd.testing.assert_index_equal(loaded.calendar, market.calendar[:40])
    assert loaded.truth.shock_jump.shape[0] == 40 and loaded.truth.shock_vol.shape[0] == 40
    np.testing.assert_array_equal(loaded.truth.shock_jump, cut.truth.shock_jump)
    pd.testing.assert_frame_equal(loaded.frame(2, "BTC"), cut.frame(2, "BTC"))


def test_load_detects_tampering_and_missing_manifest(market, tmp_path):
    import pyarrow.parquet as pq

    out = market.save(tmp_path / "m")
    table = pq.read_table(out / "ohlcv.parquet")
    close = table.column("close").to_numpy().copy()
    close[7] *= 1.0001
    pq.write_table(table.set_column(table.column_names.index("close"), "close", [close]), out / "ohlcv.parquet")
    with pytest.raises(ValueError, match="do not match the hashes"):
        Market.load(out)
    with pytest.raises(FileNotFoundError, match="not a saved market"):
        Market.load(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda m: m["scenario"].update(start_date="2030-06-01"), "does not match its scenario_digest"),
        (lambda m: m["scenario"]["assets"][0].update(vol=0.9), "does not match its scenario_digest"),
        (lambda m: m.update(array_sha256={}), "records no hash for arrays"),
        (lambda m: m.update(seeds=[7] * len(m["seeds"])), "do not match its provenance_sha256"),
        (lambda m: m.update(path_ids=m["path_ids"][::-1]), "do not match its provenance_sha256"),
        (lambda m: m.update(package_version="0.3.0-local"), "is not a version this package writes"),
        (lambda m: m.pop("provenance_version"), "do not match its provenance_sha256"),  # a version-1 check: no
        # hand-edited structure (review of 2026-12-05: a KeyError, numpy's own messages, ENOMEM)
        (lambda m: m.pop("files"), "field 'files' is missing or not an object"),
        (lambda m: m["dtypes"].update(close="object"), "dtypes.close object is not a numeric dtype"),
        (lambda m: m["shapes"].update(close=[-3, 40, 4]), r"shapes.close must be a list of whole numbers >= 0"),
        (lambda m: m.update(kind="real"), "kind 'real' needs a 'source' object"),
    ],
)
def test_load_refuses_an_edited_manifest(market, tmp_path, edit, words):
    """The arrays were checked against their hashes, but the manifest's own account of them was taken as written:
    another start date moved the calendar, an added shock changed the truth's shock moves, an emptied hash table
    checked nothing, and other seeds made a market claim paths it does not hold (``policy evaluate`` refuses
    training seeds by them)."""
    out = market.save(tmp_path / "m")
    manifest = json.loads((out / "manifest.json").read_text())
    edit(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=words):
        Market.load(out)


def test_another_markets_files_and_hashes_under_this_ones_seeds_are_refused(market, tmp_path, default_spec):
    """The provenance digest left out the arrays' hashes: B's files with B's hashes copied into A's manifest loaded
    as A, with A's seeds and B's data (review of 2026-12-05). It covers them since provenance version 2."""
    a = market.save(tmp_path / "a")
    b = Market.simulate(default_spec.with_horizon(market.n_steps), seed=999, n_paths=market.n_paths).save(
        tmp_path / "b"
    )
    manifest = json.loads((a / "manifest.json").read_text())
    manifest["array_sha256"] = json.loads((b / "manifest.json").read_text())["array_sha256"]
    for f in b.glob("*.parquet"):
        (a / f.name).write_bytes(f.read_bytes())
    (a / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="do not match its provenance_sha256"):
        Market.load(a)


def test_a_market_saved_by_another_version_is_named_when_its_scenario_no_longer_validates(market, tmp_path):
    """0.2.0 observes signals once a day and refuses a z-score span of one day or less; a market 0.1.0 saved with
    window_days 0.75 at 4 steps a day (valid then) gets a message that says which version saved it and what to do,
    not a scenario error the user cannot edit. Provenance is required from 0.2.0 on, not before it."""
    out = market.save(tmp_path / "m")
    manifest = json.loads((out / "manifest.json").read_text())
    old = {**manifest, "package_version": "0.1.0"}
    old.pop("provenance_sha256")
    (out / "manifest.json").write_text(json.dumps(old))
    assert Market.load(out).digest() == market.digest()  # saved before provenance existed: still loads
    old["scenario"] = {**old["scenario"], "steps_per_day": 4, "signals": [
        {**old["scenario"]["signals"][0], "transform": "zscore", "window_days": 0.75}]}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(
        ValueError,
        match=r"simulated by prometheus-sim 0\.1\.0, whose scenario is not valid in "
        + re.escape(__version__)
        + r" \(simulate it again with this version\)",
    ):
        Market.load(out)
    (out / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "provenance_sha256"}))
    with pytest.raises(ValueError, match="has no provenance_sha256, which every save since 0.2.0 writes"):
        Market.load(out)


def test_a_truncated_file_is_named(market, tmp_path):
    out = market.save(tmp_path / "m")
    (out / "ohlcv.parquet").write_bytes((out / "ohlcv.parquet").read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"ohlcv\.parquet: cannot be read as this market's data \(Parquet magic"):
        Market.load(out)


def test_save_writes_whole_paths_a_row_group_at_a_time_and_loads_any_grouping(market, tmp_path, monkeypatch):
    """Small row groups (as a large market gets) round-trip exactly; so does a file written as one table
    (the plain way, and this package's files before 2026-12-04); the rows are those of the old writer."""
    import pyarrow.parquet as pq

    from prometheus_sim import parquet_tables

    monkeypatch.setattr(parquet_tables, "ROWS_PER_GROUP", 2 * 90 * 5)  # two paths of OHLCV rows a group
    out = market.save(tmp_path / "m")
    ohlcv = pq.ParquetFile(out / "ohlcv.parquet")
    assert ohlcv.num_row_groups == 6 and ohlcv.metadata.row_group(0).num_rows == 2 * 90 * 5
    assert pq.ParquetFile(out / "onchain.parquet").num_row_groups == 2  # a per-path block: ten paths, then two
    table = ohlcv.read()
    assert table.column("path").to_pylist()[:: 90 * 5] == list(range(12))
    assert table.column("asset").to_pylist()[:6] == [*market.assets, market.assets[0]]
    assert table.column("timestamp").to_pylist()[5] == market.calendar[1]
    np.testing.assert_array_equal(table.column("close").to_numpy(), market.close.reshape(-1))
    assert Market.load(out).digest() == market.digest()
    for name in ("ohlcv", "truth_assets", "onchain"):  # rewritten as one table each
        pq.write_table(pq.read_table(out / f"{name}.parquet"), out / f"{name}.parquet")
    assert Market.load(out).digest() == market.digest()


def test_a_save_that_fails_midway_leaves_the_market_it_was_replacing(market, default_spec, tmp_path, monkeypatch):
    """Every file is replaced or none is: one file failing (here OHLCV, written beside four others on threads)
    leaves the old market whole and loadable, and no temporary file behind."""
    from prometheus_sim import parquet_tables

    out = market.save(tmp_path / "m")
    other = Market.simulate(default_spec.with_overrides(horizon_days=90), seed=18, n_paths=12)
    write = parquet_tables.write_by_paths

    def failing(file, n_paths, rows_per_path, columns):
        if "ohlcv" in file.name:
            raise OSError("disk full")
        write(file, n_paths, rows_per_path, columns)

    monkeypatch.setattr(parquet_tables, "write_by_paths", failing)
    with pytest.raises(OSError, match="disk full"):
        other.save(out)
    assert Market.load(out).digest() == market.digest()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no partial file left behind
    monkeypatch.setattr(parquet_tables, "write_by_paths", write)
    (out / ".ohlcv.parquet.partial").write_bytes(b"left by a save killed with SIGKILL, which runs no cleanup")
    assert Market.load(other.save(out)).digest() == other.digest()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # the next save removes it


def test_a_market_of_no_paths_saves_loads_and_has_nan_facts(market, tmp_path):
    from prometheus_sim.facts import stylised_facts

    empty = market.rows(slice(0, 0))
    assert Market.load(empty.save(tmp_path / "m")).digest() == empty.digest()
    assert stylised_facts(empty)["median"].isna().all()


def test_load_names_a_missing_column_and_a_short_file(market, tmp_path):
    import pyarrow.parquet as pq

    out = market.save(tmp_path / "m")
    table = pq.read_table(out / "macro.parquet")
    pq.write_table(table.drop_columns(["fed_rate"]), out / "macro.parquet")
    with pytest.raises(ValueError, match=r"macro\.parquet: no column 'fed_rate'"):
        Market.load(out)
    pq.write_table(table.slice(0, 90), out / "macro.parquet")
    with pytest.raises(
        ValueError, match=r"macro\.parquet: 90 rows, but the manifest's shape \(12, 90\) for 'inflation_rate'"
    ):
        Market.load(out)
    out = market.save(tmp_path / "n")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shapes"]["truth.signal_active"][2] = 1  # the scenario names two signals
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"truth_paths\.parquet: the manifest's shape \(12, 90, 1\) has 1 columns"):
        Market.load(out)


def test_bad_path_requests_are_refused(default_spec):
    with pytest.raises(ValueError, match="n_paths"):
        Market.simulate(default_spec, n_paths=0)
    with pytest.raises(ValueError, match="path_ids"):
        Market.simulate(default_spec, path_ids=[])
    # 2.5 paths were 3, path id 1.7 was 1, True was 1 and 3.99 was 3: a different path than asked for, without a word
    spec = default_spec.with_overrides(horizon_days=5)
    with pytest.raises(TypeError, match=r"n_paths: must be an integer, got 2.5"):
        Market.simulate(spec, n_paths=2.5)
    for ids in ([1.7], [True, False]):
        with pytest.raises(TypeError, match="path_ids: must be an integer"):
            Market.simulate(spec, path_ids=ids)
    with pytest.raises(TypeError, match="path_ids: must be an integer, got 3.99"):
        Market.simulate(spec, seeds=[1, 2], path_ids=[0, 3.99])
    for bad in (-1, 2**32):  # the generator's limit (a Philox counter word), named for either end
        with pytest.raises(ValueError, match=r"path_ids: must be in \[0, 4,294,967,296\), got "):
            Market.simulate(spec, path_ids=[bad])
    assert Market.simulate(spec, path_ids=np.array([4], dtype=np.uint8)).path_ids.tolist() == [4]


def test_a_market_of_several_seeds_names_each_saved_row_by_seed_and_path(default_spec, tmp_path):
    """Row i of ``simulate(seeds=...)`` is path 0 of seeds[i]: saved with only a path column, two seeds' rows had the
    same (path, timestamp, asset) keys (review, session 23). Such a save adds a seed column; one seed's does not."""
    spec = default_spec.with_overrides(horizon_days=5)
    several = Market.simulate(spec, seeds=[3, 4])
    several.save(tmp_path / "several")
    for name, keys in (("ohlcv", ["seed", "path", "timestamp", "asset"]), ("macro", ["seed", "path", "timestamp"]),
                       ("truth_assets", ["seed", "path", "timestamp", "asset"])):  # fmt: skip
        frame = pd.read_parquet(tmp_path / "several" / f"{name}.parquet")
        assert list(frame.columns[:2]) == ["path", "seed"] and not frame.duplicated(keys).any()
        assert sorted(frame["seed"].unique().tolist()) == [3, 4]
    loaded = Market.load(tmp_path / "several")
    assert loaded.digest() == several.digest() and loaded.seeds.tolist() == [3, 4]
    Market.simulate(spec, n_paths=2).save(tmp_path / "one")
    assert "seed" not in pd.read_parquet(tmp_path / "one" / "ohlcv.parquet").columns


def test_simulate_refuses_a_seed_that_is_not_an_integer(default_spec):
    spec = default_spec.with_overrides(horizon_days=5)
    for bad in (1.5, True, "3"):
        with pytest.raises(TypeError, match="seed: must be an integer"):
            Market.simulate(spec, seed=bad)
    with pytest.raises(ValueError, match=r"seed: must be in \[0, 2\*\*64\), got -1"):
        Market.simulate(spec, seed=-1)
    with pytest.raises(TypeError, match="seeds: must be an integer, got 2.0"):
        Market.simulate(spec, seeds=[1, 2.0])
    assert Market.simulate(spec, seed=np.uint64(2**64 - 1)).seed == 2**64 - 1


@pytest.mark.parametrize(
    "calendar",
    [
        pd.bdate_range("2024-01-01", periods=40),  # business days: came back as 40 consecutive days
        pd.date_range("2024-01-01", periods=40, freq="h"),  # hourly, given at one step a day
        pd.date_range("2024-03-01", periods=40, freq="D", tz="America/New_York"),  # a zone with a clock change
    ],
)
def test_a_calendar_a_save_cannot_keep_is_refused(market, calendar):
    """A save keeps a calendar's first step and its step; other calendars came back as other dates (review)."""
    blocks = market.rows(slice(0, 1)).head(40).blocks
    with pytest.raises(ValueError, match="calendar: a market's steps are 1/steps_per_day"):
        Market.from_bars("bars", market.assets, market.asset_kinds, calendar, blocks, {"kind": "test"})


def test_a_manifest_that_is_not_an_object_or_too_large_is_named(market, tmp_path):
    from prometheus_sim.memory import OutputsTooLarge

    out = market.save(tmp_path / "m")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text("[]")
    with pytest.raises(ValueError, match="manifest.json: must be a JSON object, got list"):
        Market.load(out)
    manifest["shapes"]["close"] = [10**9, 10**6, 4]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(OutputsTooLarge, match="the saved market .* needs .* more than"):
        Market.load(out)
