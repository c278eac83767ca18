"""kazoo extensions: requests kazoo 2.x does not expose (container, TTL,
getEphemerals, getAllChildrenNumber, whoAmI), sent through kazoo's own
connection so they run inside a normal kazoo session."""

import threading
from collections import namedtuple

from kazoo.protocol.serialization import (
    int_struct, long_struct, read_string, stat_struct, write_buffer,
    write_string,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE

CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6


def _create_body(path, data, acl, flags):
    b = bytearray()
    b.extend(write_string(path))
    b.extend(write_buffer(data))
    b.extend(int_struct.pack(len(acl)))
    for a in acl:
        b.extend(int_struct.pack(a.perms) + write_string(a.id.scheme)
                 + write_string(a.id.id))
    b.extend(int_struct.pack(flags))
    return b


def _read_create2(buf, offset):
    path, offset = read_string(buf, offset)
    stat = ZnodeStat._make(stat_struct.unpack_from(buf, offset))
    return path, stat


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    type = 19

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags)

    @classmethod
    def deserialize(cls, buf, offset):
        return _read_create2(buf, offset)


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    type = 21

    def serialize(self):
        return _create_body(self.path, self.data, self.acl, self.flags) + \
            long_struct.pack(self.ttl)

    @classmethod
    def deserialize(cls, buf, offset):
        return _read_create2(buf, offset)


class GetEphemerals(namedtuple("GetEphemerals", "path")):
    type = 103

    def serialize(self):
        return write_string(self.path)

    @classmethod
    def deserialize(cls, buf, offset):
        n = int_struct.unpack_from(buf, offset)[0]
        offset += 4
        out = []
        for _ in range(max(n, 0)):
            s, offset = read_string(buf, offset)
            out.append(s)
        return out


class GetAllChildrenNumber(namedtuple("GetAllChildrenNumber", "path")):
    type = 104

    def serialize(self):
        return write_string(self.path)

    @classmethod
    def deserialize(cls, buf, offset):
        return int_struct.unpack_from(buf, offset)[0]


class WhoAmI(namedtuple("WhoAmI", "unused")):
    # needs a field: kazoo ignores replies for requests that are falsy, and
    # an empty namedtuple is falsy
    type = 107

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, buf, offset):
        n = int_struct.unpack_from(buf, offset)[0]
        offset += 4
        out = []
        for _ in range(max(n, 0)):
            scheme, offset = read_string(buf, offset)
            user, offset = read_string(buf, offset)
            out.append((scheme, user))
        return out


def call(client, request, timeout=10):
    result = client.handler.async_result()
    client._call(request, result)
    return result.get(timeout=timeout)


def create_container(client, path, value=b"", acl=None):
    return call(client, CreateContainer(path, value, acl or OPEN_ACL_UNSAFE, CONTAINER))


def create_ttl(client, path, value=b"", ttl=1000, sequence=False, acl=None,
               flags=None):
    if flags is None:
        flags = PERSISTENT_SEQUENTIAL_WITH_TTL if sequence else PERSISTENT_WITH_TTL
    return call(client, CreateTTL(path, value, acl or OPEN_ACL_UNSAFE, flags, ttl))


def get_ephemerals(client, prefix="/"):
    return call(client, GetEphemerals(prefix))


def get_all_children_number(client, path):
    return call(client, GetAllChildrenNumber(path))


def whoami(client):
    return call(client, WhoAmI(None))


_Cb = namedtuple("_Cb", "func args")


def flush_watches(client, timeout=10):
    """Make sure every watch notification the server sent before now has been
    delivered to the watcher callbacks: a sync round-trip (the server sends
    pending notifications before the reply), then a marker through kazoo's
    callback queue (watch callbacks run in order on one thread)."""
    client.sync("/")
    done = threading.Event()
    client.handler.dispatch_callback(_Cb(done.set, ()))
    if not done.wait(timeout):
        raise AssertionError("kazoo callback queue did not drain")
