"""Resource rules without the app: detected format and size, and the download counter's own
short transaction (the path a real download takes after its reading request)."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from catalog import vocabularies as v
from catalog.resource import Resource, count_download, detect
from portal.migrate import registered_metadata
from portal.models import get_engine


def test_format_and_size_come_from_the_file_or_the_link():
    ref = {"hash": "ab" * 32, "filename": "人口.CSV", "size": 1234}
    assert detect(ref, "") == ("CSV", 1234)
    assert detect(ref, "https://x.org/a.xlsx") == ("CSV", 1234)  # the file, when there is one
    assert detect(None, "https://data.example.org/path/gdp.xlsx?download=1#x") == ("XLSX", None)
    assert detect(None, "https://data.example.org/api/") == ("", None)
    assert detect(None, "https://data.example.org/a.<script>") == ("", None)
    assert detect(None, "") == ("", None)


def test_setting_the_file_or_the_link_sets_format_and_size():
    r = Resource()
    r.file = {"hash": "cd" * 32, "filename": "a.csv", "size": 10}
    assert (r.format, r.size) == ("CSV", 10)
    r.url = "https://example.org/b.json"  # a link replaces the file
    assert (r.file, r.format, r.size) == (None, "JSON", None)


def test_licences_are_ckan_ids_and_keywords_are_ckan_tags():
    ckan_defaults = {"notspecified", "odc-pddl", "odc-odbl", "odc-by", "cc-zero", "cc-by", "cc-by-sa", "gfdl",
                     "other-open", "other-pd", "other-at", "uk-ogl", "cc-nc", "other-nc", "other-closed"}
    assert {lic.id for lic in v.LICENCES} <= ckan_defaults
    assert v.DEFAULT_LICENCE in v.LICENCE_BY_ID
    assert all(v.KEYWORD.fullmatch(k) for k in ("人口", "人口 统计", "GDP-2024", "a_b.c"))
    assert not any(v.KEYWORD.fullmatch(k) for k in ("人", "a/b", "a,b", "#hash", "x" * 101))


def test_a_download_is_counted_in_its_own_transaction_beside_readers(tmp_path):
    engine = get_engine({"sqlalchemy.url": f"sqlite:///{tmp_path / 'count.db'}"})
    registered_metadata().create_all(engine)
    with Session(engine) as s, s.begin():
        s.execute(text("INSERT INTO nodes (id, uid, type, name, path, position, title, description, created,"
                       " modified, state, inherit_roles, version) VALUES (1, '0123456789abcdef0123456789abcdef',"
                       " 'Resource', 'r', '/r/', 0, 'r', '', '2026-01-01', '2026-01-01', 'published', 1, 1)"))
        s.execute(text("INSERT INTO dataset_resources (id, url, format, downloads) VALUES (1, '', 'CSV', 0)"))
    request = SimpleNamespace(environ={}, registry={"dbsession_factory": sessionmaker(bind=engine)})
    reader = engine.connect()
    reader.begin()  # a reading request: deferred BEGIN (portal.models)
    assert reader.execute(text("SELECT downloads FROM dataset_resources")).scalar() == 0  # a snapshot open
    threads = [threading.Thread(target=count_download, args=(request, 1)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert reader.execute(text("SELECT downloads FROM dataset_resources")).scalar() == 0  # its snapshot
    reader.rollback()
    reader.close()
    with Session(engine) as s:
        assert s.scalar(select(Resource.downloads)) == 8  # parallel counts lose nothing
    count_download(request, 999)  # a resource that is gone: nothing counted, nothing raised
    engine.dispose()
