"""Whole objects by key (firmware images) in a folder and in S3 (moto's server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.archive.conftest import S3Server

from wattline.archive.blobs import BlobStore, FolderBlobs, S3Blobs
from wattline.archive.s3 import S3Location, open_s3_client


@pytest.fixture(params=["folder", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "folder":
        yield FolderBlobs(tmp_path / "blobs")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    client = open_s3_client(server.endpoint_url)
    bucket = f"wattline-blobs-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)  # with this client, which is closed below
    yield S3Blobs(client, S3Location(bucket, "firmware-store"))
    client.close()  # its pooled connections to moto's in-process server


def test_put_get_replace_delete(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    assert blobs.get("firmware/t/a.bin") is None
    blobs.put("firmware/t/a.bin", data)
    assert blobs.get("firmware/t/a.bin") == data
    blobs.put("firmware/t/a.bin", b"new")
    assert blobs.get("firmware/t/a.bin") == b"new"
    blobs.delete("firmware/t/a.bin")
    assert blobs.get("firmware/t/a.bin") is None
    blobs.delete("firmware/t/a.bin")  # again: nothing there, no error


@pytest.mark.parametrize("key", ["", "../x", "a//b", "a/./b", "/abs"])
def test_keys_that_could_leave_the_store_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        blobs.put(key, b"x")
