"""Background delivery of a run's tracking data.

Metric points and log lines are buffered, cut into batches (each with a random ``batchId`` kept for
every retry, so the server stores it once), and sent by one daemon thread every
``flush_interval`` seconds. Other writes (params, tags, status, code ref, environment, data refs,
queued uploads) are one-off requests in a FIFO. Final statuses go last, once no batch is left.

The training script is never blocked or crashed by the server:
- network errors, 5xx, 408 and 429 are retried with exponential backoff and jitter;
- a 413 splits the batch in two halves (each with an id derived from the parent's) and retries;
- any other 4xx is a final answer: the request is dropped with a warning;
- memory is bounded (``max_buffered_points``): beyond it the oldest batches are appended to a
  JSONL spill file and sent from there, with their batch ids, once the server answers again.
"""
import collections
import json
import logging
import os
import random
import threading
import time
import uuid
import weakref

from ._http import HttpError, NetworkError

logger = logging.getLogger("myelin")

#: The body key of each batched kind.
ITEM_KEYS = {"metrics": "points", "logs": "lines"}
MAX_BATCH_ID = 64


class Batch:
    __slots__ = ("kind", "batch_id", "items", "spill_end")

    def __init__(self, kind, batch_id, items, spill_end=None):
        self.kind = kind
        self.batch_id = batch_id
        self.items = items
        self.spill_end = spill_end


class Op:
    """A one-off request, retried until the server gives a final answer.

    ``path`` is relative to the run's tracking path (``params``, ``status``, ...). An upload op has
    ``upload=(local_file, destination)`` and no body. ``on_rejected(HttpError)`` handles a final
    4xx (default: a warning).
    """

    __slots__ = ("method", "path", "body", "what", "final", "upload", "on_rejected")

    def __init__(self, method, path, body=None, what=None, final=False, upload=None, on_rejected=None):
        self.method = method
        self.path = path
        self.body = body
        self.what = what or path
        self.final = final
        self.upload = upload
        self.on_rejected = on_rejected


class _Retry(Exception):
    def __init__(self, cause, retry_after=None):
        super().__init__(str(cause))
        self.retry_after = retry_after


class _RunUnavailable(Exception):
    """The run could not be created (a final 4xx): nothing can ever be delivered."""


def new_batch_id():
    return uuid.uuid4().hex


def child_batch_id(batch_id, half):
    """The id of one half of a split batch: the same for every retry, distinct from its parent."""
    base = batch_id if "." in batch_id else batch_id + "."
    child = base + half
    return child if len(child) <= MAX_BATCH_ID else new_batch_id()


class SpillFile:
    """A FIFO of batches on disk: appended as JSON lines, read from an offset, deleted once drained."""

    def __init__(self, path):
        self.path = path
        self.batches = 0
        self.items = 0
        self._offset = 0

    def append(self, batch):
        line = json.dumps(
            {"kind": batch.kind, "batchId": batch.batch_id, "items": batch.items},
            allow_nan=False,
            separators=(",", ":"),
        )
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        self.batches += 1
        self.items += len(batch.items)

    def peek(self):
        while self.batches:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._offset)
                    line = f.readline()
                    end = f.tell()
            except OSError as e:
                logger.warning("myelin: cannot read the spill file %s (%s); %d buffered points lost", self.path, e, self.items)
                self._reset()
                return None
            if not line:
                self._reset()
                return None
            try:
                record = json.loads(line.decode("utf-8"))
                return Batch(record["kind"], record["batchId"], record["items"], spill_end=end)
            except (ValueError, KeyError, TypeError):
                logger.warning("myelin: skipped a corrupt line in the spill file %s", self.path)
                self._offset = end
                self.batches -= 1
        return None

    def advance(self, batch):
        self._offset = batch.spill_end
        self.batches -= 1
        self.items -= len(batch.items)
        if self.batches <= 0:
            self._reset()

    def _reset(self):
        self.batches = 0
        self.items = 0
        self._offset = 0
        try:
            os.remove(self.path)
        except OSError:
            pass


class Sender:
    def __init__(self, settings, transport, resolve, spill_dir, describe_target=""):
        """``resolve()`` answers the run's tracking path (``/api/v1/tracking/runs/<uuid>/``); it may
        raise NetworkError/HttpError while the run is still being created."""
        self.settings = settings
        self.transport = transport
        self._resolve = resolve
        self._spill_dir = spill_dir
        self._target = describe_target
        self._init_state()
        ref = weakref.ref(self)

        def after_fork():  # the parent keeps delivering what it buffered; the child starts afresh
            sender = ref()
            if sender is not None:
                sender._init_state()

        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=after_fork)

    def _init_state(self):
        self._cond = threading.Condition(threading.RLock())
        self._drain_lock = threading.Lock()  # one sender at a time (the worker, or flush() without one)
        self._pid = os.getpid()
        self._pending = {kind: [] for kind in ITEM_KEYS}
        self._batches = collections.deque()
        self._ops = collections.deque()
        self._finals = collections.deque()
        self._mem = 0  # items in memory: pending + batches + the batch in flight
        self._busy = None  # the item being delivered
        self._spill = SpillFile(os.path.join(self._spill_dir, "spill-%d.jsonl" % self._pid))
        self._spill_warned = False
        self._thread = None
        self._stop = False
        self._dead = False
        self._failures = 0
        self._next_attempt = 0.0
        self._retry_cap = self.settings.retry_max_delay
        self._flushers = 0  # callers waiting in flush(): retry at least every second meanwhile
        self._deadline = None
        self.delivered = {kind: 0 for kind in ITEM_KEYS}

    # ----- producers (the training script's threads)

    def add(self, kind, items):
        if not items:
            return
        with self._cond:
            if self._dead or self._stop:
                return
            self._ensure_worker()
            pending = self._pending[kind]
            for item in items:
                pending.append(item)
                self._mem += 1
                if len(pending) >= self.settings.max_batch_points:
                    self._seal(kind)
                    pending = self._pending[kind]
                    if not self._failures:
                        self._next_attempt = 0.0
                        self._cond.notify_all()
            if self._mem > self.settings.max_buffered_points:
                self._spill_overflow()

    def enqueue(self, op):
        with self._cond:
            if self._dead or self._stop:
                return
            self._ensure_worker()
            (self._finals if op.final else self._ops).append(op)
            if not self._failures:
                self._next_attempt = 0.0
            self._cond.notify_all()

    @property
    def healthy(self):
        """False while the last attempt failed (the caller should queue rather than try inline)."""
        return not self._failures and not self._dead

    def is_empty(self):
        with self._cond:
            self._seal_all()
            return self._empty()

    def buffered(self):
        """Items not yet delivered: (in memory, in the spill file)."""
        with self._cond:
            return self._mem, self._spill.items

    # ----- flush and close

    def flush(self, timeout):
        """Sends everything buffered now; answers True when it all got a final answer in time."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            self._flushers += 1
        try:
            return self._flush(deadline)
        finally:
            with self._cond:
                self._flushers -= 1

    def _flush(self, deadline):
        with self._cond:
            if self._dead:
                return True
            self._seal_all()
            if self._empty():
                return True
            self._next_attempt = 0.0
            self._cond.notify_all()
            if self._worker_alive():
                while not self._empty():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._worker_alive():
                        break
                    self._cond.wait(min(remaining, 0.5))
                if self._empty():
                    return True
                if self._worker_alive():
                    return False
        # No worker (a forked child, or threads can no longer start): deliver from this thread.
        while True:
            self._drain()
            with self._cond:
                if self._empty() or self._dead:
                    return True
                now = time.monotonic()
                if now >= deadline:
                    return False
                wait = min(self._next_attempt, deadline) - now
            time.sleep(max(0.0, wait))

    def close(self, timeout):
        """Flushes with a bounded wait (retrying at least every second meanwhile), then stops the
        thread. What is left is written to the spill file and reported in one warning."""
        with self._cond:
            self._retry_cap = min(self._retry_cap, 1.0)
            self._deadline = time.monotonic() + max(0.0, timeout)
            if self._failures:
                self._next_attempt = 0.0
        done = self.flush(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        if done:
            return True
        self._give_up_on_leftovers()
        return False

    def _give_up_on_leftovers(self):
        with self._cond:
            finals = list(self._finals)
            self._finals.clear()
            self._seal_all()
            busy = self._busy
            if isinstance(busy, Batch) and busy.spill_end is None:
                self._batches.appendleft(busy)
            self._spill_warned = True  # the warning below says it all
            while self._batches:
                batch = self._batches.popleft()
                self._mem -= len(batch.items)
                self._spill_write(batch)
            ops = [op.what for op in self._ops]
            self._ops.clear()
            spilled = self._spill.items
        # One last try for the final status, so the run does not stay "running" on the server.
        for op in finals:
            try:
                self._send_op(self._resolve(), op, timeout=2.0)
            except Exception as e:  # noqa: BLE001 - at exit, report and move on
                logger.warning("myelin: could not report the run's final status (%s)", _reason(e))
        if spilled:
            logger.warning(
                "myelin: %d tracking points/lines were not delivered before exit; they are kept in %s",
                spilled,
                self._spill.path,
            )
        if ops:
            logger.warning("myelin: not delivered before exit: %s", ", ".join(ops))

    # ----- the worker

    def _worker_alive(self):
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def _ensure_worker(self):
        if self._worker_alive() or self._stop:
            return
        thread = threading.Thread(target=self._loop, name="myelin-sender", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: flush() delivers from the caller's thread
            return
        self._thread = thread

    def _loop(self):
        while True:
            with self._cond:
                while not self._stop:
                    delay = self._next_attempt - time.monotonic()
                    if delay <= 0:
                        break
                    self._cond.wait(delay)
                if self._stop:
                    return
            try:
                self._drain()
            except Exception:  # noqa: BLE001 - the thread must survive anything
                logger.exception("myelin: unexpected error in the sender thread")
                with self._cond:
                    self._busy = None
                    self._next_attempt = time.monotonic() + self.settings.flush_interval

    def _drain(self):
        """Sends until nothing is left or an attempt fails (then schedules the retry)."""
        with self._drain_lock:
            self._drain_locked()

    def _drain_locked(self):
        while True:
            with self._cond:
                if self._stop and threading.current_thread() is self._thread:
                    return
                self._seal_all()
                item = self._take()
                if item is None:
                    self._next_attempt = time.monotonic() + self.settings.flush_interval
                    self._cond.notify_all()
                    return
                self._busy = item
            try:
                path = self._resolve()
                if isinstance(item, Batch):
                    self._send_batch(path, item.kind, item.batch_id, item.items)
                else:
                    self._send_op(path, item)
            except (_Retry, NetworkError) as e:
                with self._cond:
                    self._busy = None
                    self._give_back(item)
                    self._schedule_retry(e)
                    self._cond.notify_all()
                return
            except HttpError as e:  # only resolve() lets a final answer out: the run cannot exist
                if e.retryable:
                    with self._cond:
                        self._busy = None
                        self._give_back(item)
                        self._schedule_retry(_Retry(e, e.retry_after))
                        self._cond.notify_all()
                    return
                self._die(e)
                return
            except Exception:  # noqa: BLE001 - a bug must cost this item, not the thread or the rest
                logger.exception("myelin: unexpected error while sending %s; dropped", _describe(item))
                with self._cond:
                    self._busy = None
                    self._finish(item)
                    self._cond.notify_all()
                continue
            with self._cond:
                self._busy = None
                self._finish(item)
                if self._failures:
                    logger.warning("myelin: %s answers again; delivering the buffered data", self._target)
                    self._failures = 0
                self._cond.notify_all()

    def _request_timeout(self, cap=None):
        timeout = self.settings.request_timeout if cap is None else min(cap, self.settings.request_timeout)
        if self._deadline is not None:
            timeout = min(timeout, max(0.5, self._deadline - time.monotonic()))
        return timeout

    def _send_batch(self, path, kind, batch_id, items):
        key = ITEM_KEYS[kind]
        try:
            answer = self.transport.request(
                "POST", path + kind, {"batchId": batch_id, key: items}, timeout=self._request_timeout()
            )
        except NetworkError as e:
            raise _Retry(e) from None
        except HttpError as e:
            if e.status == 413 and len(items) > 1:
                middle = len(items) // 2
                self._send_batch(path, kind, child_batch_id(batch_id, "a"), items[:middle])
                self._send_batch(path, kind, child_batch_id(batch_id, "b"), items[middle:])
                return
            if e.retryable:
                raise _Retry(e, e.retry_after) from None
            logger.warning(
                "myelin: the server refused a batch of %d %s (%s); dropped", len(items), key, _reason(e)
            )
            return
        if isinstance(answer, dict) and not answer.get("duplicate"):
            self.delivered[kind] += len(items)

    def _send_op(self, path, op, timeout=None):
        try:
            if op.upload:
                local, destination = op.upload
                try:
                    self.transport.upload(path + "outputs/file", {"path": destination}, local, timeout=self._request_timeout(timeout))
                except FileNotFoundError:
                    logger.warning("myelin: %s no longer exists; its upload is dropped", local)
            else:
                self.transport.request(op.method, path + op.path, op.body, timeout=self._request_timeout(timeout))
        except NetworkError as e:
            raise _Retry(e) from None
        except HttpError as e:
            if e.retryable:
                raise _Retry(e, e.retry_after) from None
            if op.on_rejected is not None:
                try:
                    op.on_rejected(e)
                except Exception:  # noqa: BLE001 - a callback must not stop delivery
                    logger.exception("myelin: error while handling a refused %s", op.what)
            else:
                logger.warning("myelin: the server refused %s (%s); dropped", op.what, _reason(e))

    def _schedule_retry(self, error):
        self._failures += 1
        cap = min(self._retry_cap, 1.0) if self._flushers else self._retry_cap
        delay = min(cap, self.settings.retry_base_delay * (2 ** min(self._failures - 1, 30)))
        delay = delay / 2 + random.uniform(0, delay / 2)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            delay = max(delay, min(retry_after, cap))
        self._next_attempt = time.monotonic() + delay
        if self._failures == 1:
            logger.warning(
                "myelin: cannot deliver tracking data to %s (%s); buffering and retrying", self._target, _reason(error)
            )

    def _die(self, error):
        logger.warning("myelin: the run cannot be tracked (%s); tracking data is discarded", _reason(error))
        with self._cond:
            self._dead = True
            self._busy = None
            for kind in ITEM_KEYS:
                self._pending[kind] = []
            self._batches.clear()
            self._ops.clear()
            self._finals.clear()
            self._mem = 0
            self._spill._reset()
            self._cond.notify_all()

    # ----- buffers (called with the lock held)

    def _empty(self):
        return (
            self._busy is None
            and not self._batches
            and not self._ops
            and not self._finals
            and not self._spill.batches
            and not any(self._pending.values())
        )

    def _seal(self, kind):
        items = self._pending[kind]
        if items:
            self._batches.append(Batch(kind, new_batch_id(), items))
            self._pending[kind] = []

    def _seal_all(self):
        for kind in ITEM_KEYS:
            self._seal(kind)

    def _take(self):
        if self._ops:
            return self._ops.popleft()
        if self._spill.batches:
            batch = self._spill.peek()
            if batch is not None:
                return batch
        if self._batches:
            return self._batches.popleft()
        if self._finals:
            return self._finals.popleft()
        return None

    def _give_back(self, item):
        if isinstance(item, Op):
            (self._finals if item.final else self._ops).appendleft(item)
        elif item.spill_end is None:
            self._batches.appendleft(item)
        # a batch read from the spill file stays there: its offset did not move

    def _finish(self, item):
        if isinstance(item, Batch):
            if item.spill_end is None:
                self._mem -= len(item.items)
            else:
                self._spill.advance(item)

    def _spill_overflow(self):
        """Moves the oldest batches to disk until memory holds half the bound (so spilling happens
        in large chunks, not one point at a time)."""
        self._seal_all()
        target = self.settings.max_buffered_points // 2
        while self._mem > target and self._batches:
            batch = self._batches.popleft()
            self._mem -= len(batch.items)
            self._spill_write(batch)

    def _spill_write(self, batch):
        try:
            self._spill.append(batch)
        except (OSError, ValueError) as e:
            logger.warning("myelin: cannot write the spill file %s (%s); %d points dropped", self._spill.path, e, len(batch.items))
            return
        if not self._spill_warned:
            self._spill_warned = True
            logger.warning(
                "myelin: more than %d tracking points buffered; spilling the oldest to %s",
                self.settings.max_buffered_points,
                self._spill.path,
            )


def _describe(item):
    if isinstance(item, Batch):
        return "a batch of %d %s" % (len(item.items), ITEM_KEYS[item.kind])
    return item.what


def _reason(error):
    return str(error) or error.__class__.__name__
