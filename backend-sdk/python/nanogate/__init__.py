"""nanogate worker SDK for Python: run WSGI (nanogate-wsgi) and ASGI
(nanogate-asgi) applications behind the nanogate gateway. Standard library
only; the SP wire protocol is implemented in nanogate.sp. See
docs/sdk-python.md."""

__version__ = "0.1.0"
