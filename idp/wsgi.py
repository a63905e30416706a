"""The WSGI application for a production server: ``gunicorn -c idp/gunicorn_conf.py idp.wsgi:app``.

Settings come from the environment (IDP_*), as for `idp serve`. The database is not migrated
here: every worker imports this module, and migrations must run once, before the workers
start (`idp init`, or `idp serve --workers N`, which migrates and then starts gunicorn).
Settings that are unfit for production mode stop the worker with the reasons, as `idp serve`
does.
"""

from __future__ import annotations

from idp.app import create_app

app = create_app()
