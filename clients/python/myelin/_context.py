"""What a run can say about where it ran: git state, host and packages, content hashes."""
import hashlib
import json
import os
import platform
import socket
import subprocess
from urllib.parse import urlsplit, urlunsplit


def _git(cwd, *args):
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace").strip()


def strip_credentials(url):
    """``https://user:secret@host/repo.git`` -> ``https://host/repo.git`` (scp-style URLs are kept)."""
    if not url or "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


def git_code_ref(cwd=None):
    """{commit, branch?, dirty?, remote?} of the repository holding ``cwd``, or None outside one."""
    cwd = cwd or os.getcwd()
    commit = _git(cwd, "rev-parse", "HEAD")
    if not commit:
        return None
    ref = {"commit": commit}
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":  # "HEAD" means a detached head: no branch
        ref["branch"] = branch
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        ref["dirty"] = status != ""
    remote = _git(cwd, "remote", "get-url", "origin")
    if not remote:
        names = (_git(cwd, "remote") or "").split()
        remote = _git(cwd, "remote", "get-url", names[0]) if names else None
    if remote:
        ref["remote"] = strip_credentials(remote)
    return ref


def run_environment():
    """{host, platform, python, packages: {name: version}} of this interpreter."""
    env = {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    packages = {}
    try:
        from importlib import metadata

        for dist in metadata.distributions():
            try:
                name = dist.metadata["Name"]
            except Exception:  # noqa: BLE001 - a broken distribution must not break the report
                name = None
            if name and name not in packages:
                packages[name] = dist.version
    except Exception:  # noqa: BLE001
        pass
    env["packages"] = dict(sorted(packages.items(), key=lambda kv: kv[0].lower()))
    return env


def _update_file(digest, path):
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(block)


def hash_path(path):
    """sha256 of a file's bytes; for a folder, of every file's relative path and bytes, sorted."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in names:
                full = os.path.join(root, name)
                files.append((os.path.relpath(full, path).replace(os.sep, "/"), full))
        for rel, full in sorted(files):
            digest.update(rel.encode("utf-8") + b"\0")
            _update_file(digest, full)
            digest.update(b"\0")
    else:
        _update_file(digest, path)
    return digest.hexdigest()


def hash_data(data):
    """sha256 of bytes, of a str's UTF-8, of any buffer (a numpy array's memory), else of its
    canonical JSON (or repr when it has none)."""
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    else:
        try:
            raw = memoryview(data).tobytes()
        except TypeError:
            try:
                raw = json.dumps(data, sort_keys=True, default=repr).encode("utf-8")
            except (TypeError, ValueError):
                raw = repr(data).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()
