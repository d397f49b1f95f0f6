"""Handles: deterministic close, cascades, garbage collection in any order, threads."""

import gc
import threading
import weakref

import numpy as np
import pytest

import alae
from alae import _handle


def live():
    gc.collect()
    _handle.drain(True)
    return len(_handle._pending)


def test_close_is_idempotent_and_blocks_use():
    ctx = alae.Context(threads=1)
    ctx.close()
    ctx.close()
    assert ctx.closed
    with pytest.raises(alae.AlaeError) as e:
        ctx.threads
    assert e.value.code == alae.E_STATE and "closed" in e.value.message


def test_context_close_cascades_to_everything_created_from_it():
    ctx = alae.Context(threads=1)
    model = alae.Model.from_preset("mnist-fc", seed=0, context=ctx, hidden=16)
    trainer = alae.Trainer(model)
    tensor = alae.Tensor(ctx, (2, 2))
    smoothed = trainer.smoothed_model()
    ctx.close()
    for obj in (model, trainer, trainer.opt_fg, trainer.opt_ed, tensor, smoothed):
        assert obj.closed
    with pytest.raises(alae.AlaeError) as e:
        model.sample(n=1)
    assert e.value.code == alae.E_STATE


def test_model_close_closes_its_trainer_but_not_its_context():
    ctx = alae.Context(threads=1)
    model = alae.Model.from_preset("mnist-fc", seed=0, context=ctx, hidden=16)
    trainer = alae.Trainer(model)
    model.close()
    assert trainer.closed and not ctx.closed
    ctx.close()


def test_children_keep_parents_alive():
    ctx = alae.Context(threads=1)
    ref = weakref.ref(ctx)
    model = alae.Model.from_preset("mnist-fc", seed=0, context=ctx, hidden=16)
    del ctx
    gc.collect()
    assert ref() is not None
    assert model.sample(n=1).shape == (1, 1, 32, 32)
    del model
    gc.collect()
    assert ref() is None


def test_garbage_cycles_are_destroyed_children_first():
    """A cycle holding a context, a model, a trainer and a tensor: the collector may finalize them
    in any order, but the C objects are destroyed children first (a wrong order would crash)."""
    for _ in range(5):
        ctx = alae.Context(threads=1)
        model = alae.Model.from_preset("mnist-fc", seed=0, context=ctx, hidden=16)
        trainer = alae.Trainer(model)
        tensor = alae.Tensor(ctx, (3,))
        natives = [o._native for o in (ctx, model, trainer, tensor)]
        box = {"ctx": ctx, "model": model, "trainer": trainer, "tensor": tensor}
        box["self"] = box
        ctx.cycle = box
        del ctx, model, trainer, tensor, box
        assert live() == 0
        assert all(n.ptr is None for n in natives)


def test_del_releases_immediately():
    ctx = alae.Context(threads=1)
    native = ctx._native
    del ctx
    assert live() == 0 and native.ptr is None


def test_calls_from_many_threads_are_serialised(small_model):
    """ctypes releases the GIL; the wrapper's per-context lock keeps calls on one context apart."""
    z = small_model.random_latents(8, seed=0)
    expected = small_model.sample(z)
    errors = []

    def work():
        try:
            for _ in range(5):
                assert np.array_equal(small_model.sample(z), expected)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_request_abort_from_another_thread():
    """An abort request reaches a running call (E_ABORTED) or arrives after it ended; either
    way the context stays usable."""
    ctx = alae.Context(threads=1)
    model = alae.Model.from_preset("mnist-fc", seed=0, context=ctx, hidden=512)
    z = model.random_latents(512, seed=0)
    outcome = []

    def run():
        try:
            model.sample(z)
            outcome.append("done")
        except alae.AlaeError as e:
            outcome.append(e.code)

    t = threading.Thread(target=run)
    t.start()
    for _ in range(200):
        ctx.request_abort()
    t.join()
    assert outcome[0] in ("done", alae.E_ABORTED)
    assert model.sample(n=1).shape == (1, 1, 32, 32)
    ctx.close()
