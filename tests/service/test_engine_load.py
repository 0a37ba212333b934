"""Engine.load(ingest_if_needed=True), the path of `citeqa serve --ingest`."""
import json
import logging
import sqlite3

from index.stores.sqlite.index import DB_NAME, HybridIndex
from index.text.loading import make_document
from index.stores.manifest import PIPELINE_VERSION
from tests.conftest import make_settings


def test_an_index_from_an_older_pipeline_is_rebuilt_keeping_api_documents(index_copy, embedder, caplog):
    from service.engine import Engine

    idx = HybridIndex(index_copy, embedder, for_writing=True)
    doc = make_document("api-doc", "API headline here\n\nAn article posted through the API about Busan.", source="api:x")
    idx.apply(idx.prepare([doc], progress=False), [])
    idx.close()
    con = sqlite3.connect(index_copy / DB_NAME)
    manifest = json.loads(con.execute("select value from meta where key='manifest'").fetchone()[0])
    manifest["pipeline_version"] = PIPELINE_VERSION - 1
    con.execute("update meta set value=? where key='manifest'", (json.dumps(manifest),))
    con.commit()
    con.close()

    with caplog.at_level(logging.WARNING, logger="service.engine"):
        engine = Engine.load(make_settings(index_copy), embedder=embedder, ingest_if_needed=True)
    try:
        assert "pipeline_version" in caplog.text and "rebuilding" in caplog.text
        assert engine.index.store.manifest()["pipeline_version"] == PIPELINE_VERSION
        assert engine.index.store.document("api-doc") is not None
        assert len(engine.documents()) == 6
        assert "Busan" in engine.ask("Which city was the API article about?").passages[0].text
    finally:
        engine.close()
