"""Strategy detection with two logical CPUs (split in conftest), precision, environment facts."""

from __future__ import annotations

import pytest
import tensorflow as tf

from monet_utils import runtime


def test_default_strategy_on_cpu(capsys):
    strategy = runtime.strategy()
    assert strategy.num_replicas_in_sync == 1
    assert not isinstance(strategy, (tf.distribute.MirroredStrategy, tf.distribute.TPUStrategy))
    assert "default strategy on CPU" in capsys.readouterr().out
    assert runtime.accelerator_kind(strategy) == "cpu"


def test_mirrored_over_two_logical_cpus_sums_across_replicas():
    strategy = runtime.strategy("cpus", verbose=False)
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2

    @tf.function
    def replica_id_plus_one():
        context = tf.distribute.get_replica_context()
        return tf.cast(context.replica_id_in_sync_group, tf.float32) + 1.0

    per_replica = strategy.run(replica_id_plus_one)
    assert strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy() == 3.0


def test_asking_for_a_tpu_without_one_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no TPU found"):
        runtime.strategy("tpu", verbose=False)
    with pytest.raises(ValueError, match="expected auto, tpu"):
        runtime.strategy("quantum")


def test_bf16_only_on_tpu():
    assert runtime.compute_dtype(mixed_precision=True) == "float32"  # CPU: stays float32
    assert runtime.compute_dtype(mixed_precision=False) == "float32"


def test_environment_info_records_versions_and_device():
    info = runtime.environment_info()
    assert info["versions"]["tensorflow"] == tf.__version__
    assert info["device"].startswith("CPU") and info["on_kaggle"] is False
