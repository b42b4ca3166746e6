"""Whole objects by key (firmware images): in a local folder or an S3-compatible bucket.

The raw archive appends segments; this stores an object once and reads it back
whole. Keys are ``/``-separated paths chosen by Wattline (never by a client), so
neither store has to defend against ``..``; both refuse one all the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wattline.archive.s3 import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` durably under ``key`` (replacing what was there)."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""


def _checked(key: str) -> str:
    parts = key.split("/")
    if not key or any(part in {"", ".", ".."} for part in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class FolderBlobs:
    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, key: str, data: bytes) -> None:
        path = self._root / _checked(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # Renamed only once whole: a reader never sees half an image.
        partial.replace(path)

    def get(self, key: str) -> bytes | None:
        path = self._root / _checked(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        (self._root / _checked(key)).unlink(missing_ok=True)


class S3Blobs:
    """Objects in a bucket, private: devices get them through Wattline's signed links."""

    def __init__(self, client: S3Client, location: S3Location) -> None:
        self._client = client
        self._location = location

    def put(self, key: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self._location.bucket, Key=self._location.key(_checked(key)), Body=data
        )

    def get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - loaded with the client

        try:
            response = self._client.get_object(
                Bucket=self._location.bucket, Key=self._location.key(_checked(key))
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return response["Body"].read()

    def delete(self, key: str) -> None:
        self._client.delete_object(
            Bucket=self._location.bucket, Key=self._location.key(_checked(key))
        )
