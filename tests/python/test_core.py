"""Version, devices, contexts, tensors, errors and logging."""

import threading

import numpy as np
import pytest

import alae


def test_version_and_library():
    assert alae.version() == alae.__version__
    assert alae.version_number() == alae.HEADER_VERSION_NUMBER
    alae.check_version()
    with pytest.raises(alae.AlaeError) as e:
        alae.check_version(alae.HEADER_VERSION_NUMBER + 10000)  # the next major
    assert e.value.code == alae.E_VERSION and "alae_check_version" in e.value.message
    assert alae.library_path()


def test_devices():
    assert alae.device_count() >= 1
    cpu = alae.devices()[0]
    assert cpu.kind == alae.DEVICE_CPU and cpu.name == "cpu" and cpu.threads >= 1
    with pytest.raises(alae.AlaeError) as e:
        alae.device_info(alae.device_count())
    assert e.value.code == alae.E_INVALID_ARG


def test_cuda_backend_loads_or_is_unavailable():
    assert alae.find_device("cpu") == 0
    with pytest.raises(alae.AlaeError) as e:
        alae.find_device("gpu")
    assert e.value.code == alae.E_INVALID_ARG
    with pytest.raises(alae.AlaeError) as e:
        alae.load_cuda_backend("relative/libalae-cuda.so")
    assert e.value.code == alae.E_INVALID_ARG and "absolute" in e.value.message
    try:
        alae.load_cuda_backend()
    except alae.AlaeError as err:  # no module, no driver or no GPU: a clean status with the reason
        assert err.code == alae.E_BACKEND_UNAVAILABLE and err.message
    else:
        index = alae.find_device("cuda")
        assert alae.device_info(index).kind == alae.DEVICE_CUDA


def test_backend_load_failure_is_an_error(tmp_path):
    with pytest.raises(alae.AlaeError) as e:
        alae.load_backend(tmp_path / "no-such-plugin.so")
    assert e.value.code in (alae.E_BACKEND_UNAVAILABLE, alae.E_IO, alae.E_INVALID_ARG)
    assert e.value.message


def test_status_strings():
    assert alae.status_string(alae.E_SHAPE) == "shape mismatch"
    assert alae.status_string(12345) == "unknown status"


def test_context_params(context):
    assert context.threads == 1
    context.threads = 2
    assert context.get_param("threads") == 2
    context.seed = 42
    assert context.seed == 42
    assert context.deterministic in (True, False)
    context.poison = True
    assert context.poison is True
    with pytest.raises(alae.AlaeError) as e:
        context.threads = 0
    assert e.value.code == alae.E_INVALID_ARG and "ALAE_CTX_THREADS" in e.value.message
    with pytest.raises(alae.AlaeError):
        context.set_param("nonsense", 1)
    context.synchronize()
    context.request_abort()  # nothing running: a no-op for the next call
    assert context.info.name == "cpu"


def test_context_keywords():
    with alae.Context(threads=1, seed=7) as ctx:
        assert ctx.threads == 1 and ctx.seed == 7
    assert ctx.closed


def test_tensor_round_trip(context):
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    with alae.Tensor.from_numpy(context, a) as t:
        assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel == 24 and t.dtype == alae.DTYPE_F32
        out = t.numpy()
        assert out.dtype == np.float32 and np.array_equal(out, a)
        with pytest.raises(alae.AlaeError) as e:
            t.write(np.zeros(5))
        assert e.value.code == alae.E_SHAPE


def test_tensor_errors(context):
    with pytest.raises(alae.AlaeError) as e:
        alae.Tensor(context, (2, -3))
    assert e.value.code == alae.E_INVALID_ARG
    assert "alae_tensor_create" in e.value.message and "shape[1]" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        alae.Tensor(context, (1, 1, 1, 1, 1))
    assert e.value.code == alae.E_INVALID_ARG
    with pytest.raises(alae.AlaeError) as e:
        alae.Tensor(context, (2,), dtype=alae.DTYPE_F16)
    assert e.value.code == alae.E_UNSUPPORTED


def test_normal_is_reproducible(context):
    a = context.normal((1000,), seed=3)
    b = context.normal((1000,), seed=3)
    c = context.normal((1000,))  # continues the stream
    assert np.array_equal(a, b) and not np.array_equal(b, c)
    assert abs(a.mean()) < 0.15 and 0.85 < a.std() < 1.15
    with alae.Tensor(context, (10,)) as t:
        t.fill_normal(5.0, 0.0)
        assert np.all(t.numpy() == 5.0)


def test_error_carries_code_and_message():
    e = alae.AlaeError(alae.E_IO, "alae_x: cannot open")
    assert e.code == alae.E_IO and e.status == "ALAE_E_IO" and "cannot open" in str(e)
    assert isinstance(e, Exception)


def test_error_messages_are_per_thread(context):
    """alae_last_error is thread-local: errors raised on two threads keep their own messages."""
    messages = {}

    def fail(i):
        try:
            alae.Tensor(context, (i + 1, -(i + 1)))
        except alae.AlaeError as e:
            messages[i] = e.message

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert "= %d" % -(i + 1) in messages[i]


def test_log_callback_and_level():
    seen = []
    old = alae.get_log_level()
    try:
        alae.set_log_callback(lambda level, message: seen.append((level, message)))
        alae.set_log_level(alae.LOG_DEBUG)
        assert alae.get_log_level() == alae.LOG_DEBUG
        with pytest.raises(alae.AlaeError):
            alae.ModelConfig("no-such-preset")
        assert any(level == alae.LOG_DEBUG and "no-such-preset" in m for level, m in seen)
        with pytest.raises(alae.AlaeError) as e:
            alae.set_log_level(99)
        assert e.value.code == alae.E_INVALID_ARG
    finally:
        alae.set_log_level(old)
        alae.set_log_callback(None)


def test_log_to_python(caplog):
    import logging
    old = alae.get_log_level()
    try:
        alae.log_to_python()
        alae.set_log_level(alae.LOG_DEBUG)
        with caplog.at_level(logging.DEBUG, logger="alae"):
            with pytest.raises(alae.AlaeError):
                alae.ModelConfig("still-no-such-preset")
        assert any("still-no-such-preset" in r.getMessage() for r in caplog.records)
    finally:
        alae.set_log_level(old)
        alae.set_log_callback(None)


def test_raw_binding():
    lib = alae.lib()
    assert lib.alae_device_count() >= 1
    with pytest.raises(alae.AlaeError) as e:
        lib.alae_set_log_level(-5)
    assert e.value.code == alae.E_INVALID_ARG


def test_comm_errors_and_trainer_without_comm():
    """alae.Comm reports a bad kind or a missing module as AlaeError; set_comm(None) is allowed."""
    ctx = alae.Context()
    with pytest.raises(alae.AlaeError) as e:
        alae.Comm("gloo", ctx)
    assert e.value.status == "ALAE_E_INVALID_ARG" and "gloo" in e.value.message
    with pytest.raises(alae.AlaeError) as e:
        alae.Comm("nccl", ctx)
    assert "CUDA" in e.value.message
    model = alae.Model.from_preset("mnist-fc-paper", hidden=16, context=ctx)
    trainer = alae.Trainer(model)
    trainer.set_comm(None)
    trainer.close()
