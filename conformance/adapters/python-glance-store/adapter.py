#!/usr/bin/env python3
"""Serves the cinderbox driver adapter protocol (docs/adapter-protocol.md) over upstream
glance_store's cinder driver, loaded in multi-store mode as Glance loads it.

Run it with the python of the venv that setup.sh builds. One JSON request per line on
stdin, one JSON response per line on stdout; logs go to stderr
(CINDERBOX_ADAPTER_LOG_LEVEL, default INFO). The stand-ins for root helpers are described
in README.md next to this file.
"""

import json
import logging
import os
import sys
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))

# Stand-ins for `sudo` and `glance-rootwrap` come first on PATH for everything this
# process runs (README.md: "Stand-ins").
os.environ["PATH"] = os.path.join(HERE, "bin") + os.pathsep + os.environ.get("PATH", "")

# The protocol owns stdout: keep a private handle on it and point fd 1 at stderr, so a
# stray print or a child process's output cannot corrupt the response stream.
_PROTOCOL_OUT = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

logging.basicConfig(
    stream=sys.stderr,
    level=os.environ.get("CINDERBOX_ADAPTER_LOG_LEVEL", "INFO").upper(),
    format="python-glance-store %(levelname)s %(name)s: %(message)s",
)
LOG = logging.getLogger("adapter")
# oslo.privsep imports eventlet, which warns that it is deprecated; not our concern here.
warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated")

from oslo_concurrency import lockutils  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_context import context as oslo_context  # noqa: E402

import glance_store  # noqa: E402
from glance_store import capabilities  # noqa: E402
from glance_store import exceptions as gs_exc  # noqa: E402
from glance_store import location as gs_location  # noqa: E402
from glance_store import multi_backend  # noqa: E402
from glance_store._drivers.cinder import store as cinder_store  # noqa: E402

CONF = cfg.CONF
CHUNK_BYTES = 4 << 20


class ProtocolError(Exception):
    """An error answered with an explicit protocol class."""

    def __init__(self, klass, message):
        super().__init__(message)
        self.klass = klass


def install_stand_ins():
    """Keeps os-brick from running anything privileged (README.md: "Stand-ins")."""
    # Privileged os-brick functions run in this process, as the current user, instead of
    # in a `sudo privsep-helper` daemon.
    from os_brick import privileged

    privileged.default.set_client_mode(False)
    privileged.brick_privsep_hide_output.set_client_mode(False)

    # Connector properties without probing iSCSI/NVMe/FC initiators (which reads or even
    # creates host identities through privileged calls); the `local` connector that
    # cinderbox's emulator hands out needs none of them.
    def connector_properties(root_helper, my_ip, multipath, enforce_multipath,
                             host=None, execute=None):
        import platform
        import socket
        return {
            "platform": platform.machine(),
            "os_type": sys.platform,
            "ip": my_ip,
            "host": host or socket.gethostname(),
            "multipath": multipath,
            "enforce_multipath": enforce_multipath,
        }

    cinder_store.connector.get_connector_properties = connector_properties


def classify(exc):
    """The protocol's error class for an upstream exception."""
    if isinstance(exc, ProtocolError):
        return exc.klass
    if isinstance(exc, gs_exc.NotFound):
        return "not_found"
    if isinstance(exc, (gs_exc.StoreAddDisabled, gs_exc.StoreDeleteNotSupported)):
        return "disabled"
    if isinstance(exc, (gs_exc.BadStoreUri, gs_exc.UnknownScheme)):
        return "bad_location"
    if isinstance(exc, gs_exc.StorageFull):
        return "storage_full"
    if isinstance(exc, gs_exc.Invalid) and "Size" in str(exc):
        return "size_mismatch"
    if isinstance(exc, gs_exc.UnknownHashingAlgo):
        return "invalid"
    return "backend"


def describe(exc):
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ProtocolError):
        return text
    return "%s: %s" % (type(exc).__name__, text)


class Adapter:
    def __init__(self):
        self.configured = False
        self.context = None
        # Iterators a `get` with `hold_open` keeps open until `release`.
        self.held = []

    # --- configuration -----------------------------------------------------------

    def configure(self, args):
        self.configured = False
        text = require(args, "glance_config", str)
        work_dir = require(args, "work_dir", str)
        os.makedirs(work_dir, exist_ok=True)
        path = os.path.join(work_dir, "glance-api.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

        # Start from a clean slate when configured again in the same process: the
        # cinder driver keeps one process-global Keystone session, and glance_store one
        # scheme map.
        cinder_store._reset_cinder_session()
        gs_location.SCHEME_TO_CLS_BACKEND_MAP.clear()
        multi_backend._RESERVED_STORES.clear()

        # What Glance registers itself before loading stores (glance/common/config.py).
        register(cfg.DictOpt("enabled_backends"))
        try:
            CONF(args=[], project="glance", default_config_files=[path],
                 use_env=False)
        except cfg.Error as e:
            raise ProtocolError("invalid", "cannot read %s: %s" % (path, e))
        if not CONF.enabled_backends:
            raise ProtocolError("invalid", "[DEFAULT] enabled_backends is not set")
        for name in CONF.enabled_backends:
            if name.startswith("os_glance_"):
                raise ProtocolError(
                    "invalid", "store id %r uses the reserved prefix os_glance_" % name)
        lockutils.set_defaults(os.path.join(work_dir, "locks"))

        multi_backend.register_store_opts(CONF)
        try:
            multi_backend.create_multi_stores(CONF)
        except Exception as e:
            # Upstream lets Keystone/Cinder connection failures escape store loading:
            # Glance does not start.
            LOG.error("create_multi_stores failed:\n%s", traceback.format_exc())
            raise ProtocolError("backend", "glance_store failed to load the stores: %s"
                                % describe(e))
        try:
            multi_backend.verify_store()
        except RuntimeError as e:
            raise ProtocolError("invalid", str(e))

        self.context = self.request_context()
        self.configured = True
        return {"stores": self.stores({})}

    def request_context(self):
        """A request context for the service project, as Glance passes its request's.

        In service mode the cinder driver authenticates with the configured user; it reads
        only `project_id` (recorded as `image_owner`) from the context.
        """
        project_id = None
        for name, store in self.cinder_stores():
            if store.is_user_overriden():
                try:
                    session = cinder_store.get_cinder_session(store.store_conf)
                    project_id = session.get_project_id()
                except Exception as e:
                    LOG.warning("cannot learn the project id of store %s: %s", name, e)
                break
        return oslo_context.RequestContext(project_id=project_id, is_admin=True,
                                           roles=["admin", "service"])

    def cinder_stores(self):
        """(name, store) of every loaded cinder store, in enabled_backends order."""
        loaded = gs_location.SCHEME_TO_CLS_BACKEND_MAP.get("cinder", {})
        for name, kind in CONF.enabled_backends.items():
            if kind == "cinder" and name in loaded:
                yield name, loaded[name]["store"]

    def require_configured(self):
        if not self.configured:
            raise ProtocolError("invalid", "configure first")

    # --- operations --------------------------------------------------------------

    def stores(self, _args):
        self.require_configured()
        loaded = gs_location.SCHEME_TO_CLS_BACKEND_MAP.get("cinder", {})
        default = CONF.glance_store.default_backend
        out = []
        for name, kind in CONF.enabled_backends.items():
            entry = {"name": name, "type": None, "default": name == default,
                     "state": "enabled", "reason": None}
            if kind != "cinder":
                entry.update(state="disabled",
                             reason="a '%s' store; this adapter serves cinder stores" % kind)
            elif name not in loaded:
                entry.update(state="disabled", reason="glance_store did not load it")
            else:
                store = loaded[name]["store"]
                entry["type"] = store.store_conf.cinder_volume_type
                if not store.is_capable(capabilities.BitMasks.WRITE_ACCESS):
                    entry.update(state="disabled",
                                 reason="configure_add raised BadStoreConfiguration")
            out.append(entry)
        return out

    def add(self, args):
        self.require_configured()
        backend = args.get("store") or CONF.glance_store.default_backend
        image_id = require(args, "image_id", str)
        size = args.get("size")
        data_path = require(args, "data_path", str)
        algo = args.get("hashing_algo") or "sha256"
        with open(data_path, "rb") as data:
            # Glance passes 0 for an unknown size.
            location, written, checksum, multihash, metadata = (
                multi_backend.add_with_multihash(
                    CONF, image_id, data, size or 0, backend, algo,
                    context=self.context))
        return {"location": location, "size": written, "checksum": checksum,
                "multihash": multihash, "store": (metadata or {}).get("store", backend)}

    def get(self, args):
        self.require_configured()
        uri = require(args, "location", str)
        offset = args.get("offset") or 0
        length = args.get("length")
        out_path = require(args, "out_path", str)
        hold_open = bool(args.get("hold_open"))
        iterator, size = multi_backend.get(uri, self.backend_for(uri), offset=offset,
                                           chunk_size=length, context=self.context)
        written = 0
        held = False
        try:
            with open(out_path, "wb") as out:
                if hold_open:
                    # A Glance worker whose client already has every byte: stop pulling at
                    # the size the read spans, and leave the iterator open until `release`.
                    iterator = iter(iterator)
                    while written < size:
                        try:
                            chunk = next(iterator)
                        except StopIteration:
                            break
                        out.write(chunk)
                        written += len(chunk)
                    self.held.append(iterator)
                    held = True
                else:
                    for chunk in iterator:
                        out.write(chunk)
                        written += len(chunk)
        finally:
            if not held:
                close_iterator(iterator)
        return {"bytes": written}

    def release(self, _args):
        """Closes the iterators `get` with `hold_open` left open; answers how many."""
        held, self.held = self.held, []
        for iterator in held:
            close_iterator(iterator)
        return {"released": len(held)}

    def get_size(self, args):
        self.require_configured()
        uri = require(args, "location", str)
        backend = self.backend_for(uri)
        if backend is None:
            # glance_store's get_size needs a backend, and Glance would take it from the
            # image's location metadata, which a legacy location lacks: use the default
            # store, as the single-to-multi-store upgrade does.
            backend = CONF.glance_store.default_backend
        size = multi_backend.get_size_from_uri_and_backend(uri, backend,
                                                           context=self.context)
        return {"size": size}

    def delete(self, args):
        self.require_configured()
        uri = require(args, "location", str)
        multi_backend.delete(uri, self.backend_for(uri), context=self.context)
        return {}

    def backend_for(self, uri):
        """The backend Glance would pass for this location: the store it names, or None for
        a legacy `cinder://<volume-id>` (glance_store then tries every store).

        Glance refuses a location with an unknown scheme or a malformed id when it is set
        (UnknownScheme / BadStoreUri), so such a location never reaches get or delete;
        checking it here with glance_store's own parser gives the same answer.
        """
        parse(uri, None)
        return backend_of(uri)

    def upgrade_location(self, args):
        self.require_configured()
        return {"location": self.upgrade(require(args, "location", str))}

    def upgrade_locations(self, args):
        self.require_configured()
        locations = require(args, "locations", list)
        results = []
        for uri in locations:
            try:
                if not isinstance(uri, str):
                    raise ProtocolError("invalid", "locations must be strings")
                results.append({"location": self.upgrade(uri)})
            except Exception as e:
                results.append({"error": {"class": classify(e), "message": describe(e)}})
        return {"results": results}

    def upgrade(self, uri):
        """Glance's lazy upgrade (glance/common/store_utils.py), written anew: a location
        without a store asks each cinder store, in enabled_backends order, whether the
        volume belongs to it; the first yes names the store."""
        if self.backend_for(uri) is not None:
            return uri
        volume_id = uri.split("/")[-1]
        for name, store in self.cinder_stores():
            if store.is_image_associated_with_store(self.context, volume_id):
                return "%s/%s" % (store.url_prefix, volume_id)
        return uri


def close_iterator(iterator):
    close = getattr(iterator, "close", None)
    if close:
        close()


def backend_of(uri):
    """The store a `cinder://<store>/<volume-id>` location names, or None for a legacy
    `cinder://<volume-id>` (glance_store then searches every store)."""
    prefix = "cinder://"
    if not uri.startswith(prefix):
        return None
    rest = uri[len(prefix):]
    if "/" not in rest:
        return None
    # `cinder:///<id>` names no store: legacy too (glance_store parses it).
    return rest.rsplit("/", 1)[0] or None


def parse(uri, backend):
    """Parses with glance_store's own location code (BadStoreUri / UnknownScheme)."""
    if backend is None:
        loaded = gs_location.SCHEME_TO_CLS_BACKEND_MAP.get("cinder", {})
        backend = next(iter(loaded), None)
        if backend is None:
            raise ProtocolError("backend", "no cinder store is loaded")
    return gs_location.get_location_from_uri_and_backend(uri, backend, conf=CONF)


def register(opt):
    try:
        CONF.register_opt(opt)
    except cfg.DuplicateOptError:
        pass


def require(args, key, kind):
    value = args.get(key)
    if not isinstance(value, kind):
        raise ProtocolError("invalid", "argument %r must be a %s" % (key, kind.__name__))
    return value


OPS = {
    "configure": Adapter.configure,
    "stores": Adapter.stores,
    "add": Adapter.add,
    "get": Adapter.get,
    "get_size": Adapter.get_size,
    "delete": Adapter.delete,
    "upgrade_location": Adapter.upgrade_location,
    "upgrade_locations": Adapter.upgrade_locations,
    "release": Adapter.release,
}


def answer(response):
    _PROTOCOL_OUT.write(json.dumps(response, separators=(",", ":")) + "\n")
    _PROTOCOL_OUT.flush()


def serve():
    install_stand_ins()
    LOG.info("glance_store %s ready", glance_store_version())
    adapter = Adapter()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            rid = request["id"]
            op = request["op"]
            args = request.get("args") or {}
        except (ValueError, KeyError, TypeError) as e:
            LOG.error("malformed request %r: %s", line[:200], e)
            answer({"id": None, "ok": False,
                    "error": {"class": "invalid", "message": "malformed request: %s" % e}})
            continue
        if op == "shutdown":
            answer({"id": rid, "ok": True, "result": {}})
            return 0
        handler = OPS.get(op)
        if handler is None:
            answer({"id": rid, "ok": False,
                    "error": {"class": "unsupported", "message": "unknown op %r" % op}})
            continue
        try:
            result = handler(adapter, args)
            answer({"id": rid, "ok": True, "result": result})
        except Exception as e:
            klass = classify(e)
            LOG.info("%s failed (%s): %s", op, klass, describe(e))
            LOG.debug("%s", traceback.format_exc())
            answer({"id": rid, "ok": False,
                    "error": {"class": klass, "message": describe(e)}})
    return 0


def glance_store_version():
    try:
        from importlib import metadata
        return metadata.version("glance_store")
    except Exception:
        return getattr(glance_store, "__version__", "?")


if __name__ == "__main__":
    sys.exit(serve())
