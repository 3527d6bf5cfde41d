"""GridFS uploads insert each chunk when it is full, not 32 MiB at a time (see infra/attachments/store.py)."""

from gridfs.asynchronous import grid_file

from infra.attachments import store


def test_the_upload_buffer_is_one_chunk():
    assert grid_file._UPLOAD_BUFFER_SIZE == store.CHUNK_BYTES == 1024 * 1024
