"""The window builds its index on a Dask scheduler named in the open dialog (remembered), with the same progress,
and the numbers equal one process's."""
import numpy as np
import pytest

from helpers import settle

distributed = pytest.importorskip("distributed")


def test_index_on_a_scheduler_from_the_open_dialog(qtbot, window, demo_copy):
    from segviewer.gui.open_dialog import OpenDatasetDialog
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        dialog = OpenDatasetDialog(window, window.qsettings)
        dialog.gt.setText(str(demo_copy / "gt"))
        dialog.pred.setText(str(demo_copy / "logits"))
        dialog.scheduler.setText(cluster.scheduler_address)
        window.actions_.use_scheduler(dialog.scheduler_address())
        assert window.qsettings.value("scheduler") == cluster.scheduler_address
        progress = []
        window.viewer.index_progress.connect(lambda done, total: progress.append((done, total)))
        assert window.open_options(dialog.options())
        settle(qtbot, window, timeout=120000)
        v = window.viewer
        assert v.engine.cluster.scheduler == cluster.scheduler_address
        assert progress[-1] == (12, 12) and len(progress) >= 2
        import segviewer
        with segviewer.open(folder=demo_copy) as alone:
            assert np.array_equal(v.dataset_counts.tp.numpy(), alone.dataset_scores()["tp"].to_numpy())
        assert OpenDatasetDialog(window, window.qsettings).scheduler.text() == cluster.scheduler_address
    finally:
        cluster.close()
