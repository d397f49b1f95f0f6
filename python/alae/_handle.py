"""Ownership of C handles: the base class of every wrapper.

A C object must be destroyed after everything created from it (a context after its models and
tensors, a model after its optimizers and trainer). Each wrapper owns a _Native record that holds
the pointer, strong references to the records of its parents and the set of its children:

* ``close()`` (and leaving a ``with`` block) is deterministic and cascades: it closes the
  object's children first, then destroys the object now;
* garbage collection (``__del__``) only releases: the object is destroyed once it has no live
  children. Wrappers also hold their parents' wrappers, so a Model keeps its Context alive; the
  records make the order right even when the collector finalizes a cycle in any order.
"""

import collections
import threading

from . import _lib
from . import constants as _k

_graph_lock = threading.RLock()  # guards every _Native's children and state
_pending = collections.deque()   # released by the collector, not destroyed yet


class _Native:
    __slots__ = ("ptr", "destroy", "parents", "children", "released", "lock", "__weakref__")

    def __init__(self, ptr, destroy, parents, lock):
        self.ptr = ptr
        self.destroy = destroy
        self.parents = tuple(parents)
        self.children = set()
        self.released = False
        self.lock = lock
        for p in self.parents:
            p.children.add(self)

    def maybe_destroy(self, blocking):
        """Destroys the object if it was released and has no children; False when its lock was
        busy (non-blocking mode), so that it must be tried again later. Needs _graph_lock."""
        if self.ptr is None or not self.released or self.children:
            return True
        if not self.lock.acquire(blocking):
            return False
        try:
            ptr, self.ptr = self.ptr, None
            getattr(_lib.get(), self.destroy)(ptr)
        finally:
            self.lock.release()
        parents, self.parents = self.parents, ()
        for p in parents:
            p.children.discard(self)
            if not p.maybe_destroy(blocking):
                _pending.append(p)
        return True

    def close(self):
        """Closes the children, then the object, waiting for their locks. Needs _graph_lock."""
        for child in list(self.children):
            child.close()
        self.released = True
        self.maybe_destroy(True)


def drain(blocking):
    """Destroys the objects the collector released. In non-blocking mode (from __del__, which may
    run inside any call, on any thread) it gives up on a busy lock and leaves the rest queued for
    the next call."""
    if not _graph_lock.acquire(blocking):
        return
    try:
        for _ in range(len(_pending)):
            native = _pending.popleft()
            native.released = True
            if not native.maybe_destroy(blocking):
                _pending.append(native)
                if not blocking:
                    break
    finally:
        _graph_lock.release()


class Handle:
    """Base of the wrappers: ``close()``, context-manager support and ``__del__``."""

    _destroy = None  # the name of the C destroy function
    _kind = "object"

    def _own(self, ptr, parents=(), lock=None, keep=()):
        """Takes ownership of ptr. parents: wrappers this object depends on (kept alive, and
        closed after it); lock: the lock serialising calls on the object (its context's)."""
        self._keep = tuple(parents) + tuple(keep)
        self._lock = lock if lock is not None else threading.RLock()
        drain(False)
        with _graph_lock:
            self._native = _Native(ptr, self._destroy, [p._native for p in parents], self._lock)

    @property
    def _ptr(self):
        native = self.__dict__.get("_native")
        ptr = native.ptr if native is not None else None
        if ptr is None:
            raise _lib.AlaeError(_k.E_STATE, "this %s is closed" % self._kind)
        return ptr

    @property
    def closed(self):
        """True once close() ran (on the object or on one it depends on)."""
        native = self.__dict__.get("_native")
        return native is None or native.ptr is None

    def close(self):
        """Destroys the C object now, after every object created from it (which are closed
        too). Idempotent."""
        native = self.__dict__.get("_native")
        if native is not None:
            with _graph_lock:
                native.close()
            drain(False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        native = self.__dict__.get("_native")
        if native is not None:
            try:
                _pending.append(native)
                drain(False)
            except Exception:  # interpreter shutdown: the library may be gone already
                pass
