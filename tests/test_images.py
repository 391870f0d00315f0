from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest
from PIL import Image

from i2cr.context import Context
from i2cr.images import ImageError, ImageLimits, image_problem, load_image, run_context

SAMPLES = Path(matplotlib.get_data_path()) / "sample_data"
PHOTO = SAMPLES / "grace_hopper.jpg"
LOGO = SAMPLES / "logo2.png"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def test_photo_loads_as_rgb_with_the_hash_of_its_bytes():
    loaded = load_image(PHOTO)
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == (512, 600)
    assert loaded.content_hash == hashlib.sha256(PHOTO.read_bytes()).hexdigest()
    assert image_problem(str(PHOTO)) is None


def test_bytes_and_path_of_one_image_share_the_content_hash():
    from_bytes = load_image(LOGO.read_bytes())
    assert from_bytes.content_hash == load_image(str(LOGO)).content_hash
    assert from_bytes.source == f"<{LOGO.stat().st_size} bytes>"


def test_transparent_pixels_become_white():
    loaded = load_image(SAMPLES / "Minduka_Present_Blue_Pack.png")
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("source", [None, ""])
def test_no_image_given(source):
    assert image_problem(source) == "no image given"


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="image not found: .*nope.jpg"):
        load_image(tmp_path / "nope.jpg")
    assert image_problem(str(tmp_path)) == f"image not found: {tmp_path}"


def test_file_that_is_not_an_image(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("these are notes, not pixels")
    problem = image_problem(str(text))
    assert problem is not None
    assert "not a readable image" in problem and "not an image file" in problem


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert image_problem(str(empty)) == f"not a readable image: {empty} is empty"


def test_truncated_jpeg(tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(PHOTO.read_bytes()[:20_000])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(cut)


def test_corrupt_png(tmp_path):
    data = bytearray(LOGO.read_bytes())
    data[200:260] = b"\x00" * 60
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(bad)


def test_file_over_the_byte_cap(tmp_path):
    with pytest.raises(ImageError, match=r"image too large: .* has \d+ bytes, more than 1000"):
        load_image(PHOTO, ImageLimits(max_bytes=1000))
    with pytest.raises(ImageError, match="more than 1000"):
        load_image(PHOTO.read_bytes(), ImageLimits(max_bytes=1000))


def test_image_over_the_pixel_cap():
    with pytest.raises(ImageError, match="512x600 pixels, more than image_max_pixels=1000"):
        load_image(PHOTO, ImageLimits(max_pixels=1000))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(60_000, 60_000))
    assert bomb.stat().st_size < 200
    problem = image_problem(str(bomb))
    assert problem is not None and problem.startswith("image too large")


def test_limits_follow_the_context():
    context = Context(allow_image_urls=True, image_max_bytes=5, image_max_pixels=7)
    assert ImageLimits.from_context(context) == ImageLimits(
        allow_urls=True, max_bytes=5, max_pixels=7, timeout_s=10.0
    )
    assert isinstance(run_context(), Context)  # outside a graph run: the defaults
    assert ImageLimits.from_context(Context()) == ImageLimits()


def test_limits_from_the_environment_apply_outside_a_graph(monkeypatch):
    monkeypatch.setenv("I2CR_IMAGE_MAX_PIXELS", "100")
    with pytest.raises(ImageError, match="more than image_max_pixels=100"):
        load_image(PHOTO)


def test_urls_are_refused_unless_enabled():
    with pytest.raises(ImageError, match="image URLs are disabled.*allow_image_urls"):
        load_image("https://example.org/a.jpg")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/slow.png":
            time.sleep(1.0)
        if self.path == "/missing.png":
            self.send_error(404)
            return
        body = LOGO.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the timeout test hangs up before the slow answer is written


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_is_fetched_when_enabled(server):
    loaded = load_image(f"{server}/logo.png", ImageLimits(allow_urls=True))
    assert loaded.content_hash == hashlib.sha256(LOGO.read_bytes()).hexdigest()
    assert loaded.image.size == Image.open(LOGO).size


def test_url_download_over_the_byte_cap(server):
    with pytest.raises(ImageError, match="image too large"):
        load_image(f"{server}/big.png", ImageLimits(allow_urls=True, max_bytes=100))


def test_url_that_answers_too_slowly(server):
    problem = image_problem(f"{server}/slow.png", ImageLimits(allow_urls=True, timeout_s=0.2))
    assert problem is not None and problem.startswith(f"cannot fetch image {server}/slow.png")


def test_url_that_is_not_found(server):
    with pytest.raises(ImageError, match="cannot fetch image .*/missing.png: HTTP Error 404"):
        load_image(f"{server}/missing.png", ImageLimits(allow_urls=True))
