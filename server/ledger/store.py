"""The git-backed adjustment history: writing commits fast, reading state, diffs, blame.

One bare repository holds every period (layout: `server.ledger.layout`). Commits are written
without an index or work tree: blobs, trees and the commit object are stored directly as
loose objects (re-using every unchanged subtree by hash), then the branch moves with
`git update-ref <branch> NEW OLD`, a compare-and-swap. The whole read-base -> merge -> write
-> update-ref sequence runs under a `Lock` (fcntl.flock by default), so concurrent threads and
processes never orphan a commit.

Crash safety (see docs/history.md): objects are fsynced before the ref moves and git fsyncs
the ref (core.fsync=reference), so an acknowledged commit survives power loss; a crash before
the ref update leaves only unreachable objects (gc removes them); the database is written
*after* the commit and keyed by the Submission-Id trailer, and `recover()` lists the commits
the database has not seen.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import datetime as dt
import os
import subprocess
import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from decimal import Decimal
from hashlib import sha1
from pathlib import Path
from typing import Any

from git import Repo

from . import layout
from .lock import FileLock, Lock
from .merge import apply_edits, merge
from .message import build_message, cells_from_trailers, first, parse_trailers
from .model import (
    CellChange,
    CellDiff,
    CellKey,
    Cells,
    CellValue,
    CellVersion,
    CommitInfo,
    Conflict,
    DiffResult,
    Editor,
    Kind,
    PeriodSnapshot,
    ScoreDiff,
    ScoreLine,
    ScoreSnapshot,
    Stamp,
    SubmitResult,
    TotalDiff,
)

ZERO_SHA = "0" * 40
# commits that change no cell, found through History.period_commits
PERIOD_LEVEL_KINDS = frozenset({Kind.BASELINE, Kind.RESCORE, Kind.APPROVAL, Kind.REOPEN})
# submit/revert: the applied cells -> the score lines and totals to commit with them
Rescore = Callable[[tuple[CellChange, ...]], ScoreSnapshot | None]
TREE_MODE = 0o40000
BLOB_MODE = 0o100644
_LOG_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%s%x1f%(trailers:only=true,unfold=true)%x1f"
_TREE_CACHE_LIMIT = 20_000
_PACK_MIN_BLOBS = 200  # from this many new blobs, one pack file instead of loose objects
_PACK_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3}
_REF_LOCK_MS = 5000  # update-ref retries a ref lock held by another git process this long
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git knows it without storing it
_ERE_SPECIAL = set("\\.[](){}*+?|^$")
# Above this many employees a department filter is checked in Python only: glibc compiles a
# regex of 5,000 alternatives in ~1.2 s, and a department that large fills a page quickly.
_GREP_ALTERNATIVES_MAX = 1000


def _ere(text: str) -> str:
    """`text` as a literal in a POSIX extended regex (git log -E --grep/--author)."""
    return "".join("\\" + ch if ch in _ERE_SPECIAL else ch for ch in text)


def _trailer_grep(key: str, values: Iterable[str]) -> str:
    """A --grep matching a trailer line `key: value` for any of `values` (whole line).

    Reasons are JSON literals in `Reason:` and indented in the body, so no text of a user's
    can produce such a line; callers still check the parsed trailers.
    """
    alts = "|".join(sorted(_ere(" ".join(v.split())) for v in values))
    return f"--grep=^{key}: ({alts})$"


class _LRU:
    """A small thread-safe LRU map for immutable values (keyed by commit or blob id)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def blob_id(data: bytes) -> str:
    """git's id of a blob holding `data` (sha1 of its loose-object header and content)."""
    return sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()

FaultHook = Callable[[str], None]
TreeEntries = dict[str, tuple[int, bytes]]  # name -> (mode, binary sha)


class HistoryError(RuntimeError):
    pass


class PeriodClosed(HistoryError):
    """The period is approved: adjustments need a reopen first."""


class ConcurrentUpdate(HistoryError):
    """The branch moved under us although we held the lock: a writer bypassed the lock."""


def _check_editor(editor: Editor) -> Editor:
    for part in (editor.name, editor.email):
        if not part or any(c in part for c in "<>\n\r\0"):
            raise ValueError(f"editor {editor!r}: name and email must be non-empty, no <>, "
                             "no line breaks")
    return editor


def _check_submission_id(submission_id: str) -> str:
    if not submission_id or any(c.isspace() for c in submission_id) or len(submission_id) > 200:
        raise ValueError(f"submission id {submission_id!r}: 1-200 characters, no spaces")
    return submission_id


class History:
    """A git-backed history of KPI adjustments, scores and approvals for every period.

    One instance may be shared by the threads of a process (reads of GitPython's object
    database are serialised internally; writes hold `lock`). Several processes may open the
    same repository; they exclude each other through the same lock file.
    """

    def __init__(self, path: str | os.PathLike[str], *, branch: str = "main",
                 lock: Lock | None = None, durable: bool = True,
                 maintenance_every: int = 500, clock: Callable[[], dt.datetime] | None = None,
                 fault_hook: FaultHook | None = None, cache_states: int = 8,
                 cache_files: int = 8_000, cache_infos: int = 5_000) -> None:
        self.path = Path(path)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.durable = durable
        self.maintenance_every = maintenance_every
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._fault_hook = fault_hook
        if not (self.path / "HEAD").exists():
            self._init()
        self._repo = Repo(self.path)
        self._odb_lock = threading.Lock()  # GitPython's cat-file pipes are not thread-safe
        self._tree_cache: dict[bytes, TreeEntries] = {}
        # objects of the commit being written, when they go into one pack (under the lock)
        self._pending: dict[bytes, tuple[bytes, bytes]] | None = None
        self.lock: Lock = lock or FileLock(self.path / "kpibook-history.lock")
        self._known_ids: dict[str, str] = {}  # Submission-Id -> commit, on the branch
        self._known_upto: str | None = None  # branch head the cache was built from
        # period -> (branch head, fingerprint) of the scores last recorded (or found there
        # already) by `record_scores`: see `holds_scores`
        self._scores_at: dict[str, tuple[str | None, str]] = {}
        self._commits_since_maintenance = 0
        self._maintenance: threading.Thread | None = None
        # Commits and blobs never change, so results keyed by their ids never go stale:
        # period states and diffs by commit ids, parsed files by blob id (bounded LRUs).
        self._states = _LRU(cache_states)
        self._diffs = _LRU(cache_states * 2)
        self._files = _LRU(cache_files)
        self._infos = _LRU(cache_infos)  # parsed commits (CommitInfo) by commit id
        # period-level commits (no cells) of every period, up to the head seen (period_commits)
        # who touched what, up to the head seen (`_index`)
        self._index_state: tuple[str | None, dict[str, list[str]],
                                 dict[tuple[str, str], list[str]]] = (None, {}, {})
        self._index_lock = threading.Lock()

    # ---- life cycle ----------------------------------------------------------------------

    def _init(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={self.branch}",
                        str(self.path)], check=True)
        settings = {
            "core.logAllRefUpdates": "always",  # reflog of the branch, bare repos default off
            # git fsyncs the ref it writes; our loose objects are fsynced by us (_write_object)
            "core.fsync": "reference,pack,pack-metadata,commit-graph",
            "gc.auto": "6700",
        }
        for key, value in settings.items():
            subprocess.run(["git", f"--git-dir={self.path}", "config", key, value], check=True)

    def close(self) -> None:
        if self._maintenance is not None:
            self._maintenance.join()
        self._repo.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- git plumbing --------------------------------------------------------------------

    def _git(self, *args: str, input: bytes | None = None,
             env: Mapping[str, str] | None = None, check: bool = True) -> bytes:
        proc = subprocess.run(["git", f"--git-dir={self.path}", *args], input=input,
                              capture_output=True, env={**os.environ, **(env or {})})
        if check and proc.returncode != 0:
            raise HistoryError(f"git {' '.join(args[:3])}: "
                               f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        return proc.stdout

    def head(self) -> str | None:
        """The branch's commit, read from the ref file or packed-refs (no subprocess)."""
        loose = self.path / self.ref
        try:
            text = loose.read_text().strip()
            if text:
                return text
        except FileNotFoundError:
            pass
        try:
            packed = (self.path / "packed-refs").read_text()
        except FileNotFoundError:
            return None
        for line in packed.splitlines():
            if line.endswith(" " + self.ref) and not line.startswith(("#", "^")):
                return line.split(" ", 1)[0]
        return None

    def _read_object(self, sha: bytes) -> tuple[str, bytes]:
        with self._odb_lock:
            stream = self._repo.odb.stream(sha)
            return stream.type.decode() if isinstance(stream.type, bytes) else stream.type, \
                stream.read()

    def _read_tree(self, sha: bytes | None) -> TreeEntries:
        if sha is None:
            return {}
        cached = self._tree_cache.get(sha)
        if cached is not None:
            return cached
        kind, data = self._read_object(sha)
        if kind != "tree":
            raise HistoryError(f"{sha.hex()} is a {kind}, not a tree")
        entries: TreeEntries = {}
        i = 0
        while i < len(data):
            space = data.index(b" ", i)
            nul = data.index(b"\0", space)
            entries[data[space + 1:nul].decode("utf-8")] = (int(data[i:space], 8),
                                                            data[nul + 1:nul + 21])
            i = nul + 21
        if len(self._tree_cache) > _TREE_CACHE_LIMIT:
            self._tree_cache.clear()
        self._tree_cache[sha] = entries
        return entries

    def _commit_tree(self, commit: str | None) -> bytes | None:
        if commit is None:
            return None
        kind, data = self._read_object(bytes.fromhex(commit))
        if kind != "commit" or not data.startswith(b"tree "):
            raise HistoryError(f"{commit} is not a commit")
        return bytes.fromhex(data[5:45].decode())

    def _lookup(self, commit: str | None, path: str) -> tuple[int, bytes] | None:
        """The (mode, sha) of `path` in `commit`, walking cached trees."""
        tree = self._commit_tree(commit)
        parts = path.split("/")
        for depth, name in enumerate(parts):
            entry = self._read_tree(tree).get(name)
            if entry is None:
                return None
            if depth == len(parts) - 1:
                return entry
            if entry[0] != TREE_MODE:
                return None
            tree = entry[1]
        return None

    def _read_file(self, commit: str | None, path: str) -> bytes | None:
        entry = self._lookup(commit, path)
        return None if entry is None else self._read_object(entry[1])[1]

    def _read_blobs(self, shas: Iterable[str]) -> dict[str, bytes]:
        """Many blobs in one `git cat-file --batch` run (one round trip, not one per blob)."""
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        if len(wanted) <= 8:
            return {s: self._read_object(bytes.fromhex(s))[1] for s in wanted}
        out = self._git("cat-file", "--batch", "--buffer",
                        input="".join(s + "\n" for s in wanted).encode())
        blobs: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            header_end = out.index(b"\n", pos)
            _, _, size = out[pos:header_end].split(b" ")
            start = header_end + 1
            blobs[sha] = out[start:start + int(size)]
            pos = start + int(size) + 1
        return blobs

    def _parsed(self, loader: Callable[[bytes], Any], shas: Iterable[str]) -> dict[str, Any]:
        """blob id -> `loader(blob)`, parsed once per blob (blobs are immutable)."""
        out: dict[str, Any] = {}
        missing: list[str] = []
        name = loader.__name__
        for sha in shas:
            value = self._files.get((name, sha))
            if value is None:
                missing.append(sha)
            else:
                out[sha] = value
        for sha, data in self._read_blobs(missing).items():
            out[sha] = value = loader(data)
            self._files.put((name, sha), value)
        return out

    def _changed_files(self, a: str | None, b: str | None, prefix: str
                       ) -> dict[str, tuple[str | None, str | None]]:
        """path -> (blob in a, blob in b) for files under `prefix` that differ: one
        `git diff-tree`, which skips every subtree whose hash is equal on both sides."""
        if a == b:
            return {}
        out = self._git("diff-tree", "-r", "-z", "--no-renames", "--no-commit-id",
                        a or EMPTY_TREE, b or EMPTY_TREE, "--", prefix)
        fields = out.split(b"\0")
        files: dict[str, tuple[str | None, str | None]] = {}
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(b":"):
                continue
            _, _, old, new, _ = meta.decode().split(" ")
            files[path.decode("utf-8")] = (None if old == ZERO_SHA else old,
                                           None if new == ZERO_SHA else new)
        return files

    def _ls_tree(self, commit: str | None, *prefixes: str) -> dict[str, str]:
        """path -> blob sha of every file under any of `prefixes` in `commit` (one call)."""
        if commit is None:
            return {}
        out = self._git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *prefixes)
        files: dict[str, str] = {}
        for record in out.split(b"\0"):
            if record:
                meta, path = record.split(b"\t", 1)
                files[path.decode("utf-8")] = meta.split(b" ")[2].decode()
        return files

    def _write_object(self, kind: bytes, data: bytes, written: set[Path]) -> bytes:
        """Store a loose object (zlib, git's format); fsync it when durable."""
        raw = b"%s %d\0" % (kind, len(data)) + data
        sha = sha1(raw).digest()
        if self._pending is not None:  # collected for one pack (_write_commit)
            self._pending[sha] = (kind, data)
            return sha
        hexsha = sha.hex()
        directory = self.path / "objects" / hexsha[:2]
        target = directory / hexsha[2:]
        if target.exists():
            return sha
        directory.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=directory)
        try:
            os.write(fd, zlib.compress(raw, 1))
        finally:
            os.close(fd)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)  # same name = same content, so replacing is harmless
        written.add(target)
        return sha

    def _write_pack(self, objects: Collection[tuple[bytes, bytes]]) -> None:
        """Store (kind, data) objects as one pack (no deltas): one `git index-pack --stdin`."""
        parts = [b"PACK", (2).to_bytes(4, "big"), len(objects).to_bytes(4, "big")]
        for kind, data in objects:
            size = len(data)
            header = bytearray([(_PACK_TYPES[kind] << 4) | (size & 0x0F)])
            size >>= 4
            while size:
                header[-1] |= 0x80
                header.append(size & 0x7F)
                size >>= 7
            parts.append(bytes(header))
            parts.append(zlib.compress(data, 1))
        pack = b"".join(parts)
        self._git("index-pack", "--stdin", input=pack + sha1(pack).digest())

    def _sync_objects(self, written: set[Path]) -> None:
        """Make the new objects durable before the ref can point at them.

        One syncfs(2) of the repository's filesystem flushes every object file and directory
        entry of the commit at once (one journal commit instead of ~15 fsyncs); where
        syncfs is unavailable each object directory and file is fsynced.
        """
        if not self.durable or not written:
            return
        if _SYNCFS is not None:
            fd = os.open(self.path / "objects", os.O_RDONLY)
            try:
                if _SYNCFS(fd) == 0:
                    return
            finally:
                os.close(fd)
        for path in sorted(written | {p.parent for p in written}):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _edit_tree(self, tree: bytes | None, changes: Mapping[tuple[str, ...], bytes | None],
                   synced: set[Path]) -> bytes | None:
        """A new tree: `tree` with blobs set (sha) or removed (None); empty trees vanish.

        Only the trees on the changed paths are rewritten; every other subtree keeps its
        hash, so a commit touching one employee writes one blob and five small trees.
        """
        entries = dict(self._read_tree(tree))
        grouped: dict[str, dict[tuple[str, ...], bytes | None]] = {}
        for path, blob in changes.items():
            if len(path) == 1:
                if blob is None:
                    entries.pop(path[0], None)
                else:
                    entries[path[0]] = (BLOB_MODE, blob)
            else:
                grouped.setdefault(path[0], {})[path[1:]] = blob
        for name, sub_changes in grouped.items():
            old = entries.get(name)
            sub = self._edit_tree(old[1] if old and old[0] == TREE_MODE else None,
                                  sub_changes, synced)
            if sub is None:
                entries.pop(name, None)
            else:
                entries[name] = (TREE_MODE, sub)
        if not entries:
            return None
        # git orders tree entries by name, directories compared as if they ended in "/"
        ordered = sorted(entries.items(), key=lambda kv: kv[0].encode("utf-8")
                         + (b"/" if kv[1][0] == TREE_MODE else b""))
        data = b"".join(b"%o %s\0%s" % (mode, name.encode("utf-8"), sha)
                        for name, (mode, sha) in ordered)
        sha = self._write_object(b"tree", data, synced)
        self._tree_cache[sha] = entries
        return sha

    def _write_commit(self, parent: str | None, files: Mapping[str, bytes | None],
                      editor: Editor, message: str, when: dt.datetime) -> str:
        """Write blobs, trees and the commit object; returns the commit (ref not moved)."""
        synced: set[Path] = set()
        if sum(data is not None for data in files.values()) >= _PACK_MIN_BLOBS:
            # a (re)score: blobs and trees go into one pack file instead of hundreds or
            # thousands of loose files (a file create costs ms on a loaded disk); git fsyncs
            # it (core.fsync=pack,pack-metadata) before the ref can point at it
            self._pending = {}
        try:
            changes = {tuple(path.split("/")): None if data is None else
                       self._write_object(b"blob", data, synced)
                       for path, data in files.items()}
            root = self._edit_tree(self._commit_tree(parent), changes, synced)
            if self._pending:
                self._write_pack(self._pending.values())
        finally:
            self._pending = None
        if root is None:
            root = self._write_object(b"tree", b"", synced)
        stamp = f"{int(when.timestamp())} +0000"
        who = f"{editor.name} <{editor.email}> {stamp}"
        header = f"tree {root.hex()}\n" + (f"parent {parent}\n" if parent else "")
        data = f"{header}author {who}\ncommitter {who}\n\n{message}".encode()
        commit = self._write_object(b"commit", data, synced).hex()
        self._sync_objects(synced)
        return commit

    def _move_branch(self, new: str, old: str | None, editor: Editor, note: str) -> None:
        env = {"GIT_COMMITTER_NAME": editor.name, "GIT_COMMITTER_EMAIL": editor.email}
        proc = subprocess.run(
            # someone else's short-lived ref lock (a hand-run `git gc`) is waited for, not fatal
            ["git", f"--git-dir={self.path}", "-c", f"core.filesRefLockTimeout={_REF_LOCK_MS}",
             "update-ref", "-m", note, self.ref, new,
             old or ZERO_SHA], capture_output=True, env={**os.environ, **env})
        if proc.returncode != 0:
            raise ConcurrentUpdate(f"{self.ref} is no longer {old}: "
                                   f"{proc.stderr.decode('utf-8', 'replace').strip()}")

    def _fault(self, point: str) -> None:
        if self._fault_hook is not None:
            self._fault_hook(point)

    def _commit(self, parent: str | None, files: Mapping[str, bytes | None], editor: Editor,
                message: str, kind: str, submission_id: str,
                when: dt.datetime | None = None) -> str:
        """Write a commit and move the branch to it; the caller holds the lock."""
        commit = self._write_commit(parent, files, editor, message, when or self._clock())
        self._fault("objects-written")
        self._move_branch(commit, parent, editor, f"kpibook {kind} {submission_id}")
        self._known_ids[submission_id] = commit
        self._known_upto = commit
        self._fault("ref-updated")
        self._commits_since_maintenance += 1
        return commit

    # ---- maintenance ---------------------------------------------------------------------

    def maintain(self, wait: bool = False) -> None:
        """Pack loose objects when git thinks it is time, refresh the commit-graph.

        `git gc --auto` packs once ~6,700 loose objects exist and consolidates packs past
        50; the commit-graph with changed-path Bloom filters makes `git log -- <file>` (cell
        history, timeline) skip commits that did not touch the file. Both are safe while
        other writers commit. Runs in a background thread unless `wait`.
        """
        def run() -> None:
            # Not detached: a detached gc that sees loose objects written meanwhile by our
            # writers leaves gc.log ("too many unreachable loose objects"), and git then
            # refuses every later `gc --auto` for a day (measured: 300 MB of loose objects).
            (self.path / "gc.log").unlink(missing_ok=True)
            # gc must not touch refs: `pack-refs` and `reflog expire` lock refs/heads/main
            # (for ~100s of ms on a 20k-entry reflog) without our lock, and a writer's
            # update-ref then failed (measured at 8,000 commits). One branch needs no packing;
            # the reflog (~200 bytes a commit) is kept as an audit trail.
            self._git("-c", "gc.autoDetach=false", "-c", "gc.packRefs=false",
                      "-c", "gc.reflogExpire=never", "-c", "gc.reflogExpireUnreachable=never",
                      "gc", "--auto", "--quiet", check=False)
            self._git("commit-graph", "write", "--reachable",
                      "--changed-paths", "--split", check=False)

        if self._maintenance is not None and self._maintenance.is_alive():
            if not wait:
                return
            self._maintenance.join()
        self._commits_since_maintenance = 0
        if wait:
            run()
        else:
            self._maintenance = threading.Thread(target=run, name="history-maintenance",
                                                 daemon=True)
            self._maintenance.start()

    def _after_commit(self) -> None:
        if self.maintenance_every and self._commits_since_maintenance >= self.maintenance_every:
            self.maintain()

    # ---- submission ids ------------------------------------------------------------------

    def _refresh_known_ids(self, head: str | None) -> None:
        """Bring the Submission-Id -> commit map up to `head` (incrementally)."""
        if head is None or head == self._known_upto:
            return
        span = head if self._known_upto is None else f"{self._known_upto}..{head}"
        out = self._git("log", "--format=%H %(trailers:key=Submission-Id,valueonly=true)",
                        span).decode("utf-8")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2:
                self._known_ids.setdefault(parts[1], parts[0])
        self._known_upto = head

    def commit_of(self, submission_id: str) -> str | None:
        """The commit that recorded `submission_id`, if it is on the branch."""
        self._refresh_known_ids(self.head())
        return self._known_ids.get(submission_id)

    def recover(self, known_submission_ids: Collection[str]) -> list[CommitInfo]:
        """Commits on the branch whose Submission-Id the database does not know, oldest first.

        Call at start-up, then write each into the database (keyed by submission id, so a
        replay is idempotent). Also removes a branch lock file left by a writer killed inside
        `git update-ref` — safe because every writer holds `lock` first.
        """
        with self.lock.hold():
            stale = self.path / f"{self.ref}.lock"
            if stale.exists():
                stale.unlink()
        missing = [info for info in self._log(self.head(), None, reverse=True)
                   if info.submission_id and info.submission_id not in known_submission_ids]
        return missing

    # ---- reading -------------------------------------------------------------------------

    def _employee_lines(self, commit: str | None, period: str, employees: Iterable[str]
                        ) -> dict[CellKey, tuple[CellValue, Stamp | None]]:
        lines: dict[CellKey, tuple[CellValue, Stamp | None]] = {}
        for emp in employees:
            data = self._read_file(commit, layout.adjustments_path(period, emp))
            if data:
                lines.update({(emp, code): line
                              for code, line in layout.load_adjustment_lines(data).items()})
        return lines

    def _employee_cells(self, commit: str | None, period: str,
                        employees: Iterable[str]) -> dict[CellKey, CellValue]:
        return {cell: value for cell, (value, _) in
                self._employee_lines(commit, period, employees).items()}

    def cells_at(self, commit: str | None, period: str) -> dict[CellKey, CellValue]:
        """Every adjustment of `period` at `commit` (None: the branch head)."""
        commit = commit or self.head()
        cached = self._states.get((commit, period)) if commit else None
        if cached is not None:
            return dict(cached.adjustments)
        prefix = f"{layout.period_dir(period)}/{layout.ADJUSTMENTS}/"
        files = self._ls_tree(commit, prefix)
        parsed = self._parsed(layout.load_adjustments, files.values())
        cells: dict[CellKey, CellValue] = {}
        for path, sha in files.items():
            emp = layout.employee_from_filename(path.rsplit("/", 1)[1])
            cells.update({(emp, c): v for c, v in parsed[sha].items()})
        return cells

    def state_at(self, commit: str | None, period: str) -> PeriodSnapshot:
        """The full state of `period` at `commit` (None: the branch head), from git alone.

        One `git ls-tree -r` and one `git cat-file --batch` for the files not parsed before;
        the result is kept by commit id (commits never change) and returned as a copy.
        """
        commit = commit or self.head()
        snap = self._states.get((commit, period)) if commit else None
        if snap is None:
            snap = self._build_state(commit, period)
            if commit:
                self._states.put((commit, period), snap)
        return _copy_snapshot(snap)

    def _build_state(self, commit: str | None, period: str) -> PeriodSnapshot:
        root = layout.period_dir(period) + "/"
        files = self._ls_tree(commit, root)
        groups: dict[str, dict[str, str]] = {}
        for path, sha in files.items():
            rel = path[len(root):]
            group = rel.split("/", 1)[0] if "/" in rel else rel
            groups.setdefault(group, {})[path] = sha
        loaders: dict[str, Callable[[bytes], Any]] = {
            layout.ADJUSTMENTS: layout.load_adjustments, layout.SCORES: layout.load_scores,
            layout.TOTALS: layout.load_totals, layout.EMPLOYEES: layout.load_employees,
            layout.STATE: layout.load_json, layout.RULES: layout.load_json}
        parsed: dict[str, dict[str, Any]] = {}
        for group, loader in loaders.items():
            parsed[group] = self._parsed(loader, groups.get(group, {}).values())
        snap = PeriodSnapshot(commit=commit, period=period, adjustments={}, scores={},
                              totals={}, employees={}, status={}, rules=None)
        for kind, target in ((layout.ADJUSTMENTS, snap.adjustments),
                             (layout.SCORES, snap.scores)):
            for path, sha in groups.get(kind, {}).items():
                emp = layout.employee_from_filename(path.rsplit("/", 1)[1])
                target.update({(emp, c): v for c, v in parsed[kind][sha].items()})
        for group, target in ((layout.TOTALS, snap.totals), (layout.EMPLOYEES, snap.employees),
                              (layout.STATE, snap.status)):
            for sha in groups.get(group, {}).values():
                target.update(parsed[group][sha])
        rules = None
        for sha in groups.get(layout.RULES, {}).values():
            rules = copy.deepcopy(parsed[layout.RULES][sha])
        return PeriodSnapshot(**{**_fields(snap), "rules": rules})

    def status(self, period: str, commit: str | None = None) -> dict[str, object]:
        data = self._read_file(commit or self.head(), f"{layout.period_dir(period)}/{layout.STATE}")
        return layout.load_json(data) if data else {"status": "open"}

    def _parse_log(self, out: bytes) -> list[CommitInfo]:
        infos = []
        for record in out.decode("utf-8").split("\x1e"):
            if not record.strip():
                continue
            # a commit never changes: parse its trailers once per process (the pages read
            # the same recent commits again and again: timeline, dashboard, diffs)
            cached = self._infos.get(record[:40])
            if cached is not None:
                infos.append(cached)
                continue
            commit, parents, name, email, at, subject, trailer_text, _rest = record.split("\x1f", 7)
            trailers = parse_trailers(trailer_text)
            infos.append(CommitInfo(
                commit=commit, parent=parents.split()[0] if parents else None,
                author=Editor(name, email),
                when=dt.datetime.fromtimestamp(int(at), dt.UTC),
                kind=first(trailers, "Kind"), period=first(trailers, "Period"),
                submission_id=first(trailers, "Submission-Id"), subject=subject,
                cells=cells_from_trailers(trailers),
                reverts=first(trailers, "Reverts") or None))
            self._infos.put(commit, infos[-1])
        return infos

    def _log(self, tip: str | None, paths: list[str] | None, *args: str,
             reverse: bool = False) -> list[CommitInfo]:
        if tip is None:
            return []
        cmd = ["log", f"--format={_LOG_FORMAT}", *(["--reverse"] if reverse else []), *args, tip]
        if paths:
            cmd += ["--", *paths]
        return self._parse_log(self._git(*cmd))

    def commit_info(self, commit: str) -> CommitInfo:
        cached = self._infos.get(commit)  # full ids only: a prefix is resolved by git
        return cached if cached is not None else self._log(commit, None, "-1")[0]

    def _index(self) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
        """Who-touched-what of the whole history, kept per process: period -> its commits
        that change no cell (baseline, re-score, approval, reopen), (period, employee) ->
        the commits that changed one of the employee's cells; commit ids, newest first.

        Both kinds of question otherwise walk every commit (a rare kind: ~0.3-1 s at 20,000
        commits whatever the filter; one employee's file: ~50 ms of git's CPU with the
        Bloom filters, several times that in wall time on a loaded host). The walk (one
        `git log` printing three trailers per commit, ~1 s at 20,000) is made once per
        process and then brought up to the head with only the new commits
        (`git log <seen>..<head>`): commits never change, so what was found stays right. A
        head that does not descend from the one seen (a restored repository) starts over.
        Thread-safe; concurrent first calls wait for one walk. ~100 bytes per cell change."""
        with self._index_lock:
            head = self.head()
            seen, level, by_employee = self._index_state
            if head == seen:
                return level, by_employee
            span = [head] if head else []
            if seen is not None and head is not None and self._is_ancestor(seen, head):
                span.append(f"^{seen}")
            else:
                level, by_employee = {}, {}
            out = self._git("log", "--format=%H%x1f%(trailers:key=Period,valueonly,separator="
                            "%x1d)%x1f%(trailers:key=Kind,valueonly,separator=%x1d)%x1f"
                            "%(trailers:key=Employee,valueonly,separator=%x1d)%x1e",
                            *span) if span else b""
            new_level: dict[str, list[str]] = {}
            new_cells: dict[tuple[str, str], list[str]] = {}
            for record in out.decode("utf-8").split("\x1e"):
                record = record.strip("\n")
                if not record:
                    continue
                sha, period, kind, employees = record.split("\x1f", 3)
                period = period.split("\x1d", 1)[0]
                if employees:
                    for emp in dict.fromkeys(employees.split("\x1d")):
                        new_cells.setdefault((period, emp), []).append(sha)
                elif kind.split("\x1d", 1)[0] in PERIOD_LEVEL_KINDS:
                    new_level.setdefault(period, []).append(sha)
            # copy on write: readers holding the previous dicts keep a consistent view
            level = {**level, **{p: new + level.get(p, []) for p, new in new_level.items()}}
            by_employee = {**by_employee, **{k: new + by_employee.get(k, [])
                                             for k, new in new_cells.items()}}
            self._index_state = (head, level, by_employee)
            return level, by_employee

    def _infos_of(self, commits: list[str]) -> list[CommitInfo]:
        """CommitInfo of each id, in the order given (parsed ones from the cache, the rest
        with one `git log --no-walk`)."""
        missing = [c for c in commits if self._infos.get(c) is None]
        parsed = {i.commit: i for i in self._parse_log(self._git(
            "log", f"--format={_LOG_FORMAT}", "--no-walk=unsorted", "--stdin",
            input="".join(c + "\n" for c in missing).encode()))} if missing else {}
        return [self._infos.get(c) or parsed[c] for c in commits]

    def warm(self) -> None:
        """Build the who-touched-what index now (a server worker calls this at start-up,
        in the background), so the first review page does not pay for the walk."""
        self._index()

    def period_commits(self, period: str) -> list[CommitInfo]:
        """The period's commits that change no cell — baseline, re-score, approval, reopen —
        newest first (from `_index`: no walk once it is built)."""
        level, _ = self._index()
        return self._infos_of(level.get(period, []))

    def _employee_timeline(self, period: str, employee: str) -> Iterator[CommitInfo]:
        """The commits that changed one of `employee`'s cells, newest first (`_index`),
        parsed a page at a time so that a caller that has enough stops early."""
        _, by_employee = self._index()
        commits = by_employee.get((period, employee), [])
        for start in range(0, len(commits), 200):
            yield from self._infos_of(commits[start:start + 200])

    def timeline(self, period: str, *, employee: str | None = None,
                 indicator: str | None = None, department: str | None = None,
                 editor: str | None = None, kind: str | None = None,
                 limit: int | None = 50, skip: int = 0) -> list[CommitInfo]:
        """Commits of `period`, newest first, with trailers parsed (one streamed `git log`).

        `employee`/`indicator` keep commits that changed such a cell; `department` those
        that changed a cell of an employee in that department (employees.tsv at the head);
        `editor` matches the author's name or email exactly. Git narrows first: anchored
        `--grep`s over whole trailer lines (`Period:`, `Employee:` of the department's people,
        `Indicator:`, `Kind:`; a commit is of a period by its `Period:` trailer) and
        `--author`; an employee's commits come from the per-process index (`_index`, no
        walk); Python then checks the parsed trailers. The log stops as soon as
        `skip + limit` commits matched, so a dense filter costs the same at any history
        length; a filter that matches rarely walks (but does not parse) older commits.
        Score and status commits have no cell trailers, so cell filters leave them out; a
        `kind` of theirs is answered from `period_commits` (no walk once it is built).
        """
        if kind in PERIOD_LEVEL_KINDS:
            if employee is not None or indicator is not None or department is not None:
                return []  # these commits change no cell
            # the per-process index instead of a walk of the whole history
            found = [i for i in self.period_commits(period) if i.kind == kind and (
                editor is None or editor in (i.author.name, i.author.email))]
            return found[skip:None if limit is None else skip + limit]
        head = self.head()
        root = layout.period_dir(period)
        members: set[str] | None = None
        # -E: every pattern is an anchored regex over whole trailer lines (values escaped)
        args = ["-E", "--all-match", _trailer_grep("Period", [period])]
        if department is not None:
            data = self._read_file(head, f"{root}/{layout.EMPLOYEES}")
            members = {e for e, info in (layout.load_employees(data) if data else {}).items()
                       if info.department == department}
            if employee is not None:
                members &= {employee}
            if not members:
                return []
            if len(members) <= _GREP_ALTERNATIVES_MAX:
                args.append(_trailer_grep("Employee", members))
        if employee is not None:
            args = []  # the commits that changed the employee's cells come from `_index`
        else:
            if indicator is not None:
                args.append(_trailer_grep("Indicator", [indicator]))
            if kind is not None:
                args.append(_trailer_grep("Kind", [kind]))
            if editor is not None:
                args.append(f"--author={_ere(editor)}")
        out: list[CommitInfo] = []
        matched = 0
        commits = (self._employee_timeline(period, employee) if employee is not None
                   else self._iter_log(head, [], *args))
        for info in commits:
            if info.period != period or (kind is not None and info.kind != kind):
                continue
            if editor is not None and editor not in (info.author.name, info.author.email):
                continue
            wants_cell = employee or indicator or members is not None
            if wants_cell and not any((employee is None or c.employee_id == employee)
                                      and (indicator is None or c.indicator == indicator)
                                      and (members is None or c.employee_id in members)
                                      for c in info.cells):
                continue
            matched += 1
            if matched > skip:
                out.append(info)
            if limit is not None and len(out) >= limit:
                break
        return out

    def cell_history(self, period: str, employee_id: str, indicator: str) -> list[CellVersion]:
        """Every value the cell had, oldest first, with who set it, when and why.

        One `git log --raw --no-walk` of the commits that changed the employee's file (from
        `_index`) gives each version's blob; only versions where this cell's line changed
        are kept. No `git blame`, no `log -L`, no walk of the history.
        """
        path = layout.adjustments_path(period, employee_id)
        if self.head() is None:
            return []
        # the commits that changed the file are the index's for the employee (`_index`):
        # git shows just those, oldest first, instead of walking the whole history
        _, by_employee = self._index()
        commits = by_employee.get((period, employee_id), [])[::-1]
        if not commits:
            return []
        out = self._git("log", f"--format={_LOG_FORMAT}", "--raw", "--no-abbrev",
                        "--no-renames", "--no-walk=unsorted", "--stdin", "--", path,
                        input="".join(c + "\n" for c in commits).encode())
        infos = self._parse_log(out)
        blob_of: list[str | None] = []
        for record in out.decode("utf-8").split("\x1e"):
            if not record.strip():
                continue
            raw = record.rsplit("\x1f", 1)[1]
            new = None
            for line in raw.splitlines():
                if line.startswith(":"):
                    sha = line.split()[3]
                    new = None if sha == ZERO_SHA else sha
            blob_of.append(new)
        blobs = self._read_blobs(s for s in blob_of if s)
        versions: list[CellVersion] = []
        previous: CellValue | None = None
        for info, sha in zip(infos, blob_of, strict=True):
            value = layout.load_adjustments(blobs[sha]).get(indicator) if sha else None
            if value != previous:
                versions.append(CellVersion(value=value, change=info))
                previous = value
        return versions

    def last_change(self, period: str, cell: CellKey) -> CommitInfo | None:
        history = self.cell_history(period, *cell)
        return history[-1].change if history else None

    def diff(self, period: str, a: str | None, b: str | None) -> DiffResult:
        """Cells, score lines and totals that differ between versions `a` and `b`.

        One `git diff-tree` lists the files whose blobs differ (equal subtrees are skipped
        by hash); only those are read, each parsed once per blob. Each changed cell names
        who made its new value (the stamp kept beside it); a removed cell names the newest
        commit between the two versions that removed it. Results are kept by (a, b).
        """
        a = a or None
        b = b or None
        key = (period, a, b)
        if a and b:
            cached = self._diffs.get(key)
            if cached is not None:
                return cached
        root = layout.period_dir(period)
        changed = self._changed_files(a, b, root)
        by_loader: dict[Callable[[bytes], Any], list[str]] = {}
        for path, shas in changed.items():
            rel = path[len(root) + 1:]
            loader = {layout.ADJUSTMENTS: layout.load_adjustment_lines,
                      layout.SCORES: layout.load_scores, layout.TOTALS: layout.load_totals
                      }.get(rel.split("/", 1)[0])
            if loader is not None:
                by_loader.setdefault(loader, []).extend(s for s in shas if s)
        parsed = {loader: self._parsed(loader, shas) for loader, shas in by_loader.items()}

        cell_diffs: list[tuple[CellKey, tuple | None, tuple | None]] = []
        score_diffs: list[ScoreDiff] = []
        total_diffs: list[TotalDiff] = []
        for path in sorted(changed):
            old_sha, new_sha = changed[path]
            rel = path[len(root) + 1:]
            top = rel.split("/", 1)[0]
            if top in (layout.ADJUSTMENTS, layout.SCORES):
                emp = layout.employee_from_filename(rel.rsplit("/", 1)[1])
                loader = (layout.load_adjustment_lines if top == layout.ADJUSTMENTS
                          else layout.load_scores)
                old = parsed[loader][old_sha] if old_sha else {}
                new = parsed[loader][new_sha] if new_sha else {}
                for code in sorted(set(old) | set(new)):
                    if loader is layout.load_scores:
                        if old.get(code) != new.get(code):
                            score_diffs.append(ScoreDiff(emp, code, old.get(code), new.get(code)))
                    elif (old.get(code) or (None,))[0] != (new.get(code) or (None,))[0]:
                        cell_diffs.append(((emp, code), old.get(code), new.get(code)))
            elif rel == layout.TOTALS:
                old_t = parsed[layout.load_totals][old_sha] if old_sha else {}
                new_t = parsed[layout.load_totals][new_sha] if new_sha else {}
                total_diffs.extend(TotalDiff(e, old_t.get(e), new_t.get(e))
                                   for e in sorted(set(old_t) | set(new_t))
                                   if old_t.get(e) != new_t.get(e))
        removed = {cell for cell, _, new in cell_diffs if new is None}
        removals = self._find_removals(period, a, b, removed) if removed else {}
        cells = []
        for cell, old, new in cell_diffs:
            if new is not None:
                cells.append(CellDiff(cell[0], cell[1], old[0] if old else None, new[0],
                                      new[1], new[0].reason))
            else:
                info, change = removals.get(cell, (None, None))
                stamp = (Stamp(info.author, info.when, info.submission_id) if info else None)
                cells.append(CellDiff(cell[0], cell[1], old[0] if old else None, None, stamp,
                                      change.reason if change else ""))
        result = DiffResult(a=a, b=b, cells=tuple(cells), scores=tuple(score_diffs),
                            totals=tuple(total_diffs))
        if a and b:
            self._diffs.put(key, result)
        return result

    def _find_removals(self, period: str, a: str | None, b: str | None, cells: set[CellKey]
                       ) -> dict[CellKey, tuple[CommitInfo, CellChange]]:
        """For cells absent at `b`: the newest commit in between that removed them.

        Walks the commits between the versions whose trailers name one of the employees
        (one `git log --grep`; many pathspecs would defeat the Bloom filters), newest
        first, and stops once all are found.
        """
        if not (a and b):
            return {}
        newer, older = (b, a) if self._is_ancestor(a, b) else (a, b)
        employees = {emp for emp, _ in cells}
        args = ["-E", "--all-match", _trailer_grep("Period", [period])]
        if len(employees) <= _GREP_ALTERNATIVES_MAX:
            args.append(_trailer_grep("Employee", employees))
        found: dict[CellKey, tuple[CommitInfo, CellChange]] = {}
        for info in self._iter_log(newer, [], *args, f"^{older}"):
            for change in info.cells:
                if change.cell in cells and change.cell not in found:
                    found[change.cell] = (info, change)
            if len(found) == len(cells):
                break
        return found

    def _is_ancestor(self, a: str, b: str) -> bool:
        return subprocess.run(["git", f"--git-dir={self.path}", "merge-base", "--is-ancestor",
                               a, b]).returncode == 0

    def _iter_log(self, tip: str | None, paths: list[str], *args: str) -> Iterator[CommitInfo]:
        """`git log` parsed as it streams, so a caller that has enough stops git early."""
        if tip is None:
            return
        proc = subprocess.Popen(["git", f"--git-dir={self.path}", "log", f"--format={_LOG_FORMAT}",
                                 *args, tip, "--", *paths], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        pending = b""
        try:
            while chunk := proc.stdout.read1(1 << 16):
                pending += chunk
                *records, pending = pending.split(b"\x1e")
                for record in records:
                    if record.strip():
                        yield from self._parse_log(b"\x1e" + record)
            if pending.strip():
                yield from self._parse_log(b"\x1e" + pending)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.wait()

    # ---- writing -------------------------------------------------------------------------

    def submit(self, period: str, base_commit: str | None,
               edits: Mapping[CellKey, CellValue | None], editor: Editor,
               submission_id: str, *, reasons: Mapping[CellKey, str] | None = None,
               note: str = "", rescore: Rescore | None = None) -> SubmitResult:
        """Record an executive's adjustments made against `base_commit`.

        `edits` maps cells to their new value (None removes the adjustment; give the reason
        in `reasons`). The edits are merged three-way into the branch head; conflicting
        cells are not committed and come back with both values and who made the head's.
        A submission id already on the branch returns that commit (`duplicate=True`).

        `rescore(applied)` (optional) is called under the lock once the merge is known, with
        the cells that will be committed; the score lines and totals it returns are written
        in the same commit (`_rescored_files`), so the period's state at this commit —
        totals, grades and ranks included — is rebuilt from the repository alone. An
        exception from it aborts the submit (nothing is written).
        """
        _check_editor(editor)
        _check_submission_id(submission_id)
        for (emp, code), value in edits.items():
            layout.check_code("employee id", emp)
            layout.check_code("indicator", code)
            if value is not None and not value.reason.strip():
                raise ValueError(f"{emp} {code}: an adjustment needs a reason")
        removal_reasons = reasons or {}
        # canonical numbers, so "2" and "2.00" are the same value in merges and trailers
        edits = {cell: None if v is None else
                 CellValue(layout.parse_points(layout.format_points(v.points)), v.reason)
                 for cell, v in edits.items()}
        with self.lock.hold():
            result = self._submit_locked(period, base_commit, edits, editor, submission_id,
                                         kind=Kind.ADJUSTMENT, note=note,
                                         trailer_reason=lambda cell, value: (
                                             value.reason if value is not None
                                             else removal_reasons.get(cell, "")),
                                         rescore=rescore)
        self._after_commit()
        return result

    def _submit_locked(self, period: str, base_commit: str | None,
                       edits: Mapping[CellKey, CellValue | None], editor: Editor,
                       submission_id: str, *, kind: Kind, note: str,
                       trailer_reason: Callable[[CellKey, CellValue | None], str],
                       extra: tuple[tuple[str, str], ...] = (),
                       rescore: Rescore | None = None) -> SubmitResult:
        head = self.head()
        self._refresh_known_ids(head)
        done = self._known_ids.get(submission_id)
        if done is not None:
            info = self.commit_info(done)
            return SubmitResult(commit=done, head=head, applied=info.cells, duplicate=True)
        if self.status(period, head).get("status") == "approved":
            raise PeriodClosed(f"period {period} is approved; reopen it before adjusting")
        employees = sorted({emp for emp, _ in edits})
        # Only the edited employees' files matter: every other cell merges to the head's.
        head_lines = self._employee_lines(head, period, employees)
        head_cells = {cell: value for cell, (value, _) in head_lines.items()}
        base_cells = (head_cells if base_commit == head
                      else self._employee_cells(base_commit, period, employees))
        result = merge(base_cells, head_cells, apply_edits(base_cells, edits))
        conflicts = tuple(Conflict(c.cell, c.base, c.head, c.submitted,
                                   self.last_change(period, c.cell))
                          for c in result.conflicts)
        changed = sorted(cell for cell in set(head_cells) | set(result.merged)
                         if head_cells.get(cell) != result.merged.get(cell))
        if not changed:
            return SubmitResult(commit=None, head=head, conflicts=conflicts)
        applied = tuple(CellChange(
            employee_id=emp, indicator=code,
            old=None if head_cells.get((emp, code)) is None else head_cells[(emp, code)].points,
            new=None if result.merged.get((emp, code)) is None
            else result.merged[(emp, code)].points,
            reason=trailer_reason((emp, code), result.merged.get((emp, code))))
            for emp, code in changed)
        when = self._clock()
        new_stamp = Stamp(editor, when.replace(microsecond=0), submission_id)
        changed_set = set(changed)
        files: dict[str, bytes | None] = {}
        for emp in sorted({emp for emp, _ in changed}):
            mine = {code: (v, new_stamp if (e, code) in changed_set
                           else head_lines[(e, code)][1] or new_stamp)
                    for (e, code), v in result.merged.items() if e == emp}
            files[layout.adjustments_path(period, emp)] = layout.dump_adjustments(mine) or None
        if rescore is not None:
            files.update(self._rescored_files(head, period, rescore(applied)))
        verb = {Kind.REVERT: "Revert"}.get(kind, "Adjust")
        named = ", ".join(f"{c.employee_id} {c.indicator}" for c in applied[:3])
        more = ", ..." if len(applied) > 3 else ""
        message = build_message(
            subject=f"{verb} {period}: {len(applied)} cell(s) by {editor.name} ({named}{more})",
            period=period, kind=kind.value, submission_id=submission_id, cells=applied,
            note=note, extra=(*extra, *((("Base", base_commit),) if base_commit else ())))
        commit = self._commit(head, files, editor, message, kind.value, submission_id, when)
        return SubmitResult(commit=commit, head=commit, applied=applied, conflicts=conflicts)

    def _rescored_files(self, head: str | None, period: str,
                        snapshot: ScoreSnapshot | None) -> dict[str, bytes | None]:
        """The score files an adjustment commit rewrites, from `rescore`'s snapshot: the
        score file of each employee in `snapshot.lines` and totals.tsv (an adjustment may
        move anyone's rank or forced grade, so totals are everyone's).

        The caller lists the employees whose lines may have changed (at least the adjusted
        ones) so that a submit never builds the whole period; files whose blob id equals
        the head's are left out. Nothing is written when `snapshot` is None or while the
        period has no scores in the history (no baseline yet: the first Score writes them)."""
        if snapshot is None:
            return {}
        root = layout.period_dir(period)
        totals_path = f"{root}/{layout.TOTALS}"
        per_employee: dict[str, dict[str, ScoreLine]] = {}
        for (emp, code), line in snapshot.lines.items():
            per_employee.setdefault(emp, {})[code] = line
        files: dict[str, bytes] = {layout.scores_path(period, emp): layout.dump_scores(lines)
                                   for emp, lines in per_employee.items()}
        if snapshot.totals:
            files[totals_path] = layout.dump_totals(snapshot.totals)
        if head is None or self._lookup(head, totals_path) is None:
            return {}
        # the head's blob ids through the cached trees the merge just read (no subprocess)
        current = {path: entry[1].hex() for path in files
                   if (entry := self._lookup(head, path)) is not None}
        return {path: data for path, data in files.items()
                if current.get(path) != blob_id(data)}

    def revert(self, period: str, commit: str, editor: Editor, reason: str,
               submission_id: str, *, rescore: Rescore | None = None) -> SubmitResult:
        """Restore the values `commit` replaced, for the cells it changed.

        This is a three-way merge with base = state after `commit`, theirs = state before
        it: a cell changed again since `commit` is a conflict, not overwritten. `rescore`
        as for `submit`.
        """
        _check_editor(editor)
        _check_submission_id(submission_id)
        if not reason.strip():
            raise ValueError("a revert needs a reason")
        info = self.commit_info(commit)
        if not info.cells:
            raise HistoryError(f"{commit} changed no adjustment cells; nothing to revert")
        employees = sorted({c.employee_id for c in info.cells})
        before = self._employee_cells(info.parent, period, employees)
        edits = {c.cell: before.get(c.cell) for c in info.cells}
        with self.lock.hold():
            result = self._submit_locked(period, commit, edits, editor, submission_id,
                                         kind=Kind.REVERT, note=reason,
                                         trailer_reason=lambda cell, value: reason,
                                         extra=(("Reverts", commit),), rescore=rescore)
        self._after_commit()
        return result

    def holds_scores(self, period: str, fingerprint: str) -> bool:
        """Does the branch hold exactly the scores `record_scores` last recorded for `period`
        with this `fingerprint`? True when the head has not moved since: recording them
        again would change nothing, so a re-score of an unchanged month can skip building
        5,000 score files to find that out (~0.15 s, issue #3). What this process did only:
        another process's commit moves the head."""
        with self.lock.hold():
            return self._scores_at.get(period) == (self.head(), fingerprint)

    def record_scores(self, period: str, snapshot: ScoreSnapshot, editor: Editor,
                      submission_id: str, *, kind: Kind = Kind.BASELINE,
                      note: str = "", fingerprint: str | None = None) -> str | None:
        """Write a baseline or re-score: every score line, totals, employees, rules.

        Employees no longer scored lose their score file. Returns the commit, or None when
        nothing changed (the same id again returns the first commit). `fingerprint`: a text
        that determines `snapshot` (e.g. the digest of the scoring input), remembered for
        `holds_scores`.
        """
        _check_editor(editor)
        _check_submission_id(submission_id)
        if kind not in (Kind.BASELINE, Kind.RESCORE):
            raise ValueError(f"record_scores writes baseline or rescore, not {kind}")
        root = layout.period_dir(period)
        per_employee: dict[str, dict[str, object]] = {}
        for (emp, code), line in snapshot.lines.items():
            per_employee.setdefault(emp, {})[code] = line
        files: dict[str, bytes | None] = {
            layout.scores_path(period, emp): layout.dump_scores(lines)  # type: ignore[arg-type]
            for emp, lines in per_employee.items()}
        files[f"{root}/{layout.TOTALS}"] = layout.dump_totals(snapshot.totals) or None
        if snapshot.employees:
            files[f"{root}/{layout.EMPLOYEES}"] = layout.dump_employees(snapshot.employees)
        if snapshot.rules is not None:
            files[f"{root}/{layout.RULES}"] = layout.dump_json(snapshot.rules)
        # git's blob ids, computed here: what changed is found without reading any blob
        wanted = {path: None if data is None else blob_id(data) for path, data in files.items()}
        scores_dir = f"{root}/{layout.SCORES}/"
        with self.lock.hold():
            head = self.head()
            self._refresh_known_ids(head)
            if submission_id in self._known_ids:
                return self._known_ids[submission_id]
            # one `git ls-tree -r` lists every file this commit may write or remove
            current = self._ls_tree(head, scores_dir, f"{root}/{layout.TOTALS}",
                                    f"{root}/{layout.EMPLOYEES}", f"{root}/{layout.RULES}")
            for path in current:
                if path.startswith(scores_dir):
                    wanted.setdefault(path, None)  # no longer scored: the file goes
            changed = {path: files.get(path) for path, sha in wanted.items()
                       if current.get(path) != sha}
            if not changed:
                if fingerprint is not None:
                    self._scores_at[period] = (head, fingerprint)
                return None
            message = build_message(
                subject=f"{kind.value.capitalize()} {period}: {len(per_employee)} employees, "
                        f"{len(snapshot.lines)} lines by {editor.name}",
                period=period, kind=kind.value, submission_id=submission_id, note=note)
            # only changed blobs are written; unchanged subtrees are reused by hash
            commit = self._commit(head, changed, editor, message, kind.value, submission_id)
            if fingerprint is not None:
                self._scores_at[period] = (commit, fingerprint)
        self._after_commit()
        return commit

    def set_status(self, period: str, status: str, editor: Editor, reason: str,
                   submission_id: str, *, kind: Kind = Kind.APPROVAL) -> str | None:
        """Approve, send back or reopen a period (state.json); returns the commit."""
        _check_editor(editor)
        _check_submission_id(submission_id)
        path = f"{layout.period_dir(period)}/{layout.STATE}"
        data = layout.dump_json({"status": status, "by": editor.name, "reason": reason})
        with self.lock.hold():
            head = self.head()
            self._refresh_known_ids(head)
            if submission_id in self._known_ids:
                return self._known_ids[submission_id]
            if not self._changes_anything(head, {path: data}):
                return None
            message = build_message(
                subject=f"{kind.value.capitalize()} {period}: {status} by {editor.name}",
                period=period, kind=kind.value, submission_id=submission_id, note=reason,
                extra=(("Status", status),))
            commit = self._commit(head, {path: data}, editor, message, kind.value,
                                  submission_id)
        self._after_commit()
        return commit

    def _changes_anything(self, head: str | None, files: Mapping[str, bytes | None]) -> bool:
        return any(self._read_file(head, path) != data for path, data in files.items())


def _fields(snap: PeriodSnapshot) -> dict[str, object]:
    return {name: getattr(snap, name) for name in PeriodSnapshot.__slots__}


def _copy_snapshot(snap: PeriodSnapshot) -> PeriodSnapshot:
    """A copy a caller may change without touching the cached state (values are frozen)."""
    return PeriodSnapshot(
        commit=snap.commit, period=snap.period, adjustments=dict(snap.adjustments),
        scores=dict(snap.scores), totals=dict(snap.totals), employees=dict(snap.employees),
        status=copy.deepcopy(snap.status), rules=copy.deepcopy(snap.rules))


def cells_total(cells: Cells) -> Decimal:
    """Sum of adjustment points (handy for dashboards and tests)."""
    return sum((v.points for v in cells.values()), Decimal(0))
