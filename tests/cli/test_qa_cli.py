
import pandas as pd

from helpers import run_cli


run = run_cli


def test_qa_set_and_report_with_agreement(demo_dir, tmp_path):
    session = tmp_path / "qa" / "s.sqlite"
    assert run("qa-set", "--session", session, "--image", "scene_001", "--status", "needs-fix", "--note",
               "missed dot, top left", "--reviewer", "ann").returncode == 0
    assert run("qa-set", "--session", session, "--image", "scene_002", "--status", "accepted").returncode == 0
    res = run("qa-report", "--session", session, "--out", tmp_path / "r.csv", "--gt", demo_dir / "gt",
              "--masks", demo_dir / "masks", "--classes", demo_dir / "classes.json")
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert len(df) == 12
    row = df[df.image == "scene_001"].iloc[0]
    assert (row.status, row.note, row.reviewer) == ("needs fix", "missed dot, top left", "ann")
    assert df[df.image == "scene_005"].iloc[0].status == "unreviewed"
    assert 0.5 < float(row.mean_dice) <= 1.0


def test_qa_errors_are_one_line_and_leave_files_alone(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage")
    res = run("qa-report", "--session", bad, "--out", tmp_path / "r.csv")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "bad.sqlite" in res.stderr
    assert bad.read_bytes() == b"garbage"
    res = run("qa-set", "--session", bad, "--image", "x", "--status", "accepted")
    assert res.returncode == 2 and bad.read_bytes() == b"garbage"
    res = run("qa-set", "--session", tmp_path / "ok.sqlite", "--image", "x", "--status", "brilliant")
    assert res.returncode == 2 and "unknown status" in res.stderr


def test_custom_statuses_from_the_command_line(tmp_path):
    session = tmp_path / "s.sqlite"
    assert run("qa-set", "--session", session, "--image", "a", "--status", "redo", "--statuses",
               "todo, ok, redo").returncode == 0
    assert run("qa-set", "--session", session, "--image", "b", "--status", "ok").returncode == 0
    run("qa-report", "--session", session, "--out", tmp_path / "r.csv")
    df = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert df.set_index("image")["status"].to_dict() == {"a": "redo", "b": "ok"}
    assert run("qa-set", "--session", session, "--image", "c", "--status", "accepted").returncode == 2
