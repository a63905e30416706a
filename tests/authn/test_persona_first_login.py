"""The first logins of one sandbox persona, made at once, all reach the same person record
(before, the losers of the race to create it got a 503 on PostgreSQL)."""

from __future__ import annotations

import threading
from dataclasses import replace

from sqlalchemy import func, select

from idp.app import create_app
from idp.authn.views import person_for_persona
from idp.db import Person
from idp.settings import Settings
from idp.store import EphemeralStore
from sandbox.personas import PERSONAS


def test_concurrent_first_logins_share_one_person(settings: Settings,
                                                  store: EphemeralStore) -> None:
    app = create_app(replace(settings, sandbox=True), store)
    provider = app.extensions["idp"]
    persona = PERSONAS[0]
    threads = 6
    start = threading.Barrier(threads)
    found: list[str] = []
    errors: list[BaseException] = []

    def first_login() -> None:
        start.wait()
        try:
            found.append(person_for_persona(provider, persona))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=first_login) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == [] and len(set(found)) == 1 and len(found) == threads
    with provider.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Person)
                        .where(Person.sandbox_persona == persona.id)) == 1
    provider.db.engine.dispose()
