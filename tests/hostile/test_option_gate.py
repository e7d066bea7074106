"""Options and keywords checked at the door (OptionError, one line, exit 2 in the CLI); batches counted all or
nothing; every-file-bad datasets raise in the API as in the CLI; schedulers probed with a timeout; files that
vanish after listing skipped; names in figures drawn literally."""
import csv
import json
import socket
import threading
import time

import numpy as np
import pytest
import torch

import segviewer
from helpers import run_cli
from hostile_kit import C, H, W, data_args, make_base, refused, write_logits
from segviewer.core import cluster_probe
from segviewer.core.errors import LoadError, OptionError

API_KEYWORDS = {
    "activation-gelu": dict(activation="gelu"),
    "activation-None": dict(activation=None),
    "device-tpu": dict(device="tpu"),
    "device-cuda-99": dict(device="cuda:99"),
    "steps-minus-5": dict(steps=-5),
    "steps-zero": dict(steps=0),
    "steps-half": dict(steps=2.5),
    "steps-True": dict(steps=True),
    "num-classes-zero": dict(num_classes=0),
    "ignore-index-text": dict(ignore_index="255x"),
    "strip-suffixes-a-string": dict(strip_suffixes="_gt"),
    "scoring-a-dict": dict(scoring={"threshold": 0.5}),
}


@pytest.mark.parametrize("keywords", API_KEYWORDS.values(), ids=API_KEYWORDS.keys())
def test_open_checks_every_keyword_at_the_door(tmp_path, keywords):
    base = make_base(tmp_path / "data")
    with pytest.raises(OptionError) as err:
        segviewer.open(gt=base["gt"], logits=base["pred"], **keywords)
    assert next(iter(keywords)) in str(err.value) and "\n" not in str(err.value)


SCORINGS = {
    "beta-1e200": dict(beta=1e200), "beta-1e7": dict(beta=1e7), "beta-text": dict(beta="two"),
    "smooth-1e300": dict(smooth=1e300), "threshold-empty": dict(threshold=[]),
    "threshold-text": dict(threshold="half"), "boundary-2.5": dict(boundary=2.5), "argmax-string": dict(argmax="yes"),
}


@pytest.mark.parametrize("keywords", SCORINGS.values(), ids=SCORINGS.keys())
def test_scoring_refuses_values_that_overflow_or_mean_nothing(keywords):
    with pytest.raises(OptionError):
        segviewer.Scoring(**keywords)


def test_the_largest_beta_still_gives_finite_scores(tmp_path):
    base = make_base(tmp_path / "data")
    with segviewer.open(gt=base["gt"], logits=base["pred"], classes=base["classes"]) as ins:
        ins.scoring = segviewer.Scoring(beta=1e6)
        scores = ins.dataset_scores()
    assert np.isfinite(scores["fbeta"].dropna()).all() and len(scores["fbeta"].dropna()) > 0
    assert np.allclose(scores["fbeta"], scores["recall"], atol=1e-6, equal_nan=True)   # F_beta -> recall


@pytest.mark.parametrize("option,value", [("--beta", "1e200"), ("--beta", "1e7"), ("--smooth", "1e300")])
def test_cli_numbers_beyond_their_bound(tmp_path, option, value):
    base = make_base(tmp_path / "data")
    result = run_cli("export", *data_args(base), "--out", tmp_path / "o.csv", option, value)
    assert result.returncode == 2 and option in result.stderr.splitlines()[-1] and "Traceback" not in result.stderr


EVALUATORS = {"device-tpu": dict(device="tpu"), "device-cuda-3": dict(device="cuda:3"),
              "activation-relu": dict(activation="relu"), "steps-1e6": dict(steps=10**6), "beta-inf": dict(beta=1e400)}


@pytest.mark.parametrize("keywords", EVALUATORS.values(), ids=EVALUATORS.keys())
def test_evaluator_checks_its_keywords(keywords):
    with pytest.raises(OptionError):
        segviewer.Evaluator(**keywords)


def batch(n=3, bad=None):
    logits = torch.randn(n, C, H, W, generator=torch.Generator().manual_seed(0))
    if bad is not None:
        logits[bad, 1, 2, 3] = float("inf")
    return logits, torch.randint(0, C, (n, H, W), generator=torch.Generator().manual_seed(1))


def test_a_batch_with_one_bad_image_counts_none_of_it():
    ev = segviewer.Evaluator(num_classes=C)
    with pytest.raises(OptionError, match="'000002'.*nothing of this batch"):
        ev.update(*batch(bad=2))
    with pytest.raises(OptionError, match="no images"):
        ev.compute()
    ev.update(*batch())
    reference = segviewer.Evaluator(num_classes=C)
    reference.update(*batch())
    assert ev.compute().equals(reference.compute()) and len(ev.per_image()) == 3 * C


def test_an_empty_batch_counts_nothing_and_breaks_nothing():
    ev = segviewer.Evaluator(num_classes=C)
    ev.update(torch.zeros(0, C, H, W), torch.zeros(0, H, W, dtype=torch.long))
    ev.update(*batch(1))
    assert len(ev.per_image()) == C


def test_activation_none_on_raw_logits_is_refused_in_one_line(tmp_path):
    base = make_base(tmp_path / "data")            # the kit's logits are normal(0, 1): not probabilities
    refused(tmp_path, ["calibration", *data_args(base), "--activation", "none", "--out", tmp_path / "c.csv"],
            "activation 'none'", "img0.npy")
    with pytest.raises(OptionError, match="activation 'none'"):
        segviewer.Evaluator(num_classes=C, activation="none").update(*batch(1))


def test_activation_none_on_probabilities_scores_them_as_given(tmp_path):
    base = make_base(tmp_path / "data")
    probs = np.zeros((C, H, W), np.float32)
    probs[1] = 0.75                                 # class 1 predicted everywhere at threshold 0.5
    write_logits(base["pred0"], probs)
    out = tmp_path / "o.csv"
    assert run_cli("export", *data_args(base), "--activation", "none", "--out", out).returncode == 0
    rows = list(csv.DictReader(open(out)))
    assert [int(r["fp"]) + int(r["tp"]) for r in rows[:C]] == [0, H * W, 0]


def test_a_finite_float64_beyond_float32_is_named_as_such(tmp_path):
    base = make_base(tmp_path / "data")
    big = np.zeros((C, H, W), np.float64)
    big[0, 0, 0] = 1e300
    np.save(base["pred0"], big)
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv"], "img0.npy", "1e+300",
                   "float32")
    assert "NaN" not in line


def test_every_file_bad_raises_in_the_api_as_the_cli_exits_2(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    for p in base["pred"].iterdir():
        p.write_bytes(b"not an array")
    with segviewer.open(gt=base["gt"], logits=base["pred"], classes=base["classes"]) as ins:
        with pytest.raises(LoadError, match="no image could be loaded"):
            ins.dataset_scores()
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv"], "no image could be loaded")


class Listener:
    """A local TCP server that says `greeting` (or nothing) to whoever connects."""

    def __init__(self, greeting: bytes | None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.greeting, self.conns = greeting, []
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            while True:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
                if self.greeting:
                    conn.sendall(self.greeting)
        except OSError:
            pass

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("greeting,reason", [(None, "no answer within"),
                                             (b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a Dask scheduler"),
                                             (b"SSH-2.0-OpenSSH_9.6\r\n", "not a Dask scheduler")])
def test_a_scheduler_address_that_is_no_dask_scheduler(tmp_path, monkeypatch, greeting, reason):
    pytest.importorskip("distributed")
    monkeypatch.setattr(cluster_probe, "PROBE_TIMEOUT_S", 1.0)
    base = make_base(tmp_path / "data")
    server = Listener(greeting)
    try:
        started = time.monotonic()
        refused(tmp_path, ["sweep", *data_args(base), "--out", tmp_path / "s.csv", "--scheduler", server.address],
                server.address, reason)
        assert time.monotonic() - started < 10
    finally:
        server.close()


def test_a_scheduler_address_nobody_listens_on(tmp_path):
    pytest.importorskip("distributed")
    base = make_base(tmp_path / "data")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    refused(tmp_path, ["index", "--gt", base["gt"], "--logits", base["pred"], "--scheduler", f"127.0.0.1:{port}"],
            f"127.0.0.1:{port}", "cannot connect")


@pytest.mark.parametrize("command", ["sweep", "index", "calibration"])
def test_a_logits_file_deleted_after_listing_is_skipped(tmp_path, monkeypatch, command):
    import segviewer.core.dataset as dataset_module
    base = make_base(tmp_path / "data", n=3)
    listed = dataset_module.Dataset.__init__

    def list_then_lose_one(self, options):
        listed(self, options)
        (base["pred"] / "img1.npy").unlink(missing_ok=True)
    monkeypatch.setattr(dataset_module.Dataset, "__init__", list_then_lose_one)
    out = [] if command == "index" else ["--out", tmp_path / "o.csv"]
    result = run_cli(command, *data_args(base), *out)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("skipped") == 1 and "img1.npy" in result.stderr


NAMES = ["$\\nope{$", "a_{b", "$$", "\\frac{1}{", "bad\ud800surrogate", "x^2$"]


def test_names_in_figures_are_drawn_literally(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    base["classes"].write_text(json.dumps({"names": NAMES[:3]}))
    odd = "img$\\nope{$"
    for kind in ("gt", "pred"):
        src = base[f"{kind}0"]
        src.rename(src.with_name(odd + src.suffix))
    for args in (["sweep", "--out", tmp_path / "s.csv", "--plot", tmp_path / "p.png", "--steps", "10"],
                 ["calibration", "--out", tmp_path / "c.csv", "--plot", tmp_path / "r.png"],
                 ["export", "--out", tmp_path / "o.csv", "--figures", tmp_path / "figs", "--worst", "2"]):
        result = run_cli(args[0], *data_args(base), *args[1:])
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir())[0].startswith("001-")
    for png in (tmp_path / "p.png", tmp_path / "r.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_lone_surrogate_in_a_class_name_is_replaced_in_figures(tmp_path):
    from segviewer.core.plots import literal
    assert literal("bad\ud800surrogate") == "bad\ufffdsurrogate" and literal(NAMES[0]) == NAMES[0]
    base = make_base(tmp_path / "data")
    base["classes"].write_text('{"names": ["bad\\ud800", "x^2$", "$\\\\nope{$"]}')
    result = run_cli("sweep", *data_args(base), "--out", tmp_path / "s.csv", "--plot", tmp_path / "p.png",
                     "--steps", "10")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("value,words", [("2", "thresholds lie in [0, 1]"), ("0.1,0.2", "lists 2 values for 3")])
def test_a_bad_compare_threshold_is_named_as_such(tmp_path, value, words):
    """The line named --threshold (which was fine) for a wrong --compare-threshold."""
    base = make_base(tmp_path / "data")
    line = refused(tmp_path, ["compare", *data_args(base), "--compare", base["pred"], "--compare-threshold", value,
                              "--out", tmp_path / "p.csv"], words)
    assert "--compare-threshold" in line


@pytest.mark.parametrize("scheme", ["http", "foo"])
def test_a_scheduler_address_of_no_dask_scheme_is_refused_before_dask_sees_it(tmp_path, scheme):
    """Dask's half-made client waited 30 s at exit and printed its traceback after the line."""
    base = make_base(tmp_path / "data")
    started = time.monotonic()
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", "--scheduler",
                              f"{scheme}://127.0.0.1:1"], f"{scheme}://127.0.0.1:1")
    assert line.endswith(f"{scheme}:// is no Dask scheduler address (give one like tcp://host:8786; Dask connects "
                         "by tcp, tls, ws, wss, ucx, inproc)")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("scheme", ["ws", "tls"])
def test_a_framed_scheduler_address_nobody_listens_on_is_refused_at_once(tmp_path, scheme):
    base = make_base(tmp_path / "data")
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    started = time.monotonic()
    refused(tmp_path, ["index", "--gt", base["gt"], "--logits", base["pred"], "--scheduler",
                       f"{scheme}://127.0.0.1:{port}"], f"{scheme}://127.0.0.1:{port}", "cannot connect")
    assert time.monotonic() - started < 5


def test_a_ucx_scheduler_without_ucx_for_python_is_one_line(tmp_path):
    """Dask's UCX comm cannot be made without ucx-py: a TypeError traceback of 64 lines and a 30 s wait."""
    base = make_base(tmp_path / "data")
    started = time.monotonic()
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", "--scheduler", "ucx://127.0.0.1:1"],
            "ucx:// needs UCX for Python (ucx-py or ucxx)")
    assert time.monotonic() - started < 5


def test_an_inproc_scheduler_that_does_not_run_in_this_process_is_one_line(tmp_path):
    """From the command line no scheduler can run in its own process: Dask's half-made client printed a traceback
    after 30 s."""
    base = make_base(tmp_path / "data")
    started = time.monotonic()
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", "--scheduler", "inproc://10.0.0.1/1/2"],
            "no scheduler by that inproc:// address runs in this process")
    assert time.monotonic() - started < 5
