"""Objects on a DVC remote that a broken-off push left truncated, found by size and removed.

DVC uploads an object straight to its final name on most remotes, and a later ``dvc push``
skips a name that exists. When a push breaks off part-way, a server that writes as it receives
(WebDAV's WsgiDAV, for one) keeps the part it got under the full name: the remote then holds an
object whose bytes do not hash to its name, which every later push leaves as it is and a
colleague's ``dvc pull`` would take for good. :func:`truncated_objects` compares each object of
this clone's cache with the remote's copy by size — one metadata request per object, no
download — and :func:`upload_again` replaces the bad copies with whole ones.
"""
from __future__ import annotations

from typing import Any


def truncated_objects(repo: Any, remote: str | None) -> list[str]:
    """The ids of this clone's cached objects whose copy on ``remote`` has another size."""
    cache = repo.cache.local
    odb = repo.cloud.get_remote_odb(remote, "push")
    wrong = []
    for oid in sorted(cache.all()):
        try:
            remote_size = odb.fs.size(odb.oid_to_path(oid))
        except FileNotFoundError:
            continue  # not pushed yet: the next push uploads it
        if remote_size != cache.fs.size(cache.oid_to_path(oid)):
            wrong.append(oid)
    return wrong


def upload_again(repo: Any, remote: str | None, oids: list[str]) -> None:
    """Upload these objects to ``remote`` again from this clone's cache, whole, over their truncated
    copies (a ``dvc push`` would skip them: their names exist there)."""
    cache = repo.cache.local
    odb = repo.cloud.get_remote_odb(remote, "push")
    for oid in oids:
        odb.fs.put_file(cache.oid_to_path(oid), odb.oid_to_path(oid))
